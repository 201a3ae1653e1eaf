// The agents' WebSocket (`/api/app/ws`, docs/protocol.md): resume from the last processed outbox
// offset after any disconnection, `reset` means "refetch over REST", reconnect with a growing,
// randomized delay (at once, spread over a second, when the server is going away).

export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = { type: string; offset?: number; [k: string]: any };
export type ConnectionState = 'connecting' | 'live' | 'offline';

export interface RealtimeOptions {
  url: string;
  onFrame: (frame: Frame) => void;
  /** The server could not replay from our offset: refetch everything over REST. */
  onReset: () => void;
  onState?: (state: ConnectionState) => void;
  createSocket?: (url: string) => SocketLike;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  random?: () => number;
}

const OPEN = 1;

/** The delay before reconnection attempt `attempt` (1, 2, …) after a close with `code`. */
export function reconnectDelay(code: number, attempt: number, random: () => number = Math.random): number {
  // Going away (a node shutting down): reconnect promptly, spread over a second.
  if (code === 1001) return Math.floor(random() * 1000);
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.floor(base * (0.5 + random() / 2));
}

/** The `resume` frame for the last processed offset (none: live from now). */
export function resumeFrame(offset: number | null): Frame {
  return offset === null ? { v: 1, type: 'resume' } : { v: 1, type: 'resume', offset };
}

export class AgentRealtime {
  /** The highest outbox offset processed. */
  offset: number | null = null;
  private socket: SocketLike | null = null;
  private attempts = 0;
  private timer: unknown = null;
  private stopped = true;

  constructor(private readonly opts: RealtimeOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.opts.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    s?.close(1000);
  }

  /** Sends a frame when connected; ephemeral signals (typing, read) are simply dropped otherwise. */
  send(frame: Frame): boolean {
    if (this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify({ v: 1, ...frame }));
    return true;
  }

  /** Handles one frame from the server (public for tests). */
  receive(frame: Frame): void {
    if (frame.type === 'reset') {
      this.offset = typeof frame.offset === 'number' ? frame.offset : this.offset;
      this.opts.onReset();
      this.live();
      return;
    }
    if (typeof frame.offset === 'number' && (this.offset === null || frame.offset > this.offset)) this.offset = frame.offset;
    if (frame.type === 'resumed') this.live();
    this.opts.onFrame(frame);
  }

  private live(): void {
    this.attempts = 0;
    this.opts.onState?.('live');
  }

  private connect(): void {
    if (this.stopped) return;
    this.timer = null;
    this.opts.onState?.('connecting');
    const create = this.opts.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const s = create(this.opts.url);
    this.socket = s;
    s.onopen = () => s.send(JSON.stringify(resumeFrame(this.offset)));
    s.onmessage = (ev) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string') this.receive(frame);
    };
    s.onclose = (ev) => {
      if (this.socket !== s) return;
      this.socket = null;
      if (this.stopped) return;
      this.opts.onState?.('offline');
      this.attempts += 1;
      const delay = reconnectDelay(ev.code, this.attempts, this.opts.random);
      this.timer = (this.opts.setTimer ?? setTimeout)(() => this.connect(), delay);
    };
  }
}

/** `ws(s)://<this origin>/api/app/ws`. */
export function agentSocketUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api/app/ws`;
}
