import { describe, expect, it } from 'vitest';
import { moveSelection, shortcutFor } from '../src/app/shortcuts';

const key = (k: string, extra: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean; inField: boolean }> = {}) =>
  shortcutFor({ key: k, inField: false, ...extra });

describe('inbox shortcuts', () => {
  it('maps the single keys outside text fields', () => {
    expect(key('j')).toBe('next');
    expect(key('k')).toBe('previous');
    expect(key('Enter')).toBe('open');
    expect(key('o')).toBe('open');
    expect(key('r')).toBe('reply');
    expect(key('n')).toBe('note');
    expect(key('e')).toBe('resolve');
    expect(key('a')).toBe('take_over');
    expect(key('/')).toBe('search');
    expect(key('?')).toBe('help');
    expect(key('x')).toBeNull();
  });

  it('leaves typing alone: letters in a field are text, Esc leaves the field', () => {
    for (const k of ['j', 'k', 'r', 'e', 'a', '/', '?', 'Enter']) expect(key(k, { inField: true })).toBeNull();
    expect(key('Escape', { inField: true })).toBe('leave');
    expect(key('Escape')).toBeNull();
  });

  it('sends with Ctrl+Enter or Cmd+Enter, in a field or not', () => {
    expect(key('Enter', { ctrlKey: true, inField: true })).toBe('send');
    expect(key('Enter', { metaKey: true, inField: true })).toBe('send');
    expect(key('Enter', { ctrlKey: true, altKey: true, inField: true })).toBeNull();
  });

  it('never steals browser shortcuts', () => {
    expect(key('r', { ctrlKey: true })).toBeNull();
    expect(key('k', { metaKey: true })).toBeNull();
    expect(key('a', { altKey: true })).toBeNull();
  });

  it('moves the selection within the list', () => {
    expect(moveSelection(-1, 1, 3)).toBe(0);
    expect(moveSelection(-1, -1, 3)).toBe(2);
    expect(moveSelection(0, 1, 3)).toBe(1);
    expect(moveSelection(2, 1, 3)).toBe(2);
    expect(moveSelection(0, -1, 3)).toBe(0);
    expect(moveSelection(0, 1, 0)).toBe(-1);
  });
});
