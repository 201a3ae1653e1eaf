// Sites: the list, and one site's settings (general, keys, embed, assistant; the widget editor
// with its live preview is in widget-editor.tsx).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import { describeRetention, parseRetention, RETENTION_MAX, RETENTION_MIN, retentionText } from '../privacy';
import { navigate } from '../router';
import { formatDateTime } from '../time';
import type { AssistantSettings, Site } from '../types';
import { CopyButton, ErrorBox, Field, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';
import { WidgetEditor } from './widget-editor';

const lines = (s: string) => s.split('\n').map((x) => x.trim()).filter(Boolean);

export function SitesScreen() {
  const ws = useWorkspace();
  const sites = useLoad(() => ws.api.sites().then((r) => r.sites), [ws.api]);
  const [name, setName] = useState('');
  const [origins, setOrigins] = useState('');
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const site = await ws.api.createSite(name.trim(), lines(origins));
      navigate({ name: 'site', id: site.id });
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Sites" />
      <ErrorBox message={sites.error} />
      {sites.loading && !sites.data && <Loading />}
      <ul class="cards">
        {(sites.data ?? []).map((s) => (
          <li key={s.id} class="card">
            <h2>
              <a href={`#/sites/${encodeURIComponent(s.id)}`}>{s.name}</a>
            </h2>
            <p class="muted">{s.allowed_origins.join(', ') || 'No allowed origins yet'}</p>
            {s.widget_draft && <span class="badge status-escalated">Unpublished widget changes</span>}
          </li>
        ))}
      </ul>
      <details class="panel">
        <summary>Add a site</summary>
        <form onSubmit={create} class="stack">
          <Field label="Name">
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Allowed origins" hint="One per line, e.g. https://www.example.com">
            <textarea rows={3} value={origins} onInput={(e) => setOrigins(e.currentTarget.value)} />
          </Field>
          <ErrorBox message={error} />
          <button class="btn primary" type="submit">
            Create site
          </button>
        </form>
      </details>
    </section>
  );
}

export function SiteSettings({ id }: { id: string }) {
  const ws = useWorkspace();
  const loaded = useLoad(() => ws.api.site(id), [ws.api, id]);
  const site = loaded.data;
  if (!site) {
    return (
      <section class="page">
        <ErrorBox message={loaded.error} />
        {loaded.loading && <Loading />}
      </section>
    );
  }
  const update = (s: Site) => loaded.setData(s);
  return (
    <section class="page wide" aria-labelledby="page-title">
      <PageHeader title={site.name}>
        <a href="#/sites" class="btn small">
          All sites
        </a>
      </PageHeader>
      <nav class="subnav" aria-label="Site settings">
        <a href="#general" onClick={(e) => jump(e, 'general')}>General</a>
        <a href="#keys" onClick={(e) => jump(e, 'keys')}>Keys</a>
        <a href="#embed" onClick={(e) => jump(e, 'embed')}>Embed</a>
        <a href="#widget" onClick={(e) => jump(e, 'widget')}>Widget</a>
        <a href="#assistant" onClick={(e) => jump(e, 'assistant')}>AI assistant</a>
        <a href="#retention" onClick={(e) => jump(e, 'retention')}>Data retention</a>
      </nav>
      <General site={site} onSaved={update} />
      <Keys site={site} onSaved={update} />
      <Embed site={site} />
      <WidgetEditor site={site} onSaved={update} />
      <Assistant site={site} onSaved={update} />
      <Retention site={site} onSaved={update} />
    </section>
  );
}

/** In-page links that do not touch the hash (the hash is the app's route). */
function jump(e: Event, id: string) {
  e.preventDefault();
  const el = document.getElementById(id);
  el?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  el?.querySelector<HTMLElement>('h2')?.focus();
}

function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="panel" id={id} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} tabIndex={-1}>
        {title}
      </h2>
      {children}
    </section>
  );
}

