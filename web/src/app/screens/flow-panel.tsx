// The bot editor's side panel: every field of the selected node (per docs/flows.md), where each
// port leads (the accessible way to connect), and the scenario's own settings (name, start node,
// triggers, variables). Problems show next to their fields.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  addChoice, ASK_INPUTS, connect, edgeTarget, errorsFor, fieldMatches, formatParamValue, HTTP_METHODS, parseParamValue,
  portLabel, portsOf, removeChoice, renameChoice, renameNode, RULE_OPS, setChoiceLabel, slug, typeLabel, updateNode,
} from '../flow-model';
import type {
  AskInput, ConditionGroup, FlowDocument, FlowError, FlowNode, FlowTrigger, HttpMethod, RuleOp, SetValue,
} from '../types';

// --- small inputs with their problems ---------------------------------------------------------

function Problems({ id, errors }: { id?: string; errors: FlowError[] }) {
  if (!errors.length) return null;
  return (
    <ul class="field-errors" id={id}>
      {errors.map((e, i) => (
        <li key={i}>{e.message}</li>
      ))}
    </ul>
  );
}

interface InProps {
  id: string;
  label: string;
  errors?: FlowError[];
  hint?: ComponentChildren;
}

function Row({ id, label, errors = [], hint, children }: InProps & { children: ComponentChildren }) {
  return (
    <div class={`field${errors.length ? ' invalid' : ''}`}>
      <label class="field-label" for={id}>
        {label}
      </label>
      {children}
      {hint && <span class="hint">{hint}</span>}
      <Problems id={`${id}-err`} errors={errors} />
    </div>
  );
}

const aria = (id: string, errors: FlowError[] = []) => ({
  id,
  'aria-invalid': errors.length ? ('true' as const) : undefined,
  'aria-describedby': errors.length ? `${id}-err` : undefined,
});

function TextIn(p: InProps & { value: string; onInput: (v: string) => void; multiline?: boolean; mono?: boolean; placeholder?: string }) {
  return (
    <Row {...p}>
      {p.multiline ? (
        <textarea {...aria(p.id, p.errors)} rows={3} value={p.value} placeholder={p.placeholder} onInput={(e) => p.onInput(e.currentTarget.value)} />
      ) : (
        <input {...aria(p.id, p.errors)} class={p.mono ? 'mono' : undefined} value={p.value} placeholder={p.placeholder} onInput={(e) => p.onInput(e.currentTarget.value)} />
      )}
    </Row>
  );
}

/** A number; empty is `undefined` (the default / none). */
function NumIn(p: InProps & { value: number | null | undefined; onInput: (v: number | undefined) => void; min?: number; max?: number; placeholder?: string }) {
  return (
    <Row {...p}>
      <input
        {...aria(p.id, p.errors)}
        type="number"
        min={p.min}
        max={p.max}
        placeholder={p.placeholder}
        value={p.value ?? ''}
        onInput={(e) => {
          const v = e.currentTarget.value;
          p.onInput(v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));
        }}
      />
    </Row>
  );
}

