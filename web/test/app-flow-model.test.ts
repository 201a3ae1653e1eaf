import { describe, expect, it } from 'vitest';
import {
  addChoice, addNode, addNodeAfter, canonical, canvasSize, connect, contentKey, defaultNode, disconnect, edgePath, edgeTarget,
  errorCounts, errorsFor, fieldMatches, findNode, formatParamValue, inAnchor, isValidPath, isValidVarName, lastQuickReplies,
  moveNode, NODE_H, NODE_TYPES, NODE_W, nodeSummary, normalizeDocument, paramsFromRows, parseParamValue, placeNewNode,
  portAnchor, portLabel, portsOf, pruneEdges, removeChoice, removeNode, renameChoice, renameNode, sameDocument,
  setChoiceLabel, simOutcome, slug, templateDocument, uniqueId, updateNode, validate,
} from '../src/app/flow-model';
import type { AskNode, FlowDocument, FlowNode } from '../src/app/types';

/** The document of docs/flows.md. */
function docsExample(): FlowDocument {
  return {
    schema: 1,
    start: 'greet',
    triggers: [
      { type: 'conversation_start' },
      { type: 'keyword', keywords: ['order', 'bestelling'] },
      { type: 'pattern', pattern: '(?i)order\\s*#?\\d{4,}' },
      { type: 'page', url: '*/pricing*' },
    ],
    variables: [{ name: 'email', default: '' }],
    nodes: [
      { id: 'greet', type: 'message', position: { x: 40, y: 40 }, text: 'Hi {{visitor.name | there}}! You are on the {{params.plan}} plan.', quick_replies: [] },
      {
        id: 'ask_email', type: 'ask', position: { x: 40, y: 160 }, input: 'email', prompt: 'What is your email address?', variable: 'email',
        retry_message: 'That does not look like an email address.', max_retries: 2, timeout_secs: 600,
      },
      {
        id: 'topic', type: 'ask', position: { x: 40, y: 280 }, input: 'choice', prompt: 'What is it about?', variable: 'topic',
        choices: [{ id: 'billing', label: 'Billing' }, { id: 'tech', label: 'Something technical' }],
      },
      { id: 'human', type: 'handoff', position: { x: 40, y: 400 }, message: 'Connecting you with our team…', only_when_online: false },
    ],
    edges: [
      { from: 'greet', port: 'next', to: 'ask_email' },
      { from: 'ask_email', port: 'next', to: 'topic' },
      { from: 'topic', port: 'choice:billing', to: 'human' },
      { from: 'topic', port: 'choice:tech', to: 'human' },
    ],
  };
}

const node = (doc: FlowDocument, id: string) => findNode(doc, id) as FlowNode;

describe('ports', () => {
  it('follows the table of docs/flows.md for every type', () => {
    const ports = (t: FlowNode['type'], extra: Partial<FlowNode> = {}) => portsOf({ ...defaultNode(t, 'n', { x: 0, y: 0 }), ...extra } as FlowNode);
    expect(ports('message')).toEqual(['next']);
    expect(ports('ask')).toEqual(['next', 'invalid', 'timeout']);
    expect(ports('condition')).toEqual(['true', 'false']);
    expect(ports('set')).toEqual(['next']);
    expect(ports('http')).toEqual(['success', 'failure']);
    expect(ports('ai_answer')).toEqual(['answered', 'unanswered']);
    expect(ports('handoff')).toEqual([]);
    expect(ports('handoff', { only_when_online: true } as Partial<FlowNode>)).toEqual(['offline']);
    expect(ports('wait')).toEqual(['next']);
    expect(ports('jump')).toEqual([]);
    expect(ports('end')).toEqual([]);
  });

  it('gives a choice question a port per choice, labelled with the choice', () => {
    const d = docsExample();
    const topic = node(d, 'topic');
    expect(portsOf(topic)).toEqual(['next', 'choice:billing', 'choice:tech', 'invalid', 'timeout']);
    expect(portLabel(topic, 'choice:tech')).toBe('Choice: Something technical');
    expect(portLabel(topic, 'next')).toMatch(/other choice/);
    expect(portLabel(node(d, 'ask_email'), 'next')).toBe('Valid answer');
    expect(portLabel(node(d, 'greet'), 'next')).toBe('Next');
  });

  it('every palette type has defaults that pass the local checks', () => {
    for (const t of NODE_TYPES) {
      let d: FlowDocument = { schema: 1, start: '', triggers: [], variables: [], nodes: [], edges: [] };
      d = addNode(d, 'message').doc;
      const r = addNode(d, t.type);
      let doc = r.doc;
      if (t.type === 'jump') doc = updateNode(doc, r.id, { target: 'message' } as Partial<FlowNode>);
      if (t.type === 'http') doc = updateNode(doc, r.id, { url: 'https://example.com/x' } as Partial<FlowNode>);
      expect(validate(doc), t.type).toEqual([]);
    }
  });
});

