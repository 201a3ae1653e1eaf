import { describe, expect, it } from 'vitest';
import { Conversation, greetsOnOpen, type Message } from '../src/widget/messages';

const msg = (seq: number, id = `m${seq}`): Message => ({ id, seq, author_kind: 'assistant', body: `#${seq}` });

describe('resume de-duplication', () => {
  it('keeps one copy of a message whether it came from REST, catch-up or a live frame', () => {
    const c = new Conversation();
    expect(c.add(msg(1))).toBe(true);
    expect(c.add(msg(2))).toBe(true);
    expect(c.lastSeq).toBe(2);
    // The socket's catch-up replays 2 and 3; a live frame repeats 3; polling repeats everything.
    expect(c.add(msg(2))).toBe(false);
    expect(c.add(msg(3))).toBe(true);
    expect(c.add(msg(3))).toBe(false);
    for (const m of [msg(1), msg(2), msg(3)]) expect(c.add(m)).toBe(false);
    expect(c.list().map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(c.lastSeq).toBe(3);
  });

  it('orders by seq when an older message arrives late, and resumes after the highest', () => {
    const c = new Conversation();
    c.add(msg(1));
    c.add(msg(3));
    c.add(msg(2));
    expect(c.list().map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(c.lastSeq).toBe(3);
    c.clear();
    expect(c.lastSeq).toBe(0);
    expect(c.size).toBe(0);
  });

  it('refuses malformed frames', () => {
    const c = new Conversation();
    expect(c.add({ id: 'x' } as unknown as Message)).toBe(false);
  });
});

describe('a greeting start scenario', () => {
  it('starts the conversation on open only when the site greets, none exists yet and it is not the preview', () => {
    expect(greetsOnOpen({ greets: true }, false, false)).toBe(true);
    expect(greetsOnOpen({ greets: true }, true, false)).toBe(false);
    expect(greetsOnOpen({ greets: true }, false, true)).toBe(false);
    expect(greetsOnOpen({ greets: false }, false, false)).toBe(false);
    expect(greetsOnOpen({}, false, false)).toBe(false);
  });
});
