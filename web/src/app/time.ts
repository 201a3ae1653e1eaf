// Times for people: "waiting 3 min", "5 min ago", durations in ms.

/** How long someone has been waiting: `waiting 45 s`, `waiting 3 min`, `waiting 2 h 5 min`, `waiting 3 d`. */
export function formatWaiting(sinceIso: string, now: number = Date.now()): string {
  return `waiting ${formatSpan(now - Date.parse(sinceIso))}`;
}

/** A span of time, coarse: `45 s`, `3 min`, `2 h 5 min`, `3 d`. Negative spans (clock skew) are 0 s. */
export function formatSpan(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** `just now`, `5 min ago`, `3 h ago`, then a date. */
export function formatAgo(iso: string, now: number = Date.now()): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  if (ms < 45_000) return 'just now';
  if (ms < 86_400_000) return `${formatSpan(ms).replace(/ \d+ min$/, '')} ago`;
  return new Date(iso).toLocaleDateString();
}

/** A duration in milliseconds for a tile: `850 ms`, `42 s`, `3.5 min`, `1.2 h`; `—` when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