function useSave(onSaved: (s: Site) => void) {
  const ws = useWorkspace();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async (what: () => Promise<Site>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      onSaved(await what());
      ws.toast({ text: done, kind: 'success' });
      return true;
    } catch (e) {
      setError(describeError(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, save };
}

function General({ site, onSaved }: { site: Site; onSaved: (s: Site) => void }) {
  const ws = useWorkspace();
  const [name, setName] = useState(site.name);
  const [origins, setOrigins] = useState(site.allowed_origins.join('\n'));
  const { error, busy, save } = useSave(onSaved);
  return (
    <Section id="general" title="General">
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void save(() => ws.api.updateSite(site.id, { name: name.trim(), allowed_origins: lines(origins) }), 'Site saved');
        }}
      >
        <Field label="Name">
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Allowed origins" hint="The widget works only on these origins (one per line, like https://www.example.com).">
          <textarea rows={3} value={origins} onInput={(e) => setOrigins(e.currentTarget.value)} />
        </Field>
        <ErrorBox message={error} />
        <button class="btn primary" type="submit" disabled={busy}>
          Save
        </button>
      </form>
    </Section>
  );
}

function Keys({ site, onSaved }: { site: Site; onSaved: (s: Site) => void }) {
  const ws = useWorkspace();
  const { error, busy, save } = useSave(onSaved);
  const [required, setRequired] = useState(!!site.require_verified_identity);
  useEffect(() => setRequired(!!site.require_verified_identity), [site.require_verified_identity]);
  const [secret, setSecret] = useState<string | null>(null);
  const [secretError, setSecretError] = useState<string | null>(null);
  const reveal = async (rotate: boolean) => {
    setSecretError(null);
    try {
      setSecret((await (rotate ? ws.api.rotateSecret(site.id) : ws.api.secret(site.id))).secret);
      if (rotate) ws.toast({ text: 'Identity secret rotated: update your server', kind: 'success' });
    } catch (e) {
      setSecretError(describeError(e));
    }
  };
  return (
    <Section id="keys" title="Keys">
      <Field label="Public key" hint="Goes in the embed snippet; safe to publish.">
        <div class="copy-row">
          <input readOnly value={site.public_key} class="mono" />
          <CopyButton text={site.public_key} what="public key" />
          <button
            type="button"
            class="btn small"
            onClick={() =>
              confirm('Rotate the public key? The current key keeps working for 24 hours.') &&
              void save(() => ws.api.rotateKey(site.id), 'Public key rotated')
            }
          >
            Rotate
          </button>
        </div>
      </Field>
      {site.previous_public_key && (
        <p class="muted">
          The previous key <code>{site.previous_public_key}</code> works until {formatDateTime(site.previous_key_expires_at || '')}.
        </p>
      )}
      <ErrorBox message={error} />
      <div class="field">
        <span class="field-label">Identity verification secret</span>
        <span class="hint">Your server signs a visitor's identity with it (HMAC). Never put it in a web page.</span>
        {secret ? (
          <div class="copy-row">
            <input readOnly value={secret} class="mono" aria-label="Identity verification secret" />
            <CopyButton text={secret} what="secret" />
            <button type="button" class="btn small" onClick={() => setSecret(null)}>
              Hide
            </button>
          </div>
        ) : (
          <div class="row">
            <button type="button" class="btn small" onClick={() => void reveal(false)}>
              Reveal secret
            </button>
          </div>
        )}
        <div class="row">
          <button
            type="button"
            class="btn small danger"
            onClick={() => confirm('Rotate the identity secret? Signatures made with the old one stop working.') && void reveal(true)}
          >
            Rotate secret
          </button>
        </div>
        <ErrorBox message={secretError} />
      </div>
      <div class="field">
        <label class="check">
          <input
            type="checkbox"
            checked={required}
            disabled={busy}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              setRequired(on);
              void save(
                () => ws.api.updateSite(site.id, { require_verified_identity: on }),
                on ? 'Verified identity is now required' : 'Verified identity is no longer required',
              ).then((ok) => ok || setRequired(!on));
            }}
          />
          Require verified identity
        </label>
        <span class="hint">
          When on, the widget's <code>identify</code> is refused unless it carries a <code>userHash</code> your server computed,
          so nobody can pose as one of your users. The hash is <code>hex(HMAC-SHA256(secret, userId))</code>: the lower-case hex
          HMAC-SHA256 of the user id, keyed with the identity verification secret above.
        </span>
      </div>
    </Section>
  );
}

function Embed({ site }: { site: Site }) {
  const ws = useWorkspace();
  const embed = useLoad(() => ws.api.embed(site.id), [ws.api, site.id, site.public_key]);
  return (
    <Section id="embed" title="Embed">
      <p>Paste this before the closing &lt;/body&gt; tag of every page where the widget should appear.</p>
      <ErrorBox message={embed.error} />
      {embed.data && (
        <>
          <textarea class="mono snippet" readOnly rows={5} value={embed.data.snippet} aria-label="Embed snippet" onFocus={(e) => e.currentTarget.select()} />
          <CopyButton text={embed.data.snippet} what="embed snippet" />
        </>
      )}
    </Section>
  );
}

