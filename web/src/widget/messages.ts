// The conversation as the widget knows it: messages by seq, with no duplicates whether they come
// from a REST answer, the socket's catch-up, a live frame or history polling.

export interface Citation {
  article_id?: string;
  title: string;
  url?: string | null;
}

export interface Message {
  id: string;
  conversation_id?: string;
  seq: number;
  author_kind: 'visitor' | 'assistant' | 'bot' | 'agent' | 'system';
  body: string;
  html?: string;
  citations?: Citation[];
  quick_replies?: string[];
  reaction?: 'up' | 'down' | null;
  created_at?: string;
}

export class Conversation {
  private bySeq = new Map<number, Message>();
  private ids = new Set<string>();

  /** Adds a message; false when it was already known (same id or seq). */
  add(m: Message): boolean {
    if (!m || typeof m.seq !== 'number' || this.ids.has(m.id) || this.bySeq.has(m.seq)) return false;
    this.bySeq.set(m.seq, m);
    this.ids.add(m.id);
    return true;
  }

  /** The highest seq known: what a reconnecting socket resumes after. */
  get lastSeq(): number {
    let max = 0;
    for (const s of this.bySeq.keys()) if (s > max) max = s;
    return max;
  }

  list(): Message[] {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  get size(): number {
    return this.bySeq.size;
  }

  clear(): void {
    this.bySeq.clear();
    this.ids.clear();
  }
}

/** Whether opening the panel starts the conversation now: the site's bot greets first (a start
 * scenario exists), there is no conversation yet, and this is not the dashboard's preview. */
export function greetsOnOpen(server: { greets?: boolean }, hasSession: boolean, preview: boolean): boolean {
  return !!server.greets && !hasSession && !preview;
}
