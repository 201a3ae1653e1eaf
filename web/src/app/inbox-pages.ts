// The inbox list beyond its first page: the server pages by cursor (`next_cursor`); the list keeps
// as many conversations as the agent has asked to see, also when a live change reloads it.

/** One answer of `GET …/conversations`. */
export interface Page<T> {
  conversations: T[];
  next_cursor?: string;
}

/** What the list shows, and where the next page starts (`null`: nothing more). */
export interface Pages<T> {
  items: T[];
  cursor: string | null;
}

/** `older` after `shown`, without any conversation twice: one that changed while the agent was
 * paging has moved up into an earlier page and stays there. */
export function appendPage<T extends { id: string }>(shown: T[], older: T[]): T[] {
  const seen = new Set(shown.map((c) => c.id));
  return shown.concat(older.filter((c) => !seen.has(c.id)));
}

/** Guards against a server that keeps answering with a cursor. */
const MAX_PAGES = 50;

/** The first pages of the list: cursors are followed until at least `wanted` conversations are
 * there, or the list ends. */
export async function loadPages<T extends { id: string }>(fetchPage: (cursor?: string) => Promise<Page<T>>, wanted: number): Promise<Pages<T>> {
  let items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await fetchPage(cursor);
    items = appendPage(items, page.conversations);
    cursor = page.next_cursor;
    if (!cursor || items.length >= wanted) break;
  }
  return { items, cursor: cursor ?? null };
}

/** The next page after `pages`, appended. */
export async function loadMore<T extends { id: string }>(fetchPage: (cursor?: string) => Promise<Page<T>>, pages: Pages<T>): Promise<Pages<T>> {
  if (pages.cursor === null) return pages;
  const page = await fetchPage(pages.cursor);
  return { items: appendPage(pages.items, page.conversations), cursor: page.next_cursor ?? null };
}
