// Widget customization: edits the draft (PATCH {widget}), shows it live in the real widget
// (the /app/preview frame, fed by postMessage), and publishes or discards it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { brandColors, contrastRatio, parseColor } from '../../widget/contrast';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import type { Channel, Site, SuggestionRule, WidgetConfig } from '../types';
import { ErrorBox, Field } from '../ui/common';

const same = (a: WidgetConfig, b: WidgetConfig) => JSON.stringify(a) === JSON.stringify(b);

export function WidgetEditor({ site, onSaved }: { site: Site; onSaved: (s: Site) => void }) {
  const ws = useWorkspace();
  const saved = site.widget_draft ?? site.widget;
  const [draft, setDraft] = useState<WidgetConfig>(saved);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const frame = useRef<HTMLIFrameElement>(null);
  const ready = useRef(false);

  useEffect(() => setDraft(site.widget_draft ?? site.widget), [site.widget_draft, site.widget]);

  const post = (w: WidgetConfig) => {
    if (!ready.current) return;
    frame.current?.contentWindow?.postMessage({ type: 'frontdesk:preview', site_name: site.name, widget: w }, location.origin);
  };
  // The preview frame says when its widget listens; then it gets every change.
  useEffect(() => {
    const onMessage = (e: MessageEvent) => {
      if (e.origin !== location.origin || e.source !== frame.current?.contentWindow || e.data?.type !== 'frontdesk:preview-ready') return;
      ready.current = true;
      post(draftRef.current);
    };
    addEventListener('message', onMessage);
    return () => removeEventListener('message', onMessage);
  }, []);
  const draftRef = useRef(draft);
  draftRef.current = draft;
  useEffect(() => {
    const t = setTimeout(() => post(draft), 120);
    return () => clearTimeout(t);
  }, [draft]);

  const set = (patch: Partial<WidgetConfig>) => setDraft((d) => ({ ...d, ...patch }));
  const unsaved = !same(draft, saved);
  const hasDraft = site.widget_draft !== null && !same(site.widget_draft, site.widget);

  const run = async (what: () => Promise<Site>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      const s = await what();
      onSaved(s);
      ws.toast({ text: done, kind: 'success' });
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const saveDraft = () => run(() => ws.api.updateSite(site.id, { widget: draft }), 'Draft saved (not live yet)');
  const publish = () =>
    run(async () => {
      if (unsaved) await ws.api.updateSite(site.id, { widget: draft });
      return ws.api.publishWidget(site.id);
    }, 'Widget published: visitors see it now');
  const discard = () => run(() => ws.api.discardWidget(site.id), 'Draft discarded');

  const colors = brandColors(draft.primary_color);
  const bg = parseColor(colors.bg);
  const fg = parseColor(colors.fg);
  const ratio = bg && fg ? contrastRatio(bg, fg) : 0;
  const adjusted = colors.bg.toLowerCase() !== draft.primary_color.toLowerCase();

  return (
    <section class="panel" id="widget" aria-labelledby="widget-title">
      <h2 id="widget-title" tabIndex={-1}>
        Widget
      </h2>
      <p class="draft-state" role="status">
        {unsaved ? 'Unsaved changes' : hasDraft ? 'Draft saved — not published yet' : 'Visitors see this version'}
      </p>
      <div class="widget-editor">
        <form class="stack" onSubmit={(e) => (e.preventDefault(), void saveDraft())} aria-label="Widget draft">
          <div class="grid-2">
            <Field label="Brand colour">
              <div class="color-row">
                <input type="color" value={draft.primary_color} onInput={(e) => set({ primary_color: e.currentTarget.value })} aria-label="Brand colour picker" />
                <input
                  class="mono"
                  value={draft.primary_color}
                  pattern="#[0-9a-fA-F]{6}"
                  aria-label="Brand colour (hex)"
                  onInput={(e) => /^#[0-9a-f]{6}$/i.test(e.currentTarget.value) && set({ primary_color: e.currentTarget.value })}
                />
              </div>
            </Field>
            <div class="field">
              <span class="field-label">Text on it</span>
              <span class="contrast-sample" style={{ background: colors.bg, color: colors.fg }}>
                Aa — {ratio.toFixed(1)}:1
              </span>
              <span class="hint">
                Text colour is chosen automatically for readable contrast (at least 4.5:1){adjusted ? '; this colour is darkened slightly for it' : ''}.
              </span>
            </div>
            <Field label="Title">
              <input value={draft.title} onInput={(e) => set({ title: e.currentTarget.value })} />
            </Field>
            <Field label="Position">
              <select value={draft.position} onChange={(e) => set({ position: e.currentTarget.value as WidgetConfig['position'] })}>
                <option value="bottom_right">Bottom right</option>
                <option value="bottom_left">Bottom left</option>
              </select>
            </Field>
            <Field label="Welcome heading">
              <input value={draft.welcome_heading} onInput={(e) => set({ welcome_heading: e.currentTarget.value })} />
            </Field>
            <Field label="Subheading">
              <input value={draft.welcome_subheading} onInput={(e) => set({ welcome_subheading: e.currentTarget.value })} />
            </Field>
            <Field label="Greeting" wide>
              <input value={draft.greeting} onInput={(e) => set({ greeting: e.currentTarget.value })} />
            </Field>
            <Field label="Language">
              <select value={draft.language} onChange={(e) => set({ language: e.currentTarget.value })}>
                <option value="">The visitor's browser language</option>
                {['en', 'nl', 'de', 'fr', 'es'].map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </Field>
            <label class="check">
              <input
                type="checkbox"
                checked={draft.show_branding}
                disabled={!ws.info?.entitlements.remove_branding}
                onChange={(e) => set({ show_branding: e.currentTarget.checked })}
              />
              Show “Powered by Frontdesk”{!ws.info?.entitlements.remove_branding && <span class="muted"> (removable on Pro)</span>}
            </label>
          </div>
          <ListEditor
            label="Quick replies"
            hint="Buttons the visitor can tap to start."
            items={draft.quick_replies}
            onChange={(quick_replies) => set({ quick_replies })}
          />
          <Channels items={draft.channels} onChange={(channels) => set({ channels })} />
          <Suggestions items={draft.suggestions} onChange={(suggestions) => set({ suggestions })} />
          <ErrorBox message={error} />
          <div class="row sticky-actions">
            <button type="submit" class="btn" disabled={busy || !unsaved}>
              Save draft
            </button>
            <button type="button" class="btn primary" disabled={busy || (!unsaved && !hasDraft)} onClick={() => void publish()}>
              Publish
            </button>
            <button type="button" class="btn" disabled={busy || (!unsaved && !hasDraft)} onClick={() => void discard()}>
              Discard draft
            </button>
          </div>
        </form>
        <div class="preview-box">
          <p class="field-label" id="preview-label">
            Live preview (sending is disabled)
          </p>
          <iframe ref={frame} src="/app/preview" title="Widget preview" class="preview-frame" aria-labelledby="preview-label" />
        </div>
      </div>
    </section>
  );
}

function ListEditor({ label, hint, items, onChange }: { label: string; hint: string; items: string[]; onChange: (v: string[]) => void }) {
  const [text, setText] = useState('');
  const add = () => {
    const v = text.trim();
    if (v && !items.includes(v)) onChange([...items, v]);
    setText('');
  };
  return (
    <fieldset class="list-editor">
      <legend>{label}</legend>
      <p class="hint">{hint}</p>
      <ul class="chips">
        {items.map((q) => (
          <li key={q}>
            {q}
            <button type="button" class="btn icon small" aria-label={`Remove ${q}`} onClick={() => onChange(items.filter((x) => x !== q))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <div class="row">
        <input
          value={text}
          aria-label={`New ${label.toLowerCase().replace(/s$/, '')}`}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Enter' && (e.preventDefault(), add())}
        />
        <button type="button" class="btn small" onClick={add}>
          Add
        </button>
      </div>
    </fieldset>
  );
}

function Channels({ items, onChange }: { items: Channel[]; onChange: (v: Channel[]) => void }) {
  const update = (i: number, patch: Partial<Channel>) => onChange(items.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <fieldset class="list-editor">
      <legend>Other channels</legend>
      <p class="hint">Offered before a chat starts (e-mail, phone, WhatsApp…).</p>
      {items.map((c, i) => (
        <div class="row" key={i}>
          <select aria-label={`Channel ${i + 1} kind`} value={c.kind} onChange={(e) => update(i, { kind: e.currentTarget.value })}>
            {['email', 'phone', 'whatsapp', 'messenger', 'telegram', 'link'].map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
          <input aria-label={`Channel ${i + 1} label`} value={c.label} onInput={(e) => update(i, { label: e.currentTarget.value })} />
          <input aria-label={`Channel ${i + 1} address`} placeholder="https://… or mailto:…" value={c.url} onInput={(e) => update(i, { url: e.currentTarget.value })} />
          <button type="button" class="btn icon small" aria-label={`Remove channel ${i + 1}`} onClick={() => onChange(items.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="btn small" onClick={() => onChange([...items, { kind: 'email', label: 'E-mail us', url: 'mailto:' }])}>
        Add a channel
      </button>
    </fieldset>
  );
}

function Suggestions({ items, onChange }: { items: SuggestionRule[]; onChange: (v: SuggestionRule[]) => void }) {
  const update = (i: number, patch: Partial<SuggestionRule>) => onChange(items.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const trig = (i: number, patch: Partial<SuggestionRule['triggers']>) => {
    const t = { ...items[i].triggers, ...patch };
    for (const k of Object.keys(t) as (keyof typeof t)[]) if (t[k] === undefined || t[k] === '' || Number.isNaN(t[k])) delete t[k];
    update(i, { triggers: t });
  };
  const num = (v: string) => (v === '' ? undefined : Number(v));
  return (
    <fieldset class="list-editor">
      <legend>Proactive suggestions</legend>
      <p class="hint">A bubble with a message when a visitor matches a page and a trigger.</p>
      {items.map((r, i) => (
        <div class="rule" key={r.id || i}>
          <div class="grid-2">
            <Field label="URL pattern" hint="e.g. /pricing* or *checkout*">
              <input value={r.url_pattern} onInput={(e) => update(i, { url_pattern: e.currentTarget.value })} />
            </Field>
            <Field label="Message">
              <input value={r.message} onInput={(e) => update(i, { message: e.currentTarget.value })} />
            </Field>
            <Field label="After seconds on the page">
              <input type="number" min={0} value={r.triggers.seconds_on_page ?? ''} onInput={(e) => trig(i, { seconds_on_page: num(e.currentTarget.value) })} />
            </Field>
            <Field label="After scrolling (%)">
              <input type="number" min={0} max={100} value={r.triggers.scroll_percent ?? ''} onInput={(e) => trig(i, { scroll_percent: num(e.currentTarget.value) })} />
            </Field>
            <Field label="When this element is visible (CSS selector)">
              <input value={r.triggers.selector_visible ?? ''} onInput={(e) => trig(i, { selector_visible: e.currentTarget.value || undefined })} />
            </Field>
          </div>
          <button type="button" class="btn small danger" onClick={() => onChange(items.filter((_, j) => j !== i))}>
            Remove this suggestion
          </button>
        </div>
      ))}
      <button
        type="button"
        class="btn small"
        onClick={() => onChange([...items, { id: `s${Date.now().toString(36)}`, url_pattern: '*', message: 'Questions? We are here to help.', triggers: { seconds_on_page: 20 } }])}
      >
        Add a suggestion
      </button>
    </fieldset>
  );
}
