// The widget loader (the script the snippet adds): the launcher bubble, the command queue, the
// site's configuration. The chat panel is a separate chunk loaded on first open.
import { brandColors } from './contrast';
import { LAUNCHER, pickLocale } from './i18n';
import { createCommandApi, Emitter, type QueuedStub } from './queue';
import { type SuggestionRule, watchSuggestions } from './suggest';
import type { FrontdeskConfig, Identity, Panel, PanelFactory, ServerConfig, WidgetContext } from './types';

declare const __PANEL_FILE__: string;
declare const __PANEL_SRI__: string;

type Win = Window & {
  FrontdeskConfig?: FrontdeskConfig;
  Frontdesk?: QueuedStub;
  __frontdeskPanel?: (factory: PanelFactory) => void;
};
const w = window as Win;

const LAUNCHER_CSS = `
:host{all:initial}
*{box-sizing:border-box}
.fd-launcher{position:fixed;bottom:20px;inset-inline-end:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;
background:var(--fd-bg);color:var(--fd-fg);box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;
transition:transform .15s ease}
.fd-launcher:hover{transform:scale(1.06)}
.fd-launcher:focus-visible{outline:3px solid var(--fd-bg);outline-offset:3px}
.fd-left .fd-launcher{inset-inline-end:auto;inset-inline-start:20px}
.fd-launcher svg{width:26px;height:26px;fill:currentColor}
.fd-badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#dc2626;color:#fff;
font:600 12px/20px system-ui,sans-serif;text-align:center}
.fd-badge[hidden]{display:none}
.fd-sugg{position:fixed;bottom:88px;inset-inline-end:20px;z-index:2147483000;max-width:280px;display:flex;align-items:flex-start;gap:6px;
background:#fff;color:#111827;border-radius:12px;box-shadow:0 6px 24px rgba(0,0,0,.2);padding:10px;padding-inline:14px 8px;font:14px/1.4 system-ui,sans-serif;animation:fd-pop .2s ease-out}
.fd-left .fd-sugg{inset-inline-end:auto;inset-inline-start:20px}
.fd-sugg button{font:inherit;background:none;border:0;cursor:pointer;color:inherit;text-align:start;padding:0}
.fd-sugg .fd-x{font-size:18px;line-height:1;color:#6b7280;padding:0 4px}
@keyframes fd-pop{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
@media (prefers-reduced-motion: reduce){*{transition:none!important;animation:none!important}}
`;

function readConfig(): FrontdeskConfig | null {
  if (w.FrontdeskConfig && typeof w.FrontdeskConfig === 'object') return w.FrontdeskConfig;
  const el = document.getElementById('frontdesk-config');
  if (el && el.textContent) {
    try {
      return JSON.parse(el.textContent) as FrontdeskConfig;
    } catch {
      console.error('[Frontdesk] #frontdesk-config is not valid JSON');
    }
  }
  const script = document.currentScript as HTMLScriptElement | null;
  if (script?.dataset.apiKey) {
    return { apiKey: script.dataset.apiKey, apiUrl: script.dataset.apiUrl };
  }
  return null;
}

const scriptSrc = (document.currentScript as HTMLScriptElement | null)?.src || '';

function sheet(css: string): CSSStyleSheet {
  const s = new CSSStyleSheet();
  s.replaceSync(css);
  return s;
}

