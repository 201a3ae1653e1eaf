// The simulator: runs the editor's DRAFT (unsaved edits included) through the server's
// interpreter, one event at a time, keeping the opaque `run` state here between steps.
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, flowErrorsOf } from '../api';
import { useWorkspace } from '../context';
import { lastQuickReplies, type ParamRow, paramsFromRows, showValue, simOutcome } from '../flow-model';
import type { FlowDocument, SimEvent, SimOutcome, SimVisitor } from '../types';
import { ErrorBox } from '../ui/common';
import { SafeHtml } from '../ui/html';
import { PairList } from './flow-panel';

type Line = { who: 'visitor' | 'bot' | 'assistant' | 'system' | 'thinking'; text: string; html?: string | null };

const OUTCOME: Record<SimOutcome, string> = {
  waiting: 'Waiting for the visitor',
  finished: 'The scenario ended: the assistant answers from here',
  handed_off: 'Handed off to a person',
  failed: 'The run failed',
  ended: 'The run was ended',
};

interface Props {
  scenarioId: string;
  doc: FlowDocument;
  onCurrent: (node: string | null) => void;
}

export function Simulator({ scenarioId, doc, onCurrent }: Props) {
  const ws = useWorkspace();
  const [lines, setLines] = useState<Line[]>([]);
  const [run, setRun] = useState<unknown>(null);
  const [variables, setVariables] = useState<Record<string, unknown>>({});
  const [outcome, setOutcome] = useState<SimOutcome | null>(null);
  const [dueAt, setDueAt] = useState<string | null>(null);
  const [quick, setQuick] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [params, setParams] = useState<ParamRow[]>([{ key: 'plan', value: 'pro' }]);
  const [visitor, setVisitor] = useState<{ name: string; email: string; user_id: string; verified: boolean }>({ name: '', email: '', user_id: '', verified: false });
  const log = useRef<HTMLDivElement>(null);
  const generation = useRef(0);

  useEffect(() => {
    if (log.current) log.current.scrollTop = log.current.scrollHeight;
  }, [lines.length]);
  // Leaving the simulator clears the highlight on the graph.
  useEffect(() => () => onCurrent(null), []);

  const visitorBody = (): SimVisitor => {
    const v: SimVisitor = {};
    if (visitor.name.trim()) v.name = visitor.name.trim();
    if (visitor.email.trim()) v.email = visitor.email.trim();
    if (visitor.user_id.trim()) v.user_id = visitor.user_id.trim();
    v.verified = visitor.verified;
    return v;
  };

  const step = async (event: SimEvent, fresh = false) => {
    const g = ++generation.current;
    setBusy(true);
    setError(null);
    setQuick([]);
    if (fresh) {
      setLines([]);
      setVariables({});
      setOutcome(null);
      setDueAt(null);
      onCurrent(null);
    }
    if (event.type === 'message') setLines((l) => [...l, { who: 'visitor', text: event.text ?? '' }]);
    try {
      const r = await ws.api.simulate(scenarioId, {
        document: doc,
        run: fresh ? null : run,
        event,
        params: paramsFromRows(params),
        visitor: visitorBody(),
      });
      if (g !== generation.current) return;
      const out: Line[] = [
        ...(r.thinking ?? []).map((t): Line => ({ who: 'thinking', text: t })),
        ...(r.messages ?? []).map((m): Line => ({ who: m.author ?? 'bot', text: m.text ?? '', html: m.html })),
      ];
      const oc = simOutcome(r);
      if (r.error) out.push({ who: 'system', text: `Error: ${r.error}` });
      if (oc !== 'waiting') out.push({ who: 'system', text: OUTCOME[oc] });
      setLines((l) => [...l, ...out]);
      setRun(r.run ?? null);
      setVariables(r.variables ?? {});
      setOutcome(oc);
      setDueAt(r.due_at ?? null);
      setQuick(oc === 'waiting' ? lastQuickReplies(r.messages ?? []) : []);
      onCurrent(r.current_node ?? null);
    } catch (e) {
      if (g !== generation.current) return;
      const flow = flowErrorsOf(e);
      setError(flow ? `Fix the scenario's problems first (${flow.length || 'see the nodes'}).` : describeError(e));
    } finally {
      if (g === generation.current) setBusy(false);
    }
  };

  const send = (t: string) => {
    const v = t.trim();
    if (!v || busy) return;
    setText('');
    void step({ type: 'message', text: v });
  };
  const started = outcome !== null;
  const canType = started && outcome === 'waiting' && !busy;

  return (
    <div class="flow-sim stack">
      <div class="row">
        <button type="button" class="btn primary small" disabled={busy} onClick={() => void step({ type: 'start' }, true)}>
          {started ? 'Restart' : 'Start'}
        </button>
        {dueAt && outcome === 'waiting' && (
          <button type="button" class="btn small" disabled={busy} onClick={() => void step({ type: 'timer' })}>
            Skip wait
          </button>
        )}
        <span class="muted small" role="status">
          {busy ? 'Running…' : outcome ? OUTCOME[outcome] : 'Runs the draft, unsaved changes included.'}
          {dueAt && outcome === 'waiting' ? ` · next step at ${new Date(dueAt).toLocaleTimeString()}` : ''}
        </span>
      </div>
      <div class="sim-log" ref={log} role="log" aria-label="Simulated conversation" aria-live="polite">
        {lines.length === 0 && <p class="muted small">Press Start to run the scenario as a new visitor would meet it.</p>}
        {lines.map((l, i) =>
          l.who === 'system' || l.who === 'thinking' ? (
            <p key={i} class={`sim-line sim-${l.who}`}>
              {l.who === 'thinking' ? `… ${l.text}` : l.text}
            </p>
          ) : (
            <div key={i} class={`sim-msg sim-${l.who}`}>
              <span class="sr-only">{l.who === 'visitor' ? 'Visitor: ' : 'Bot: '}</span>
              {l.who !== 'visitor' && l.html ? <SafeHtml class="msg-body" html={l.html} /> : <p class="msg-body plain">{l.text}</p>}
            </div>
          ),
        )}
      </div>
      {quick.length > 0 && (
        <div class="row sim-quick" role="group" aria-label="Quick replies">
          {quick.map((q) => (
            <button key={q} type="button" class="btn small" disabled={!canType} onClick={() => send(q)}>
              {q}
            </button>
          ))}
        </div>
      )}
      <form class="row sim-form" onSubmit={(e) => (e.preventDefault(), send(text))}>
        <label class="grow">
          <span class="sr-only">Message as the visitor</span>
          <input value={text} disabled={!canType} placeholder={started ? 'Type as the visitor' : 'Start the run first'} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn small" disabled={!canType || !text.trim()}>
          Send
        </button>
      </form>
      <ErrorBox message={error} />
      <section aria-labelledby="sim-vars">
        <h3 id="sim-vars">Variables</h3>
        {Object.keys(variables).length === 0 ? (
          <p class="muted small">None yet.</p>
        ) : (
          <table class="table compact sim-vars">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(variables).map(([k, v]) => (
                <tr key={k}>
                  <td class="mono">{k}</td>
                  <td class="mono">{showValue(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <details class="sim-setup" open>
        <summary>Page params and visitor (sent with every step)</summary>
        <PairList
          id="sim-params"
          label="Params"
          keyLabel="Param"
          valueLabel="Param value"
          hint="Values are JSON when they parse (42, true, {…}), otherwise text."
          rows={params.map((p) => [p.key, p.value] as [string, string])}
          onChange={(rows) => setParams(rows.map(([key, value]) => ({ key, value })))}
        />
        <div class="grid-2">
          <label class="field">
            <span class="field-label">Visitor name</span>
            <input value={visitor.name} onInput={(e) => setVisitor({ ...visitor, name: e.currentTarget.value })} />
          </label>
          <label class="field">
            <span class="field-label">Visitor email</span>
            <input type="email" value={visitor.email} onInput={(e) => setVisitor({ ...visitor, email: e.currentTarget.value })} />
          </label>
          <label class="field">
            <span class="field-label">User id</span>
            <input class="mono" value={visitor.user_id} onInput={(e) => setVisitor({ ...visitor, user_id: e.currentTarget.value })} />
          </label>
          <label class="check">
            <input type="checkbox" checked={visitor.verified} onChange={(e) => setVisitor({ ...visitor, verified: e.currentTarget.checked })} />
            Verified identity
          </label>
        </div>
      </details>
    </div>
  );
}
