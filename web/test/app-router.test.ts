import { describe, expect, it } from 'vitest';
import { canOpen, formatRoute, parseRoute, type Route, section } from '../src/app/router';

describe('hash routes', () => {
  it('parses every page', () => {
    expect(parseRoute('')).toEqual({ name: 'inbox' });
    expect(parseRoute('#/')).toEqual({ name: 'inbox' });
    expect(parseRoute('#/inbox')).toEqual({ name: 'inbox' });
    expect(parseRoute('#/conversations/abc-1')).toEqual({ name: 'conversation', id: 'abc-1' });
    expect(parseRoute('#/escalations')).toEqual({ name: 'escalations' });
    expect(parseRoute('#/team')).toEqual({ name: 'team' });
    expect(parseRoute('#/sites/s1')).toEqual({ name: 'site', id: 's1' });
    expect(parseRoute('#/kb')).toEqual({ name: 'kb' });
    expect(parseRoute('#/kb/a1')).toEqual({ name: 'article', id: 'a1', params: {} });
    expect(parseRoute('#/unanswered')).toEqual({ name: 'unanswered' });
    expect(parseRoute('#/analytics')).toEqual({ name: 'analytics' });
    expect(parseRoute('#/audit')).toEqual({ name: 'audit' });
    expect(parseRoute('#/invite/tok_123')).toEqual({ name: 'invite', token: 'tok_123' });
    expect(parseRoute('#/reset/r_1')).toEqual({ name: 'reset', token: 'r_1' });
    expect(parseRoute('#/account')).toEqual({ name: 'account' });
    expect(parseRoute('#/bots')).toEqual({ name: 'bots' });
    expect(parseRoute('#/bots/sc_1')).toEqual({ name: 'bot', id: 'sc_1' });
    expect(parseRoute('#/webhooks')).toEqual({ name: 'webhooks' });
  });

  it('carries query parameters to a new article and decodes ids', () => {
    expect(parseRoute('#/kb/new?title=Do%20you%20ship%3F&site=s1')).toEqual({
      name: 'article',
      id: 'new',
      params: { title: 'Do you ship?', site: 's1' },
    });
    expect(parseRoute('#/conversations/a%2Fb')).toEqual({ name: 'conversation', id: 'a/b' });
  });

  it('answers not found for anything else, including malformed escapes', () => {
    expect(parseRoute('#/nope').name).toBe('not_found');
    expect(parseRoute('#/inbox/extra').name).toBe('not_found');
    expect(parseRoute('#/conversations/a/b').name).toBe('not_found');
    expect(parseRoute('#/conversations/%E0%A4%A')).toEqual({ name: 'conversation', id: '%E0%A4%A' });
  });

  it('formats routes back to the same hash', () => {
    const routes: Route[] = [
      { name: 'inbox' },
      { name: 'conversation', id: 'c 1' },
      { name: 'site', id: 's1' },
      { name: 'article', id: 'new', params: { title: 'Where is my order?' } },
      { name: 'invite', token: 't' },
      { name: 'reset', token: 'a b' },
      { name: 'account' },
      { name: 'audit' },
      { name: 'bots' },
      { name: 'bot', id: 'sc 1' },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
  });

  it('lets members open conversations only; admins and owners everything', () => {
    const settings: Route[] = [{ name: 'team' }, { name: 'site', id: 'x' }, { name: 'sites' }, { name: 'kb' }, { name: 'analytics' }, { name: 'audit' }, { name: 'unanswered' }, { name: 'bots' }, { name: 'bot', id: 'x' }];
    for (const r of settings) {
      expect(canOpen(r, 'member')).toBe(false);
      expect(canOpen(r, 'admin')).toBe(true);
      expect(canOpen(r, 'owner')).toBe(true);
    }
    expect(canOpen({ name: 'inbox' }, 'member')).toBe(true);
    expect(canOpen({ name: 'conversation', id: 'x' }, 'member')).toBe(true);
    expect(canOpen({ name: 'escalations' }, 'member')).toBe(true);
    expect(canOpen({ name: 'account' }, 'member')).toBe(true);
  });

  it('maps detail pages to their navigation entry', () => {
    expect(section({ name: 'conversation', id: 'x' })).toBe('inbox');
    expect(section({ name: 'site', id: 'x' })).toBe('sites');
    expect(section({ name: 'article', id: 'x', params: {} })).toBe('kb');
    expect(section({ name: 'escalations' })).toBe('escalations');
    expect(section({ name: 'bot', id: 'x' })).toBe('bots');
    expect(section({ name: 'bots' })).toBe('bots');
  });
});
