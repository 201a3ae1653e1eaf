import { describe, expect, it } from 'vitest';
import { deliveryStatusLabel, EVENT_TYPES, eventLabel, hasPending, responseSummary, toggleEvent, urlProblem } from '../src/app/webhooks';

describe('webhook endpoints', () => {
  it('toggles events and keeps the documented order', () => {
    expect(toggleEvent(['message.created'], 'conversation.created', true)).toEqual(['conversation.created', 'message.created']);
    expect(toggleEvent(['conversation.created', 'message.created'], 'conversation.created', false)).toEqual(['message.created']);
    expect(toggleEvent(['rating.created'], 'rating.created', true)).toEqual(['rating.created']);
    expect(toggleEvent([], 'visitor.identified', false)).toEqual([]);
  });

  it('labels every event type and passes unknown names through', () => {
    expect(EVENT_TYPES).toHaveLength(8);
    for (const t of EVENT_TYPES) expect(eventLabel(t)).not.toBe(t);
    expect(eventLabel('webhook.test')).toBe('webhook.test');
  });

  it('checks URLs before asking the server', () => {
    expect(urlProblem('')).toMatch(/Enter the URL/);
    expect(urlProblem('example.com/hooks')).toMatch(/full URL/);
    expect(urlProblem('ftp://example.com/x')).toMatch(/https/);
    expect(urlProblem(' https://example.com/hooks ')).toBeNull();
    expect(urlProblem('http://127.0.0.1:8080/x')).toBeNull();
  });
});

describe('the delivery log', () => {
  it('names statuses', () => {
    expect(deliveryStatusLabel({ status: 'pending', attempts: 0 })).toBe('Queued');
    expect(deliveryStatusLabel({ status: 'pending', attempts: 2 })).toBe('Retrying');
    expect(deliveryStatusLabel({ status: 'succeeded', attempts: 1 })).toBe('Delivered');
    expect(deliveryStatusLabel({ status: 'failed', attempts: 9 })).toBe('Failed');
  });

  it('sums up the response and whether to keep refreshing', () => {
    expect(responseSummary({ last_status_code: 500, last_error: 'the receiver answered 500' })).toBe('500');
    expect(responseSummary({ last_status_code: null, last_error: 'timed out after 10 s' })).toBe('timed out after 10 s');
    expect(responseSummary({ last_status_code: null, last_error: null })).toBe('—');
    expect(hasPending([{ status: 'succeeded' }, { status: 'pending' }])).toBe(true);
    expect(hasPending([{ status: 'failed' }])).toBe(false);
  });
});
