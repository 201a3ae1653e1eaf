// Answers being generated: the `message.delta` pieces of one conversation, grouped by `stream_id`
// in arrival order, until the stored message (`message.created`) replaces them.
import type { Frame } from './realtime';

export interface LiveStream {
  id: string;
  text: string;
}

/** The streams after `frame`, a frame of this conversation (the same array when nothing changed). */
export function applyStreamFrame(streams: LiveStream[], frame: Frame): LiveStream[] {
  if (frame.type === 'message.delta') {
    const id = String(frame.stream_id ?? '');
    const text = typeof frame.text === 'string' ? frame.text : '';
    if (!text) return streams;
    const i = streams.findIndex((s) => s.id === id);
    if (i < 0) return [...streams, { id, text }];
    return streams.map((s, j) => (j === i ? { id, text: s.text + text } : s));
  }
  if (frame.type === 'message.created') {
    // The answer is stored: its message replaces the streamed text (messages carry no stream id).
    const kind = frame.message?.author_kind;
    if ((kind === 'assistant' || kind === 'bot') && streams.length) return [];
  }
  return streams;
}