function start(): void {
  const config = readConfig();
  const pending = (w.Frontdesk && Array.isArray(w.Frontdesk.q) ? w.Frontdesk.q : []) as unknown[][];
  if (!config || !config.apiKey) {
    console.error('[Frontdesk] no configuration: set window.FrontdeskConfig = {apiUrl, apiKey}');
    return;
  }
  const apiUrl = (config.apiUrl || (scriptSrc ? new URL(scriptSrc).origin : location.origin)).replace(/\/+$/, '');
  const events = new Emitter();
  const frame = config.mode === 'frame';
  const params: Record<string, unknown> = { ...(config.params || {}) };
  const identity: Identity = {};
  let server: ServerConfig = {};
  let panel: Panel | null = null;
  let loading: Promise<PanelFactory> | null = null;
  let unread = 0;
  let ready = false;
  let configured: Promise<void> = Promise.resolve();

  const host = document.createElement('div');
  host.setAttribute('data-frontdesk', '');
  host.id = 'frontdesk-widget';
  const container = frame ? document.querySelector<HTMLElement>(config.container || '') : null;
  if (frame && !container) console.error('[Frontdesk] frame mode: no element matches', config.container);
  (container || document.body).appendChild(host);
  const root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [sheet(LAUNCHER_CSS)];
  const wrap = document.createElement('div');
  wrap.className = 'fd-root';
  root.appendChild(wrap);

  let colors = brandColors(config.primaryColor || '');
  let locale = pickLocale(config.locale, navigator.languages);
  let t = LAUNCHER[locale];
  const applyColors = () => {
    host.style.setProperty('--fd-bg', colors.bg);
    host.style.setProperty('--fd-fg', colors.fg);
  };
  applyColors();
  const position = (config.position || '').replace('_', '-');
  if (position === 'bottom-left') wrap.classList.add('fd-left');

  let launcher: HTMLButtonElement | null = null;
  let badge: HTMLSpanElement | null = null;
  if (!frame) {
    launcher = document.createElement('button');
    launcher.type = 'button';
    launcher.className = 'fd-launcher';
    launcher.setAttribute('aria-label', t.open);
    launcher.setAttribute('aria-expanded', 'false');
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z');
    svg.appendChild(path);
    badge = document.createElement('span');
    badge.className = 'fd-badge';
    badge.hidden = true;
    launcher.append(svg, badge);
    launcher.addEventListener('click', () => toggle());
    wrap.appendChild(launcher);
    performance.mark?.('frontdesk:launcher');
  }

  const setUnread = (n: number) => {
    unread = n;
    if (badge) {
      badge.hidden = n === 0;
      badge.textContent = String(n);
      launcher?.setAttribute('aria-label', n ? `${t.open} (${n} ${t.unread})` : t.open);
    }
    events.emit('unread', n);
  };

  let stopSuggestions = () => {};
  let bubble: HTMLElement | null = null;
  const seenKey = (id: string) => `frontdesk:suggested:${config.apiKey}:${id}`;
  function suggest(rule: SuggestionRule): void {
    if (frame || panel?.isOpen() || bubble) return;
    if (config!.tracking !== false) sessionStorage.setItem(seenKey(rule.id), '1');
    bubble = document.createElement('div');
    bubble.className = 'fd-sugg';
    bubble.setAttribute('role', 'status');
    const text = document.createElement('button');
    text.type = 'button';
    text.className = 'fd-sugg-text';
    text.textContent = rule.message;
    text.addEventListener('click', () => void open());
    const x = document.createElement('button');
    x.type = 'button';
    x.className = 'fd-x';
    x.textContent = '×';
    x.setAttribute('aria-label', t.dismiss);
    x.addEventListener('click', () => hideBubble());
    bubble.append(text, x);
    wrap.appendChild(bubble);
    events.emit('suggestion', { id: rule.id });
  }
  function hideBubble(): void {
    bubble?.remove();
    bubble = null;
  }

  const ctx = (): WidgetContext => ({
    config, apiUrl, server, locale, root, mount: wrap, frame, launcher, events, params, identity, colors,
    setUnread,
    onClose: () => close(),
    sendIdentity,
  });

  function loadPanel(): Promise<PanelFactory> {
    if (!loading) {
      loading = new Promise<PanelFactory>((resolve, reject) => {
        w.__frontdeskPanel = resolve;
        const s = document.createElement('script');
        s.src = new URL(`/assets/${__PANEL_FILE__}`, scriptSrc || apiUrl).href;
        s.integrity = __PANEL_SRI__;
        s.crossOrigin = 'anonymous';
        s.async = true;
        if (config!.nonce) s.nonce = config!.nonce;
        s.onerror = () => {
          loading = null;
          reject(new Error('the chat panel could not be loaded'));
        };
        document.head.appendChild(s);
      });
    }
    return loading;
  }

  async function open(): Promise<void> {
    try {
      await configured;
      if (!panel) {
        const factory = await loadPanel();
        if (!panel) panel = factory(ctx());
      }
      if (panel.isOpen()) return;
      panel.open();
      hideBubble();
      launcher?.setAttribute('aria-expanded', 'true');
      launcher?.setAttribute('aria-label', t.close);
      setUnread(0);
      events.emit('open');
    } catch (e) {
      events.emit('error', { message: String((e as Error).message || e) });
    }
  }

  function close(): void {
    if (!panel || !panel.isOpen() || frame) return;
    panel.close();
    launcher?.setAttribute('aria-expanded', 'false');
    launcher?.setAttribute('aria-label', t.open);
    launcher?.focus();
    events.emit('close');
  }

  function toggle(): void {
    if (panel?.isOpen()) close();
    else void open();
  }

  // Page views, conversions and the identity go to the server once a session exists (the panel
  // keeps it in `frontdesk:<key>`); until then they wait here, a few at most.
  type Sess = { session_id?: string; session_token?: string };
  const session = (): Sess => {
    try {
      return JSON.parse(localStorage.getItem(`frontdesk:${config!.apiKey}`) || '{}');
    } catch {
      return {}; // storage disabled: no session to report for yet
    }
  };
  const chat = (path: string, s: Sess, body: Record<string, unknown>) =>
    fetch(apiUrl + path, {
      method: 'POST',
      headers: { 'X-API-Key': config!.apiKey, 'Content-Type': 'application/json', Authorization: `Bearer ${s.session_token}` },
      body: JSON.stringify({ session_id: s.session_id, ...body }),
      keepalive: true,
    });
  let waiting: Record<string, unknown>[] = [];
  function report(ev: Record<string, unknown>): void {
    const s = session();
    if (!s.session_token) {
      if (waiting.length < 20) waiting.push(ev);
      return;
    }
    chat('/api/chat/events', s, ev).catch(() => {});
  }
  // Sent once per `identify` call, for the session there is (or the next one); a refusal
  // (403 identity_invalid) is an `error` event and is not retried.
  let idDirty = false;
  function sendIdentity(s: Sess): void {
    if (!idDirty || !s.session_token) return;
    idDirty = false;
    chat('/api/chat/identify', s, { ...identity })
      .then(async (r) => {
        if (r.ok) return;
        const e = (await r.json().catch(() => 0))?.error || {};
        events.emit('error', { code: e.code || `http_${r.status}`, message: e.message || r.statusText });
      })
      .catch(() => (idDirty = true));
  }
  events.on('conversation-started', () => {
    const now = waiting;
    waiting = [];
    now.forEach(report);
  });
  if (config.tracking !== false) {
    report({ kind: 'page_view', url: location.href, title: document.title.slice(0, 300), referrer: document.referrer || undefined });
  }

  const api = createCommandApi(
    {
      open: () => void open(),
      close,
      toggle,
      identify: (who) => {
        const v = (who || {}) as Record<string, string | undefined>;
        const next: Record<string, string | undefined> = { name: v.name, email: v.email, user_id: v.userId ?? v.user_id, user_hash: v.userHash ?? v.user_hash };
        // A new user id drops the hash signed for the previous one.
        if (next.user_id != null) delete identity.user_hash;
        for (const k in next) if (next[k] != null) (identity as Record<string, string | undefined>)[k] = String(next[k]);
        idDirty = true;
        sendIdentity(session());
      },
      setParams: (p) => {
        Object.assign(params, p || {});
      },
      track: (name, data) => {
        events.emit('track', { name, data });
        const d = { ...((data || {}) as Record<string, unknown>) };
        if (name === 'conversion') {
          const { name: n, props, ...rest } = d;
          report({ kind: 'conversion', name: n, props: props || rest });
        } else if (name === 'page_view') report({ kind: 'page_view', ...d });
      },
      on: (event, fn) => {
        if (typeof fn !== 'function') return () => {};
        // A late `ready` subscriber still hears it.
        if (event === 'ready' && ready) setTimeout(fn as () => void);
        return events.on(String(event), fn as () => void);
      },
      off: (event, fn) => events.off(String(event), fn as (() => void) | undefined),
      shutdown: () => {
        stopSuggestions();
        hideBubble();
        panel?.destroy();
        panel = null;
        host.remove();
        events.clear();
      },
      isReady: () => ready,
    },
    [],
  );
  w.Frontdesk = api;

  function configure(c: ServerConfig): void {
    server = c || {};
    const wc = server.widget || {};
    if (!config!.primaryColor && wc.primary_color) colors = brandColors(wc.primary_color);
    applyColors();
    if (!config!.position) wrap.classList.toggle('fd-left', wc.position === 'bottom_left');
    locale = pickLocale(config!.locale, navigator.languages, wc.language);
    t = LAUNCHER[locale];
    launcher?.setAttribute('aria-label', t.open);
    const rules = ((wc as { suggestions?: SuggestionRule[] }).suggestions || []) as SuggestionRule[];
    if (!frame && !config!.preview && rules.length) {
      stopSuggestions = watchSuggestions(rules, (id) => sessionStorage.getItem(seenKey(id)) === '1', suggest);
    }
  }

  // Preview mode (the dashboard's live preview, same origin only): the configuration comes by
  // postMessage instead of the API, and each one re-renders the open panel.
  if (config.preview) {
    addEventListener('message', (e) => {
      if (e.origin !== location.origin || e.data?.type !== 'frontdesk:preview') return;
      configure({ site_name: e.data.site_name, widget: e.data.widget });
      panel?.destroy();
      panel = null;
      void open();
    });
  }

  configured = (config.preview ? Promise.resolve() : fetch(`${apiUrl}/api/chat/config`, { headers: { 'X-API-Key': config.apiKey } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`config: HTTP ${r.status}`))))
    .then(configure))
    .catch((e) => events.emit('error', { message: String(e.message || e) }))
    .finally(() => {
      ready = true;
      // Unblock `open` calls that waited for the configuration.
      events.emit('ready');
      if (frame || sessionStorage.getItem(`frontdesk:open:${config.apiKey}`) === '1') void open();
    });

  // Replay calls made before the loader ran; `on` first so no event is missed.
  const ons = pending.filter((c) => c && c[0] === 'on');
  for (const c of ons) api(...c);
  for (const c of pending) if (c && c[0] !== 'on') api(...c);
  events.on('open', () => sessionStorage.setItem(`frontdesk:open:${config.apiKey}`, '1'));
  events.on('close', () => sessionStorage.removeItem(`frontdesk:open:${config.apiKey}`));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
