import { describe, expect, it } from 'vitest';
import { describeAgent, groupSecret, sanitizeCode } from '../src/app/account';

describe('groupSecret', () => {
  it('groups a base32 secret in fours', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP');
    expect(groupSecret('abcdefghij')).toBe('ABCD EFGH IJ');
  });
  it('drops padding and existing spaces', () => {
    expect(groupSecret('JBSW Y3DP EH==')).toBe('JBSW Y3DP EH');
    expect(groupSecret('')).toBe('');
  });
});

describe('sanitizeCode', () => {
  it('keeps up to six digits', () => {
    expect(sanitizeCode('123 456')).toBe('123456');
    expect(sanitizeCode('12-34-56-78')).toBe('123456');
    expect(sanitizeCode('abc')).toBe('');
    expect(sanitizeCode(' 0071')).toBe('0071');
  });
});

describe('describeAgent', () => {
  it('names common browsers and systems', () => {
    expect(describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36')).toBe('Chrome on Linux');
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0')).toBe('Firefox on Windows');
    expect(describeAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1')).toBe('Safari on iOS');
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120 Safari/537.36 Edg/120')).toBe('Edge on Windows');
  });
  it('falls back to the raw string or a placeholder', () => {
    expect(describeAgent('curl/8.0')).toBe('curl/8.0');
    expect(describeAgent(null)).toBe('Unknown browser');
  });
});