describe('edits', () => {
  it('adds nodes with unique ids; the first becomes the start', () => {
    let d: FlowDocument = { schema: 1, start: '', triggers: [], variables: [], nodes: [], edges: [] };
    const a = addNode(d, 'message');
    d = a.doc;
    expect(a.id).toBe('message');
    expect(d.start).toBe('message');
    const b = addNode(d, 'message');
    expect(b.id).toBe('message_2');
    expect(b.doc.start).toBe('message');
    expect(uniqueId(b.doc, 'message')).toBe('message_3');
    expect(uniqueId(b.doc, 'ask me!')).toBe('ask_me_');
  });

  it('adds a node after the selected one and connects its first free port', () => {
    const d = templateDocument();
    const r = addNodeAfter(d, 'end', 'human');
    // A handoff has no ports: nothing to connect.
    expect(r.doc.edges).toEqual(d.edges);
    const r2 = addNodeAfter(d, 'wait', 'ask_email');
    // ask_email's `next` is taken; `invalid` is the first free one.
    expect(edgeTarget(r2.doc, 'ask_email', 'invalid')).toBe(r2.id);
    expect(edgeTarget(r2.doc, 'ask_email', 'next')).toBe('human');
    const pos = node(r2.doc, r2.id).position;
    const near = node(d, 'ask_email').position;
    expect(pos.y).toBeGreaterThan(near.y);
  });

  it('removes a node with its edges both ways, jumps to it and the start', () => {
    let d = docsExample();
    d = addNode(d, 'jump').doc;
    d = updateNode(d, 'jump', { target: 'topic' } as Partial<FlowNode>);
    const r = removeNode(d, 'topic');
    expect(findNode(r, 'topic')).toBeUndefined();
    expect(r.edges).toEqual([{ from: 'greet', port: 'next', to: 'ask_email' }]);
    expect((node(r, 'jump') as { target: string }).target).toBe('');
    expect(removeNode(d, 'greet').start).toBe('ask_email');
    expect(removeNode(d, 'nope')).toBe(d);
    // Never mutates.
    expect(findNode(d, 'topic')).toBeDefined();
  });

  it('connects, replaces and disconnects one edge per port', () => {
    let d = docsExample();
    d = connect(d, 'ask_email', 'next', 'human');
    expect(d.edges.filter((e) => e.from === 'ask_email' && e.port === 'next')).toEqual([{ from: 'ask_email', port: 'next', to: 'human' }]);
    d = connect(d, 'ask_email', 'invalid', 'human');
    expect(edgeTarget(d, 'ask_email', 'invalid')).toBe('human');
    // Unknown ports and nodes are refused.
    expect(connect(d, 'greet', 'true', 'human')).toBe(d);
    expect(connect(d, 'greet', 'next', 'nowhere')).toBe(d);
    expect(connect(d, 'human', 'offline', 'greet')).toBe(d);
    d = disconnect(d, 'ask_email', 'invalid');
    expect(edgeTarget(d, 'ask_email', 'invalid')).toBeNull();
  });

  it('renames a node: edges, start and jumps follow; bad or taken ids are refused', () => {
    let d = docsExample();
    d = addNode(d, 'jump').doc;
    d = updateNode(d, 'jump', { target: 'greet' } as Partial<FlowNode>);
    const r = renameNode(d, 'greet', 'hello');
    if (!('doc' in r)) throw new Error(r.error);
    expect(r.doc.start).toBe('hello');
    expect(r.doc.edges[0]).toEqual({ from: 'hello', port: 'next', to: 'ask_email' });
    expect((node(r.doc, 'jump') as { target: string }).target).toBe('hello');
    expect(renameNode(d, 'greet', 'topic')).toEqual({ error: 'A node “topic” exists already.' });
    expect(renameNode(d, 'greet', 'has space')).toHaveProperty('error');
    expect(renameNode(d, 'greet', 'x'.repeat(65))).toHaveProperty('error');
    expect(renameNode(d, 'greet', 'greet')).toEqual({ doc: d });
  });

  it('keeps choice edges through a choice rename and drops them with the choice', () => {
    let d = docsExample();
    d = renameChoice(d, 'topic', 1, 'technical');
    expect(edgeTarget(d, 'topic', 'choice:technical')).toBe('human');
    expect(edgeTarget(d, 'topic', 'choice:tech')).toBeNull();
    d = setChoiceLabel(d, 'topic', 1, 'Tech stuff');
    expect((node(d, 'topic') as AskNode).choices?.[1]).toEqual({ id: 'technical', label: 'Tech stuff' });
    d = removeChoice(d, 'topic', 0);
    expect(edgeTarget(d, 'topic', 'choice:billing')).toBeNull();
    expect((node(d, 'topic') as AskNode).choices).toHaveLength(1);
    d = addChoice(d, 'topic');
    expect((node(d, 'topic') as AskNode).choices?.[1].id).toBe('option_2');
  });

  it('drops the edges of ports a node no longer has', () => {
    let d = docsExample();
    d = updateNode(d, 'human', { only_when_online: true } as Partial<FlowNode>);
    d = connect(d, 'human', 'offline', 'greet');
    expect(edgeTarget(d, 'human', 'offline')).toBe('greet');
    d = updateNode(d, 'human', { only_when_online: false } as Partial<FlowNode>);
    expect(edgeTarget(d, 'human', 'offline')).toBeNull();
    // Switching a choice question to text drops its choice edges.
    d = updateNode(d, 'topic', { input: 'text' } as Partial<FlowNode>);
    expect(d.edges.some((e) => e.from === 'topic')).toBe(false);
    // updateNode never changes id or type.
    const u = updateNode(d, 'greet', { id: 'x', type: 'end' } as Partial<FlowNode>);
    expect(node(u, 'greet').type).toBe('message');
  });

  it('prunes edges to nowhere and duplicates', () => {
    const d = docsExample();
    const bad = { ...d, edges: [...d.edges, { from: 'ghost', port: 'next', to: 'greet' }, { from: 'greet', port: 'next', to: 'topic' }, { from: 'greet', port: 'nope', to: 'topic' }] };
    expect(pruneEdges(bad).edges).toEqual(d.edges);
    expect(pruneEdges(d)).toBe(d);
  });

  it('moves nodes in whole pixels, never off the canvas', () => {
    const d = moveNode(docsExample(), 'greet', { x: -20.4, y: 33.6 });
    expect(node(d, 'greet').position).toEqual({ x: 0, y: 34 });
  });

  it('makes choice ids from labels', () => {
    expect(slug('Something technical')).toBe('something_technical');
    expect(slug('Crème brûlée!')).toBe('creme_brulee');
    expect(slug('???')).toBe('option');
  });
});

