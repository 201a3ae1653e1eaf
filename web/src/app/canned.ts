// Canned responses in the reply box: typing `/` and a few letters lists the matching ones.
import type { CannedResponse } from './types';

export interface SlashQuery {
  /** What follows the slash (may be empty). */
  query: string;
  /** Index of the slash in the text. */
  start: number;
}

/** The `/word` being typed at `caret`, when the slash starts the text or follows whitespace. */
export function slashQuery(text: string, caret: number): SlashQuery | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([\w.-]*)$/.exec(before);
  if (!m) return null;
  return { query: m[2], start: before.length - m[2].length - 1 };
}

/** Canned responses matching `query`: shortcut prefix first, then shortcut or title containing it. */
export function matchCanned(list: CannedResponse[], query: string, limit = 8): CannedResponse[] {
  const q = query.toLowerCase();
  const score = (c: CannedResponse): number => {
    const s = c.shortcut.toLowerCase().replace(/^\//, '');
    if (s === q) return 0;
    if (s.startsWith(q)) return 1;
    if (s.includes(q)) return 2;
    if (c.title.toLowerCase().includes(q)) return 3;
    return -1;
  };
  return list
    .map((c) => ({ c, s: score(c) }))
    .filter((x) => x.s >= 0)
    .sort((a, b) => a.s - b.s || a.c.shortcut.localeCompare(b.c.shortcut))
    .slice(0, limit)
    .map((x) => x.c);
}

/** The text with the `/query` at `start..caret` replaced by the response; and where the caret goes. */
export function applyCanned(text: string, at: SlashQuery, caret: number, body: string): { text: string; caret: number } {
  const next = text.slice(0, at.start) + body + text.slice(caret);
  return { text: next, caret: at.start + body.length };
}

/** The API body of a canned response from the editor's fields: the shortcut without its slash, a trimmed title. */
export function cannedInput(shortcut: string, title: string, body: string): { shortcut: string; title: string; body: string } {
  return { shortcut: shortcut.trim().replace(/^\//, ''), title: title.trim(), body };
}
