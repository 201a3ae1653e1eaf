import { describe, expect, it } from 'vitest';
import { appendPage, loadMore, loadPages, type Page } from '../src/app/inbox-pages';

type Item = { id: string };
const items = (...ids: string[]): Item[] => ids.map((id) => ({ id }));

/** A list of `ids` served `size` at a time, the cursor being the index of the next item. */
function server(ids: string[], size: number) {
  const asked: (string | undefined)[] = [];
  const fetchPage = async (cursor?: string): Promise<Page<Item>> => {
    asked.push(cursor);
    const from = cursor ? Number(cursor) : 0;
    const page = items(...ids.slice(from, from + size));
    const next = from + size;
    return next < ids.length || page.length === size ? { conversations: page, next_cursor: String(next) } : { conversations: page };
  };
  return { fetchPage, asked };
}

describe('inbox pages', () => {
  it('appends older conversations without repeating one that moved up', () => {
    expect(appendPage(items('a', 'b'), items('b', 'c'))).toEqual(items('a', 'b', 'c'));
    expect(appendPage([], items('x'))).toEqual(items('x'));
  });

  it('loads the first page, then one more at a time, and knows when the list ends', async () => {
    const s = server(['a', 'b', 'c', 'd', 'e'], 2);
    let pages = await loadPages(s.fetchPage, 2);
    expect(pages).toEqual({ items: items('a', 'b'), cursor: '2' });
    pages = await loadMore(s.fetchPage, pages);
    expect(pages).toEqual({ items: items('a', 'b', 'c', 'd'), cursor: '4' });
    pages = await loadMore(s.fetchPage, pages);
    expect(pages).toEqual({ items: items('a', 'b', 'c', 'd', 'e'), cursor: null });
    const before = s.asked.length;
    expect(await loadMore(s.fetchPage, pages)).toBe(pages);
    expect(s.asked.length).toBe(before);
  });

  it('a reload keeps as many conversations as were shown', async () => {
    const s = server(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 3);
    const pages = await loadPages(s.fetchPage, 5);
    expect(pages).toEqual({ items: items('a', 'b', 'c', 'd', 'e', 'f'), cursor: '6' });
    expect(s.asked).toEqual([undefined, '3']);
  });

  it('a full last page is followed by an empty one, and the list ends', async () => {
    const s = server(['a', 'b'], 2);
    expect(await loadPages(s.fetchPage, 10)).toEqual({ items: items('a', 'b'), cursor: null });
  });
});
