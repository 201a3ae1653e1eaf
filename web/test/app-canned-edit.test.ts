import { afterEach, describe, expect, it, vi } from 'vitest';
import { orgApi } from '../src/app/api';
import { cannedInput } from '../src/app/canned';

describe('editing canned responses', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('normalizes the editor fields', () => {
    expect(cannedInput('  /refund ', '  Refunds ', 'Body\n')).toEqual({ shortcut: 'refund', title: 'Refunds', body: 'Body\n' });
    expect(cannedInput('hi', 'Hi', 'x')).toEqual({ shortcut: 'hi', title: 'Hi', body: 'x' });
  });

  it('replaces one with PUT on its URL', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ id: 'cr 1', shortcut: 'refund', title: 'Refunds', body: 'New text' }), {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    });
    const saved = await orgApi('org_1').updateCanned('cr 1', { shortcut: 'refund', title: 'Refunds', body: 'New text' });
    expect(saved.body).toBe('New text');
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('/api/app/orgs/org_1/canned-responses/cr%201');
    expect(calls[0].init.method).toBe('PUT');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ shortcut: 'refund', title: 'Refunds', body: 'New text' });
    expect((calls[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('reports the API error of a shortcut in use', async () => {
    vi.stubGlobal('fetch', async () =>
      new Response(JSON.stringify({ error: { code: 'invalid_field', message: 'That shortcut is in use', field: 'shortcut' } }), { status: 422 }),
    );
    await expect(orgApi('o').updateCanned('c', { shortcut: 'x', title: 'X', body: 'y' })).rejects.toMatchObject({
      status: 422,
      field: 'shortcut',
      message: 'That shortcut is in use',
    });
  });
});