function SelectIn<T extends string>(p: InProps & { value: T; options: readonly (T | [T, string])[]; onChange: (v: T) => void }) {
  return (
    <Row {...p}>
      <select {...aria(p.id, p.errors)} value={p.value} onChange={(e) => p.onChange(e.currentTarget.value as T)}>
        {p.options.map((o) => {
          const [v, l] = Array.isArray(o) ? o : [o, o];
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
      </select>
    </Row>
  );
}

/** JSON text: the value changes only when the text parses. */
function JsonIn(p: InProps & { value: unknown; onChange: (v: unknown) => void; allowEmpty?: boolean; rows?: number }) {
  const show = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2));
  const [text, setText] = useState(show(p.value));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    // Another node, or a change from elsewhere (discard): show it.
    let same = false;
    try {
      same = text.trim() !== '' && JSON.stringify(JSON.parse(text)) === JSON.stringify(p.value);
    } catch {
      /* the text is being edited */
    }
    if (!same && !bad) setText(show(p.value));
  }, [p.id, JSON.stringify(p.value)]);
  const local: FlowError[] = bad ? [{ node: null, field: null, message: 'Not valid JSON yet: the last valid value is kept.' }] : [];
  const errors = [...(p.errors ?? []), ...local];
  return (
    <Row {...p} errors={errors}>
      <textarea
        {...aria(p.id, errors)}
        class="mono"
        rows={p.rows ?? 3}
        value={text}
        onInput={(e) => {
          const t = e.currentTarget.value;
          setText(t);
          if (t.trim() === '' && p.allowEmpty) {
            setBad(false);
            p.onChange(undefined);
            return;
          }
          try {
            const v = JSON.parse(t);
            setBad(false);
            p.onChange(v);
          } catch {
            setBad(true);
          }
        }}
      />
    </Row>
  );
}

