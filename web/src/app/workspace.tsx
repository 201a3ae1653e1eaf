// A signed-in organization: the realtime connection, shared data, the layout and the screens.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { orgApi } from './api';
import { Bus, debounce } from './bus';
import { type AppEvent, type ToastInput, type Workspace, WorkspaceContext } from './context';
import { AgentRealtime, agentSocketUrl, type ConnectionState, type Frame } from './realtime';
import { canOpen, type Route, section, useRoute } from './router';
import { AccountScreen } from './screens/account';
import { AnalyticsScreen } from './screens/analytics';
import { AuditScreen } from './screens/audit';
import { BotEditor, BotsScreen } from './screens/bots';
import { InboxScreen } from './screens/inbox';
import { ArticleEditor, KnowledgeScreen } from './screens/kb';
import { SiteSettings, SitesScreen } from './screens/sites';
import { PrivacyScreen } from './screens/privacy';
import { NotificationPrefs, TeamScreen } from './screens/team';
import { UnansweredScreen } from './screens/unanswered';
import { WebhooksScreen } from './screens/webhooks';
import type { CannedResponse, Me, Member, Membership, OrgInfo, Summary } from './types';
import { NoAccess } from './ui/common';
import { type Notice, Notifications, Toasts } from './ui/toasts';

interface Props {
  me: Me;
  membership: Membership;
  onSwitchOrg?: () => void;
  onLogout: () => void;
}

const NAV: { id: string; label: string; href: string; admin: boolean }[] = [
  { id: 'inbox', label: 'Inbox', href: '#/inbox', admin: false },
  { id: 'escalations', label: 'Escalations', href: '#/escalations', admin: false },
  { id: 'team', label: 'Team', href: '#/team', admin: true },
  { id: 'sites', label: 'Sites', href: '#/sites', admin: true },
  { id: 'kb', label: 'Knowledge base', href: '#/kb', admin: true },
  { id: 'bots', label: 'Bots', href: '#/bots', admin: true },
  { id: 'unanswered', label: 'Unanswered', href: '#/unanswered', admin: true },
  { id: 'analytics', label: 'Analytics', href: '#/analytics', admin: true },
  { id: 'webhooks', label: 'Webhooks', href: '#/webhooks', admin: true },
  { id: 'privacy', label: 'Privacy', href: '#/privacy', admin: true },
  { id: 'audit', label: 'Audit log', href: '#/audit', admin: true },
];

let toastId = 0;

