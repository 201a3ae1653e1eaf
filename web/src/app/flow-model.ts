// Bot scenarios (docs/flows.md): the editor's pure logic. Every edit takes a document and returns
// a new one (never mutates), so the editor can compare, undo by discarding and test it all here.
// Also: the ports of each node type, the canvas geometry, quick client-side validation (the
// server's `validate` is authoritative), the template of a new scenario and simulator helpers.
import type {
  AskNode, FlowDocument, FlowEdge, FlowError, FlowNode, FlowNodeType, FlowPosition, FlowTrigger, FlowVariable,
  RuleOp, SimOutcome, SimResult,
} from './types';

// --- node types ------------------------------------------------------------------------------

export const NODE_TYPES: { type: FlowNodeType; label: string; hint: string }[] = [
  { type: 'message', label: 'Message', hint: 'Send a message, with optional quick replies' },
  { type: 'ask', label: 'Ask', hint: 'Ask a question and keep the answer in a variable' },
  { type: 'condition', label: 'Condition', hint: 'Branch on variables' },
  { type: 'set', label: 'Set variable', hint: 'Set a variable to a value, a copy or arithmetic' },
  { type: 'http', label: 'HTTP request', hint: "Call your own backend and keep parts of the answer" },
  { type: 'ai_answer', label: 'AI answer', hint: 'Let the assistant answer from the knowledge base' },
  { type: 'handoff', label: 'Hand off', hint: 'Pass the conversation to a person' },
  { type: 'wait', label: 'Wait', hint: 'Pause before the next step' },
  { type: 'jump', label: 'Jump', hint: 'Continue at another node' },
  { type: 'end', label: 'End', hint: 'End the scenario: the assistant answers from here' },
];

export const typeLabel = (t: FlowNodeType): string => NODE_TYPES.find((n) => n.type === t)?.label ?? t;

export const ASK_INPUTS = ['text', 'email', 'phone', 'number', 'date', 'choice'] as const;
export const RULE_OPS: { op: RuleOp; label: string; unary?: boolean }[] = [
  { op: 'equals', label: 'equals' },
  { op: 'not_equals', label: 'does not equal' },
  { op: 'contains', label: 'contains' },
  { op: 'matches', label: 'matches (regex)' },
  { op: 'greater_than', label: 'is greater than' },
  { op: 'less_than', label: 'is less than' },
  { op: 'is_set', label: 'is set', unary: true },
  { op: 'is_not_set', label: 'is not set', unary: true },
];
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const RESERVED = ['params', 'visitor'];

/** The ports a node's edges may leave from, in display order. */
export function portsOf(node: FlowNode): string[] {
  switch (node.type) {
    case 'message':
    case 'set':
    case 'wait':
      return ['next'];
    case 'ask': {
      const choices = node.input === 'choice' ? (node.choices ?? []).filter((c) => c.id).map((c) => `choice:${c.id}`) : [];
      return ['next', ...choices, 'invalid', 'timeout'];
    }
    case 'condition':
      return ['true', 'false'];
    case 'http':
      return ['success', 'failure'];
    case 'ai_answer':
      return ['answered', 'unanswered'];
    case 'handoff':
      return node.only_when_online ? ['offline'] : [];
    case 'jump':
    case 'end':
      return [];
  }
}

const PORT_LABELS: Record<string, string> = {
  next: 'Next',
  invalid: 'Invalid answer',
  timeout: 'No answer in time',
  true: 'True',
  false: 'False',
  success: 'Success (2xx)',
  failure: 'Failure',
  answered: 'Answered',
  unanswered: 'Not answered',
  offline: 'Nobody online',
};

/** A port's name for people: `choice:billing` is the choice's label. */
export function portLabel(node: FlowNode, port: string): string {
  if (port.startsWith('choice:') && node.type === 'ask') {
    const id = port.slice(7);
    const c = (node.choices ?? []).find((x) => x.id === id);
    return `Choice: ${c?.label || id}`;
  }
  if (port === 'next' && node.type === 'ask') return node.input === 'choice' ? 'Next (any other choice)' : 'Valid answer';
  return PORT_LABELS[port] ?? port;
}

export const isValidId = (id: string): boolean => /^[A-Za-z0-9_-]{1,64}$/.test(id);
export const isValidVarName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED.includes(name);
/** A variable path as conditions and `copy` use it: `order.items[0].name`, `params.plan`. */
export const isValidPath = (p: string): boolean => /^\$?\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/.test(p.trim());

