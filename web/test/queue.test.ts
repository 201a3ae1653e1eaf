import { describe, expect, it, vi } from 'vitest';
import { createCommandApi, Emitter } from '../src/widget/queue';

describe('command queue', () => {
  it('replays calls made before load, in order, including arguments objects', () => {
    const calls: unknown[] = [];
    function stubArgs(..._a: unknown[]) {
      // eslint-disable-next-line prefer-rest-params
      return arguments;
    }
    const api = createCommandApi(
      { open: () => calls.push('open'), setParams: (p) => calls.push(p) },
      [['setParams', { plan: 'pro' }], stubArgs('open') as unknown as unknown[]],
    );
    expect(calls).toEqual([{ plan: 'pro' }, 'open']);
    api('open');
    expect(calls).toEqual([{ plan: 'pro' }, 'open', 'open']);
  });

  it('ignores unknown commands with a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const api = createCommandApi({});
    expect(api('explode')).toBeUndefined();
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });

  it('on returns an unsubscribe function; off removes; a failing listener does not stop others', () => {
    const e = new Emitter();
    const seen: unknown[] = [];
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    e.on('message', () => {
      throw new Error('boom');
    });
    const off = e.on('message', (m) => seen.push(m));
    e.emit('message', 1);
    off();
    e.emit('message', 2);
    expect(seen).toEqual([1]);
    const fn = (m: unknown) => seen.push(m);
    e.on('unread', fn);
    e.off('unread', fn);
    e.emit('unread', 3);
    expect(seen).toEqual([1]);
    err.mockRestore();
  });
});
