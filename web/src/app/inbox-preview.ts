// The one-line preview of a conversation's last message in the inbox list: who wrote it, so that
// system notices ("A person will take over…") are not mistaken for the visitor's words.
import type { AuthorKind } from './types';

export interface Preview {
  /** "System: ", "AI assistant: ", … (empty for the visitor). */
  prefix: string;
  text: string;
  /** A system notice: shown dimmed and in italics. */
  system: boolean;
}

const PREFIX: Record<string, string> = { agent: 'Agent', assistant: 'AI assistant', bot: 'Bot', system: 'System' };

export function lastMessagePreview(last: { author_kind: AuthorKind; body: string } | null | undefined): Preview {
  if (!last) return { prefix: '', text: 'No messages yet', system: false };
  const text = last.body.replace(/\s+/g, ' ').trim();
  if (last.author_kind === 'visitor') return { prefix: '', text, system: false };
  const who = PREFIX[last.author_kind] ?? last.author_kind;
  return { prefix: `${who}: `, text, system: last.author_kind === 'system' };
}
