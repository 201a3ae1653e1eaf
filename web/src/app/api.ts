// The dashboard's REST client: JSON in and out, the session cookie, the API's error shape.
import type {
  Article, AssistantSettings, AuditEvent, CannedResponse, Conversation, ConversationDetail, FlowDocument, FlowError, InboxItem,
  EraseResult, Insights, Invite, Me, Member, Message, Note, NotifyPrefs, OrgInfo, PublicInvite, Report, Role, Scenario, ScenarioSummary,
  SimEvent, SimResult, SimVisitor, Site, Summary, Team, UnansweredGroup, LoginSession, TotpSetup, TotpStatus, VisitorExport, VisitorProfile,
  WebhookDelivery, WebhookEndpoint, WebhookEventType, WidgetConfig,
} from './types';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
    /** The error's `details` (for instance `{errors: [{node, field, message}]}` of `invalid_flow`). */
    public details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Called when any request answers 401: the session is gone. */
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r: Response;
  try {
    r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const e = data?.error;
    const err = new ApiError(r.status, e?.code || `http_${r.status}`, e?.message || r.statusText || 'Request failed', e?.field, e?.details ?? undefined);
    if (r.status === 401 && !path.startsWith('/api/app/login') && !path.startsWith('/api/app/invites/') && path !== '/api/app/totp/disable') onUnauthenticated();
    throw err;
  }
  return data as T;
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface InboxFilter {
  status?: string;
  site_id?: string;
  assignee?: string;
  rating_min?: number;
  rating_max?: number;
  q?: string;
  sort?: 'newest' | 'oldest';
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

const get = <T>(path: string) => request<T>('GET', path);
const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);

export const session = {
  me: () => get<Me>('/api/app/me'),
  login: (email: string, password: string, totp?: string) => post<Me>('/api/app/login', { email, password, totp }),
  logout: () => post<null>('/api/app/logout'),
  invite: (token: string) => get<PublicInvite>(`/api/app/invites/${encodeURIComponent(token)}`),
  acceptInvite: (token: string, body: { name?: string; password?: string }) =>
    post<Me>(`/api/app/invites/${encodeURIComponent(token)}/accept`, body),
  forgot: (email: string) => post<null>('/api/app/password/forgot', { email }),
  reset: (token: string, password: string) => post<null>('/api/app/password/reset', { token, password }),
};

/** The signed-in person's own account: login sessions and two-factor login. */
export const account = {
  sessions: () => get<{ sessions: LoginSession[] }>('/api/app/sessions'),
  endSession: (id: string) => request<null>('DELETE', `/api/app/sessions/${encodeURIComponent(id)}`),
  totp: () => get<TotpStatus>('/api/app/totp'),
  setupTotp: () => post<TotpSetup>('/api/app/totp/setup'),
  enableTotp: (code: string) => post<null>('/api/app/totp/enable', { code }),
  disableTotp: (password: string) => post<null>('/api/app/totp/disable', { password }),
};

