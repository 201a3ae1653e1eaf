import { describe, expect, it } from 'vitest';
import { AgentRealtime, agentSocketUrl, type Frame, reconnectDelay, resumeFrame, type SocketLike } from '../src/app/realtime';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closed: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number) {
    this.closed = code ?? 1000;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: Frame) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const frames: Frame[] = [];
  const states: string[] = [];
  let resets = 0;
  const rt = new AgentRealtime({
    url: 'ws://x/api/app/ws',
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimer: () => {},
    random: () => 0.5,
    onFrame: (f) => frames.push(f),
    onReset: () => (resets += 1),
    onState: (s) => states.push(s),
  });
  return { rt, sockets, timers, frames, states, resets: () => resets };
}

describe('the agent realtime client', () => {
  it('starts live from now, then resumes from the highest offset it processed', () => {
    const { rt, sockets, timers, frames } = setup();
    rt.start();
    sockets[0].open();
    expect(JSON.parse(sockets[0].sent[0])).toEqual({ v: 1, type: 'resume' });
    sockets[0].frame({ type: 'hello', protocol: 1 });
    sockets[0].frame({ type: 'resumed', offset: 10, replayed: 0 });
    sockets[0].frame({ type: 'message.created', offset: 12, conversation_id: 'c' });
    // Several frames may share an offset; ephemeral frames have none.
    sockets[0].frame({ type: 'notification', offset: 12, kind: 'escalation' });
    sockets[0].frame({ type: 'typing', conversation_id: 'c', on: true });
    expect(rt.offset).toBe(12);
    expect(frames.map((f) => f.type)).toEqual(['hello', 'resumed', 'message.created', 'notification', 'typing']);
    sockets[0].drop(1006);
    expect(timers).toHaveLength(1);
    timers[0].fn();
    sockets[1].open();
    expect(JSON.parse(sockets[1].sent[0])).toEqual({ v: 1, type: 'resume', offset: 12 });
  });

  it('asks for a refetch on reset and continues from the reset offset', () => {
    const { rt, sockets, resets, timers } = setup();
    rt.start();
    sockets[0].open();
    sockets[0].frame({ type: 'resumed', offset: 5 });
    sockets[0].drop(4008);
    timers[0].fn();
    sockets[1].open();
    sockets[1].frame({ type: 'reset', offset: 20000, reason: 'offset_out_of_window' });
    expect(resets()).toBe(1);
    expect(rt.offset).toBe(20000);
  });

  it('reconnects with a growing delay, and promptly when the server is going away', () => {
    expect(reconnectDelay(1006, 1, () => 1)).toBe(500);
    expect(reconnectDelay(1006, 2, () => 1)).toBe(1000);
    expect(reconnectDelay(1006, 5, () => 1)).toBe(8000);
    expect(reconnectDelay(1006, 20, () => 1)).toBe(30000);
    expect(reconnectDelay(1006, 3, () => 0)).toBe(1000);
    expect(reconnectDelay(1001, 9, () => 0.25)).toBe(250);
    const { rt, sockets, timers } = setup();
    rt.start();
    sockets[0].drop(1006);
    timers[0].fn();
    sockets[1].drop(1006);
    expect(timers.map((t) => t.ms)).toEqual([375, 750]);
    // Once live again, the back-off starts over.
    timers[1].fn();
    sockets[2].open();
    sockets[2].frame({ type: 'resumed', offset: 1 });
    sockets[2].drop(1006);
    expect(timers[2].ms).toBe(375);
  });

  it('sends typing only while connected and stops for good on stop()', () => {
    const { rt, sockets, timers } = setup();
    rt.start();
    expect(rt.send({ type: 'typing', conversation_id: 'c', on: true })).toBe(false);
    sockets[0].open();
    expect(rt.send({ type: 'typing', conversation_id: 'c', on: true })).toBe(true);
    expect(JSON.parse(sockets[0].sent[1])).toEqual({ v: 1, type: 'typing', conversation_id: 'c', on: true });
    rt.stop();
    expect(sockets[0].closed).toBe(1000);
    sockets[0].drop(1000);
    expect(timers).toHaveLength(0);
  });

  it('ignores malformed frames', () => {
    const { rt, sockets, frames } = setup();
    rt.start();
    sockets[0].open();
    sockets[0].onmessage?.({ data: 'not json' });
    sockets[0].onmessage?.({ data: '{"no":"type"}' });
    expect(frames).toHaveLength(0);
  });

  it('builds the resume frame and the socket URL', () => {
    expect(resumeFrame(null)).toEqual({ v: 1, type: 'resume' });
    expect(resumeFrame(0)).toEqual({ v: 1, type: 'resume', offset: 0 });
    expect(agentSocketUrl({ protocol: 'https:', host: 'chat.example.com' })).toBe('wss://chat.example.com/api/app/ws');
    expect(agentSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/app/ws');
  });
});
