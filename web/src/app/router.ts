// Hash routing: `#/inbox`, `#/webhooks`, `#/privacy`, `#/conversations/<id>`, `#/sites/<id>`, `#/kb/new?title=…`, `#/bots/<id>` and so on.
// Pure functions (parse, format, who may open what) and a small hook.
import { useEffect, useState } from 'preact/hooks';
import type { Role } from './types';

export type Route =
  | { name: 'inbox' }
  | { name: 'conversation'; id: string }
  | { name: 'escalations' }
  | { name: 'team' }
  | { name: 'sites' }
  | { name: 'site'; id: string }
  | { name: 'kb' }
  | { name: 'article'; id: string; params: Record<string, string> }
  | { name: 'unanswered' }
  | { name: 'analytics' }
  | { name: 'audit' }
  | { name: 'bots' }
  | { name: 'bot'; id: string }
  | { name: 'webhooks' }
  | { name: 'privacy' }
  | { name: 'invite'; token: string }
  | { name: 'reset'; token: string }
  | { name: 'account' }
  | { name: 'not_found'; path: string };

const SIMPLE = ['inbox', 'escalations', 'team', 'sites', 'kb', 'unanswered', 'analytics', 'audit', 'account', 'bots', 'webhooks', 'privacy'] as const;

/** The route of a location hash (`#/conversations/abc`); an empty hash is the inbox. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart, queryPart = ''] = raw.split('?', 2);
  const parts = pathPart.split('/').filter(Boolean).map(safeDecode);
  const params = Object.fromEntries(new URLSearchParams(queryPart));
  if (parts.length === 0) return { name: 'inbox' };
  const [head, id, ...rest] = parts;
  if (rest.length === 0) {
    if (id === undefined && (SIMPLE as readonly string[]).includes(head)) return { name: head as (typeof SIMPLE)[number] };
    if (id !== undefined) {
      if (head === 'conversations') return { name: 'conversation', id };
      if (head === 'sites') return { name: 'site', id };
      if (head === 'kb') return { name: 'article', id, params };
      if (head === 'bots') return { name: 'bot', id };
      if (head === 'invite') return { name: 'invite', token: id };
      if (head === 'reset') return { name: 'reset', token: id };
    }
  }
  return { name: 'not_found', path: pathPart };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The hash of a route: the inverse of [`parseRoute`]. */
export function formatRoute(r: Route): string {
  const e = encodeURIComponent;
  switch (r.name) {
    case 'conversation':
      return `#/conversations/${e(r.id)}`;
    case 'site':
      return `#/sites/${e(r.id)}`;
    case 'bot':
      return `#/bots/${e(r.id)}`;
    case 'article': {
      const q = new URLSearchParams(r.params).toString();
      return `#/kb/${e(r.id)}${q ? `?${q}` : ''}`;
    }
    case 'invite':
    case 'reset':
      return `#/${r.name}/${e(r.token)}`;
    case 'not_found':
      return `#${r.path}`;
    default:
      return `#/${r.name}`;
  }
}

/** Pages a member may open: conversations. Owners and admins open everything. */
const MEMBER_PAGES: Route['name'][] = ['inbox', 'conversation', 'escalations', 'invite', 'reset', 'account', 'not_found'];

export function canOpen(route: Route, role: Role): boolean {
  return role === 'owner' || role === 'admin' || MEMBER_PAGES.includes(route.name);
}

/** Which navigation entry a route belongs to (for `aria-current`). */
export function section(route: Route): string {
  switch (route.name) {
    case 'conversation':
      return 'inbox';
    case 'site':
      return 'sites';
    case 'article':
      return 'kb';
    case 'bot':
      return 'bots';
    default:
      return route.name;
  }
}

export function navigate(r: Route | string): void {
  const hash = typeof r === 'string' ? r : formatRoute(r);
  if (location.hash !== hash) location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
