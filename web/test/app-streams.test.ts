import { describe, expect, it } from 'vitest';
import { applyStreamFrame, type LiveStream } from '../src/app/streams';

const delta = (stream_id: string, text: string) => ({ type: 'message.delta', conversation_id: 'c1', stream_id, text });

describe('streamed answers', () => {
  it('appends the pieces of one stream in order, and keeps streams apart', () => {
    let s: LiveStream[] = [];
    for (const f of [delta('c1:3', 'Delivery '), delta('c1:3', 'takes 3 '), delta('c1:5', 'Other'), delta('c1:3', 'days.')]) s = applyStreamFrame(s, f);
    expect(s).toEqual([
      { id: 'c1:3', text: 'Delivery takes 3 days.' },
      { id: 'c1:5', text: 'Other' },
    ]);
  });

  it('the stored answer replaces the streamed text', () => {
    const s = applyStreamFrame([{ id: 'c1:3', text: 'Delivery takes' }], {
      type: 'message.created',
      conversation_id: 'c1',
      message: { id: 'm', author_kind: 'assistant', body: 'Delivery takes 3 days.' },
    });
    expect(s).toEqual([]);
    expect(applyStreamFrame([{ id: 'x', text: 'a' }], { type: 'message.created', message: { author_kind: 'bot' } })).toEqual([]);
  });

  it("a visitor's or an agent's message leaves the answer streaming", () => {
    const before = [{ id: 'c1:3', text: 'Delivery' }];
    expect(applyStreamFrame(before, { type: 'message.created', message: { author_kind: 'visitor' } })).toBe(before);
    expect(applyStreamFrame(before, { type: 'message.created', message: { author_kind: 'agent' } })).toBe(before);
  });

  it('ignores empty pieces and other frames', () => {
    const before: LiveStream[] = [];
    expect(applyStreamFrame(before, delta('s', ''))).toBe(before);
    expect(applyStreamFrame(before, { type: 'thinking', stage: 'Searching…' })).toBe(before);
    expect(applyStreamFrame(before, { type: 'message.delta', stream_id: 's', text: 42 })).toBe(before);
  });
});
