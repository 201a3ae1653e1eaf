// The chat panel chunk: loaded by the loader on first open. Sessions, messages, the socket.
import DOMPurify from 'dompurify';
import { strings } from './i18n';
import { Conversation, greetsOnOpen, type Message } from './messages';
import { PANEL_CSS } from './panel.css';
import type { Panel, PanelFactory, WidgetContext } from './types';

interface Past {
  id: string;
  token: string;
  at: number;
  preview: string;
}

interface Stored {
  visitor_id?: string;
  session_id?: string;
  session_token?: string;
  /** Earlier conversations of this visitor (newest first), for the read-only history view. */
  past?: Past[];
}

class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

// Links in server HTML open in a new tab, safely; nothing but http(s)/mailto/tel survives.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});
const PURIFY = {
  ALLOWED_TAGS: ['a', 'p', 'br', 'strong', 'em', 'b', 'i', 'code', 'pre', 'ul', 'ol', 'li', 'blockquote', 'h3', 'h4', 'del', 'hr'],
  ALLOWED_ATTR: ['href', 'title', 'target', 'rel'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|tel:)/i,
};

/** The rating's optional tags: the key sent to the server, and its label's string. */
const RATING_TAGS = [
  ['quick', 'tagQuick'],
  ['helpful', 'tagHelpful'],
  ['friendly', 'tagFriendly'],
  ['slow', 'tagSlow'],
  ['unclear', 'tagUnclear'],
] as const;

const safeUrl = (u: string | null | undefined) => (u && /^https?:\/\//i.test(u) ? u : null);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** A thumb icon (SVG, so it needs no emoji font). */
function thumb(down: boolean): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  if (down) svg.setAttribute('transform', 'rotate(180)');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', 'M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z');
  svg.append(p);
  return svg;
}

