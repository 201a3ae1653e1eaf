// Bots: a site's scenarios (create, delete, which one starts conversations), and the editor —
// the graph, the selected node's panel, the scenario's settings and the simulator. Edits are
// checked at once here and, 400 ms after the last one, by the server (authoritative).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { describeError, flowErrorsOf } from '../api';
import { useWorkspace } from '../context';
import {
  addNodeAfter, connect, contentKey, disconnect, errorCounts, findNode, moveNode, NODE_TYPES, normalizeDocument, portLabel,
  removeNode, sameDocument, templateDocument, validate,
} from '../flow-model';
import { navigate } from '../router';
import { formatAgo } from '../time';
import type { FlowDocument, FlowError, FlowNodeType, Scenario, ScenarioSummary, Site } from '../types';
import { ErrorBox, Loading, PageHeader } from '../ui/common';
import { useLoad } from '../ui/hooks';
import { FlowCanvas, type Selection } from './flow-canvas';
import { NodePanel, ScenarioPanel } from './flow-panel';
import { Simulator } from './flow-sim';

const SITE_KEY = 'frontdesk:bots-site';

function rememberedSite(): string {
  try {
    return sessionStorage.getItem(SITE_KEY) ?? '';
  } catch {
    return '';
  }
}

function rememberSite(id: string): void {
  try {
    sessionStorage.setItem(SITE_KEY, id);
  } catch {
    /* storage disabled */
  }
}

function PublishState({ s }: { s: Pick<ScenarioSummary, 'published_version' | 'draft_changed' | 'starts_conversations'> }) {
  return (
    <>
      {s.published_version === null ? (
        <span class="badge kb-draft">Not published</span>
      ) : (
        <span class="badge kb-published">Published v{s.published_version}</span>
      )}
      {s.published_version !== null && s.draft_changed && <span class="badge status-escalated">Draft has changes</span>}
      {s.starts_conversations && <span class="badge status-active">Start scenario</span>}
    </>
  );
}

// --- the list --------------------------------------------------------------------------------