describe('geometry', () => {
  it('places a new node below the anchor, sideways when taken', () => {
    const d = docsExample();
    expect(placeNewNode({ ...d, nodes: [] })).toEqual({ x: 40, y: 40 });
    const below = placeNewNode(d, 'human');
    expect(below.y).toBeGreaterThanOrEqual(400 + NODE_H);
    // Under greet is ask_email: the new node goes to the side.
    const side = placeNewNode(d, 'greet');
    expect(side.x).toBeGreaterThanOrEqual(40 + NODE_W);
    // Without an anchor: below everything.
    expect(placeNewNode(d).y).toBeGreaterThan(400);
  });

  it('anchors ports along the bottom and edges at the top middle', () => {
    const d = docsExample();
    const topic = node(d, 'topic');
    const ports = portsOf(topic);
    const xs = ports.map((p) => portAnchor(topic, p).x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(xs[0]).toBeGreaterThan(topic.position.x);
    expect(xs[xs.length - 1]).toBeLessThan(topic.position.x + NODE_W);
    expect(portAnchor(topic, 'next').y).toBe(280 + NODE_H);
    expect(inAnchor(topic)).toEqual({ x: 40 + NODE_W / 2, y: 280 });
  });

  it('draws edges as curves, loops going round the side', () => {
    expect(edgePath({ x: 10, y: 10 }, { x: 10, y: 200 })).toBe('M10 10 C10 105 10 105 10 200');
    const loop = edgePath({ x: 140, y: 116 }, { x: 140, y: 40 });
    expect(loop.startsWith('M140 116 C')).toBe(true);
    expect(loop.endsWith('140 40')).toBe(true);
    expect(loop).toContain(' S');
  });

  it('sizes the canvas to hold everything, with room', () => {
    expect(canvasSize({ ...docsExample(), nodes: [] })).toEqual({ width: 800, height: 560 });
    const s = canvasSize(moveNode(docsExample(), 'human', { x: 1000, y: 900 }));
    expect(s.width).toBeGreaterThanOrEqual(1000 + NODE_W);
    expect(s.height).toBeGreaterThanOrEqual(900 + NODE_H);
  });

  it('summarises nodes for their boxes', () => {
    const d = docsExample();
    expect(nodeSummary(node(d, 'ask_email'))).toBe('What is your email address? → email');
    const c = defaultNode('condition', 'c', { x: 0, y: 0 });
    expect(nodeSummary(c)).toBe('params.plan equals pro');
    expect(nodeSummary(defaultNode('set', 's', { x: 0, y: 0 }))).toBe('count = 0');
    expect(nodeSummary({ ...defaultNode('wait', 'w', { x: 0, y: 0 }) } as FlowNode)).toBe('5 s');
  });
});

describe('client-side validation', () => {
  it('accepts the documented example and the template', () => {
    expect(validate(docsExample())).toEqual([]);
    expect(validate(templateDocument())).toEqual([]);
  });

  it('finds missing and wrong fields, pointing at node and field', () => {
    let d = docsExample();
    d = updateNode(d, 'ask_email', { variable: '' } as Partial<FlowNode>);
    d = updateNode(d, 'greet', { text: '  ' } as Partial<FlowNode>);
    d = updateNode(d, 'topic', { variable: 'params', max_retries: 11, timeout_secs: 5 } as Partial<FlowNode>);
    const e = validate(d);
    expect(errorsFor(e, 'ask_email', 'variable')).toHaveLength(1);
    expect(errorsFor(e, 'greet', 'text')).toHaveLength(1);
    expect(errorsFor(e, 'topic', 'variable')[0].message).toMatch(/not a variable name/);
    expect(errorsFor(e, 'topic', 'max_retries')).toHaveLength(1);
    expect(errorsFor(e, 'topic', 'timeout_secs')).toHaveLength(1);
    expect(errorCounts(e).get('topic')).toBe(3);
  });

  it('checks choices, conditions, set, http, wait and jump', () => {
    let d = docsExample();
    d = updateNode(d, 'topic', { choices: [{ id: 'a', label: '' }, { id: 'a', label: 'A' }] } as Partial<FlowNode>);
    expect(errorsFor(validate(d), 'topic', 'choices').map((x) => x.field)).toEqual(['choices[0].label', 'choices[1].id']);
    d = updateNode(d, 'topic', { choices: [] } as Partial<FlowNode>);
    expect(errorsFor(validate(d), 'topic', 'choices')).toHaveLength(1);

    const add = (t: FlowNode['type'], patch: object) => {
      const r = addNode(docsExample(), t);
      return errorsFor(validate(updateNode(r.doc, r.id, patch as Partial<FlowNode>)), r.id).map((x) => x.field);
    };
    expect(add('condition', { groups: [] })).toEqual(['groups']);
    expect(add('condition', { groups: [{ match: 'all', rules: [{ left: '1x', op: 'equals', right: '' }] }] })).toEqual(['groups[0].rules[0].left']);
    expect(add('set', { variable: 'visitor', value: { expr: ' ' } })).toEqual(['variable', 'value']);
    expect(add('set', { value: { copy: 'order.items[0].name' } })).toEqual([]);
    expect(add('http', { url: 'ftp://x', timeout_ms: 50, status_variable: '9x', save: [{ variable: 'ok', path: '' }] })).toEqual([
      'url', 'timeout_ms', 'status_variable', 'save[0].path',
    ]);
    expect(add('http', { url: '{{params.api}}/orders' })).toEqual([]);
    expect(add('wait', { seconds: 0 })).toEqual(['seconds']);
    expect(add('wait', { seconds: 86401 })).toEqual(['seconds']);
    expect(add('jump', { target: 'nowhere' })).toEqual(['target']);
    expect(add('jump', { target: 'jump' })).toEqual(['target']);
  });

  it('checks the document: start, ids, variables, triggers, edges', () => {
    const d = docsExample();
    expect(validate({ ...d, start: '' })).toEqual([{ node: null, field: 'start', message: expect.any(String) }]);
    expect(validate({ ...d, start: 'ghost' })[0].field).toBe('start');
    expect(errorsFor(validate({ ...d, nodes: [...d.nodes, { ...d.nodes[0] }] }), 'greet', 'id')).toHaveLength(1);
    expect(errorsFor(validate({ ...d, variables: [{ name: 'visitor' }, { name: 'a' }, { name: 'a' }] }), null, 'variables')).toHaveLength(2);
    const t = validate({ ...d, triggers: [{ type: 'keyword', keywords: [' '] }, { type: 'pattern', pattern: 'x'.repeat(201) }, { type: 'page', url: '' }] });
    expect(t.map((x) => x.field)).toEqual(['triggers[0]', 'triggers[1]', 'triggers[2]']);
    const e = validate({ ...d, edges: [...d.edges, { from: 'greet', port: 'true', to: 'human' }, { from: 'human', port: 'offline', to: 'x' }, { from: 'x', port: 'next', to: 'greet' }] });
    expect(e.map((x) => [x.node, x.field])).toEqual([
      ['greet', 'ports.true'],
      ['human', 'ports.offline'],
      [null, 'edges'],
    ]);
  });

  it('matches error fields by prefix', () => {
    expect(fieldMatches('choices[0].id', 'choices')).toBe(true);
    expect(fieldMatches('save.0', 'save')).toBe(true);
    expect(fieldMatches('variable', 'variable')).toBe(true);
    expect(fieldMatches('status_variable', 'variable')).toBe(false);
    expect(fieldMatches(null, 'variable')).toBe(false);
  });

  it('knows names and paths', () => {
    expect(isValidVarName('order_status')).toBe(true);
    expect(isValidVarName('_x1')).toBe(true);
    expect(isValidVarName('1x')).toBe(false);
    expect(isValidVarName('params')).toBe(false);
    expect(isValidPath('order.items[0].name')).toBe(true);
    expect(isValidPath('params.plan')).toBe(true);
    expect(isValidPath('$.data.id')).toBe(true);
    expect(isValidPath('a..b')).toBe(false);
    expect(isValidPath('')).toBe(false);
  });
});

describe('documents', () => {
  it('the template greets, asks for an email and hands off — connected in that order', () => {
    const t = templateDocument();
    expect(t.nodes.map((n) => n.type)).toEqual(['message', 'ask', 'handoff']);
    expect(t.start).toBe('greet');
    expect(edgeTarget(t, 'greet', 'next')).toBe('ask_email');
    expect(edgeTarget(t, 'ask_email', 'next')).toBe('human');
    // A fresh copy each time.
    expect(templateDocument()).not.toBe(t);
  });

  it('normalizes a sparse server document without losing unknown fields', () => {
    const d = normalizeDocument({
      schema: 1,
      start: 'a',
      extra: { kept: true },
      nodes: [
        { id: 'a', type: 'message', text: 'hi' },
        { id: 'b', type: 'http', url: 'https://x', position: { x: 5, y: 6 }, custom: 1 },
        { id: 'c', type: 'condition', groups: [{ rules: [] }] },
      ],
    });
    expect(d.triggers).toEqual([]);
    expect(d.variables).toEqual([]);
    expect(d.edges).toEqual([]);
    expect(d.nodes[0]).toMatchObject({ id: 'a', type: 'message', text: 'hi', quick_replies: [], position: { x: 0, y: 40 } });
    expect(d.nodes[1]).toMatchObject({ method: 'GET', headers: {}, save: [], position: { x: 5, y: 6 }, custom: 1 });
    expect(d.nodes[2]).toMatchObject({ match: 'any', groups: [{ match: 'all', rules: [] }] });
    expect((d as unknown as { extra: unknown }).extra).toEqual({ kept: true });
    expect(normalizeDocument(null).nodes).toEqual([]);
  });

  it('compares documents by content whatever the key order; positions do not change the content key', () => {
    const a = docsExample();
    const b = JSON.parse(canonical(a));
    expect(sameDocument(a, b)).toBe(true);
    expect(canonical({ b: 1, a: [2, { d: 1, c: undefined }] })).toBe('{"a":[2,{"d":1}],"b":1}');
    const moved = moveNode(a, 'greet', { x: 300, y: 300 });
    expect(sameDocument(a, moved)).toBe(false);
    expect(contentKey(a)).toBe(contentKey(moved));
    expect(contentKey(a)).not.toBe(contentKey(updateNode(a, 'greet', { text: 'x' } as Partial<FlowNode>)));
  });
});

describe('simulator helpers', () => {
  it('types param values as JSON when they parse', () => {
    expect(parseParamValue('pro')).toBe('pro');
    expect(parseParamValue('42')).toBe(42);
    expect(parseParamValue('true')).toBe(true);
    expect(parseParamValue('{"a":1}')).toEqual({ a: 1 });
    expect(parseParamValue('"42"')).toBe('42');
    expect(parseParamValue('')).toBe('');
    expect(paramsFromRows([{ key: 'plan', value: 'pro' }, { key: ' seats ', value: '3' }, { key: '', value: 'x' }])).toEqual({ plan: 'pro', seats: 3 });
    for (const v of ['pro', '42', 42, true, { a: 1 }, '']) expect(parseParamValue(formatParamValue(v))).toEqual(v);
  });

  it('reads the outcome in either shape', () => {
    const base = { messages: [], run: null };
    expect(simOutcome({ ...base, outcome: 'handed_off' })).toBe('handed_off');
    expect(simOutcome({ ...base, finished: true })).toBe('finished');
    expect(simOutcome({ ...base, handoff: true, finished: true })).toBe('handed_off');
    expect(simOutcome({ ...base, error: 'loop' })).toBe('failed');
    expect(simOutcome(base)).toBe('waiting');
  });

  it('offers the quick replies of the latest message that has some', () => {
    expect(lastQuickReplies([{ quick_replies: ['a'] }, { quick_replies: ['Billing', 'Tech'] }, {}])).toEqual(['Billing', 'Tech']);
    expect(lastQuickReplies([])).toEqual([]);
  });
});