/** Every organization-scoped call. */
export function orgApi(orgId: string) {
  const O = `/api/app/orgs/${encodeURIComponent(orgId)}`;
  const c = (id: string) => `${O}/conversations/${encodeURIComponent(id)}`;
  const s = (id: string) => `${O}/sites/${encodeURIComponent(id)}`;
  const a = (id: string) => `${O}/articles/${encodeURIComponent(id)}`;
  // Bot scenarios (docs/flows.md), under the organization like every dashboard call.
  const sc = (id: string) => `${O}/scenarios/${encodeURIComponent(id)}`;
  const wh = (id: string) => `${O}/webhooks/${encodeURIComponent(id)}`;
  return {
    base: O,
    info: () => get<OrgInfo>(O),
    // Inbox
    conversations: (f: InboxFilter) => get<{ conversations: InboxItem[]; next_cursor?: string }>(`${O}/conversations${query({ ...f })}`),
    summary: () => get<Summary>(`${O}/conversations/summary`),
    conversation: (id: string) => get<ConversationDetail>(c(id)),
    reply: (id: string, content: string) => post<{ message: Message; conversation: Conversation }>(`${c(id)}/messages`, { content }),
    setStatus: (id: string, action: 'escalate' | 'resolve' | 'reopen' | 'close') => post<Conversation>(`${c(id)}/status`, { action }),
    assign: (id: string, assignee_id: string | null) => post<Conversation>(`${c(id)}/assign`, { assignee_id }),
    read: (id: string, seq: number) => post<null>(`${c(id)}/read`, { seq }),
    note: (id: string, content: string) => post<Note>(`${c(id)}/notes`, { content }),
    visitor: (id: string) => get<VisitorProfile>(`${c(id)}/visitor`),
    canned: () => get<{ canned_responses: CannedResponse[] }>(`${O}/canned-responses`),
    createCanned: (c: { shortcut: string; title: string; body: string }) => post<CannedResponse>(`${O}/canned-responses`, c),
    updateCanned: (id: string, c: { shortcut: string; title: string; body: string }) =>
      request<CannedResponse>('PUT', `${O}/canned-responses/${encodeURIComponent(id)}`, c),
    deleteCanned: (id: string) => request<null>('DELETE', `${O}/canned-responses/${encodeURIComponent(id)}`),
    // Team
    team: () => get<Team>(`${O}/members`),
    invite: (email: string, role: Role) => post<{ invite: Invite; link: string }>(`${O}/invites`, { email, role }),
    revokeInvite: (id: string) => request<null>('DELETE', `${O}/invites/${encodeURIComponent(id)}`),
    setRole: (userId: string, role: Role) => request<Member>('PATCH', `${O}/members/${encodeURIComponent(userId)}`, { role }),
    removeMember: (userId: string) => request<null>('DELETE', `${O}/members/${encodeURIComponent(userId)}`),
    setNotifications: (prefs: NotifyPrefs) => request<NotifyPrefs>('PUT', `${O}/notifications`, prefs),
    // Sites
    sites: () => get<{ sites: Site[] }>(`${O}/sites`),
    site: (id: string) => get<Site>(s(id)),
    createSite: (name: string, allowed_origins: string[]) => post<Site>(`${O}/sites`, { name, allowed_origins }),
    updateSite: (
      id: string,
      patch: {
        name?: string;
        allowed_origins?: string[];
        widget?: WidgetConfig;
        assistant?: AssistantSettings;
        require_verified_identity?: boolean;
        /** 1–3650 days; `null` keeps everything. */
        retention_days?: number | null;
      },
    ) => request<Site>('PATCH', s(id), patch),
    publishWidget: (id: string) => post<Site>(`${s(id)}/widget/publish`),
    discardWidget: (id: string) => post<Site>(`${s(id)}/widget/discard`),
    embed: (id: string) => get<{ snippet: string; loader_url: string; integrity: string }>(`${s(id)}/embed`),
    rotateKey: (id: string) => post<Site>(`${s(id)}/keys/rotate`),
    secret: (id: string) => get<{ secret: string }>(`${s(id)}/secret`),
    rotateSecret: (id: string) => post<{ secret: string }>(`${s(id)}/secret/rotate`),
    // Knowledge base
    articles: (f: { site_id?: string; status?: string; q?: string; limit?: number }) =>
      get<{ articles: Article[] }>(`${O}/articles${query({ ...f })}`),
    article: (id: string) => get<Article>(a(id)),
    createArticle: (body: Partial<Article>) => post<Article>(`${O}/articles`, body),
    updateArticle: (id: string, body: Partial<Article>) => request<Article>('PATCH', a(id), body),
    deleteArticle: (id: string) => request<null>('DELETE', a(id)),
    publishArticle: (id: string) => post<Article>(`${a(id)}/publish`),
    unpublishArticle: (id: string) => post<Article>(`${a(id)}/unpublish`),
    unanswered: (f: { site_id?: string; days?: number }) => get<{ groups: UnansweredGroup[] }>(`${O}/unanswered${query({ ...f })}`),
    // Bot scenarios
    scenarios: (siteId: string) => get<{ scenarios: ScenarioSummary[] }>(`${s(siteId)}/scenarios`),
    createScenario: (siteId: string, body: { name: string; document?: FlowDocument }) => post<Scenario>(`${s(siteId)}/scenarios`, body),
    scenario: (id: string) => get<Scenario>(sc(id)),
    saveScenario: (id: string, body: { name?: string; document?: FlowDocument }) => request<Scenario>('PUT', sc(id), body),
    deleteScenario: (id: string) => request<null>('DELETE', sc(id)),
    validateScenario: (id: string, document: FlowDocument) => post<{ errors: FlowError[] }>(`${sc(id)}/validate`, { document }),
    publishScenario: (id: string) => post<Scenario>(`${sc(id)}/publish`),
    setStartScenario: (id: string, start: boolean) => post<Scenario>(`${sc(id)}/start`, { start }),
    simulate: (
      id: string,
      body: { document: FlowDocument; run: unknown; event: SimEvent; params: Record<string, unknown>; visitor: SimVisitor },
    ) => post<SimResult>(`${sc(id)}/simulate`, body),
    // Outgoing webhooks (docs/webhooks.md)
    webhooks: () => get<{ endpoints: WebhookEndpoint[]; event_types: WebhookEventType[] }>(`${O}/webhooks`),
    createWebhook: (body: { url: string; description?: string; event_types: WebhookEventType[] }) =>
      post<{ endpoint: WebhookEndpoint; secret: string }>(`${O}/webhooks`, body),
    updateWebhook: (id: string, patch: { url?: string; description?: string; event_types?: WebhookEventType[]; enabled?: boolean }) =>
      request<WebhookEndpoint>('PATCH', wh(id), patch),
    deleteWebhook: (id: string) => request<null>('DELETE', wh(id)),
    webhookSecret: (id: string) => get<{ secret: string; previous_secret_expires_at: string | null }>(`${wh(id)}/secret`),
    rotateWebhookSecret: (id: string) =>
      post<{ secret: string; previous_secret_expires_at: string | null }>(`${wh(id)}/secret/rotate`),
    testWebhook: (id: string) => post<WebhookDelivery>(`${wh(id)}/test`),
    deliveries: (f: { endpoint_id?: string; status?: string; before?: string; limit?: number }) =>
      get<{ deliveries: WebhookDelivery[]; next_before: string | null }>(`${O}/webhook-deliveries${query({ ...f })}`),
    redeliver: (id: string) => post<WebhookDelivery>(`${O}/webhook-deliveries/${encodeURIComponent(id)}/redeliver`),
    // Privacy (docs/privacy.md): one of visitor_id or email
    privacyExport: (target: { visitor_id: string } | { email: string }) => get<VisitorExport>(`${O}/privacy/export${query({ ...target })}`),
    privacyErase: (target: { visitor_id: string } | { email: string }) => post<EraseResult>(`${O}/privacy/erase`, target),
    // Analytics and audit
    analytics: (f: { site_id?: string; from: string; to: string; tz_offset: number }) => get<Report>(`${O}/analytics${query({ ...f })}`),
    insights: (f: { site_id?: string; from: string; to: string }) => get<Insights>(`${O}/insights${query({ ...f })}`),
    audit: (f: { actor_id?: string; action?: string; from?: string; to?: string; limit?: number }) =>
      get<{ events: AuditEvent[] }>(`${O}/audit${query({ ...f })}`),
    auditVerify: () =>
      get<{ ok: boolean; checked: number; first_broken: { seq: number; id: string | null; reason: string } | null }>(
        `${O}/audit/verify`,
      ),
    auditExportUrl: (f: { actor_id?: string; action?: string; from?: string; to?: string }, format: 'csv' | 'json') =>
      `${O}/audit${query({ ...f, format, download: format === 'json' ? 1 : undefined })}`,
  };
}

export type OrgApi = ReturnType<typeof orgApi>;

/** The `{node, field, message}` list of an `invalid_flow` error (422), if it is one. */
export function flowErrorsOf(e: unknown): FlowError[] | null {
  if (!(e instanceof ApiError) || e.code !== 'invalid_flow') return null;
  const list = e.details?.errors;
  return Array.isArray(list) ? (list as FlowError[]) : [];
}

/** A message for people from any error. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'forbidden') return "You don't have permission to do that.";
    return e.message;
  }
  return String((e as Error)?.message || e);
}
