// Proactive suggestions: bubbles above the launcher, from the site's rules, matched by page URL.
// Every trigger a rule sets must hold (seconds on the page, scroll depth, a selector in view); each
// rule shows at most once per browser session and can be dismissed.

export interface SuggestionRule {
  id: string;
  url_pattern: string;
  message: string;
  triggers?: { seconds_on_page?: number | null; scroll_percent?: number | null; selector_visible?: string | null };
}

/** `*` matches any run of characters; everything else literally. */
export function urlMatches(pattern: string, url: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(url);
}

export function scrollPercent(): number {
  const max = document.documentElement.scrollHeight - innerHeight;
  return max <= 0 ? 100 : Math.min(100, (scrollY / max) * 100);
}

/** Watches the rules for this page; calls `show(rule)` once a rule's triggers all hold. Returns a stop function. */
export function watchSuggestions(rules: SuggestionRule[], seen: (id: string) => boolean, show: (r: SuggestionRule) => void): () => void {
  const stops: Array<() => void> = [];
  const start = Date.now();
  for (const rule of rules) {
    if (!rule || !rule.message || seen(rule.id) || !urlMatches(rule.url_pattern || '*', location.href)) continue;
    const t = rule.triggers || {};
    let visible = !t.selector_visible;
    let done = false;
    const check = () => {
      if (done) return;
      const timeOk = !t.seconds_on_page || Date.now() - start >= t.seconds_on_page * 1000;
      const scrollOk = t.scroll_percent == null || scrollPercent() >= t.scroll_percent;
      if (timeOk && scrollOk && visible) {
        done = true;
        stop();
        show(rule);
      }
    };
    const timer = t.seconds_on_page ? setTimeout(check, t.seconds_on_page * 1000 - (Date.now() - start)) : undefined;
    const onScroll = () => check();
    addEventListener('scroll', onScroll, { passive: true });
    let io: IntersectionObserver | undefined;
    if (t.selector_visible) {
      const target = document.querySelector(t.selector_visible);
      if (target && 'IntersectionObserver' in window) {
        io = new IntersectionObserver((entries) => {
          if (entries.some((e) => e.isIntersecting)) {
            visible = true;
            check();
          }
        });
        io.observe(target);
      }
    }
    const stop = () => {
      clearTimeout(timer);
      removeEventListener('scroll', onScroll);
      io?.disconnect();
    };
    stops.push(stop);
    check();
  }
  return () => stops.forEach((s) => s());
}
