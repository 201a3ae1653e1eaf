// Pure helpers for the account pages: two-factor secrets and codes, session descriptions.

/** A base32 secret in groups of four for typing into an authenticator app: `JBSW Y3DP EHPK 3PXP`. */
export function groupSecret(secret: string): string {
  return (secret.replace(/[\s=-]/g, '').toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}

/** What a one-time code field keeps of what was typed or pasted: up to six digits. */
export function sanitizeCode(input: string): string {
  return input.replace(/\D/g, '').slice(0, 6);
}

/** A short name for a browser's user agent: `Firefox on Windows`; the raw string when unknown. */
export function describeAgent(ua: string | null | undefined): string {
  if (!ua) return 'Unknown browser';
  const find = (list: [RegExp, string][]) => list.find(([re]) => re.test(ua))?.[1];
  const browser = find([[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari']]);
  const os = find([[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']]);
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}
