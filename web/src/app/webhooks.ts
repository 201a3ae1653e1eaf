// Outgoing webhooks in the dashboard: event names and labels, the checkbox list, and how a
// delivery is summed up in the log. Pure, so it is tested without a browser.
import type { DeliveryStatus, WebhookDelivery, WebhookEventType } from './types';

/** Every event an endpoint can subscribe to, in the order the server documents them. */
export const EVENT_TYPES: readonly WebhookEventType[] = [
  'conversation.created',
  'conversation.escalated',
  'conversation.resolved',
  'conversation.closed',
  'conversation.reopened',
  'message.created',
  'rating.created',
  'visitor.identified',
];

const LABELS: Record<WebhookEventType, string> = {
  'conversation.created': 'Conversation started',
  'conversation.escalated': 'Handed to a person',
  'conversation.resolved': 'Resolved',
  'conversation.closed': 'Closed',
  'conversation.reopened': 'Reopened',
  'message.created': 'New message',
  'rating.created': 'Rated',
  'visitor.identified': 'Visitor identified',
};

export function eventLabel(t: string): string {
  return (LABELS as Record<string, string>)[t] ?? t;
}

/** The list with `t` added or removed, kept in the documented order. */
export function toggleEvent(list: readonly WebhookEventType[], t: WebhookEventType, on: boolean): WebhookEventType[] {
  const set = new Set(list);
  if (on) set.add(t);
  else set.delete(t);
  return EVENT_TYPES.filter((e) => set.has(e));
}

/** What is wrong with a URL before the server is asked (it checks again, and more). */
export function urlProblem(url: string): string | null {
  const text = url.trim();
  if (!text) return 'Enter the URL that receives the events.';
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return 'Enter a full URL, such as https://example.com/hooks/frontdesk.';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'Use an https:// (or http://) URL.';
  return null;
}

const STATUS_LABELS: Record<DeliveryStatus, string> = { pending: 'Retrying', succeeded: 'Delivered', failed: 'Failed' };

/** The status word of a delivery: a pending one that has not been tried yet is "Queued". */
export function deliveryStatusLabel(d: Pick<WebhookDelivery, 'status' | 'attempts'>): string {
  if (d.status === 'pending' && d.attempts === 0) return 'Queued';
  return STATUS_LABELS[d.status];
}

/** The receiver's answer to the last attempt: its status code, else the error, else a dash. */
export function responseSummary(d: Pick<WebhookDelivery, 'last_status_code' | 'last_error'>): string {
  if (d.last_status_code != null) return String(d.last_status_code);
  return d.last_error ?? '—';
}

/** Whether the log should keep refreshing itself: something is still on its way. */
export function hasPending(list: readonly Pick<WebhookDelivery, 'status'>[]): boolean {
  return list.some((d) => d.status === 'pending');
}
