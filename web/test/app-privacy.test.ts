import { describe, expect, it } from 'vitest';
import {
  canManagePrivacy,
  describeCounts,
  describeExport,
  describeRetention,
  ERASED_ITEMS,
  eraseConfirmation,
  erasureSummary,
  exportFileName,
  KEPT_NOTE,
  parseRetention,
  retentionText,
  UNDO_NOTE,
} from '../src/app/privacy';
import { canOpen, formatRoute, parseRoute } from '../src/app/router';
import type { ErasureCounts, VisitorExport } from '../src/app/types';

const zero: ErasureCounts = { conversations: 0, messages: 0, ratings: 0, visitor_events: 0, notes: 0, unanswered_questions: 0, scenario_runs: 0, webhook_deliveries: 0 };

describe('who may export and erase', () => {
  it('is owners and admins (manage_privacy), not members', () => {
    expect(canManagePrivacy('owner')).toBe(true);
    expect(canManagePrivacy('admin')).toBe(true);
    expect(canManagePrivacy('member')).toBe(false);
  });

  it('has a #/privacy page that members cannot open', () => {
    expect(parseRoute('#/privacy')).toEqual({ name: 'privacy' });
    expect(formatRoute({ name: 'privacy' })).toBe('#/privacy');
    expect(canOpen({ name: 'privacy' }, 'owner')).toBe(true);
    expect(canOpen({ name: 'privacy' }, 'admin')).toBe(true);
    expect(canOpen({ name: 'privacy' }, 'member')).toBe(false);
  });
});

describe('the retention field', () => {
  it('empty keeps everything (null)', () => {
    expect(parseRetention('')).toEqual({ ok: true, days: null });
    expect(parseRetention('   ')).toEqual({ ok: true, days: null });
  });

  it('accepts whole days from 1 to 3650', () => {
    expect(parseRetention('1')).toEqual({ ok: true, days: 1 });
    expect(parseRetention(' 30 ')).toEqual({ ok: true, days: 30 });
    expect(parseRetention('3650')).toEqual({ ok: true, days: 3650 });
    expect(parseRetention('090')).toEqual({ ok: true, days: 90 });
  });

  it('refuses what the server would refuse, with a message', () => {
    for (const bad of ['0', '3651', '-5', '1.5', '1e3', 'abc', '30 days', '99999999999999999999']) {
      const r = parseRetention(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/days/);
    }
  });

  it('round-trips stored values and explains them', () => {
    expect(retentionText(null)).toBe('');
    expect(retentionText(undefined)).toBe('');
    expect(retentionText(30)).toBe('30');
    expect(describeRetention(null)).toMatch(/kept/);
    expect(describeRetention(30)).toMatch(/30 days/);
    expect(describeRetention(1)).toMatch(/1 day /);
  });
});

describe('the erasure confirmation', () => {
  it('names everything that is deleted, what is kept, and that it cannot be undone', () => {
    const all = ERASED_ITEMS.join(' | ');
    for (const word of ['message', 'rating', 'page views', 'notes', 'unanswered questions', 'scenario runs', 'identity']) {
      expect(all).toContain(word);
    }
    expect(KEPT_NOTE).toMatch(/anonymous/);
    expect(KEPT_NOTE).toMatch(/analytics/);
    expect(UNDO_NOTE).toMatch(/cannot be undone/);
  });

  it('says whom: one visitor, or everyone with an email', () => {
    const one = eraseConfirmation({ visitor_id: 'v_123' });
    expect(one.title).toBe('Erase this visitor?');
    expect(one.lead).toContain('v_123');
    expect(one.confirm).toBe('Erase visitor');
    const many = eraseConfirmation({ email: ' ada@example.com ' });
    expect(many.title).toMatch(/all visitors with this email/);
    expect(many.lead).toContain('ada@example.com');
    expect(many.confirm).toBe('Erase all visitors with this email');
  });
});

describe('results', () => {
  it('counts what was erased, zeros included', () => {
    const counts = { ...zero, conversations: 2, messages: 5, ratings: 1, visitor_events: 3 };
    expect(describeCounts(counts)).toEqual([
      '5 messages',
      '1 rating',
      '3 page views and conversions',
      '0 notes',
      '0 unanswered questions',
      '0 scenario runs',
      '0 webhook deliveries',
    ]);
    expect(erasureSummary(['v1'], counts)).toBe('Erased 1 visitor. 2 conversations kept without their content.');
    expect(erasureSummary(['v1', 'v2'], { ...zero, conversations: 1 })).toBe('Erased 2 visitors. 1 conversation kept without their content.');
    expect(erasureSummary([], zero)).toMatch(/nothing was erased/);
  });

  it('names the downloaded file after whom it is about, with safe characters only', () => {
    expect(exportFileName({ visitor_id: '0193a-bc' })).toBe('visitor-0193a-bc.json');
    expect(exportFileName({ email: ' Ada@Example.com ' })).toBe('visitors-ada@example.com.json');
    expect(exportFileName({ email: 'a/b\\c"d@x.y' })).toBe('visitors-a_b_c_d@x.y.json');
  });

  it('summarizes an export', () => {
    const doc: VisitorExport = { format: 'frontdesk.visitor-export.v1', exported_at: '', org_id: 'o', visitors: [] };
    expect(describeExport(doc)).toMatch(/Nothing found/);
    const conv = { conversation: {}, messages: [{}, {}], rating: null, notes: [], unanswered_questions: [], scenario_run: null };
    doc.visitors.push({
      visitor: { id: 'v', site_id: 's', name: null, email: null, locale: null, created_at: '', last_seen_at: '' },
      site_name: 'Shop',
      events: [],
      conversations: [conv, { ...conv, messages: [{}] }],
    });
    expect(describeExport(doc)).toBe('1 visitor, 2 conversations, 3 messages.');
  });
});
