// What every screen of a signed-in workspace shares.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { OrgApi } from './api';
import type { Bus } from './bus';
import type { AgentRealtime, ConnectionState, Frame } from './realtime';
import type { CannedResponse, Me, Member, Membership, OrgInfo, Role, Summary } from './types';

export interface ToastInput {
  text: string;
  kind?: 'info' | 'success' | 'error';
  href?: string;
  linkText?: string;
}

/** Local events: besides server frames, "something changed here, refetch". */
export type AppEvent = Frame | { type: 'local.changed'; conversation_id?: string };

export interface Workspace {
  me: Me;
  membership: Membership;
  role: Role;
  isAdmin: boolean;
  info: OrgInfo | null;
  api: OrgApi;
  members: Member[];
  reloadMembers: () => void;
  canned: CannedResponse[];
  reloadCanned: () => void;
  summary: Summary | null;
  refreshSummary: () => void;
  events: Bus<AppEvent>;
  realtime: AgentRealtime;
  connection: ConnectionState;
  toast: (t: ToastInput) => void;
  memberName: (userId: string | null | undefined) => string;
}

export const WorkspaceContext = createContext<Workspace | null>(null);

export function useWorkspace(): Workspace {
  const ws = useContext(WorkspaceContext);
  if (!ws) throw new Error('useWorkspace outside a workspace');
  return ws;
}
