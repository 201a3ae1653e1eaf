// Brand colour → a text colour with at least 4.5:1 contrast (WCAG 2.x relative luminance).

export type Rgb = [number, number, number];

export function parseColor(input: string): Rgb | null {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(input.trim());
  if (!m) return null;
  let hex = m[1];
  if (hex.length === 3) hex = hex.replace(/./g, (c) => c + c);
  const n = parseInt(hex, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [17, 24, 39];

const toHex = (c: Rgb) => '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');

/** The background to use (the brand colour, darkened only if needed) and its text colour. */
export function brandColors(input: string, fallback = '#2563eb'): { bg: string; fg: string } {
  let bg = parseColor(input) ?? (parseColor(fallback) as Rgb);
  const white = contrastRatio(bg, WHITE);
  const ink = contrastRatio(bg, INK);
  if (white >= 4.5 || ink >= 4.5) {
    return { bg: toHex(bg), fg: white >= ink ? '#ffffff' : toHex(INK) };
  }
  // Mid-tones that reach 4.5:1 with neither: darken until white text does.
  for (let i = 0; i < 40 && contrastRatio(bg, WHITE) < 4.5; i++) {
    bg = bg.map((v) => v * 0.92) as Rgb;
  }
  return { bg: toHex(bg), fg: '#ffffff' };
}
