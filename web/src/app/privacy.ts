// Privacy (GDPR export and erasure, retention per site; docs/privacy.md): who may, what the
// confirmation says, how the retention field is read, how counts are shown. Pure, except
// `saveJson`, which hands a document to the browser as a download.
import type { ErasureCounts, Role, VisitorExport } from './types';

/** The `manage_privacy` permission (crates/frontdesk-core/src/roles.rs): owners and admins. */
export function canManagePrivacy(role: Role): boolean {
  return role === 'owner' || role === 'admin';
}

export const RETENTION_MIN = 1;
export const RETENTION_MAX = 3650;

export type RetentionInput = { ok: true; days: number | null } | { ok: false; error: string };

/** The retention field's text: empty keeps everything (`null`), otherwise whole days 1–3650. */
export function parseRetention(text: string): RetentionInput {
  const t = text.trim();
  if (t === '') return { ok: true, days: null };
  if (!/^\d+$/.test(t)) return { ok: false, error: 'Enter a whole number of days, or leave it empty to keep everything.' };
  const days = Number(t);
  if (days < RETENTION_MIN || days > RETENTION_MAX) {
    return { ok: false, error: `Between ${RETENTION_MIN} and ${RETENTION_MAX} days, or empty to keep everything.` };
  }
  return { ok: true, days };
}

/** The retention field's text for a stored value. */
export function retentionText(days: number | null | undefined): string {
  return days == null ? '' : String(days);
}

/** One line about the stored retention period. */
export function describeRetention(days: number | null | undefined): string {
  if (days == null) return 'Conversations are kept until they are erased.';
  return `Conversations with no activity for ${days} ${days === 1 ? 'day' : 'days'} are deleted automatically, with their messages, ratings, notes and page views.`;
}

/** Whom an export or erasure is about. */
export type PrivacyTarget = { visitor_id: string } | { email: string };

/** What an erasure deletes, in the order the confirmation names it. */
export const ERASED_ITEMS = [
  'every message of their conversations (and its search entry)',
  'reactions, ratings and their feedback',
  'page views and conversions',
  "agents' private notes on their conversations",
  'unanswered questions they asked',
  'bot scenario runs and what they collected',
  'the outgoing webhook deliveries of their conversations',
  'their identity: name, email, user id, language',
] as const;

export const KEPT_NOTE =
  'The conversations themselves stay, anonymous (site, status, times, counts), so analytics do not change.';
export const UNDO_NOTE = 'This cannot be undone. Export the data first if the person asked for a copy.';

/** The erasure dialog's title and lead sentence for a target. */
export function eraseConfirmation(target: PrivacyTarget): { title: string; lead: string; confirm: string } {
  if ('email' in target) {
    return {
      title: 'Erase all visitors with this email?',
      lead: `Every visitor of your organization's sites who gave the email ${target.email.trim()} will be erased. Deleted:`,
      confirm: 'Erase all visitors with this email',
    };
  }
  return {
    title: 'Erase this visitor?',
    lead: `Visitor ${target.visitor_id} will be erased. Deleted:`,
    confirm: 'Erase visitor',
  };
}

const COUNT_LABELS: [keyof ErasureCounts, string, string][] = [
  ['messages', 'message', 'messages'],
  ['ratings', 'rating', 'ratings'],
  ['visitor_events', 'page view or conversion', 'page views and conversions'],
  ['notes', 'note', 'notes'],
  ['unanswered_questions', 'unanswered question', 'unanswered questions'],
  ['scenario_runs', 'scenario run', 'scenario runs'],
  ['webhook_deliveries', 'webhook delivery', 'webhook deliveries'],
];

/** "3 messages", "1 rating", … for what an erasure deleted (zeros included, so nothing is hidden). */
export function describeCounts(counts: ErasureCounts): string[] {
  return COUNT_LABELS.map(([k, one, many]) => `${counts[k] ?? 0} ${(counts[k] ?? 0) === 1 ? one : many}`);
}

/** The sentence after an erasure. */
export function erasureSummary(visitors: string[], counts: ErasureCounts): string {
  if (visitors.length === 0) return 'No visitor has this email: nothing was erased.';
  const who = visitors.length === 1 ? '1 visitor' : `${visitors.length} visitors`;
  const conv = counts.conversations === 1 ? '1 conversation' : `${counts.conversations} conversations`;
  return `Erased ${who}. ${conv} kept without their content.`;
}

/** A download's file name: `visitor-<id>.json`, or `visitors-<email>.json` (safe characters only). */
export function exportFileName(target: PrivacyTarget): string {
  const raw = 'visitor_id' in target ? `visitor-${target.visitor_id}` : `visitors-${target.email.trim().toLowerCase()}`;
  return `${raw.replace(/[^A-Za-z0-9._@-]+/g, '_')}.json`;
}

/** A short account of an export document: how many visitors, conversations and messages. */
export function describeExport(doc: VisitorExport): string {
  const v = doc.visitors.length;
  if (v === 0) return 'Nothing found: no visitor has this email.';
  const conversations = doc.visitors.reduce((n, x) => n + x.conversations.length, 0);
  const messages = doc.visitors.reduce((n, x) => n + x.conversations.reduce((m, c) => m + c.messages.length, 0), 0);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return `${plural(v, 'visitor', 'visitors')}, ${plural(conversations, 'conversation', 'conversations')}, ${plural(messages, 'message', 'messages')}.`;
}

/** Saves a document as a JSON file: a Blob, an object URL and a temporary `<a download>`. */
export function saveJson(doc: unknown, fileName: string): void {
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