/** A new id from `base` that no node has: `ask`, `ask_2`, `ask_3`… */
export function uniqueId(doc: FlowDocument, base: string): string {
  const clean = base.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56) || 'node';
  const taken = new Set(doc.nodes.map((n) => n.id));
  if (!taken.has(clean)) return clean;
  for (let i = 2; ; i++) if (!taken.has(`${clean}_${i}`)) return `${clean}_${i}`;
}

/** A node of `type` with useful defaults (valid except for what only the author can know). */
export function defaultNode(type: FlowNodeType, id: string, position: FlowPosition): FlowNode {
  const base = { id, position: { ...position } };
  switch (type) {
    case 'message':
      return { ...base, type, text: 'Hello!', quick_replies: [] };
    case 'ask':
      return { ...base, type, input: 'text', prompt: 'What can we help you with?', variable: 'answer', max_retries: 2 };
    case 'condition':
      return { ...base, type, match: 'any', groups: [{ match: 'all', rules: [{ left: 'params.plan', op: 'equals', right: 'pro' }] }] };
    case 'set':
      return { ...base, type, variable: 'count', value: { literal: 0 } };
    case 'http':
      return { ...base, type, method: 'GET', url: 'https://', headers: {}, timeout_ms: 5000, save: [] };
    case 'ai_answer':
      return { ...base, type };
    case 'handoff':
      return { ...base, type, message: 'Connecting you with our team…', only_when_online: false };
    case 'wait':
      return { ...base, type, seconds: 5 };
    case 'jump':
      return { ...base, type, target: '' };
    case 'end':
      return { ...base, type };
  }
}

// --- edits -----------------------------------------------------------------------------------

export function findNode(doc: FlowDocument, id: string | null | undefined): FlowNode | undefined {
  return id == null ? undefined : doc.nodes.find((n) => n.id === id);
}

/** Adds a node of `type` (placed near `near`, or below the rest); returns the document and its id. */
export function addNode(doc: FlowDocument, type: FlowNodeType, near?: string | null, at?: FlowPosition): { doc: FlowDocument; id: string } {
  const id = uniqueId(doc, type);
  const node = defaultNode(type, id, at ?? placeNewNode(doc, near));
  const nodes = [...doc.nodes, node];
  return { doc: { ...doc, nodes, start: doc.start || id }, id };
}

/** Adds a node below `after` and connects `after`'s first free port to it (if it has one). */
export function addNodeAfter(doc: FlowDocument, type: FlowNodeType, after?: string | null): { doc: FlowDocument; id: string } {
  const r = addNode(doc, type, after);
  const src = findNode(r.doc, after);
  const free = src ? portsOf(src).find((p) => edgeTarget(r.doc, src.id, p) === null) : undefined;
  return src && free ? { doc: connect(r.doc, src.id, free, r.id), id: r.id } : r;
}

/** Removes a node, its edges both ways and jumps to it; `start` moves to the first node left. */
export function removeNode(doc: FlowDocument, id: string): FlowDocument {
  if (!findNode(doc, id)) return doc;
  const nodes = doc.nodes
    .filter((n) => n.id !== id)
    .map((n) => (n.type === 'jump' && n.target === id ? { ...n, target: '' } : n));
  return {
    ...doc,
    nodes,
    edges: doc.edges.filter((e) => e.from !== id && e.to !== id),
    start: doc.start === id ? nodes[0]?.id ?? '' : doc.start,
  };
}

/** Changes a node's fields (not its id: see `renameNode`); edges of ports it no longer has go. */
export function updateNode(doc: FlowDocument, id: string, patch: Partial<FlowNode> | ((n: FlowNode) => FlowNode)): FlowDocument {
  let changed: FlowNode | undefined;
  const nodes = doc.nodes.map((n) => {
    if (n.id !== id) return n;
    changed = typeof patch === 'function' ? patch(n) : ({ ...n, ...patch, id: n.id, type: n.type } as FlowNode);
    return changed;
  });
  if (!changed) return doc;
  const ports = new Set(portsOf(changed));
  return { ...doc, nodes, edges: doc.edges.filter((e) => e.from !== id || ports.has(e.port)) };
}

