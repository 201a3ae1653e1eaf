// The inbox (and the escalation queue): filters, search, the live list, the open conversation,
// the visitor panel, and the keyboard shortcuts.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { InboxFilter } from '../api';
import { debounce } from '../bus';
import { useWorkspace } from '../context';
import { loadMore, loadPages } from '../inbox-pages';
import { lastMessagePreview } from '../inbox-preview';
import { navigate } from '../router';
import { isTextField, moveSelection, SHORTCUTS, shortcutFor } from '../shortcuts';
import { formatAgo, formatWaiting } from '../time';
import type { InboxItem, Site } from '../types';
import { ErrorBox, Stars, StatusBadge } from '../ui/common';
import { useLoad, useNow } from '../ui/hooks';
import { ConversationView, type ConversationHandle } from './conversation';
import { VisitorPanel } from './visitor';

type ListMode = 'inbox' | 'escalations';
type EscalationTab = 'waiting' | 'low_rated';

interface Props {
  conversationId: string | null;
  /** Which list to show; undefined keeps the current one (opening a conversation from it). */
  list?: ListMode;
}

interface Filters {
  status: string;
  site_id: string;
  assignee: string;
  rating: string;
  q: string;
}

const NO_FILTERS: Filters = { status: '', site_id: '', assignee: 'anyone', rating: '', q: '' };

function toQuery(mode: ListMode, tab: EscalationTab, f: Filters): InboxFilter {
  if (mode === 'escalations') {
    return tab === 'waiting' ? { status: 'escalated', sort: 'oldest', limit: 200 } : { rating_max: 2, sort: 'newest', limit: 200 };
  }
  const rating: Partial<InboxFilter> =
    f.rating === 'low' ? { rating_max: 2 } : f.rating === 'high' ? { rating_min: 4 } : f.rating ? { rating_min: +f.rating, rating_max: +f.rating } : {};
  return {
    status: f.status || undefined,
    site_id: f.site_id || undefined,
    assignee: f.assignee,
    q: f.q.trim() || undefined,
    sort: 'newest',
    limit: 100,
    ...rating,
  };
}

