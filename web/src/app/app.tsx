// The top level: who is signed in, which organization, and the public pages (login, invitations).
import { useEffect, useState } from 'preact/hooks';
import { session, setUnauthenticatedHandler } from './api';
import { useRoute } from './router';
import { InviteScreen } from './screens/invite';
import { LoginScreen, OrgPicker, ResetScreen } from './screens/login';
import type { Me, Membership } from './types';
import { Loading } from './ui/common';
import { WorkspaceView } from './workspace';

const ORG_KEY = 'frontdesk:org';

function rememberedOrg(me: Me): Membership | null {
  if (me.memberships.length === 1) return me.memberships[0];
  let id: string | null = null;
  try {
    id = localStorage.getItem(ORG_KEY);
  } catch {
    /* storage disabled */
  }
  return me.memberships.find((m) => m.org_id === id) ?? null;
}

function remember(m: Membership): void {
  try {
    localStorage.setItem(ORG_KEY, m.org_id);
  } catch {
    /* storage disabled */
  }
}

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [org, setOrg] = useState<Membership | null>(null);

  const signedIn = (m: Me, joined?: Membership | null) => {
    setMe(m);
    if (joined) remember(joined);
    setOrg(joined ?? rememberedOrg(m));
  };

  useEffect(() => {
    setUnauthenticatedHandler(() => setMe(null));
    session.me().then(signedIn, () => setMe(null));
  }, []);

  const pick = (m: Membership) => {
    remember(m);
    setOrg(m);
  };

  const logout = async () => {
    await session.logout().catch(() => {});
    setMe(null);
    setOrg(null);
  };

  if (route.name === 'invite') return <InviteScreen token={route.token} me={me} onSignedIn={signedIn} onSignOut={logout} />;
  if (route.name === 'reset') return <ResetScreen token={route.token} />;
  if (me === undefined) return <Loading what="Loading Frontdesk" />;
  if (me === null) return <LoginScreen onSignedIn={signedIn} />;
  if (!org) return <OrgPicker me={me} onPick={pick} onLogout={logout} />;
  return (
    <WorkspaceView
      key={org.org_id}
      me={me}
      membership={org}
      onSwitchOrg={me.memberships.length > 1 ? () => setOrg(null) : undefined}
      onLogout={logout}
    />
  );
}
