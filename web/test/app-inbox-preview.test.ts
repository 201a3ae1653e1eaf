import { describe, expect, it } from 'vitest';
import { lastMessagePreview } from '../src/app/inbox-preview';

const at = '2026-01-01T00:00:00Z';

describe('the inbox preview', () => {
  it("shows the visitor's words as they are", () => {
    expect(lastMessagePreview({ author_kind: 'visitor', body: 'Where is my\n order?' })).toEqual({ prefix: '', text: 'Where is my order?', system: false });
  });

  it('marks system notices so they are not taken for the visitor', () => {
    const p = lastMessagePreview({ author_kind: 'system', body: 'A person will take over…', created_at: at } as never);
    expect(p).toEqual({ prefix: 'System: ', text: 'A person will take over…', system: true });
  });

  it('names the other authors', () => {
    expect(lastMessagePreview({ author_kind: 'assistant', body: 'Hi' }).prefix).toBe('AI assistant: ');
    expect(lastMessagePreview({ author_kind: 'bot', body: 'Hi' }).prefix).toBe('Bot: ');
    expect(lastMessagePreview({ author_kind: 'agent', body: 'Hi' })).toEqual({ prefix: 'Agent: ', text: 'Hi', system: false });
  });

  it('says when there is nothing yet', () => {
    expect(lastMessagePreview(null)).toEqual({ prefix: '', text: 'No messages yet', system: false });
  });
});
