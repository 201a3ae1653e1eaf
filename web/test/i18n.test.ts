import { describe, expect, it } from 'vitest';
import { LAUNCHER, LOCALES, STRINGS, pickLocale } from '../src/widget/i18n';

describe('i18n', () => {
  it('picks the first supported language: snippet, then browser, then site', () => {
    expect(pickLocale('nl', ['de-DE'], 'fr')).toBe('nl');
    expect(pickLocale(undefined, ['pt-BR', 'de-AT'], 'fr')).toBe('de');
    expect(pickLocale(undefined, ['ja'], 'fr')).toBe('fr');
    expect(pickLocale('ES_mx')).toBe('es');
    expect(pickLocale(undefined, [], null)).toBe('en');
    expect(pickLocale('xx', 'yy')).toBe('en');
  });

  it('every language has every string', () => {
    const keys = Object.keys(STRINGS.en).sort();
    for (const l of LOCALES) {
      expect(Object.keys(STRINGS[l]).sort()).toEqual(keys);
      for (const v of Object.values(STRINGS[l])) expect(v.length).toBeGreaterThan(0);
      expect(LAUNCHER[l].open).toBe(STRINGS[l].open);
    }
  });

  it('the rating tags are translated in every language', () => {
    const tags = ['tagQuick', 'tagHelpful', 'tagFriendly', 'tagSlow', 'tagUnclear'] as const;
    expect(tags.map((k) => STRINGS.en[k])).toEqual(['Quick', 'Helpful', 'Friendly', 'Slow', 'Unclear']);
    for (const l of LOCALES) {
      if (l === 'en') continue;
      // Translated, not English left over (Spanish and French "Útil"/"Utile" differ from "Helpful").
      expect(tags.map((k) => STRINGS[l][k])).not.toEqual(tags.map((k) => STRINGS.en[k]));
      expect(new Set(tags.map((k) => STRINGS[l][k])).size).toBe(tags.length);
      expect(STRINGS[l].continue).not.toBe(STRINGS.en.continue);
    }
  });
});
