// The command API: `Frontdesk(cmd, ...args)`, with calls made before the loader ran replayed in order,
// and a small event emitter (`on` returns an unsubscribe function).

export type Listener = (payload?: unknown) => void;
export type Handler = (...args: unknown[]) => unknown;

export class Emitter {
  private listeners = new Map<string, Set<Listener>>();

  on(event: string, fn: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  off(event: string, fn?: Listener): void {
    if (fn) this.listeners.get(event)?.delete(fn);
    else this.listeners.delete(event);
  }

  emit(event: string, payload?: unknown): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(payload);
      } catch (e) {
        console.error('[Frontdesk] listener for', event, 'failed:', e);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

export interface QueuedStub {
  (...args: unknown[]): unknown;
  q?: unknown[][];
}

/**
 * Makes the global command function. `pending` holds calls made to a stub before the loader ran
 * (`window.Frontdesk.q`); they are run first, in order.
 */
export function createCommandApi(handlers: Record<string, Handler>, pending: unknown[][] = []): QueuedStub {
  const api: QueuedStub = (...args: unknown[]) => {
    const [cmd, ...rest] = args;
    const handler = typeof cmd === 'string' ? handlers[cmd] : undefined;
    if (!handler) {
      console.warn('[Frontdesk] unknown command', cmd);
      return undefined;
    }
    return handler(...rest);
  };
  for (const call of pending) {
    if (Array.isArray(call) || isArguments(call)) api(...Array.from(call as ArrayLike<unknown>));
  }
  return api;
}

function isArguments(v: unknown): boolean {
  return Object.prototype.toString.call(v) === '[object Arguments]';
}