export function WorkspaceView({ me, membership, onSwitchOrg, onLogout }: Props) {
  const route = useRoute();
  const api = useMemo(() => orgApi(membership.org_id), [membership.org_id]);
  const events = useMemo(() => new Bus<AppEvent>(), []);
  const isAdmin = membership.role === 'owner' || membership.role === 'admin';
  const [info, setInfo] = useState<OrgInfo | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [canned, setCanned] = useState<CannedResponse[]>([]);
  const [summary, setSummary] = useState<Summary | null>(null);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [toasts, setToasts] = useState<(ToastInput & { id: number })[]>([]);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);

  const toast = useCallback((t: ToastInput) => {
    const id = ++toastId;
    setToasts((list) => [...list.slice(-3), { ...t, id }]);
    setTimeout(() => setToasts((list) => list.filter((x) => x.id !== id)), t.kind === 'error' ? 8000 : 5000);
  }, []);

  const reloadMembers = useCallback(() => {
    api.team().then((t) => setMembers(t.members), () => {});
  }, [api]);
  const reloadCanned = useCallback(() => {
    api.canned().then((r) => setCanned(r.canned_responses), () => {});
  }, [api]);
  const refreshSummary = useMemo(() => debounce(() => api.summary().then(setSummary, () => {}), 300), [api]);

  const memberName = useCallback(
    (id: string | null | undefined) => {
      if (!id) return 'Unassigned';
      if (id === me.user.id) return `${me.user.name || me.user.email} (you)`;
      const m = members.find((x) => x.user_id === id);
      return m ? m.name || m.email : 'A teammate';
    },
    [members, me],
  );

  const onFrame = useCallback(
    (f: Frame) => {
      if (f.org_id && f.org_id !== membership.org_id) return;
      events.emit(f);
      if (['message.created', 'conversation.status_changed', 'conversation.assigned', 'notification'].includes(f.type)) refreshSummary();
      if (f.type === 'notification') {
        const forMe = f.kind !== 'mention' || f.user_id === me.user.id;
        if (!forMe) return;
        const text =
          f.kind === 'escalation'
            ? 'A visitor is waiting for a person'
            : f.kind === 'mention'
              ? 'You were mentioned in a note'
              : 'A new conversation started';
        const href = `#/conversations/${encodeURIComponent(String(f.conversation_id))}`;
        toast({ text, href, linkText: 'Open', kind: f.kind === 'new_conversation' ? 'info' : 'success' });
        setNotices((list) => [{ id: `${f.offset}-${f.kind}-${f.conversation_id}`, text, href, at: Date.now(), seen: false }, ...list].slice(0, 30));
      }
    },
    [events, membership.org_id, me.user.id, refreshSummary, toast],
  );
  const frameRef = useRef(onFrame);
  frameRef.current = onFrame;

  const realtime = useMemo(
    () =>
      new AgentRealtime({
        url: agentSocketUrl(location),
        onFrame: (f) => frameRef.current(f),
        onReset: () => {
          events.emit({ type: 'local.changed' });
          refreshSummary();
        },
        onState: (s) => {
          setConnection(s);
          // After (re)connecting, REST fills in whatever a "live from now" start could not replay.
          if (s === 'live') events.emit({ type: 'local.changed' });
        },
      }),
    [events, refreshSummary],
  );

  useEffect(() => {
    api.info().then(setInfo, () => {});
    reloadMembers();
    reloadCanned();
    refreshSummary();
    realtime.start();
    const off = events.on((e) => e.type === 'local.changed' && refreshSummary());
    return () => {
      off();
      realtime.stop();
      refreshSummary.cancel();
    };
  }, [api, realtime, events, reloadMembers, reloadCanned, refreshSummary]);

  useEffect(() => setMenuOpen(false), [route]);

  const ws: Workspace = {
    me,
    membership,
    role: membership.role,
    isAdmin,
    info,
    api,
    members,
    reloadMembers,
    canned,
    reloadCanned,
    summary,
    refreshSummary,
    events,
    realtime,
    connection,
    toast,
    memberName,
  };

  const current = section(route);
  const myPrefs = members.find((m) => m.user_id === me.user.id)?.notify;
  useEffect(() => {
    const label = current === 'account' ? 'My account' : NAV.find((n) => n.id === current)?.label;
    document.title = label ? `${label} — Frontdesk` : 'Frontdesk';
  }, [current]);
  const badge = (id: string): number => {
    if (!summary) return 0;
    if (id === 'inbox') return summary.unread_conversations;
    if (id === 'escalations') return summary.escalated;
    return 0;
  };

  return (
    <WorkspaceContext.Provider value={ws}>
      <div class={`layout${menuOpen ? ' menu-open' : ''}`}>
        <a class="skip-link" href="#main" onClick={(e) => (e.preventDefault(), mainRef.current?.focus())}>
          Skip to content
        </a>
        <header class="topbar">
          <button
            type="button"
            class="btn icon menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="sidebar"
            onClick={() => setMenuOpen(!menuOpen)}
          >
            <span aria-hidden="true">☰</span>
            <span class="sr-only">Menu</span>
          </button>
          <span class="brand">Frontdesk</span>
          <span class="org-name">{membership.org_name}</span>
          <span class={`conn conn-${connection}`} role="status">
            {connection === 'live' ? 'Live' : connection === 'connecting' ? 'Connecting…' : 'Offline — reconnecting'}
          </span>
          <Notifications notices={notices} onSeen={() => setNotices((l) => l.map((n) => ({ ...n, seen: true })))} />
        </header>
        <aside class="sidebar" id="sidebar">
          <nav aria-label="Main">
            <ul>
              {NAV.filter((n) => isAdmin || !n.admin).map((n) => (
                <li key={n.id}>
                  <a href={n.href} aria-current={current === n.id ? 'page' : undefined}>
                    {n.label}
                    {badge(n.id) > 0 && (
                      <span class="count" aria-label={`${badge(n.id)} ${n.id === 'inbox' ? 'unread' : 'waiting'}`}>
                        {badge(n.id)}
                      </span>
                    )}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="account">
            <p class="who">
              {me.user.name || me.user.email}
              <span class="muted"> · {membership.role}</span>
            </p>
            {myPrefs && (
              <details class="my-prefs">
                <summary>My notifications</summary>
                <NotificationPrefs initial={myPrefs} />
              </details>
            )}
            <a href="#/account" aria-current={current === 'account' ? 'page' : undefined}>
              My account
            </a>
            {onSwitchOrg && (
              <button type="button" class="btn link" onClick={onSwitchOrg}>
                Switch organization
              </button>
            )}
            <button type="button" class="btn link" onClick={onLogout}>
              Sign out
            </button>
          </div>
        </aside>
        <main id="main" ref={mainRef} tabIndex={-1}>
          {canOpen(route, membership.role) ? <Screen route={route} /> : <NoAccess />}
        </main>
        <Toasts toasts={toasts} onDismiss={(id) => setToasts((l) => l.filter((t) => t.id !== id))} />
      </div>
    </WorkspaceContext.Provider>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'inbox':
      return <InboxScreen conversationId={null} list="inbox" />;
    case 'conversation':
      return <InboxScreen conversationId={route.id} />;
    case 'escalations':
      return <InboxScreen conversationId={null} list="escalations" />;
    case 'team':
      return <TeamScreen />;
    case 'sites':
      return <SitesScreen />;
    case 'site':
      return <SiteSettings id={route.id} />;
    case 'kb':
      return <KnowledgeScreen />;
    case 'article':
      return <ArticleEditor id={route.id} params={route.params} />;
    case 'bots':
      return <BotsScreen />;
    case 'bot':
      return <BotEditor key={route.id} id={route.id} />;
    case 'unanswered':
      return <UnansweredScreen />;
    case 'analytics':
      return <AnalyticsScreen />;
    case 'audit':
      return <AuditScreen />;
    case 'webhooks':
      return <WebhooksScreen />;
    case 'privacy':
      return <PrivacyScreen />;
    case 'account':
      return <AccountScreen />;
    default:
      return (
        <section class="page narrow">
          <h1>Page not found</h1>
          <p>
            <a href="#/inbox">Go to the inbox</a>
          </p>
        </section>
      );
  }
}
