import { describe, expect, it } from 'vitest';
import { parseInline, parseMarkdown, safeHref } from '../src/app/markdown';

describe('the preview Markdown renderer', () => {
  it('parses blocks', () => {
    const blocks = parseMarkdown('# Title\n\nSome **bold** text\ncontinues.\n\n- one\n- two\n\n1. first\n\n```\ncode <b>\n```\n> quoted');
    expect(blocks.map((b) => b.t)).toEqual(['h', 'p', 'ul', 'ol', 'pre', 'quote']);
    expect(blocks[2]).toMatchObject({ t: 'ul', items: [[{ t: 'text', v: 'one' }], [{ t: 'text', v: 'two' }]] });
    expect(blocks[4]).toEqual({ t: 'pre', v: 'code <b>' });
  });

  it('parses inline marks and links', () => {
    expect(parseInline('a **b** *c* `d` ~~e~~')).toEqual([
      { t: 'text', v: 'a ' },
      { t: 'strong', c: [{ t: 'text', v: 'b' }] },
      { t: 'text', v: ' ' },
      { t: 'em', c: [{ t: 'text', v: 'c' }] },
      { t: 'text', v: ' ' },
      { t: 'code', v: 'd' },
      { t: 'text', v: ' ' },
      { t: 'del', c: [{ t: 'text', v: 'e' }] },
    ]);
    expect(parseInline('[site](https://example.com)')).toEqual([{ t: 'link', href: 'https://example.com', c: [{ t: 'text', v: 'site' }] }]);
  });

  it('drops unsafe link targets (the text stays as text)', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('mailto:a@b.c')).toBe('mailto:a@b.c');
    expect(parseInline('[x](javascript:alert(1))')[0]).toMatchObject({ t: 'link', href: null });
  });

  it('keeps markup as text: nothing becomes HTML', () => {
    expect(parseMarkdown('<img src=x onerror=alert(1)>')).toEqual([{ t: 'p', c: [{ t: 'text', v: '<img src=x onerror=alert(1)>' }] }]);
  });
});
