import { describe, expect, it } from 'vitest';
import { urlMatches } from '../src/widget/suggest';

describe('suggestion URL patterns', () => {
  it('`*` matches any run of characters, the rest literally', () => {
    expect(urlMatches('*', 'https://shop.example/anything')).toBe(true);
    expect(urlMatches('*/pricing*', 'https://shop.example/pricing?x=1')).toBe(true);
    expect(urlMatches('*/pricing', 'https://shop.example/pricing/extra')).toBe(false);
    expect(urlMatches('https://shop.example/a.b', 'https://shop.example/aXb')).toBe(false);
    expect(urlMatches('*(x)*', 'https://s/(x)')).toBe(true);
  });
});
