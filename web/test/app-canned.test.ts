import { describe, expect, it } from 'vitest';
import { applyCanned, matchCanned, slashQuery } from '../src/app/canned';
import type { CannedResponse } from '../src/app/types';

const c = (shortcut: string, title: string, body = `${title}.`): CannedResponse => ({ id: shortcut, shortcut, title, body });
const LIST = [c('refund', 'Refund policy'), c('ship', 'Shipping times'), c('hello', 'Greeting'), c('thanks', 'Thank you'), c('reship', 'Send again')];

describe('canned responses', () => {
  it('finds the /word being typed', () => {
    expect(slashQuery('/', 1)).toEqual({ query: '', start: 0 });
    expect(slashQuery('/ref', 4)).toEqual({ query: 'ref', start: 0 });
    expect(slashQuery('Hi! /sh', 7)).toEqual({ query: 'sh', start: 4 });
    expect(slashQuery('line\n/th', 8)).toEqual({ query: 'th', start: 5 });
    // Not after a word (URLs, fractions), not past a space.
    expect(slashQuery('see https://x.io/ab', 19)).toBeNull();
    expect(slashQuery('1/2', 3)).toBeNull();
    expect(slashQuery('/ref more', 9)).toBeNull();
  });

  it('ranks exact and prefix shortcut matches first, then contains, then titles', () => {
    expect(matchCanned(LIST, 'ship').map((x) => x.shortcut)).toEqual(['ship', 'reship']);
    expect(matchCanned(LIST, 're').map((x) => x.shortcut)).toEqual(['refund', 'reship', 'hello']); // "Greeting" by title
    expect(matchCanned(LIST, 'greet').map((x) => x.shortcut)).toEqual(['hello']);
    expect(matchCanned(LIST, 'REF').map((x) => x.shortcut)).toEqual(['refund']);
    expect(matchCanned(LIST, '').length).toBe(5);
    expect(matchCanned(LIST, '', 2).length).toBe(2);
    expect(matchCanned(LIST, 'zzz')).toEqual([]);
  });

  it('accepts shortcuts stored with their slash', () => {
    expect(matchCanned([c('/refund', 'Refund policy')], 'ref').length).toBe(1);
  });

  it('replaces the /word with the response and puts the caret after it', () => {
    const text = 'Hi! /sh and more';
    const at = slashQuery(text, 7)!;
    expect(applyCanned(text, at, 7, 'We ship in 2 days.')).toEqual({ text: 'Hi! We ship in 2 days. and more', caret: 22 });
  });
});
