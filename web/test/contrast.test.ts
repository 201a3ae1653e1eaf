import { describe, expect, it } from 'vitest';
import { brandColors, contrastRatio, parseColor } from '../src/widget/contrast';

describe('contrast', () => {
  it('computes WCAG ratios', () => {
    expect(contrastRatio([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 5);
    expect(contrastRatio([255, 255, 255], [255, 255, 255])).toBeCloseTo(1, 5);
    expect(contrastRatio(parseColor('#777')!, [255, 255, 255])).toBeCloseTo(4.48, 2);
  });

  it('parses short and long hex, rejects the rest', () => {
    expect(parseColor('#fff')).toEqual([255, 255, 255]);
    expect(parseColor('2563eb')).toEqual([37, 99, 235]);
    expect(parseColor('red')).toBeNull();
    expect(parseColor('#12345')).toBeNull();
  });

  it.each(['#2563eb', '#facc15', '#ffffff', '#000000', '#777777', '#22c55e', '#ef4444', '#b45309', 'nonsense'])(
    'always reaches 4.5:1 for %s',
    (c) => {
      const { bg, fg } = brandColors(c);
      expect(contrastRatio(parseColor(bg)!, parseColor(fg)!)).toBeGreaterThanOrEqual(4.5);
    },
  );

  it('keeps the brand colour when it already works, and picks dark text on light colours', () => {
    expect(brandColors('#2563eb')).toEqual({ bg: '#2563eb', fg: '#ffffff' });
    expect(brandColors('#facc15').fg).toBe('#111827');
    expect(brandColors('nonsense').bg).toBe('#2563eb');
  });
});