/** A list of strings, one input each. */
function StringList({ id, label, items, onChange, errors = [], addLabel, placeholder }: InProps & { items: string[]; onChange: (v: string[]) => void; addLabel: string; placeholder?: string }) {
  return (
    <fieldset class={`flow-list${errors.length ? ' invalid' : ''}`} id={id}>
      <legend>{label}</legend>
      {items.map((q, i) => (
        <div class="flow-list-row" key={i}>
          <input aria-label={`${label} ${i + 1}`} value={q} placeholder={placeholder} onInput={(e) => onChange(items.map((x, j) => (j === i ? e.currentTarget.value : x)))} />
          <button type="button" class="btn small" aria-label={`Remove ${label.toLowerCase()} ${i + 1}`} onClick={() => onChange(items.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="btn small" onClick={() => onChange([...items, ''])}>
        {addLabel}
      </button>
      <Problems errors={errors} />
    </fieldset>
  );
}

// --- the node panel --------------------------------------------------------------------------

/** The fields each type's panel shows (an error on any other field is listed at the top). */
const FIELDS: Record<FlowNode['type'], string[]> = {
  message: ['text', 'quick_replies'],
  ask: ['input', 'prompt', 'variable', 'retry_message', 'max_retries', 'timeout_secs', 'choices'],
  condition: ['match', 'groups'],
  set: ['variable', 'value'],
  http: ['method', 'url', 'headers', 'body', 'timeout_ms', 'status_variable', 'save'],
  ai_answer: ['question'],
  handoff: ['message', 'only_when_online'],
  wait: ['seconds'],
  jump: ['target'],
  end: [],
};

interface NodePanelProps {
  doc: FlowDocument;
  node: FlowNode;
  errors: FlowError[];
  onChange: (doc: FlowDocument) => void;
  onSelect: (id: string) => void;
  onDelete: () => void;
}

export function NodePanel({ doc, node, errors, onChange, onSelect, onDelete }: NodePanelProps) {
  const mine = errorsFor(errors, node.id);
  const f = (field: string) => mine.filter((e) => fieldMatches(e.field, field));
  const shown = ['id', 'thinking', 'ports', 'edges', ...FIELDS[node.type]];
  const other = mine.filter((e) => !shown.some((s) => fieldMatches(e.field, s)));
  const set = (patch: Partial<FlowNode>) => onChange(updateNode(doc, node.id, patch));
  const [idText, setIdText] = useState(node.id);
  const [idError, setIdError] = useState<string | null>(null);
  useEffect(() => {
    setIdText(node.id);
    setIdError(null);
  }, [node.id]);
  const commitId = () => {
    const v = idText.trim();
    if (v === node.id) return setIdError(null);
    const r = renameNode(doc, node.id, v);
    if ('error' in r) return setIdError(r.error);
    setIdError(null);
    onChange(r.doc);
    onSelect(v);
  };
  const idErrors: FlowError[] = [...f('id'), ...(idError ? [{ node: node.id, field: 'id', message: idError }] : [])];
  const P = (field: string) => `fn-${field}`;

  return (
    <div class="flow-node-panel stack" aria-label={`${typeLabel(node.type)} ${node.id}`}>
      <div class="row spread">
        <h2 class="flow-panel-title">
          {typeLabel(node.type)} <span class="mono">{node.id}</span>
        </h2>
        <button type="button" class="btn small danger" onClick={onDelete}>
          Delete node
        </button>
      </div>
      {other.length > 0 && (
        <div class="callout warn" role="alert">
          <Problems errors={other} />
        </div>
      )}
      <Row id={P('id')} label="Id" errors={idErrors} hint="Letters, digits, _ and -. Edges follow a rename.">
        <input
          {...aria(P('id'), idErrors)}
          class="mono"
          value={idText}
          onInput={(e) => setIdText(e.currentTarget.value)}
          onBlur={commitId}
          onKeyDown={(e) => e.key === 'Enter' && (e.preventDefault(), commitId())}
        />
      </Row>
      {doc.start === node.id ? (
        <p class="muted small">The scenario starts here.</p>
      ) : (
        <button type="button" class="btn small" onClick={() => onChange({ ...doc, start: node.id })}>
          Start the scenario here
        </button>
      )}
      <TypeFields doc={doc} node={node} f={f} set={set} onChange={onChange} P={P} />
      <TextIn id={P('thinking')} label="Thinking text" hint="Shown in the widget while this step works, e.g. “Looking up your order…”" value={node.thinking ?? ''} onInput={(v) => set({ thinking: v || undefined })} errors={f('thinking')} />
      <Ports doc={doc} node={node} errors={[...f('ports'), ...f('edges')]} onChange={onChange} />
    </div>
  );
}

interface TypeProps {
  doc: FlowDocument;
  node: FlowNode;
  f: (field: string) => FlowError[];
  set: (patch: Partial<FlowNode>) => void;
  onChange: (doc: FlowDocument) => void;
  P: (field: string) => string;
}

function TypeFields({ doc, node, f, set, onChange, P }: TypeProps) {
  const templ = <>Markdown; insert values with {'{{variable}}'}, e.g. {'{{params.plan}}'} or {'{{visitor.name | there}}'}.</>;
  switch (node.type) {
    case 'message':
      return (
        <>
          <TextIn id={P('text')} label="Message text" multiline hint={templ} value={node.text} onInput={(text) => set({ text })} errors={f('text')} />
          <StringList id={P('quick_replies')} label="Quick replies" addLabel="Add quick reply" items={node.quick_replies} onChange={(quick_replies) => set({ quick_replies })} errors={f('quick_replies')} />
        </>
      );
    case 'ask':
      return (
        <>
          <SelectIn<AskInput>
            id={P('input')}
            label="Answer type"
            value={node.input}
            options={ASK_INPUTS.map((i) => [i, i === 'choice' ? 'choice (buttons)' : i] as [AskInput, string])}
            onChange={(input) => {
              // Only a choice question has choices (the server refuses them elsewhere).
              const next = updateNode(doc, node.id, { input, choices: input === 'choice' ? node.choices : undefined } as Partial<FlowNode>);
              onChange(input === 'choice' && !(node.choices ?? []).length ? addChoice(addChoice(next, node.id), node.id) : next);
            }}
            errors={f('input')}
          />
          <TextIn id={P('prompt')} label="Question" multiline value={node.prompt} onInput={(prompt) => set({ prompt })} errors={f('prompt')} />
          <TextIn id={P('variable')} label="Save the answer as" mono hint="A variable name: use it later as {{name}}." value={node.variable} onInput={(variable) => set({ variable: variable.trim() })} errors={f('variable')} />
          <TextIn id={P('retry_message')} label="Retry message" hint="Sent when an answer is not valid." value={node.retry_message ?? ''} onInput={(v) => set({ retry_message: v || undefined })} errors={f('retry_message')} />
          <div class="grid-2">
            <NumIn id={P('max_retries')} label="Retries" min={0} max={10} placeholder="2" value={node.max_retries} onInput={(max_retries) => set({ max_retries })} errors={f('max_retries')} />
            <NumIn id={P('timeout_secs')} label="Timeout (seconds)" min={10} max={604800} placeholder="none" value={node.timeout_secs} onInput={(v) => set({ timeout_secs: v ?? undefined })} errors={f('timeout_secs')} />
          </div>
          {node.input === 'choice' && (
            <fieldset class={`flow-list${f('choices').length ? ' invalid' : ''}`} id={P('choices')}>
              <legend>Choices</legend>
              {(node.choices ?? []).map((c, i) => (
                <div class="flow-list-row" key={i}>
                  <input
                    aria-label={`Choice ${i + 1} label`}
                    value={c.label}
                    onInput={(e) => {
                      const label = e.currentTarget.value;
                      let next = setChoiceLabel(doc, node.id, i, label);
                      // A default id follows the label until it is edited by hand.
                      if (/^option_\d+$/.test(c.id) || c.id === slug(c.label)) {
                        const taken = (node.choices ?? []).some((x, j) => j !== i && x.id === slug(label));
                        if (!taken) next = renameChoice(next, node.id, i, slug(label));
                      }
                      onChange(next);
                    }}
                  />
                  <input class="mono small-input" aria-label={`Choice ${i + 1} id`} value={c.id} onInput={(e) => onChange(renameChoice(doc, node.id, i, e.currentTarget.value.trim()))} />
                  <button type="button" class="btn small" aria-label={`Remove choice ${i + 1}`} onClick={() => onChange(removeChoice(doc, node.id, i))}>
                    ×
                  </button>
                </div>
              ))}
              <button type="button" class="btn small" onClick={() => onChange(addChoice(doc, node.id))}>
                Add choice
              </button>
              <Problems errors={f('choices')} />
            </fieldset>
          )}
        </>
      );
    case 'condition':
      return <ConditionFields node={node} f={f} set={set} P={P} />;
    case 'set': {
      const kind = 'literal' in node.value ? 'literal' : 'copy' in node.value ? 'copy' : 'expr';
      return (
        <>
          <TextIn id={P('variable')} label="Variable" mono value={node.variable} onInput={(variable) => set({ variable: variable.trim() })} errors={f('variable')} />
          <SelectIn<'literal' | 'copy' | 'expr'>
            id={P('value-kind')}
            label="Value"
            value={kind}
            options={[
              ['literal', 'A fixed value (JSON)'],
              ['copy', 'A copy of another variable'],
              ['expr', 'Arithmetic'],
            ]}
            onChange={(k) => set({ value: (k === 'literal' ? { literal: '' } : k === 'copy' ? { copy: '' } : { expr: '' }) as SetValue })}
          />
          {'literal' in node.value && <JsonIn id={P('value')} label="Fixed value" hint={'JSON: "text", 42, true, {"a": 1}'} value={node.value.literal} onChange={(literal) => set({ value: { literal } })} errors={f('value')} />}
          {'copy' in node.value && <TextIn id={P('value')} label="Copy from" mono placeholder="order.status" value={node.value.copy} onInput={(copy) => set({ value: { copy } })} errors={f('value')} />}
          {'expr' in node.value && <TextIn id={P('value')} label="Expression" mono placeholder="count * 2 + 1" hint="Numbers, variables, + - * / % and parentheses." value={node.value.expr} onInput={(expr) => set({ value: { expr } })} errors={f('value')} />}
        </>
      );
    }
    case 'http':
      return (
        <>
          <div class="grid-2">
            <SelectIn<HttpMethod>
              id={P('method')}
              label="Method"
              value={node.method}
              options={HTTP_METHODS}
              onChange={(method) => set(method === 'GET' ? { method, body: undefined } : { method })}
              errors={f('method')}
            />
            <NumIn id={P('timeout_ms')} label="Timeout (ms)" min={100} max={30000} placeholder="5000" value={node.timeout_ms} onInput={(timeout_ms) => set({ timeout_ms })} errors={f('timeout_ms')} />
          </div>
          <TextIn id={P('url')} label="URL" mono placeholder="https://api.example.com/orders/{{order_id}}" value={node.url} onInput={(url) => set({ url })} errors={f('url')} />
          <PairList
            id={P('headers')}
            label="Headers"
            keyLabel="Header"
            valueLabel="Value"
            rows={Object.entries(node.headers ?? {})}
            onChange={(rows) => set({ headers: Object.fromEntries(rows) })}
            errors={f('headers')}
          />
          {node.method !== 'GET' ? (
            <JsonIn id={P('body')} label="Body (JSON)" hint="Strings in it are templates: {{email}}." allowEmpty rows={4} value={node.body} onChange={(body) => set({ body })} errors={f('body')} />
          ) : (
            <Problems errors={f('body')} />
          )}
          <TextIn id={P('status_variable')} label="Save the status code as" mono placeholder="(optional)" value={node.status_variable ?? ''} onInput={(v) => set({ status_variable: v.trim() || undefined })} errors={f('status_variable')} />
          <PairList
            id={P('save')}
            label="Save from the response"
            keyLabel="Variable"
            valueLabel="Path"
            rows={node.save.map((s) => [s.variable, s.path] as [string, string])}
            onChange={(rows) => set({ save: rows.map(([variable, path]) => ({ variable, path })) })}
            errors={f('save')}
            hint="Paths like data.items[0].id or status."
          />
        </>
      );
    case 'ai_answer':
      return <TextIn id={P('question')} label="Question" hint="Empty: the visitor's last message." value={node.question ?? ''} onInput={(v) => set({ question: v || undefined })} errors={f('question')} />;
    case 'handoff':
      return (
        <>
          <TextIn id={P('message')} label="Message to the visitor" multiline value={node.message ?? ''} onInput={(v) => set({ message: v || undefined })} errors={f('message')} />
          <label class="check">
            <input type="checkbox" checked={node.only_when_online} onChange={(e) => set({ only_when_online: e.currentTarget.checked })} />
            Only when an agent is online (otherwise the “Nobody online” port)
          </label>
          <Problems errors={f('only_when_online')} />
        </>
      );
    case 'wait':
      return <NumIn id={P('seconds')} label="Wait (seconds)" min={1} max={86400} value={node.seconds} onInput={(v) => set({ seconds: v ?? 0 })} errors={f('seconds')} />;
    case 'jump':
      return (
        <Row id={P('target')} label="Jump to" errors={f('target')}>
          <select {...aria(P('target'), f('target'))} value={node.target} onChange={(e) => set({ target: e.currentTarget.value })}>
            <option value="">— choose a node —</option>
            {doc.nodes
              .filter((n) => n.id !== node.id)
              .map((n) => (
                <option key={n.id} value={n.id}>
                  {n.id} ({typeLabel(n.type)})
                </option>
              ))}
          </select>
        </Row>
      );
    case 'end':
      return <p class="muted">The scenario ends here and the assistant answers from now on.</p>;
  }
}

function ConditionFields({ node, f, set, P }: { node: Extract<FlowNode, { type: 'condition' }> } & Pick<TypeProps, 'f' | 'set' | 'P'>) {
  const groups = node.groups;
  const put = (g: ConditionGroup[]) => set({ groups: g } as Partial<FlowNode>);
  const putGroup = (gi: number, g: ConditionGroup) => put(groups.map((x, i) => (i === gi ? g : x)));
  return (
    <>
      <SelectIn<'all' | 'any'>
        id={P('match')}
        label="True when"
        value={node.match}
        options={[
          ['any', 'any group matches'],
          ['all', 'all groups match'],
        ]}
        onChange={(match) => set({ match } as Partial<FlowNode>)}
        errors={f('match')}
      />
      {groups.map((g, gi) => (
        <fieldset class={`flow-list${f(`groups[${gi}]`).length ? ' invalid' : ''}`} key={gi}>
          <legend>Group {gi + 1}</legend>
          <label class="inline small">
            Matches when
            <select aria-label={`Group ${gi + 1} matches when`} value={g.match} onChange={(e) => putGroup(gi, { ...g, match: e.currentTarget.value as 'all' | 'any' })}>
              <option value="all">all rules hold</option>
              <option value="any">any rule holds</option>
            </select>
          </label>
          {g.rules.map((r, ri) => {
            const unary = RULE_OPS.find((o) => o.op === r.op)?.unary;
            const putRule = (patch: Partial<typeof r>) => putGroup(gi, { ...g, rules: g.rules.map((x, i) => (i === ri ? { ...x, ...patch } : x)) });
            const n = `group ${gi + 1} rule ${ri + 1}`;
            return (
              <div class="flow-rule" key={ri}>
                <input class="mono" aria-label={`Variable of ${n}`} placeholder="params.plan" value={r.left} onInput={(e) => putRule({ left: e.currentTarget.value.trim() })} />
                <select aria-label={`Comparison of ${n}`} value={r.op} onChange={(e) => putRule({ op: e.currentTarget.value as RuleOp })}>
                  {RULE_OPS.map((o) => (
                    <option key={o.op} value={o.op}>
                      {o.label}
                    </option>
                  ))}
                </select>
                {!unary && <input aria-label={`Value of ${n}`} placeholder="pro" value={r.right} onInput={(e) => putRule({ right: e.currentTarget.value })} />}
                <button type="button" class="btn small" aria-label={`Remove ${n}`} onClick={() => putGroup(gi, { ...g, rules: g.rules.filter((_, i) => i !== ri) })}>
                  ×
                </button>
              </div>
            );
          })}
          <div class="row">
            <button type="button" class="btn small" onClick={() => putGroup(gi, { ...g, rules: [...g.rules, { left: '', op: 'equals', right: '' }] })}>
              Add rule
            </button>
            <button type="button" class="btn small danger" onClick={() => put(groups.filter((_, i) => i !== gi))}>
              Remove group
            </button>
          </div>
          <Problems errors={f(`groups[${gi}]`)} />
        </fieldset>
      ))}
      <button type="button" class="btn small" onClick={() => put([...groups, { match: 'all', rules: [{ left: '', op: 'equals', right: '' }] }])}>
        Add group
      </button>
      <Problems errors={f('groups').filter((e) => !/^groups\[\d+\]/.test(e.field ?? ''))} />
    </>
  );
}

/** Key/value rows (headers, saved paths, params). */
export function PairList({
  id, label, keyLabel, valueLabel, rows, onChange, errors = [], hint,
}: InProps & { keyLabel: string; valueLabel: string; rows: [string, string][]; onChange: (rows: [string, string][]) => void }) {
  return (
    <fieldset class={`flow-list${errors.length ? ' invalid' : ''}`} id={id}>
      <legend>{label}</legend>
      {rows.map(([k, v], i) => (
        <div class="flow-list-row" key={i}>
          <input class="mono" aria-label={`${keyLabel} ${i + 1}`} placeholder={keyLabel} value={k} onInput={(e) => onChange(rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
          <input aria-label={`${valueLabel} ${i + 1}`} placeholder={valueLabel} value={v} onInput={(e) => onChange(rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
          <button type="button" class="btn small" aria-label={`Remove ${keyLabel.toLowerCase()} ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="btn small" onClick={() => onChange([...rows, ['', '']])}>
        Add {keyLabel.toLowerCase()}
      </button>
      {hint && <span class="hint">{hint}</span>}
      <Problems errors={errors} />
    </fieldset>
  );
}

/** Where each port leads: a select per port (the keyboard's way to connect). */
function Ports({ doc, node, errors, onChange }: { doc: FlowDocument; node: FlowNode; errors: FlowError[]; onChange: (d: FlowDocument) => void }) {
  const ports = portsOf(node);
  return (
    <fieldset class="flow-list flow-ports-panel">
      <legend>Connections</legend>
      {ports.length === 0 && <p class="muted small">{node.type === 'jump' ? 'A jump continues at its target.' : node.type === 'end' ? 'Nothing follows an end.' : 'Nothing follows this step.'}</p>}
      {ports.map((p) => {
        const id = `fn-port-${p.replace(/[^A-Za-z0-9_-]/g, '_')}`;
        const pe = errors.filter((e) => e.field === `ports.${p}`);
        return (
          <div class="field" key={p}>
            <label class="field-label" for={id}>
              {portLabel(node, p)} → 
            </label>
            <select {...aria(id, pe)} value={edgeTarget(doc, node.id, p) ?? ''} onChange={(e) => onChange(connect(doc, node.id, p, e.currentTarget.value || null))}>
              <option value="">— ends the scenario —</option>
              {doc.nodes.map((n) => (
                <option key={n.id} value={n.id}>
                  {n.id} ({typeLabel(n.type)})
                </option>
              ))}
            </select>
            <Problems id={`${id}-err`} errors={pe} />
          </div>
        );
      })}
      <Problems errors={errors.filter((e) => !ports.some((p) => e.field === `ports.${p}`))} />
      {ports.length > 0 && <p class="hint">A port that leads nowhere ends the scenario: the assistant answers from there.</p>}
    </fieldset>
  );
}

// --- the scenario's settings -----------------------------------------------------------------

const TRIGGER_LABEL: Record<FlowTrigger['type'], string> = {
  conversation_start: 'A new conversation (when this is the start scenario)',
  keyword: 'A message contains a keyword',
  pattern: 'A message matches a pattern',
  page: 'A conversation starts on a page',
};

function newTrigger(type: FlowTrigger['type']): FlowTrigger {
  switch (type) {
    case 'keyword':
      return { type, keywords: [] };
    case 'pattern':
      return { type, pattern: '' };
    case 'page':
      return { type, url: '*/pricing*' };
    default:
      return { type: 'conversation_start' };
  }
}

interface DocPanelProps {
  doc: FlowDocument;
  name: string;
  errors: FlowError[];
  onName: (v: string) => void;
  onChange: (d: FlowDocument) => void;
  onSelect: (id: string) => void;
}

export function ScenarioPanel({ doc, name, errors, onName, onChange, onSelect }: DocPanelProps) {
  const docErrors = errorsFor(errors, null);
  const f = (field: string) => docErrors.filter((e) => fieldMatches(e.field, field));
  const other = docErrors.filter((e) => !['start', 'triggers', 'variables'].some((s) => fieldMatches(e.field, s)));
  const nodeErrors = errors.filter((e) => e.node);
  return (
    <div class="stack">
      <TextIn id="fd-name" label="Scenario name" value={name} onInput={onName} errors={name.trim() ? [] : [{ node: null, field: 'name', message: 'Give the scenario a name.' }]} />
      <Row id="fd-start" label="Start node" errors={f('start')}>
        <select {...aria('fd-start', f('start'))} value={doc.start} onChange={(e) => onChange({ ...doc, start: e.currentTarget.value })}>
          <option value="">— choose —</option>
          {doc.nodes.map((n) => (
            <option key={n.id} value={n.id}>
              {n.id} ({typeLabel(n.type)})
            </option>
          ))}
        </select>
      </Row>
      <fieldset class={`flow-list${f('triggers').length ? ' invalid' : ''}`}>
        <legend>Triggers: the scenario starts when…</legend>
        {doc.triggers.map((t, i) => {
          const put = (n: FlowTrigger) => onChange({ ...doc, triggers: doc.triggers.map((x, j) => (j === i ? n : x)) });
          return (
            <div class="flow-trigger" key={i}>
              <div class="flow-list-row">
                <select aria-label={`Trigger ${i + 1}`} value={t.type} onChange={(e) => put(newTrigger(e.currentTarget.value as FlowTrigger['type']))}>
                  {(Object.keys(TRIGGER_LABEL) as FlowTrigger['type'][]).map((k) => (
                    <option key={k} value={k}>
                      {TRIGGER_LABEL[k]}
                    </option>
                  ))}
                </select>
                <button type="button" class="btn small" aria-label={`Remove trigger ${i + 1}`} onClick={() => onChange({ ...doc, triggers: doc.triggers.filter((_, j) => j !== i) })}>
                  ×
                </button>
              </div>
              {t.type === 'keyword' && (
                <input
                  aria-label={`Keywords of trigger ${i + 1}`}
                  placeholder="order, delivery, bestelling"
                  value={t.keywords.join(', ')}
                  onInput={(e) => put({ ...t, keywords: e.currentTarget.value.split(',').map((k) => k.trim()).filter((k, j, a) => k || j === a.length - 1) })}
                />
              )}
              {t.type === 'pattern' && <input class="mono" aria-label={`Pattern of trigger ${i + 1}`} placeholder="(?i)order\s*#?\d{4,}" value={t.pattern} onInput={(e) => put({ ...t, pattern: e.currentTarget.value })} />}
              {t.type === 'page' && <input class="mono" aria-label={`Page URL of trigger ${i + 1}`} placeholder="*/pricing*" value={t.url} onInput={(e) => put({ ...t, url: e.currentTarget.value })} />}
              <Problems errors={f(`triggers[${i}]`)} />
            </div>
          );
        })}
        <button type="button" class="btn small" onClick={() => onChange({ ...doc, triggers: [...doc.triggers, newTrigger(doc.triggers.length ? 'keyword' : 'conversation_start')] })}>
          Add trigger
        </button>
        <Problems errors={f('triggers').filter((e) => !/^triggers\[\d+\]/.test(e.field ?? ''))} />
      </fieldset>
      <fieldset class={`flow-list${f('variables').length ? ' invalid' : ''}`}>
        <legend>Variables and their defaults</legend>
        {doc.variables.map((v, i) => (
          <div class="flow-list-row" key={i}>
            <input class="mono" aria-label={`Variable ${i + 1} name`} placeholder="name" value={v.name} onInput={(e) => onChange({ ...doc, variables: doc.variables.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value.trim() } : x)) })} />
            <input
              aria-label={`Variable ${i + 1} default`}
              placeholder="default (JSON or text)"
              value={v.default === undefined ? '' : formatParamValue(v.default)}
              onInput={(e) => onChange({ ...doc, variables: doc.variables.map((x, j) => (j === i ? { ...x, default: parseParamValue(e.currentTarget.value) } : x)) })}
            />
            <button type="button" class="btn small" aria-label={`Remove variable ${i + 1}`} onClick={() => onChange({ ...doc, variables: doc.variables.filter((_, j) => j !== i) })}>
              ×
            </button>
          </div>
        ))}
        <button type="button" class="btn small" onClick={() => onChange({ ...doc, variables: [...doc.variables, { name: '', default: '' }] })}>
          Add variable
        </button>
        <Problems errors={f('variables')} />
        <p class="hint">Also available: params.* (the page's params), visitor.name, visitor.email, visitor.user_id, visitor.verified, last_message.</p>
      </fieldset>
      {other.length > 0 && (
        <div class="callout warn">
          <Problems errors={other} />
        </div>
      )}
      {nodeErrors.length > 0 && (
        <section>
          <h3>Problems in nodes</h3>
          <ul class="flow-problem-list">
            {nodeErrors.map((e, i) => (
              <li key={i}>
                <button type="button" class="btn link" onClick={() => onSelect(e.node as string)}>
                  {e.node}
                </button>
                : {e.message}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
