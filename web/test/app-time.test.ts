import { describe, expect, it } from 'vitest';
import { formatAgo, formatDuration, formatSpan, formatWaiting } from '../src/app/time';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const before = (ms: number) => new Date(T0 - ms).toISOString();

describe('waiting times', () => {
  it('formats seconds, minutes, hours and days', () => {
    expect(formatWaiting(before(0), T0)).toBe('waiting 0 s');
    expect(formatWaiting(before(45_000), T0)).toBe('waiting 45 s');
    expect(formatWaiting(before(59_999), T0)).toBe('waiting 59 s');
    expect(formatWaiting(before(60_000), T0)).toBe('waiting 1 min');
    expect(formatWaiting(before(3 * 60_000 + 20_000), T0)).toBe('waiting 3 min');
    expect(formatWaiting(before(2 * 3_600_000), T0)).toBe('waiting 2 h');
    expect(formatWaiting(before(2 * 3_600_000 + 5 * 60_000), T0)).toBe('waiting 2 h 5 min');
    expect(formatWaiting(before(3 * 86_400_000 + 1000), T0)).toBe('waiting 3 d');
  });

  it('treats clock skew and bad input as no wait', () => {
    expect(formatWaiting(new Date(T0 + 5000).toISOString(), T0)).toBe('waiting 0 s');
    expect(formatSpan(Number.NaN)).toBe('0 s');
  });

  it('says how long ago, coarsely', () => {
    expect(formatAgo(before(10_000), T0)).toBe('just now');
    expect(formatAgo(before(5 * 60_000), T0)).toBe('5 min ago');
    expect(formatAgo(before(3 * 3_600_000 + 25 * 60_000), T0)).toBe('3 h ago');
  });

  it('formats response durations for tiles', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(210_000)).toBe('3.5 min');
    expect(formatDuration(4_320_000)).toBe('1.2 h');
  });
});