/** Moves a node (whole pixels, never above or left of the canvas). */
export function moveNode(doc: FlowDocument, id: string, pos: FlowPosition): FlowDocument {
  const p = { x: Math.max(0, Math.round(pos.x)), y: Math.max(0, Math.round(pos.y)) };
  return { ...doc, nodes: doc.nodes.map((n) => (n.id === id ? { ...n, position: p } : n)) };
}

/** Where `from`'s `port` leads, if anywhere. */
export function edgeTarget(doc: FlowDocument, from: string, port: string): string | null {
  return doc.edges.find((e) => e.from === from && e.port === port)?.to ?? null;
}

/** Points `from`'s `port` at `to` (replacing what it pointed at); `to` null disconnects it. */
export function connect(doc: FlowDocument, from: string, port: string, to: string | null): FlowDocument {
  const src = findNode(doc, from);
  if (!src || !portsOf(src).includes(port)) return doc;
  if (to !== null && !findNode(doc, to)) return doc;
  const edges = doc.edges.filter((e) => !(e.from === from && e.port === port));
  if (to !== null) edges.push({ from, port, to });
  return { ...doc, edges };
}

export const disconnect = (doc: FlowDocument, from: string, port: string): FlowDocument => connect(doc, from, port, null);

/** Renames a node: edges, `start` and jumps follow. An invalid or taken id is an error message. */
export function renameNode(doc: FlowDocument, from: string, to: string): { doc: FlowDocument } | { error: string } {
  if (from === to) return { doc };
  if (!findNode(doc, from)) return { error: 'No such node.' };
  if (!isValidId(to)) return { error: 'Use 1–64 letters, digits, _ or -.' };
  if (findNode(doc, to)) return { error: `A node “${to}” exists already.` };
  const r = (id: string) => (id === from ? to : id);
  return {
    doc: {
      ...doc,
      start: r(doc.start),
      nodes: doc.nodes.map((n) => {
        const m = n.id === from ? { ...n, id: to } : n;
        return m.type === 'jump' && m.target === from ? { ...m, target: to } : m;
      }),
      edges: doc.edges.map((e) => ({ ...e, from: r(e.from), to: r(e.to) })),
    },
  };
}

function updateAsk(doc: FlowDocument, nodeId: string, fn: (n: AskNode) => AskNode): FlowDocument {
  return updateNode(doc, nodeId, (n) => (n.type === 'ask' ? fn(n) : n));
}

/** Adds a choice to an ask (its input becomes `choice`). */
export function addChoice(doc: FlowDocument, nodeId: string, label = ''): FlowDocument {
  return updateAsk(doc, nodeId, (n) => {
    const choices = n.choices ?? [];
    const ids = new Set(choices.map((c) => c.id));
    let i = choices.length + 1;
    while (ids.has(`option_${i}`)) i++;
    return { ...n, input: 'choice', choices: [...choices, { id: `option_${i}`, label: label || `Option ${i}` }] };
  });
}

/** Changes a choice's id; the edge of its port follows it. */
export function renameChoice(doc: FlowDocument, nodeId: string, index: number, id: string): FlowDocument {
  const node = findNode(doc, nodeId);
  if (node?.type !== 'ask' || !node.choices?.[index]) return doc;
  const old = `choice:${node.choices[index].id}`;
  const moved = { ...doc, edges: doc.edges.map((e) => (e.from === nodeId && e.port === old ? { ...e, port: `choice:${id}` } : e)) };
  return updateAsk(moved, nodeId, (n) => ({ ...n, choices: (n.choices ?? []).map((c, i) => (i === index ? { ...c, id } : c)) }));
}

export function setChoiceLabel(doc: FlowDocument, nodeId: string, index: number, label: string): FlowDocument {
  return updateAsk(doc, nodeId, (n) => ({ ...n, choices: (n.choices ?? []).map((c, i) => (i === index ? { ...c, label } : c)) }));
}

/** Removes a choice and the edge of its port. */
export function removeChoice(doc: FlowDocument, nodeId: string, index: number): FlowDocument {
  return updateAsk(doc, nodeId, (n) => ({ ...n, choices: (n.choices ?? []).filter((_, i) => i !== index) }));
}