export function InboxScreen({ conversationId, list }: Props) {
  const ws = useWorkspace();
  const [mode, setMode] = useState<ListMode>(list ?? 'inbox');
  const [tab, setTab] = useState<EscalationTab>('waiting');
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [search, setSearch] = useState('');
  const [cursor, setCursor] = useState(-1);
  const [helpOpen, setHelpOpen] = useState(false);
  /** On narrower screens the visitor panel is a drawer. */
  const [visitorOpen, setVisitorOpen] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const convRef = useRef<ConversationHandle | null>(null);
  const helpRef = useRef<HTMLDialogElement>(null);
  const now = useNow(15_000);

  useEffect(() => {
    if (list) setMode(list);
  }, [list]);

  const query = useMemo(() => toQuery(mode, tab, filters), [mode, tab, filters]);
  const fetchPage = useCallback((cursor?: string) => ws.api.conversations({ ...query, cursor }), [ws.api, query]);
  /** How many conversations the agent has asked to see ("Show more"); a reload keeps them. */
  const wanted = useRef(0);
  // Another list (filters, tab) starts again at its first page: reset before the load's effect runs.
  const wantedFor = useRef(query);
  if (wantedFor.current !== query) {
    wantedFor.current = query;
    wanted.current = 0;
  }
  const items = useLoad(() => loadPages(fetchPage, wanted.current), [fetchPage]);
  const showMore = () => {
    const shown = items.data;
    if (!shown || shown.cursor === null || items.loading) return;
    // Raised first, so a live reload that starts meanwhile brings the next page too.
    wanted.current = shown.items.length + 1;
    void items.run(() => loadMore(fetchPage, shown));
  };
  const sites = useLoad(() => ws.api.sites().then((r) => r.sites).catch(() => [] as Site[]), [ws.api]);
  const conversations = items.data?.items ?? [];

  // Live: any change to conversations refetches the list (debounced); the REST answer is the truth.
  useEffect(() => {
    const refetch = debounce(() => void items.reload(), 250);
    const off = ws.events.on((f) => {
      if (['message.created', 'conversation.status_changed', 'conversation.assigned', 'notification', 'read', 'local.changed'].includes(f.type)) {
        if (f.type === 'read' && f.by !== 'agent') return;
        refetch();
      }
    });
    return () => {
      off();
      refetch.cancel();
    };
  }, [ws.events, items.reload]);

  // The search box applies after a pause in typing.
  useEffect(() => {
    const t = setTimeout(() => setFilters((f) => (f.q === search ? f : { ...f, q: search })), 300);
    return () => clearTimeout(t);
  }, [search]);

  // Keep the cursor on the open conversation.
  useEffect(() => {
    if (!conversationId) return;
    const i = conversations.findIndex((c) => c.id === conversationId);
    if (i >= 0) setCursor(i);
  }, [conversationId, items.data]);

  const focusItem = (i: number) => {
    setCursor(i);
    const el = listRef.current?.querySelectorAll<HTMLAnchorElement>('a.item')[i];
    el?.focus();
    el?.scrollIntoView?.({ block: 'nearest' });
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || helpRef.current?.open) return;
      const action = shortcutFor({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey, inField: isTextField(e.target) });
      if (!action || action === 'send') return;
      const target = e.target as HTMLElement | null;
      // Enter on a link or button is the browser's.
      if (e.key === 'Enter' && target?.closest?.('a,button,summary,[role=option]')) return;
      switch (action) {
        case 'next':
        case 'previous':
          focusItem(moveSelection(cursor, action === 'next' ? 1 : -1, conversations.length));
          break;
        case 'open': {
          const c = conversations[cursor];
          if (!c) return;
          navigate({ name: 'conversation', id: c.id });
          break;
        }
        case 'reply':
        case 'note':
          if (!convRef.current) return;
          convRef.current.focusComposer(action);
          break;
        case 'resolve':
          if (!convRef.current) return;
          void convRef.current.resolve();
          break;
        case 'take_over':
          if (!convRef.current) return;
          void convRef.current.takeOver();
          break;
        case 'search':
          if (mode !== 'inbox') setMode('inbox');
          setTimeout(() => searchRef.current?.focus());
          break;
        case 'help':
          helpRef.current?.showModal();
          setHelpOpen(true);
          break;
        case 'leave':
          (e.target as HTMLElement).blur();
          listRef.current?.querySelectorAll<HTMLAnchorElement>('a.item')[Math.max(0, cursor)]?.focus();
          break;
      }
      e.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [cursor, conversations, mode]);

  const siteName = (id: string) => sites.data?.find((s) => s.id === id)?.name;
  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const title = mode === 'escalations' ? 'Escalations' : 'Inbox';

  return (
    <div class={`inbox${conversationId ? ' has-open' : ''}${visitorOpen ? ' visitor-open' : ''}`}>
      <section class="inbox-list" aria-labelledby="list-title">
        <div class="list-head">
          <h1 id="list-title">{title}</h1>
          <button type="button" class="btn small" onClick={() => (helpRef.current?.showModal(), setHelpOpen(true))} aria-haspopup="dialog">
            Shortcuts <kbd>?</kbd>
          </button>
        </div>
        {mode === 'escalations' ? (
          <div class="tabs" role="tablist" aria-label="Queue">
            {(['waiting', 'low_rated'] as const).map((t) => (
              <button key={t} type="button" role="tab" aria-selected={tab === t} class="tab" onClick={() => setTab(t)}>
                {t === 'waiting' ? 'Waiting for a person' : 'Low-rated'}
              </button>
            ))}
          </div>
        ) : (
          <div class="filters" role="search">
            <label class="field">
              <span class="sr-only">Search conversations</span>
              <input
                ref={searchRef}
                type="search"
                placeholder="Search conversations ( / )"
                value={search}
                onInput={(e) => setSearch(e.currentTarget.value)}
              />
            </label>
            <div class="filter-row">
              <label>
                <span class="sr-only">Status</span>
                <select value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
                  <option value="">All statuses</option>
                  <option value="active">Active</option>
                  <option value="escalated">Escalated</option>
                  <option value="resolved">Resolved</option>
                  <option value="closed">Closed</option>
                </select>
              </label>
              <label>
                <span class="sr-only">Assignee</span>
                <select value={filters.assignee} onChange={(e) => set({ assignee: e.currentTarget.value })}>
                  <option value="anyone">Anyone</option>
                  <option value="me">Assigned to me</option>
                  <option value="unassigned">Unassigned</option>
                </select>
              </label>
              <label>
                <span class="sr-only">Site</span>
                <select value={filters.site_id} onChange={(e) => set({ site_id: e.currentTarget.value })}>
                  <option value="">All sites</option>
                  {(sites.data ?? []).map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                <span class="sr-only">Rating</span>
                <select value={filters.rating} onChange={(e) => set({ rating: e.currentTarget.value })}>
                  <option value="">Any rating</option>
                  <option value="low">1–2 stars</option>
                  <option value="high">4–5 stars</option>
                  {[1, 2, 3, 4, 5].map((n) => (
                    <option key={n} value={String(n)}>
                      {n} star{n > 1 ? 's' : ''}
                    </option>
                  ))}
                </select>
              </label>
            </div>
          </div>
        )}
        <ErrorBox message={items.error} />
        <ul class="items" ref={listRef} aria-label={`${title} conversations`} aria-busy={items.loading}>
          {conversations.map((c, i) => (
            <ItemRow
              key={c.id}
              item={c}
              open={c.id === conversationId}
              selected={i === cursor}
              waiting={mode === 'escalations' && tab === 'waiting'}
              now={now}
              site={siteName(c.site_id)}
              assignee={c.assignee_id ? ws.memberName(c.assignee_id) : null}
              onFocus={() => setCursor(i)}
            />
          ))}
        </ul>
        {items.data?.cursor != null && (
          <p class="more">
            <button type="button" class="btn" onClick={showMore} disabled={items.loading}>
              Show more conversations
            </button>
          </p>
        )}
        {!items.loading && conversations.length === 0 && (
          <p class="muted empty">{mode === 'escalations' ? 'Nobody is waiting. ' : 'No conversations match.'}</p>
        )}
      </section>
      {conversationId ? (
        <>
          <ConversationView
            key={conversationId}
            id={conversationId}
            handleRef={convRef}
            siteName={siteName}
            visitorOpen={visitorOpen}
            onToggleVisitor={() => setVisitorOpen(!visitorOpen)}
          />
          <VisitorPanel key={`v-${conversationId}`} conversationId={conversationId} />
        </>
      ) : (
        <section class="conversation empty-state" aria-label="Conversation">
          <p>Select a conversation, or press <kbd>j</kbd> and <kbd>Enter</kbd>.</p>
        </section>
      )}
      <dialog ref={helpRef} class="dialog" aria-labelledby="shortcuts-title" onClose={() => setHelpOpen(false)}>
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        {helpOpen && (
          <table class="shortcuts">
            <tbody>
              {SHORTCUTS.map((s) => (
                <tr key={s.keys}>
                  <th scope="row">
                    <kbd>{s.keys}</kbd>
                  </th>
                  <td>{s.does}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form method="dialog">
          <button class="btn primary" type="submit">
            Close
          </button>
        </form>
      </dialog>
    </div>
  );
}

function ItemRow(props: {
  item: InboxItem;
  open: boolean;
  selected: boolean;
  waiting: boolean;
  now: number;
  site?: string;
  assignee: string | null;
  onFocus: () => void;
}) {
  const c = props.item;
  const who = c.visitor_name || c.visitor_email || 'Visitor';
  const preview = lastMessagePreview(c.last_message);
  return (
    <li>
      <a
        class={`item${props.open ? ' open' : ''}${props.selected ? ' selected' : ''}${c.unread ? ' unread' : ''}`}
        href={`#/conversations/${encodeURIComponent(c.id)}`}
        aria-current={props.open ? 'true' : undefined}
        data-id={c.id}
        onFocus={props.onFocus}
      >
        <span class="item-top">
          <strong class="item-who">{who}</strong>
          {c.unread > 0 && (
            <span class="count" aria-label={`${c.unread} unread`}>
              {c.unread}
            </span>
          )}
          <span class="item-time">
            {props.waiting ? formatWaiting(c.status_changed_at, props.now) : formatAgo(c.last_activity_at, props.now)}
          </span>
        </span>
        <span class={`item-last${preview.system ? ' system' : ''}`}>
          {preview.prefix && <span class="item-author">{preview.prefix}</span>}
          {preview.text}
        </span>
        <span class="item-meta">
          <StatusBadge status={c.status} />
          {props.site && <span class="muted">{props.site}</span>}
          {props.assignee && <span class="muted">→ {props.assignee}</span>}
          {c.rating != null && <Stars value={c.rating} />}
        </span>
      </a>
    </li>
  );
}