export function BotsScreen() {
  const ws = useWorkspace();
  const sites = useLoad(() => ws.api.sites().then((r) => r.sites), [ws.api]);
  const [site, setSite] = useState(rememberedSite());
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const list = sites.data ?? [];
    // On the latest choice, not this render's: the person may have picked a site meanwhile.
    if (list.length) setSite((current) => (list.some((s) => s.id === current) ? current : list[0].id));
  }, [sites.data]);
  useEffect(() => {
    if (site) rememberSite(site);
  }, [site]);
  const list = useLoad(() => (site ? ws.api.scenarios(site).then((r) => r.scenarios) : Promise.resolve([] as ScenarioSummary[])), [ws.api, site]);

  const run = async (what: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      if (done) ws.toast({ text: done, kind: 'success' });
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const create = () =>
    run(async () => {
      const s = await ws.api.createScenario(site, { name: name.trim(), document: templateDocument() });
      navigate({ name: 'bot', id: s.id });
    }, 'Scenario created');

  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title="Bots" />
      <p class="muted">
        Scenarios greet visitors, ask questions, call your backend and hand over to your team. Edit and test a draft freely; visitors meet the
        published version.
      </p>
      <div class="filter-row">
        <label class="field">
          <span class="field-label">Site</span>
          <select value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            {(sites.data ?? []).map((s: Site) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <form class="inline-form" onSubmit={(e) => (e.preventDefault(), void create())}>
          <label class="field">
            <span class="field-label">New scenario</span>
            <input required placeholder="Order questions" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" class="btn primary" disabled={busy || !site || !name.trim()}>
            Create
          </button>
        </form>
      </div>
      <ErrorBox message={error ?? sites.error ?? list.error} />
      {list.loading && !list.data && <Loading />}
      {sites.data?.length === 0 && <p class="muted">Add a site first: scenarios belong to a site.</p>}
      {list.data && list.data.length > 0 && (
        <table class="table bots-table">
          <caption class="sr-only">Scenarios</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.id} data-id={s.id}>
                <td>
                  <a href={`#/bots/${encodeURIComponent(s.id)}`}>{s.name}</a>
                </td>
                <td class="row">
                  <PublishState s={s} />
                </td>
                <td>{formatAgo(s.updated_at)}</td>
                <td class="row">
                  <button
                    type="button"
                    class="btn small"
                    disabled={busy || (!s.starts_conversations && s.published_version === null)}
                    title={!s.starts_conversations && s.published_version === null ? 'Publish it first' : undefined}
                    onClick={() =>
                      void run(async () => {
                        await ws.api.setStartScenario(s.id, !s.starts_conversations);
                        await list.reload();
                      }, s.starts_conversations ? 'It no longer starts conversations' : 'New conversations start with it')
                    }
                  >
                    {s.starts_conversations ? 'Stop starting conversations' : 'Make start scenario'}
                  </button>
                  <button
                    type="button"
                    class="btn small danger"
                    disabled={busy}
                    aria-label={`Delete ${s.name}`}
                    onClick={() =>
                      confirm(`Delete the scenario “${s.name}”? Conversations running it hand over to the assistant.`) &&
                      void run(async () => {
                        await ws.api.deleteScenario(s.id);
                        await list.reload();
                      }, 'Scenario deleted')
                    }
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data?.length === 0 && site && <p class="muted">No scenarios on this site yet: create one above — it starts as a small greeting, a question and a handoff.</p>}
    </section>
  );
}

// --- the editor ------------------------------------------------------------------------------

type Tab = 'node' | 'scenario' | 'simulator';

export function BotEditor({ id }: { id: string }) {
  const ws = useWorkspace();
  const [scenario, setScenario] = useState<Scenario | null>(null);
  const [saved, setSaved] = useState<{ doc: FlowDocument; name: string } | null>(null);
  const [doc, setDoc] = useState<FlowDocument | null>(null);
  const [name, setName] = useState('');
  const [selected, setSelected] = useState<Selection>(null);
  const [tab, setTab] = useState<Tab>('scenario');
  const [server, setServer] = useState<{ key: string; errors: FlowError[] } | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const fill = (s: Scenario) => {
    const d = normalizeDocument(s.draft);
    setScenario(s);
    setSaved({ doc: d, name: s.name });
    setDoc(d);
    setName(s.name);
  };
  useEffect(() => {
    ws.api.scenario(id).then(fill, (e) => setLoadError(describeError(e)));
  }, [id]);

  const key = useMemo(() => (doc ? contentKey(doc) : ''), [doc]);
  const local = useMemo(() => (doc ? validate(doc) : []), [key]);
  // The server's list when it is about this very document; the quick local checks until then.
  const errors = server && server.key === key ? server.errors : local;
  const counts = useMemo(() => errorCounts(errors), [errors]);
  const dirty = !!doc && !!saved && (!sameDocument(doc, saved.doc) || name !== saved.name);

  // Validation by the server, 400 ms after the last edit; a late answer about an older document is dropped.
  const latest = useRef('');
  latest.current = key;
  useEffect(() => {
    if (!doc) return;
    const t = setTimeout(() => {
      const asked = key;
      ws.api.validateScenario(id, doc).then(
        (r) => asked === latest.current && setServer({ key: asked, errors: r.errors ?? [] }),
        () => {
          /* not reachable: the local checks stand */
        },
      );
    }, 400);
    return () => clearTimeout(t);
  }, [key]);

  // Unsaved changes: the browser asks before leaving the page; links inside the app ask here.
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;
  useEffect(() => {
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if (!dirtyRef.current) return;
      e.preventDefault();
      e.returnValue = '';
    };
    const onClick = (e: MouseEvent) => {
      if (!dirtyRef.current || e.defaultPrevented || e.button !== 0) return;
      const a = (e.target as Element | null)?.closest?.('a[href^="#"]') as HTMLAnchorElement | null;
      if (!a || a.getAttribute('href') === location.hash || a.getAttribute('href') === '#main') return;
      if (!confirm('Leave the editor? Your unsaved changes will be lost.')) {
        e.preventDefault();
        e.stopPropagation();
      }
    };
    addEventListener('beforeunload', beforeUnload);
    document.addEventListener('click', onClick, true);
    return () => {
      removeEventListener('beforeunload', beforeUnload);
      document.removeEventListener('click', onClick, true);
    };
  }, []);

  if (loadError) {
    return (
      <section class="page narrow">
        <h1>Scenario</h1>
        <ErrorBox message={loadError} />
        <a href="#/bots">All bots</a>
      </section>
    );
  }
  if (!doc || !scenario || !saved) return <Loading what="Loading the scenario" />;

  const edit = (d: FlowDocument) => setDoc(d);
  const select = (s: Selection) => {
    setSelected(s);
    if (s?.kind === 'node' || s?.kind === 'edge') setTab((t) => (t === 'simulator' ? t : 'node'));
  };
  const selectNode = (nodeId: string) => {
    setSelected({ kind: 'node', id: nodeId });
    setTab('node');
  };
  const remove = (s: Selection) => {
    if (!s) return;
    if (s.kind === 'node') {
      setDoc((d) => (d ? removeNode(d, s.id) : d));
      setSelected(null);
    } else {
      setDoc((d) => (d ? disconnect(d, s.from, s.port) : d));
      setSelected(null);
    }
  };
  const add = (type: FlowNodeType) => {
    const after = selected?.kind === 'node' ? selected.id : null;
    const r = addNodeAfter(doc, type, after);
    setDoc(r.doc);
    selectNode(r.id);
    // The new box gets the focus (after it is drawn).
    setTimeout(() => document.querySelector<HTMLElement>(`.flow-node[data-id="${CSS.escape(r.id)}"]`)?.focus(), 0);
  };

  const act = async (what: () => Promise<Scenario | void>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      const s = await what();
      if (s) {
        setScenario(s);
        ws.toast({ text: done, kind: 'success' });
      }
    } catch (e) {
      const flow = flowErrorsOf(e);
      if (flow) {
        setServer({ key, errors: flow });
        setError(`${describeError(e)} — see the problems marked on the nodes.`);
      } else setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const saveNow = async (): Promise<Scenario> => {
    const s = await ws.api.saveScenario(id, { name: name.trim(), document: doc });
    setScenario(s);
    // What was sent is what is saved (the server may reorder keys: compare by content, keep ours).
    setSaved({ doc, name: name.trim() });
    setName(name.trim());
    return s;
  };
  const save = () => act(saveNow, 'Draft saved');
  const publish = () =>
    act(async () => {
      if (dirty) await saveNow();
      return ws.api.publishScenario(id);
    }, 'Published: new conversations use this version');
  const discard = () => {
    if (!confirm('Discard your unsaved changes?')) return;
    setDoc(saved.doc);
    setName(saved.name);
    setSelected(null);
    setError(null);
  };
  const toggleStart = () =>
    act(
      () => ws.api.setStartScenario(id, !scenario.starts_conversations),
      scenario.starts_conversations ? 'It no longer starts conversations' : 'New conversations on this site start with it',
    );

  const node = selected?.kind === 'node' ? findNode(doc, selected.id) : undefined;
  const edge = selected?.kind === 'edge' ? doc.edges.find((e) => e.from === selected.from && e.port === selected.port) : undefined;
  const problems = errors.length;

  return (
    <section class="page wide bot-page" aria-labelledby="page-title">
      <div class="page-header">
        <h1 id="page-title">{name.trim() || scenario.name}</h1>
        <div class="page-actions">
          <a class="btn small" href="#/bots">
            All bots
          </a>
          <button type="button" class="btn" disabled={busy || !dirty || !name.trim()} onClick={() => void save()}>
            Save
          </button>
          <button type="button" class="btn" disabled={busy || !dirty} onClick={discard}>
            Discard changes
          </button>
          <button
            type="button"
            class="btn primary"
            disabled={busy || problems > 0 || !name.trim() || (!dirty && scenario.published_version !== null && !scenario.draft_changed)}
            title={problems > 0 ? 'Fix the problems first' : undefined}
            onClick={() => void publish()}
          >
            Publish
          </button>
          <button type="button" class="btn" disabled={busy || (!scenario.starts_conversations && scenario.published_version === null)} title={!scenario.starts_conversations && scenario.published_version === null ? 'Publish it first' : undefined} onClick={() => void toggleStart()}>
            {scenario.starts_conversations ? 'Stop starting conversations' : 'Make start scenario'}
          </button>
        </div>
      </div>
      <p class="row bot-state" role="status">
        <PublishState s={scenario} />
        {dirty ? <span class="badge status-escalated">Unsaved changes</span> : <span class="muted small">All changes saved</span>}
        <span class={problems ? 'flow-problems' : 'muted small'}>{problems ? `${problems} problem${problems > 1 ? 's' : ''}` : 'No problems found'}</span>
      </p>
      <ErrorBox message={error} />
      <div class="flow-palette" role="toolbar" aria-label="Add a node">
        <span class="muted small">Add:</span>
        {NODE_TYPES.map((t) => (
          <button key={t.type} type="button" class="btn small" title={t.hint} onClick={() => add(t.type)}>
            + {t.label}
          </button>
        ))}
      </div>
      <div class="bot-editor">
        <FlowCanvas
          doc={doc}
          selected={selected}
          errorCounts={counts}
          current={tab === 'simulator' ? current : null}
          onSelect={select}
          onMove={(nodeId, pos) => setDoc((d) => (d ? moveNode(d, nodeId, pos) : d))}
          onConnect={(from, port, to) => setDoc((d) => (d ? connect(d, from, port, to) : d))}
          onDelete={remove}
        />
        <aside class="flow-side" aria-label="Details">
          <div class="tabs" role="tablist" aria-label="Panel">
            {(
              [
                ['node', 'Node'],
                ['scenario', 'Scenario'],
                ['simulator', 'Simulator'],
              ] as [Tab, string][]
            ).map(([t, label]) => (
              <button key={t} type="button" role="tab" class="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
                {label}
              </button>
            ))}
          </div>
          <div class="flow-side-body" role="tabpanel">
            {tab === 'node' &&
              (node ? (
                <NodePanel key={node.id} doc={doc} node={node} errors={errors} onChange={edit} onSelect={selectNode} onDelete={() => remove({ kind: 'node', id: node.id })} />
              ) : edge ? (
                <div class="stack">
                  <h2 class="flow-panel-title">Connection</h2>
                  <p>
                    <span class="mono">{edge.from}</span> — {portLabel(findNode(doc, edge.from)!, edge.port)} → <span class="mono">{edge.to}</span>
                  </p>
                  <button type="button" class="btn small danger" onClick={() => remove(selected)}>
                    Delete connection
                  </button>
                </div>
              ) : (
                <p class="muted">Select a node on the graph (or Tab to it) to edit it. Drag a node to move it; drag from a dot at its bottom onto another node to connect them. Delete removes the selected node.</p>
              ))}
            {tab === 'scenario' && <ScenarioPanel doc={doc} name={name} errors={errors} onName={setName} onChange={edit} onSelect={selectNode} />}
            {/* Kept while other tabs show: the run survives a look at a node. */}
            <div hidden={tab !== 'simulator'}>
              <Simulator scenarioId={id} doc={doc} onCurrent={setCurrent} />
            </div>
          </div>
        </aside>
      </div>
    </section>
  );
}