/** Drops edges that point nowhere: unknown nodes or ports. */
export function pruneEdges(doc: FlowDocument): FlowDocument {
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const edges = doc.edges.filter((e) => {
    const src = byId.get(e.from);
    const key = `${e.from}\u0000${e.port}`;
    if (!src || !byId.has(e.to) || !portsOf(src).includes(e.port) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return edges.length === doc.edges.length ? doc : { ...doc, edges };
}

/** A choice id from its label: `Something technical` → `something_technical`. */
export function slug(label: string): string {
  return (
    label
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40) || 'option'
  );
}

// --- geometry --------------------------------------------------------------------------------

export const NODE_W = 200;
export const NODE_H = 76;
const GAP_Y = 64;
const GAP_X = 40;
const GRID = 20;

const snap = (v: number) => Math.max(0, Math.round(v / GRID) * GRID);

function overlaps(doc: FlowDocument, p: FlowPosition): boolean {
  return doc.nodes.some((n) => Math.abs(n.position.x - p.x) < NODE_W + 10 && Math.abs(n.position.y - p.y) < NODE_H + 10);
}

/** Where a new node goes: below `near` (the selected node), or below everything; never on top of another. */
export function placeNewNode(doc: FlowDocument, near?: string | null): FlowPosition {
  const anchor = findNode(doc, near);
  let p: FlowPosition;
  if (anchor) p = { x: snap(anchor.position.x), y: snap(anchor.position.y + NODE_H + GAP_Y) };
  else if (doc.nodes.length === 0) p = { x: 40, y: 40 };
  else p = { x: 40, y: snap(Math.max(...doc.nodes.map((n) => n.position.y)) + NODE_H + GAP_Y) };
  for (let i = 0; i < 50 && overlaps(doc, p); i++) p = { x: p.x + NODE_W + GAP_X, y: p.y };
  return p;
}

/** Where an edge leaves a node: its ports spread along the bottom edge. */
export function portAnchor(node: FlowNode, port: string): FlowPosition {
  const ports = portsOf(node);
  const i = Math.max(0, ports.indexOf(port));
  return { x: node.position.x + Math.round((NODE_W * (i + 1)) / (ports.length + 1)), y: node.position.y + NODE_H };
}

/** Where an edge arrives: the middle of the node's top edge. */
export function inAnchor(node: FlowNode): FlowPosition {
  return { x: node.position.x + NODE_W / 2, y: node.position.y };
}

/** An SVG path from a port to a node: a vertical S-curve (a loop back up bulges out sideways). */
export function edgePath(a: FlowPosition, b: FlowPosition): string {
  const r = (v: number) => Math.round(v * 10) / 10;
  if (b.y >= a.y + 20) {
    const dy = Math.max(30, (b.y - a.y) / 2);
    return `M${r(a.x)} ${r(a.y)} C${r(a.x)} ${r(a.y + dy)} ${r(b.x)} ${r(b.y - dy)} ${r(b.x)} ${r(b.y)}`;
  }
  const side = Math.max(a.x, b.x) + NODE_W / 2 + 20;
  return `M${r(a.x)} ${r(a.y)} C${r(a.x)} ${r(a.y + 80)} ${r(side)} ${r(a.y + 40)} ${r(side)} ${r((a.y + b.y) / 2)} S${r(b.x)} ${r(b.y - 80)} ${r(b.x)} ${r(b.y)}`;
}

/** The canvas: everything plus room to drag into. */
export function canvasSize(doc: FlowDocument): { width: number; height: number } {
  const maxX = Math.max(0, ...doc.nodes.map((n) => n.position.x));
  const maxY = Math.max(0, ...doc.nodes.map((n) => n.position.y));
  return { width: Math.max(800, maxX + NODE_W + 240), height: Math.max(560, maxY + NODE_H + 200) };
}

/** One line of what a node does, for its box on the canvas. */
export function nodeSummary(node: FlowNode): string {
  switch (node.type) {
    case 'message':
      return node.text;
    case 'ask':
      return `${node.prompt} → ${node.variable || '?'}`;
    case 'condition':
      return node.groups
        .map((g) => g.rules.map((r) => `${r.left} ${RULE_OPS.find((o) => o.op === r.op)?.label ?? r.op}${RULE_OPS.find((o) => o.op === r.op)?.unary ? '' : ` ${r.right}`}`).join(g.match === 'all' ? ' and ' : ' or '))
        .join(node.match === 'all' ? '; and ' : '; or ');
    case 'set':
      return `${node.variable} = ${'literal' in node.value ? JSON.stringify(node.value.literal) : 'copy' in node.value ? node.value.copy : node.value.expr}`;
    case 'http':
      return `${node.method} ${node.url}`;
    case 'ai_answer':
      return node.question || 'The last message';
    case 'handoff':
      return node.message || 'To a person';
    case 'wait':
      return `${node.seconds} s`;
    case 'jump':
      return `→ ${node.target || '?'}`;
    case 'end':
      return 'The assistant takes over';
  }
}

// --- validation (quick, client-side; the server's list is authoritative) ---------------------

const inRange = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const blank = (s: unknown) => typeof s !== 'string' || s.trim() === '';

/** The problems this side can see at once: missing fields, ranges, names, dangling references. */
export function validate(doc: FlowDocument): FlowError[] {
  const errors: FlowError[] = [];
  const err = (node: string | null, field: string | null, message: string) => errors.push({ node, field, message });
  const ids = new Set<string>();
  if (doc.nodes.length === 0) err(null, 'nodes', 'A scenario needs at least one node.');
  if (!doc.start) err(null, 'start', 'Choose the node the scenario starts at.');
  else if (!findNode(doc, doc.start)) err(null, 'start', `The start node “${doc.start}” does not exist.`);

  const names = new Set<string>();
  doc.variables.forEach((v, i) => {
    if (!isValidVarName(v.name)) err(null, `variables[${i}].name`, `“${v.name}” is not a variable name: letters, digits and _, not starting with a digit; not params or visitor.`);
    else if (names.has(v.name)) err(null, `variables[${i}].name`, `The variable “${v.name}” is declared twice.`);
    names.add(v.name);
  });
  doc.triggers.forEach((t, i) => {
    const f = `triggers[${i}]`;
    if (t.type === 'keyword' && !(t.keywords ?? []).some((k) => k.trim())) err(null, f, 'A keyword trigger needs at least one keyword.');
    if (t.type === 'pattern' && blank(t.pattern)) err(null, f, 'A pattern trigger needs a regular expression.');
    if (t.type === 'pattern' && (t.pattern ?? '').length > 200) err(null, f, 'A pattern is at most 200 characters.');
    if (t.type === 'page' && blank(t.url)) err(null, f, 'A page trigger needs a URL pattern.');
  });

  for (const n of doc.nodes) {
    if (!isValidId(n.id)) err(n.id, 'id', 'An id is 1–64 letters, digits, _ or -.');
    else if (ids.has(n.id)) err(n.id, 'id', `Two nodes are called “${n.id}”.`);
    ids.add(n.id);
    switch (n.type) {
      case 'message':
        if (blank(n.text)) err(n.id, 'text', 'The message is empty.');
        break;
      case 'ask':
        if (blank(n.prompt)) err(n.id, 'prompt', 'The question is empty.');
        if (blank(n.variable)) err(n.id, 'variable', 'Name the variable that keeps the answer.');
        else if (!isValidVarName(n.variable)) err(n.id, 'variable', `“${n.variable}” is not a variable name: letters, digits and _, not starting with a digit; not params or visitor.`);
        if (n.max_retries !== undefined && !inRange(n.max_retries, 0, 10)) err(n.id, 'max_retries', 'Retries are 0 to 10.');
        if (n.timeout_secs != null && !inRange(n.timeout_secs, 10, 604800)) err(n.id, 'timeout_secs', 'The timeout is 10 seconds to 7 days (604800).');
        if (n.input === 'choice') {
          const cs = n.choices ?? [];
          if (cs.length < 1 || cs.length > 12) err(n.id, 'choices', 'A choice question has 1 to 12 choices.');
          const seen = new Set<string>();
          cs.forEach((c, i) => {
            if (!isValidId(c.id)) err(n.id, `choices[${i}].id`, `Choice ${i + 1}: the id is 1–64 letters, digits, _ or -.`);
            else if (seen.has(c.id)) err(n.id, `choices[${i}].id`, `Choice ${i + 1}: the id “${c.id}” is used twice.`);
            seen.add(c.id);
            if (blank(c.label)) err(n.id, `choices[${i}].label`, `Choice ${i + 1} has no label.`);
          });
        }
        break;
      case 'condition':
        if (!n.groups.length) err(n.id, 'groups', 'Add at least one group of rules.');
        n.groups.forEach((g, gi) => {
          if (!g.rules.length) err(n.id, `groups[${gi}]`, `Group ${gi + 1} has no rules.`);
          g.rules.forEach((r, ri) => {
            if (!isValidPath(r.left)) err(n.id, `groups[${gi}].rules[${ri}].left`, `Group ${gi + 1}, rule ${ri + 1}: “${r.left}” is not a variable path.`);
            if (!RULE_OPS.some((o) => o.op === r.op)) err(n.id, `groups[${gi}].rules[${ri}].op`, `Group ${gi + 1}, rule ${ri + 1}: unknown comparison.`);
          });
        });
        break;
      case 'set':
        if (!isValidVarName(n.variable)) err(n.id, 'variable', n.variable ? `“${n.variable}” is not a variable name.` : 'Name the variable to set.');
        if ('copy' in n.value && !isValidPath(n.value.copy)) err(n.id, 'value', 'Copy from a variable path, like order.status.');
        if ('expr' in n.value && blank(n.value.expr)) err(n.id, 'value', 'The expression is empty.');
        break;
      case 'http':
        if (!/^(https?:\/\/.+|\{\{.+)/i.test(n.url.trim())) err(n.id, 'url', 'The URL starts with http:// or https://.');
        if (n.timeout_ms !== undefined && !inRange(n.timeout_ms, 100, 30000)) err(n.id, 'timeout_ms', 'The timeout is 100 to 30000 ms.');
        if (n.status_variable && !isValidVarName(n.status_variable)) err(n.id, 'status_variable', `“${n.status_variable}” is not a variable name.`);
        Object.keys(n.headers ?? {}).forEach((h) => {
          if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h)) err(n.id, 'headers', `“${h}” is not a header name.`);
        });
        n.save.forEach((s, i) => {
          if (!isValidVarName(s.variable)) err(n.id, `save[${i}].variable`, `Saved value ${i + 1}: “${s.variable}” is not a variable name.`);
          if (blank(s.path)) err(n.id, `save[${i}].path`, `Saved value ${i + 1}: which part of the response (status, data.id…)?`);
        });
        break;
      case 'wait':
        if (!inRange(n.seconds, 1, 86400)) err(n.id, 'seconds', 'Wait 1 second to 1 day (86400).');
        break;
      case 'jump':
        if (!n.target) err(n.id, 'target', 'Choose the node to jump to.');
        else if (!findNode(doc, n.target)) err(n.id, 'target', `There is no node “${n.target}”.`);
        else if (n.target === n.id) err(n.id, 'target', 'A jump to itself never ends.');
        break;
    }
  }
  for (const e of doc.edges) {
    const src = findNode(doc, e.from);
    if (!src) err(null, 'edges', `An edge leaves from “${e.from}”, which does not exist.`);
    else if (!portsOf(src).includes(e.port)) err(e.from, `ports.${e.port}`, `“${e.from}” has no port “${e.port}”.`);
    else if (!findNode(doc, e.to)) err(e.from, `ports.${e.port}`, `“${portLabel(src, e.port)}” leads to “${e.to}”, which does not exist.`);
  }
  return errors;
}

/** Whether an error's field is `field` or inside it (`choices[0].id` is in `choices`). */
export function fieldMatches(errorField: string | null, field: string): boolean {
  if (!errorField) return false;
  return errorField === field || errorField.startsWith(`${field}.`) || errorField.startsWith(`${field}[`);
}

export function errorsFor(errors: FlowError[], node: string | null, field?: string): FlowError[] {
  return errors.filter((e) => (e.node ?? null) === node && (field === undefined || fieldMatches(e.field, field)));
}

/** How many problems each node has (for the badges on the canvas). */
export function errorCounts(errors: FlowError[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of errors) if (e.node) m.set(e.node, (m.get(e.node) ?? 0) + 1);
  return m;
}

// --- documents -------------------------------------------------------------------------------

/** What a new scenario starts as: a greeting, a question, a person. */
export function templateDocument(): FlowDocument {
  return {
    schema: 1,
    start: 'greet',
    triggers: [{ type: 'conversation_start' }],
    variables: [{ name: 'email', default: '' }],
    nodes: [
      { id: 'greet', type: 'message', position: { x: 40, y: 40 }, text: 'Hi {{visitor.name | there}}! Welcome — how can we help?', quick_replies: [] },
      {
        id: 'ask_email',
        type: 'ask',
        position: { x: 40, y: 180 },
        input: 'email',
        prompt: 'What is your email address, so we can follow up?',
        variable: 'email',
        retry_message: 'That does not look like an email address. Could you check it?',
        max_retries: 2,
      },
      { id: 'human', type: 'handoff', position: { x: 40, y: 320 }, message: 'Thanks! Connecting you with our team…', only_when_online: false },
    ],
    edges: [
      { from: 'greet', port: 'next', to: 'ask_email' },
      { from: 'ask_email', port: 'next', to: 'human' },
    ],
  };
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** A document from the server, with every field the editor reads present. Unknown fields are kept. */
export function normalizeDocument(raw: unknown): FlowDocument {
  const d = obj(raw);
  const nodes = arr<Record<string, unknown>>(d.nodes).map((n, i): FlowNode => {
    const p = obj(n.position);
    const position = { x: Number(p.x) || 0, y: typeof p.y === 'number' ? p.y : 40 + i * (NODE_H + GAP_Y) };
    const base = { ...n, id: str(n.id), position } as Record<string, unknown>;
    switch (n.type) {
      case 'message':
        return { ...base, text: str(n.text), quick_replies: arr<string>(n.quick_replies) } as FlowNode;
      case 'ask':
        return { ...base, input: str(n.input, 'text'), prompt: str(n.prompt), variable: str(n.variable) } as FlowNode;
      case 'condition':
        return {
          ...base,
          match: n.match === 'all' ? 'all' : 'any',
          groups: arr<Record<string, unknown>>(n.groups).map((g) => ({ match: g.match === 'any' ? 'any' : 'all', rules: arr(g.rules) })),
        } as FlowNode;
      case 'set':
        return { ...base, variable: str(n.variable), value: n.value && typeof n.value === 'object' ? n.value : { literal: null } } as FlowNode;
      case 'http':
        return { ...base, method: str(n.method, 'GET'), url: str(n.url), headers: obj(n.headers), save: arr(n.save) } as FlowNode;
      case 'handoff':
        return { ...base, only_when_online: !!n.only_when_online } as FlowNode;
      case 'wait':
        return { ...base, seconds: typeof n.seconds === 'number' ? n.seconds : 5 } as FlowNode;
      case 'jump':
        return { ...base, target: str(n.target) } as FlowNode;
      default:
        return { ...base, type: str(n.type, 'end') } as FlowNode;
    }
  });
  return {
    ...d,
    schema: 1,
    start: str(d.start),
    triggers: arr<FlowTrigger>(d.triggers),
    variables: arr<FlowVariable>(d.variables),
    nodes,
    edges: arr<FlowEdge>(d.edges).filter((e) => e && typeof e === 'object'),
  };
}

/** JSON with sorted keys: the same document is the same text whatever order its keys came in. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export const sameDocument = (a: FlowDocument, b: FlowDocument): boolean => canonical(a) === canonical(b);

/** The document without positions: moving a node does not need validating again. */
export function contentKey(doc: FlowDocument): string {
  return canonical({ ...doc, nodes: doc.nodes.map(({ position: _p, ...rest }) => rest) });
}

// --- the simulator ---------------------------------------------------------------------------

/** A typed value: JSON when it parses (`42`, `true`, `{"a":1}`, `"quoted"`), otherwise the text. */
export function parseParamValue(text: string): unknown {
  const t = text.trim();
  if (t === '') return '';
  try {
    return JSON.parse(t);
  } catch {
    return text;
  }
}

/** How a value shows in the params editor (the inverse of `parseParamValue` for its own output). */
export function formatParamValue(v: unknown): string {
  if (typeof v === 'string') {
    // A string that would read back as something else keeps its quotes.
    return parseParamValue(v) === v ? v : JSON.stringify(v);
  }
  return JSON.stringify(v);
}

export interface ParamRow {
  key: string;
  value: string;
}

export function paramsFromRows(rows: ParamRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) if (r.key.trim()) out[r.key.trim()] = parseParamValue(r.value);
  return out;
}

/** The run's state after a step (the `outcome` field, or docs/flows.md's `finished`/`handoff`/`error`). */
export function simOutcome(r: SimResult): SimOutcome {
  if (r.outcome) return r.outcome;
  if (r.error) return 'failed';
  if (r.handoff) return 'handed_off';
  if (r.finished) return 'finished';
  return 'waiting';
}

/** A value for the variables table. */
export function showValue(v: unknown): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The quick choices a step leaves on screen: the last message's quick replies. */
export function lastQuickReplies(messages: { quick_replies?: string[] }[]): string[] {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].quick_replies?.length) return messages[i].quick_replies ?? [];
  return [];
}

