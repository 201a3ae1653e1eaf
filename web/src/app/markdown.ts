// A small Markdown renderer for previews (replies, notes, articles). It builds Preact elements,
// never HTML strings, so nothing typed can become markup; links keep only http(s)/mailto targets.
import { h, type ComponentChildren, type VNode } from 'preact';

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'code'; v: string }
  | { t: 'strong' | 'em' | 'del'; c: Inline[] }
  | { t: 'link'; href: string | null; c: Inline[] };

export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'ul' | 'ol'; items: Inline[][] }
  | { t: 'pre'; v: string }
  | { t: 'quote'; c: Inline[] }
  | { t: 'hr' };

export function safeHref(url: string): string | null {
  const u = url.trim();
  return /^(https?:\/\/|mailto:)/i.test(u) ? u : null;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(~~[^~]+~~)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))|(https?:\/\/[^\s<>)]+)/;

export function parseInline(src: string): Inline[] {
  const out: Inline[] = [];
  let rest = src;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push({ t: 'text', v: rest });
      break;
    }
    if (m.index > 0) out.push({ t: 'text', v: rest.slice(0, m.index) });
    const s = m[0];
    if (m[1]) out.push({ t: 'code', v: s.slice(1, -1) });
    else if (m[2]) out.push({ t: 'strong', c: parseInline(s.slice(2, -2)) });
    else if (m[3]) out.push({ t: 'del', c: parseInline(s.slice(2, -2)) });
    else if (m[4]) out.push({ t: 'em', c: parseInline(s.slice(1, -1)) });
    else if (m[5]) {
      const close = s.indexOf('](');
      out.push({ t: 'link', href: safeHref(s.slice(close + 2, -1)), c: parseInline(s.slice(1, close)) });
    } else out.push({ t: 'link', href: safeHref(s), c: [{ t: 'text', v: s }] });
    rest = rest.slice(m.index + s.length);
  }
  return out;
}

export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ t: 'p', c: parseInline(para.join(' ')) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```/.test(line)) {
      flush();
      const body: string[] = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i]);
      blocks.push({ t: 'pre', v: body.join('\n') });
      continue;
    }
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ t: 'h', level: heading[1].length, c: parseInline(heading[2]) });
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      blocks.push({ t: 'hr' });
      continue;
    }
    const list = /^\s*([-*+]|\d+[.)])\s+/.exec(line);
    if (list) {
      flush();
      const ordered = /\d/.test(list[1]);
      const items: Inline[][] = [];
      for (; i < lines.length; i++) {
        const m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        items.push(parseInline(m[2]));
      }
      i--;
      blocks.push({ t: ordered ? 'ol' : 'ul', items });
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const body: string[] = [];
      for (; i < lines.length && /^>\s?/.test(lines[i]); i++) body.push(lines[i].replace(/^>\s?/, ''));
      i--;
      blocks.push({ t: 'quote', c: parseInline(body.join(' ')) });
      continue;
    }
    if (!line.trim()) flush();
    else para.push(line.trim());
  }
  flush();
  return blocks;
}

function renderInline(nodes: Inline[]): ComponentChildren[] {
  return nodes.map((n) => {
    switch (n.t) {
      case 'text':
        return n.v;
      case 'code':
        return h('code', null, n.v);
      case 'link':
        return n.href ? h('a', { href: n.href, target: '_blank', rel: 'noopener noreferrer' }, renderInline(n.c)) : renderInline(n.c);
      default:
        return h(n.t, null, renderInline(n.c));
    }
  });
}

export function renderMarkdown(src: string): VNode[] {
  return parseMarkdown(src).map((b) => {
    switch (b.t) {
      case 'p':
        return h('p', null, renderInline(b.c));
      case 'h':
        return h(`h${Math.min(6, b.level + 2)}`, null, renderInline(b.c));
      case 'ul':
      case 'ol':
        return h(b.t, null, b.items.map((it) => h('li', null, renderInline(it))));
      case 'pre':
        return h('pre', null, h('code', null, b.v));
      case 'quote':
        return h('blockquote', null, renderInline(b.c));
      case 'hr':
        return h('hr', null);
    }
  });
}