function Assistant({ site, onSaved }: { site: Site; onSaved: (s: Site) => void }) {
  const ws = useWorkspace();
  const [a, setA] = useState<AssistantSettings>(site.assistant);
  const [keywords, setKeywords] = useState(site.assistant.escalation_keywords.join(', '));
  const { error, busy, save } = useSave(onSaved);
  useEffect(() => {
    setA(site.assistant);
    setKeywords(site.assistant.escalation_keywords.join(', '));
  }, [site.assistant]);
  const set = (patch: Partial<AssistantSettings>) => setA((x) => ({ ...x, ...patch }));
  const p = a.provider;
  const submit = (e: Event) => {
    e.preventDefault();
    const next: AssistantSettings = {
      ...a,
      escalation_keywords: keywords.split(',').map((k) => k.trim()).filter(Boolean),
    };
    void save(() => ws.api.updateSite(site.id, { assistant: next }), 'AI settings saved');
  };
  return (
    <Section id="assistant" title="AI assistant">
      <form class="stack" onSubmit={submit}>
        <label class="check">
          <input type="checkbox" checked={a.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          The assistant answers visitors
        </label>
        <Field label="Welcome message" hint="Opens each conversation.">
          <input value={a.welcome_message} onInput={(e) => set({ welcome_message: e.currentTarget.value })} />
        </Field>
        <Field label="System prompt" wide>
          <textarea rows={4} value={a.system_prompt} onInput={(e) => set({ system_prompt: e.currentTarget.value })} />
        </Field>
        <Field label="Answer with">
          <select
            value={p.kind}
            onChange={(e) =>
              set({
                provider:
                  e.currentTarget.value === 'openai'
                    ? { kind: 'openai', base_url: 'https://api.openai.com/v1', model: 'gpt-4o-mini', api_key: '' }
                    : { kind: 'extractive' },
              })
            }
          >
            <option value="extractive">The knowledge base's passages (no language model)</option>
            <option value="openai">An OpenAI-compatible language model</option>
          </select>
        </Field>
        {p.kind === 'openai' && (
          <div class="grid-2">
            <Field label="Base URL">
              <input type="url" value={p.base_url} onInput={(e) => set({ provider: { ...p, base_url: e.currentTarget.value } })} />
            </Field>
            <Field label="Model">
              <input value={p.model} onInput={(e) => set({ provider: { ...p, model: e.currentTarget.value } })} />
            </Field>
            <Field label="API key" hint={p.api_key === '********' ? 'Stored; type a new key to replace it.' : undefined}>
              <input type="password" autoComplete="off" value={p.api_key} onInput={(e) => set({ provider: { ...p, api_key: e.currentTarget.value } })} />
            </Field>
            <Field label="Temperature">
              <input type="number" min={0} max={2} step={0.1} value={a.temperature} onInput={(e) => set({ temperature: Number(e.currentTarget.value) })} />
            </Field>
            <Field label="Max tokens">
              <input type="number" min={16} max={8192} value={a.max_tokens} onInput={(e) => set({ max_tokens: Number(e.currentTarget.value) })} />
            </Field>
          </div>
        )}
        <Field label="Escalation keywords" hint="Comma-separated; a visitor message containing one goes to a person.">
          <input value={keywords} onInput={(e) => setKeywords(e.currentTarget.value)} />
        </Field>
        <Field label="When the assistant is not confident">
          <select value={a.low_confidence} onChange={(e) => set({ low_confidence: e.currentTarget.value as AssistantSettings['low_confidence'] })}>
            <option value="offer_person">Offer to talk to a person</option>
            <option value="escalate">Hand over to a person at once</option>
          </select>
        </Field>
        <ErrorBox message={error} />
        <button class="btn primary" type="submit" disabled={busy}>
          Save AI settings
        </button>
      </form>
    </Section>
  );
}

/** How long conversations are kept (docs/privacy.md, "Retention"): empty keeps everything. */
function Retention({ site, onSaved }: { site: Site; onSaved: (s: Site) => void }) {
  const ws = useWorkspace();
  const [text, setText] = useState(retentionText(site.retention_days));
  const [invalid, setInvalid] = useState<string | null>(null);
  const { error, busy, save } = useSave(onSaved);
  useEffect(() => setText(retentionText(site.retention_days)), [site.retention_days]);
  const submit = (e: Event) => {
    e.preventDefault();
    const parsed = parseRetention(text);
    if (!parsed.ok) {
      setInvalid(parsed.error);
      return;
    }
    setInvalid(null);
    void save(
      () => ws.api.updateSite(site.id, { retention_days: parsed.days }),
      parsed.days === null ? 'Retention off: conversations are kept' : `Retention set to ${parsed.days} days`,
    );
  };
  return (
    <Section id="retention" title="Data retention">
      <form class="stack" onSubmit={submit} noValidate>
        <Field
          label="Retention (days)"
          hint={
            <>
              Conversations with no activity for this many days are deleted automatically, with their messages, ratings, notes and
              unanswered questions; so are older page views and conversions. {RETENTION_MIN}–{RETENTION_MAX} days; leave empty to keep
              everything. Deleted conversations leave analytics.
            </>
          }
        >
          <input
            type="number"
            name="retention_days"
            inputMode="numeric"
            min={RETENTION_MIN}
            max={RETENTION_MAX}
            step={1}
            placeholder="Keep forever"
            class="retention-input"
            aria-invalid={invalid ? true : undefined}
            aria-describedby={invalid ? 'retention-error' : undefined}
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value);
              setInvalid(null);
            }}
          />
        </Field>
        {invalid && (
          <p class="error" id="retention-error" role="alert">
            {invalid}
          </p>
        )}
        <p class="muted" id="retention-now">
          {describeRetention(site.retention_days)}
        </p>
        <ErrorBox message={error} />
        <button class="btn primary" type="submit" disabled={busy}>
          Save retention
        </button>
      </form>
    </Section>
  );
}