function button(cls: string, text: string, onClick: () => void, label?: string): HTMLButtonElement {
  const b = el('button', cls, text);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

const createPanel: PanelFactory = (ctx: WidgetContext): Panel => {
  const { events, config, apiUrl } = ctx;
  const t = strings(ctx.locale);
  const key = config.apiKey;
  const storeKey = `frontdesk:${key}`;
  const conv = new Conversation();
  const preview = !!config.preview;
  let stored: Stored = preview ? {} : load();
  let status = 'active';
  let escalatedSent = false;
  let busy = false;
  let opened = false;
  let destroyed = false;
  let ws: WebSocket | null = null;
  let wsAttempts = 0;
  let wsTimer: ReturnType<typeof setTimeout> | undefined;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  let unread = 0;
  let rating = 0;
  const streams = new Map<string, HTMLElement>();
  const outbox: string[] = [];

  const s = new CSSStyleSheet();
  s.replaceSync(PANEL_CSS);
  ctx.root.adoptedStyleSheets = [...ctx.root.adoptedStyleSheets, s];
  if (ctx.frame) ctx.mount.classList.add('fd-frame');

  // --- DOM -------------------------------------------------------------------------------------
  const panel = el('div', 'fd-panel');
  panel.setAttribute('role', ctx.frame ? 'region' : 'dialog');
  panel.setAttribute('aria-label', ctx.server.widget?.title || t.title);
  panel.hidden = true;
  panel.lang = ctx.locale;
  const head = el('div', 'fd-head');
  const title = el('h2', '', ctx.server.widget?.title || t.title);
  const endBtn = button('', t.end, () => void endChat());
  const closeBtn = button('fd-icon', '×', () => ctx.onClose(), t.close);
  endBtn.hidden = !stored.session_id;
  const historyBtn = button('', t.history, () => showHistory());
  historyBtn.hidden = !stored.past?.length;
  head.append(title, historyBtn, endBtn);
  if (!ctx.frame) head.append(closeBtn);
  const banner = el('div', 'fd-banner', t.escalated);
  banner.setAttribute('role', 'note');
  banner.hidden = true;
  const channels = el('div', 'fd-channels');
  channels.hidden = true;
  const log = el('div', 'fd-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-label', t.messages);
  log.tabIndex = 0;
  const welcome = el('div', 'fd-welcome');
  welcome.append(
    el('h3', '', ctx.server.widget?.welcome_heading || t.title),
    el('p', '', ctx.server.widget?.greeting || ctx.server.widget?.welcome_subheading || ''),
  );
  log.append(welcome);
  const statusEl = el('div', 'fd-status');
  statusEl.setAttribute('role', 'status');
  statusEl.setAttribute('aria-live', 'polite');
  const chips = el('div', 'fd-chips');
  const form = el('form', 'fd-form');
  const input = el('textarea');
  input.rows = 1;
  input.placeholder = t.placeholder;
  input.setAttribute('aria-label', t.placeholder);
  input.maxLength = 4000;
  const sendBtn = el('button', 'fd-send', t.send);
  sendBtn.type = 'submit';
  form.append(input, sendBtn);
  if (preview) {
    input.disabled = sendBtn.disabled = true;
    input.placeholder = 'Preview';
  }
  const rate = el('div', 'fd-rate');
  rate.hidden = true;
  const history = el('div', 'fd-history');
  history.hidden = true;
  panel.append(head, banner, channels, log, statusEl, chips, form, rate, history);
  if (ctx.server.widget?.show_branding !== false) panel.append(el('div', 'fd-brand', 'Powered by Frontdesk'));
  ctx.mount.append(panel);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send(input.value);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send(input.value);
    }
  });
  let typingSent = 0;
  input.addEventListener('input', () => {
    const now = Date.now();
    if (ws?.readyState === WebSocket.OPEN && now - typingSent > 3000) {
      typingSent = now;
      ws.send(JSON.stringify({ v: 1, type: 'typing', on: true }));
    }
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      ctx.onClose();
    }
  });
  window.addEventListener('online', flushOutbox);
  // Full screen on narrow phones: follow the visual viewport so the on-screen keyboard never
  // covers the composer.
  const vv = window.visualViewport;
  const fit = () => {
    if (!vv || ctx.frame) return;
    if (innerWidth <= 480) {
      panel.style.setProperty('height', `${vv.height}px`);
      panel.style.setProperty('top', `${vv.offsetTop}px`);
    } else {
      panel.style.removeProperty('height');
      panel.style.removeProperty('top');
    }
  };
  vv?.addEventListener('resize', fit);
  vv?.addEventListener('scroll', fit);

  // --- storage and API -------------------------------------------------------------------------
  function load(): Stored {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || '{}') as Stored;
    } catch {
      return {};
    }
  }
  function save(): void {
    if (preview) return;
    try {
      localStorage.setItem(storeKey, JSON.stringify(stored));
    } catch {
      /* storage may be disabled: the conversation lasts for this page */
    }
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'X-API-Key': key };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (stored.session_token) headers.Authorization = `Bearer ${stored.session_token}`;
    const r = await fetch(apiUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, data?.error?.code || 'http_' + r.status, data?.error?.message || r.statusText);
    return data as T;
  }

  function forgetSession(): void {
    stored = { visitor_id: stored.visitor_id, past: stored.past };
    escalatedSent = false;
    save();
    conv.clear();
    disconnect();
    endBtn.hidden = true;
  }

  /** The session, created once even when a greeting and a first message ask at the same time. */
  let starting: Promise<void> | null = null;
  function ensureSession(): Promise<void> {
    if (stored.session_id && stored.session_token) return Promise.resolve();
    return (starting ||= startSession().finally(() => (starting = null)));
  }

  /** A start scenario greets: the conversation begins when the panel opens, not at the first message. */
  async function greet(): Promise<void> {
    setThinking(t.thinking, 8000);
    try {
      await ensureSession();
      await fetchHistory();
    } catch {
      showError();
    }
  }

  async function startSession(): Promise<void> {
    const id = ctx.identity;
    const r = await api<{ session_id: string; session_token: string; visitor_id: string; status: string }>(
      'POST',
      '/api/chat/session',
      {
        visitor_id: stored.visitor_id,
        page_url: location.href,
        locale: ctx.locale,
        params: { ...ctx.params, ...(id.name ? { name: id.name } : {}), ...(id.email ? { email: id.email } : {}) },
      },
    );
    stored = { visitor_id: r.visitor_id, session_id: r.session_id, session_token: r.session_token };
    save();
    setStatus(r.status);
    endBtn.hidden = false;
    events.emit('conversation-started', { sessionId: r.session_id });
    // An `identify` made before the session existed reaches the server now.
    ctx.sendIdentity(stored);
    connect();
  }

  async function restore(): Promise<void> {
    if (!stored.session_id) {
      showChannels();
      return;
    }
    try {
      const sess = await api<{ status: string }>('GET', `/api/chat/session/${stored.session_id}`);
      // Already escalated before this page: not news.
      escalatedSent = sess.status !== 'active';
      setStatus(sess.status);
      await fetchHistory();
      connect();
    } catch (e) {
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) forgetSession();
      else showError();
    }
  }

  async function fetchHistory(): Promise<void> {
    if (!stored.session_id) return;
    const r = await api<{ messages: Message[] }>('GET', `/api/chat/history/${stored.session_id}?after_seq=${conv.lastSeq}`);
    for (const m of r.messages || []) addMessage(m, true);
  }

  // --- rendering -------------------------------------------------------------------------------
  function who(m: Message): string {
    return m.author_kind === 'visitor' ? t.you : m.author_kind === 'agent' ? t.agent : m.author_kind === 'system' ? '' : t.assistant;
  }

  function addMessage(m: Message, quiet = false): void {
    if (!conv.add(m)) return;
    welcome.remove();
    channels.hidden = true;
    if (m.author_kind === 'assistant' || m.author_kind === 'bot' || m.author_kind === 'agent') {
      clearStreams();
      setThinking(null);
      if (m.author_kind === 'agent') banner.hidden = true;
    }
    const node = messageNode(m, false);
    // Keep the order by seq even when an older message arrives late.
    const after = [...log.querySelectorAll<HTMLElement>('.fd-msg[data-seq]')].find((x) => Number(x.dataset.seq) > m.seq);
    log.insertBefore(node, after || firstStream());
    renderChips();
    log.scrollTop = log.scrollHeight;
    if (opened) markRead();
    if (m.author_kind !== 'visitor') {
      events.emit('message', m);
      if (!quiet && !opened) {
        unread += 1;
        ctx.setUnread(unread);
      }
    }
  }

  /** Tells the server (and so the agent) how far the visitor has seen. */
  function markRead(): void {
    const seq = conv.lastSeq;
    if (seq && ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ v: 1, type: 'read', seq }));
  }

  function messageNode(m: Message, readOnly: boolean): HTMLElement {
    const node = el('div', `fd-msg fd-${m.author_kind}`);
    node.dataset.seq = String(m.seq);
    node.dataset.id = m.id;
    const name = who(m);
    if (name) node.append(el('span', 'fd-sr fd-who', name + ':'));
    const body = el('div', 'fd-body');
    if (m.author_kind === 'visitor') body.textContent = m.body;
    else body.innerHTML = DOMPurify.sanitize(m.html || escapeHtml(m.body), PURIFY) as unknown as string;
    node.append(body);
    const cites = (m.citations || []).filter((c) => c && c.title);
    if (cites.length) {
      const box = el('div', 'fd-cites');
      box.append(el('span', '', t.sources));
      const ul = el('ul');
      for (const c of cites) {
        const li = el('li');
        const url = safeUrl(c.url);
        if (url) {
          const a = el('a', '', c.title);
          a.href = url;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          li.append(a);
        } else li.textContent = c.title;
        ul.append(li);
      }
      box.append(ul);
      node.append(box);
    }
    if (!readOnly && (m.author_kind === 'assistant' || m.author_kind === 'bot')) node.append(reactions(m));
    return node;
  }

  function clearStreams(): void {
    for (const node of streams.values()) node.remove();
    streams.clear();
  }

  function firstStream(): HTMLElement | null {
    return streams.values().next().value || null;
  }

  function reactions(m: Message): HTMLElement {
    const box = el('div', 'fd-react');
    const set = (r: 'up' | 'down' | null) => {
      up.setAttribute('aria-pressed', String(r === 'up'));
      down.setAttribute('aria-pressed', String(r === 'down'));
    };
    const react = (r: 'up' | 'down') => {
      const next = m.reaction === r ? null : r;
      api('POST', `/api/chat/message/${m.id}/react`, { session_id: stored.session_id, reaction: next })
        .then(() => {
          m.reaction = next;
          set(next);
        })
        .catch(showError);
    };
    const up = button('', '', () => react('up'), t.helpful);
    const down = button('', '', () => react('down'), t.notHelpful);
    up.append(thumb(false));
    down.append(thumb(true));
    set(m.reaction || null);
    box.append(up, down);
    return box;
  }

  function renderChips(): void {
    chips.textContent = '';
    const list = conv.list();
    const last = list[list.length - 1];
    const replies = last ? last.quick_replies || [] : ctx.server.widget?.quick_replies || [];
    if (status === 'closed') return;
    for (const q of replies) chips.append(button('', q, () => void send(q)));
  }

  function escapeHtml(s: string): string {
    const d = el('div');
    d.textContent = s;
    return d.innerHTML;
  }

  function setThinking(stage: string | null, timeoutMs = 30000): void {
    clearTimeout(statusTimer);
    statusEl.textContent = '';
    if (!stage) return;
    const dots = el('span', 'fd-dots');
    dots.setAttribute('aria-hidden', 'true');
    dots.append(el('i'), el('i'), el('i'));
    statusEl.append(dots, el('span', 'fd-stage', stage));
    statusTimer = setTimeout(() => setThinking(null), timeoutMs);
  }

  function setStatus(next: string): void {
    if (!next) return;
    const was = status;
    status = next;
    banner.hidden = status !== 'escalated' || conv.list().some((m) => m.author_kind === 'agent');
    if (status === 'escalated' && was !== 'escalated' && !escalatedSent) {
      escalatedSent = true;
      events.emit('escalated');
    }
    const closed = status === 'closed';
    form.hidden = closed;
    endBtn.hidden = closed || !stored.session_id;
    if (closed && was !== 'closed' && rate.hidden) showRating();
    updateComposer();
  }

  function updateComposer(): void {
    sendBtn.disabled = busy || preview;
    input.setAttribute('aria-busy', String(busy));
  }

  function showError(): void {
    setThinking(null);
    statusEl.textContent = t.error;
  }

  function showChannels(): void {
    const list = (ctx.server.widget?.channels || []).filter((c) => safeUrl(c.url) || /^(mailto|tel):/i.test(c.url));
    if (!list.length || conv.size) return;
    channels.textContent = '';
    channels.append(el('p', '', t.channels));
    channels.append(button('fd-btn', t.chatHere, () => {
      channels.hidden = true;
      input.focus();
    }));
    for (const c of list) {
      const a = el('a', 'fd-btn fd-alt', c.label || c.kind);
      a.href = c.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.dataset.kind = c.kind;
      channels.append(a);
    }
    channels.hidden = false;
  }

  // --- sending ---------------------------------------------------------------------------------
  async function send(raw: string): Promise<void> {
    const text = raw.trim();
    if (!text || busy || status === 'closed' || preview) return;
    busy = true;
    updateComposer();
    input.value = '';
    setThinking(t.thinking);
    try {
      await ensureSession();
      await post(text);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 'token_expired' || e.code === 'invalid_token')) {
        forgetSession();
        try {
          await ensureSession();
          await post(text);
        } catch {
          showError();
        }
      } else if (e instanceof TypeError) {
        // Offline: keep it and send it when the network is back.
        outbox.push(text);
        statusEl.textContent = t.offline;
      } else showError();
    } finally {
      busy = false;
      updateComposer();
      if (!streams.size && statusEl.querySelector('.fd-dots') && !status.startsWith('esc')) setThinking(null);
    }
  }

  async function post(text: string): Promise<void> {
    const r = await api<{ message: Message; reply: Message | null; session_status: string }>('POST', '/api/chat/message', {
      session_id: stored.session_id,
      content: text,
      params: ctx.params,
    });
    addMessage(r.message);
    if (r.reply) addMessage(r.reply);
    setStatus(r.session_status);
    setThinking(null);
  }

  function flushOutbox(): void {
    const next = outbox.shift();
    if (next) void send(next).then(() => outbox.length && flushOutbox());
  }

  async function endChat(): Promise<void> {
    if (!stored.session_id) return;
    try {
      await api('POST', `/api/chat/session/${stored.session_id}/end`);
      setStatus('closed');
    } catch {
      showError();
    }
  }

  function showRating(): void {
    rate.textContent = '';
    rating = 0;
    rate.append(el('p', '', t.closed), el('h3', '', t.rateTitle));
    const stars = el('div', 'fd-stars');
    stars.setAttribute('role', 'group');
    stars.setAttribute('aria-label', t.rateTitle);
    const starBtns: HTMLButtonElement[] = [];
    for (let i = 1; i <= 5; i++) {
      const b = button('', '★', () => {
        rating = i;
        starBtns.forEach((x, j) => x.setAttribute('aria-pressed', String(j < i)));
      }, `${i} ${t.rateStars}`);
      b.setAttribute('aria-pressed', 'false');
      starBtns.push(b);
      stars.append(b);
    }
    // Optional tags: stable keys go to the server, the labels are localized.
    const tags = new Set<string>();
    const tagBox = el('div', 'fd-tags');
    tagBox.setAttribute('role', 'group');
    tagBox.setAttribute('aria-label', t.rateTags);
    for (const [k, label] of RATING_TAGS) {
      const b = button('', t[label], () => {
        if (!tags.delete(k)) tags.add(k);
        b.setAttribute('aria-pressed', String(tags.has(k)));
      });
      b.setAttribute('aria-pressed', 'false');
      b.dataset.tag = k;
      tagBox.append(b);
    }
    const text = el('textarea');
    text.setAttribute('aria-label', t.feedback);
    text.placeholder = t.feedback;
    const submit = button('fd-btn', t.submit, async () => {
      if (!rating || !stored.session_id) return;
      try {
        await api('POST', `/api/chat/session/${stored.session_id}/rate`, {
          stars: rating,
          tags: tags.size ? [...tags] : undefined,
          feedback: text.value.trim() || undefined,
        });
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'already_rated')) return showError();
      }
      events.emit('rated', { stars: rating, tags: [...tags] });
      rate.textContent = '';
      rate.append(el('p', '', t.thanks), newChatButton());
    });
    rate.append(stars, el('p', 'fd-sub', t.rateTags), tagBox, text, submit, newChatButton());
    rate.hidden = false;
    chips.textContent = '';
  }

  function newChatButton(): HTMLButtonElement {
    return button('fd-btn fd-alt', t.newChat, () => {
      archive();
      forgetSession();
      log.querySelectorAll('.fd-msg').forEach((n) => n.remove());
      log.prepend(welcome);
      rate.hidden = true;
      status = 'active';
      setStatus('active');
      renderChips();
      input.focus();
    });
  }

  // --- earlier conversations (read-only) -------------------------------------------------------
  function archive(): void {
    if (!stored.session_id || !stored.session_token || !conv.size) return;
    const first = conv.list().find((m) => m.author_kind === 'visitor');
    const entry: Past = { id: stored.session_id, token: stored.session_token, at: Date.now(), preview: (first?.body || '…').slice(0, 60) };
    stored.past = [entry, ...(stored.past || []).filter((p) => p.id !== entry.id)].slice(0, 10);
    save();
    historyBtn.hidden = false;
  }

  let hiddenBefore: HTMLElement[] = [];
  function showHistory(): void {
    if (!history.hidden) return closeHistory();
    hiddenBefore = [channels, log, statusEl, chips, form, rate, banner].filter((x) => !x.hidden);
    hiddenBefore.forEach((x) => (x.hidden = true));
    history.textContent = '';
    history.hidden = false;
    history.append(button('fd-btn fd-alt', t.back, closeHistory));
    const list = el('ul', 'fd-past');
    for (const p of stored.past || []) {
      const li = el('li');
      li.append(button('fd-btn fd-alt', `${new Date(p.at).toLocaleDateString(ctx.locale)} — ${p.preview}`, () => void openPast(p)));
      list.append(li);
    }
    history.append(list);
    history.querySelector('button')?.focus();
    // The server knows this visitor's other sessions too (listed only: no token to open them).
    if (stored.session_token) {
      api<{ sessions: { session_id: string; created_at: string; last_message: { body: string } | null }[] }>(
        'GET',
        '/api/chat/visitor/sessions',
      )
        .then((r) => {
          const known = new Set([stored.session_id, ...(stored.past || []).map((p) => p.id)]);
          for (const s of r.sessions || []) {
            if (known.has(s.session_id) || !s.last_message) continue;
            const d = new Date(s.created_at).toLocaleDateString(ctx.locale);
            list.append(el('li', 'fd-note', `${d} — ${s.last_message.body.slice(0, 60)}`));
          }
        })
        .catch(() => {});
    }
  }

  function closeHistory(): void {
    history.hidden = true;
    history.textContent = '';
    hiddenBefore.forEach((x) => (x.hidden = false));
    hiddenBefore = [];
  }

  async function openPast(p: Past): Promise<void> {
    history.textContent = '';
    history.append(button('fd-btn fd-alt', t.back, () => {
      closeHistory();
      showHistory();
    }));
    const view = el('div', 'fd-log');
    view.setAttribute('role', 'log');
    view.setAttribute('aria-label', t.messages);
    history.append(view);
    const get = async <T>(path: string): Promise<T> => {
      const r = await fetch(apiUrl + path, { headers: { 'X-API-Key': key, Authorization: `Bearer ${p.token}` } });
      if (!r.ok) throw new Error(String(r.status));
      return (await r.json()) as T;
    };
    try {
      const [data, sess] = await Promise.all([
        get<{ messages: Message[] }>(`/api/chat/history/${p.id}`),
        get<{ status: string }>(`/api/chat/session/${p.id}`).catch(() => ({ status: 'closed' })),
      ]);
      for (const m of data.messages || []) view.append(messageNode(m, true));
      // A resolved conversation can be picked up again: writing to it reopens it on the server.
      if (sess.status === 'resolved') {
        history.append(el('p', 'fd-note', t.resolved), button('fd-btn', t.continue, () => void continuePast(p)));
      } else history.append(el('p', 'fd-note', t.closed));
    } catch {
      view.append(el('p', 'fd-note', t.gone));
    }
  }

  /** Makes an earlier (resolved) conversation the current one again. */
  async function continuePast(p: Past): Promise<void> {
    if (stored.session_id !== p.id) archive();
    disconnect();
    clearStreams();
    conv.clear();
    log.querySelectorAll('.fd-msg').forEach((n) => n.remove());
    stored = { visitor_id: stored.visitor_id, session_id: p.id, session_token: p.token, past: (stored.past || []).filter((x) => x.id !== p.id) };
    save();
    historyBtn.hidden = !stored.past?.length;
    closeHistory();
    rate.hidden = true;
    channels.hidden = true;
    escalatedSent = true;
    status = 'resolved';
    setStatus('resolved');
    input.focus();
    try {
      await fetchHistory();
      connect();
    } catch {
      showError();
    }
  }

  // --- the socket ------------------------------------------------------------------------------
  function connect(): void {
    if (destroyed || ws || !stored.session_token || status === 'closed') return;
    clearTimeout(wsTimer);
    const u = new URL(apiUrl + '/api/chat/ws');
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('key', key);
    u.searchParams.set('token', stored.session_token);
    u.searchParams.set('after_seq', String(conv.lastSeq));
    const sock = new WebSocket(u.href);
    ws = sock;
    sock.onopen = () => {
      wsAttempts = 0;
      if (opened) markRead();
      stopPolling();
      flushOutbox();
    };
    sock.onmessage = (e) => {
      try {
        frame(JSON.parse(String(e.data)));
      } catch {
        /* ignore a malformed frame */
      }
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (destroyed || !stored.session_token) return;
      wsAttempts += 1;
      startPolling();
      if (wsAttempts === 3) void checkSession();
      const delay = Math.min(30000, 500 * 2 ** (wsAttempts - 1)) * (0.5 + Math.random() / 2);
      wsTimer = setTimeout(connect, delay);
    };
  }

  function disconnect(): void {
    clearTimeout(wsTimer);
    stopPolling();
    const sock = ws;
    ws = null;
    sock?.close(1000);
  }

  /** After repeated refusals: is the session still valid? */
  async function checkSession(): Promise<void> {
    try {
      await api('GET', `/api/chat/session/${stored.session_id}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) forgetSession();
    }
  }

  function startPolling(): void {
    if (pollTimer) return;
    pollTimer = setInterval(() => void fetchHistory().catch(() => {}), 3000);
  }

  function stopPolling(): void {
    clearInterval(pollTimer);
    pollTimer = undefined;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function frame(f: any): void {
    switch (f?.type) {
      case 'message.created': {
        const m = f.message as Message;
        // The REST answer may have come first: the final message still ends its streamed text.
        if (m && m.author_kind !== 'visitor') clearStreams();
        addMessage(m);
        break;
      }
      case 'message.delta': {
        // Only while our message is being answered; a late piece after the final answer is dropped.
        if (!busy) break;
        let node = streams.get(f.stream_id);
        if (!node) {
          node = el('div', 'fd-msg fd-assistant fd-streaming');
          streams.set(f.stream_id, node);
          log.append(node);
          setThinking(null);
        }
        node.textContent += String(f.text ?? '');
        log.scrollTop = log.scrollHeight;
        break;
      }
      case 'thinking':
        setThinking(f.stage ?? null, Number(f.timeout_ms) || 30000);
        break;
      case 'typing':
        if (f.from === 'agent') setThinking(f.on ? t.typing : null, 6000);
        break;
      case 'conversation.status_changed':
        setStatus(f.to);
        break;
      case 'resumed':
        // A snapshot from before the REST answer we already have is stale: keep ours.
        if (Number(f.last_seq) >= conv.lastSeq) setStatus(f.status);
        break;
    }
  }

  void restore();

  return {
    open() {
      opened = true;
      unread = 0;
      markRead();
      panel.hidden = false;
      fit();
      if (greetsOnOpen(ctx.server, !!stored.session_id, preview)) void greet();
      if (!stored.session_id || status !== 'closed') input.focus();
      else rate.querySelector('button')?.focus();
    },
    close() {
      opened = false;
      panel.hidden = true;
    },
    isOpen: () => opened,
    destroy() {
      destroyed = true;
      disconnect();
      window.removeEventListener('online', flushOutbox);
      vv?.removeEventListener('resize', fit);
      vv?.removeEventListener('scroll', fit);
      panel.remove();
      ctx.root.adoptedStyleSheets = ctx.root.adoptedStyleSheets.filter((x) => x !== s);
    },
  };
};

(window as Window & { __frontdeskPanel?: (f: PanelFactory) => void }).__frontdeskPanel?.(createPanel);
