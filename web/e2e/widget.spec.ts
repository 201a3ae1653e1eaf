import { expect, request, test, type Page } from '@playwright/test';
import { gzipSync } from 'node:zlib';

const URL = () => process.env.FD_URL as string;
const KEY = () => process.env.FD_KEY as string;
const demo = () => `${URL()}/demo?key=${KEY()}`;
const shots = 'test-results/screenshots';

async function openPanel(page: Page) {
  await page.locator('.fd-launcher').click();
  await expect(page.locator('.fd-panel')).toBeVisible();
}

async function ask(page: Page, text: string) {
  const input = page.locator('.fd-form textarea');
  await input.fill(text);
  await input.press('Enter');
}

test('load, open, ask: a cited answer is rendered', async ({ page }) => {
  await page.goto(demo());
  const launcher = page.locator('.fd-launcher');
  await expect(launcher).toBeVisible();
  await expect(launcher).toHaveAttribute('aria-label', 'Open chat');
  await page.screenshot({ path: `${shots}/launcher.png` });
  await openPanel(page);
  await expect(launcher).toHaveAttribute('aria-expanded', 'true');
  await ask(page, 'How long does delivery to Belgium take?');
  await expect(page.locator('[role=log] .fd-visitor .fd-body')).toHaveText(/Belgium/);
  const answer = page.locator('[role=log] .fd-assistant').last();
  await expect(answer).toContainText('working days');
  const cite = answer.locator('.fd-cites a');
  await expect(cite).toHaveText('Shipping and delivery times');
  await expect(cite).toHaveAttribute('rel', 'noopener noreferrer');
  await expect(page.locator('.fd-status[role=status]')).toHaveText('');
  await expect(page.locator('.fd-send')).toBeEnabled();
  // Thumbs up on the answer.
  const up = answer.getByRole('button', { name: 'Helpful', exact: true });
  await up.click();
  await expect(up).toHaveAttribute('aria-pressed', 'true');
  await page.screenshot({ path: `${shots}/panel-open.png` });
});

test('page views and conversions are reported once a session exists', async ({ page }) => {
  const reported = (kind: string) =>
    page.waitForResponse((r) => r.url().endsWith('/api/chat/events') && r.request().postDataJSON()?.kind === kind);
  await page.goto(demo());
  await openPanel(page);
  // The page view waited for the session the first message starts.
  const view = reported('page_view');
  await ask(page, 'Hello');
  expect((await view).status()).toBe(202);
  const conversion = reported('conversion');
  await page.evaluate(() =>
    (window as unknown as { Frontdesk: (...a: unknown[]) => unknown }).Frontdesk('track', 'conversion', { name: 'signup', plan: 'pro' }),
  );
  const r = await conversion;
  expect(r.status()).toBe(202);
  expect(r.request().postDataJSON()).toMatchObject({ kind: 'conversion', name: 'signup', props: { plan: 'pro' } });
});

test('an XSS payload in a visitor message and in an answer is not executed', async ({ page }) => {
  page.on('dialog', (d) => void d.dismiss());
  // No socket: the (tampered) REST reply is the only copy of the answer.
  await page.routeWebSocket(/\/api\/chat\/ws/, () => {});
  // Tamper with the server's reply so the browser's own sanitizer is what is tested.
  await page.route('**/api/chat/message', async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    if (json.reply) {
      json.reply.html =
        '<p>ok</p><img src=x onerror="window.__xss=1"><a href="javascript:window.__xss=2">x</a><script>window.__xss=3</script>';
      json.reply.citations = [{ title: 'bad', url: 'javascript:window.__xss=4' }];
    }
    await route.fulfill({ response, json });
  });
  await page.goto(demo());
  // A hostile visitor name (it travels as a session parameter) is never executed either.
  await page.evaluate(() =>
    (window as unknown as { Frontdesk: (...a: unknown[]) => void }).Frontdesk('identify', { name: '<img src=x onerror="window.__xss=7">' }),
  );
  await openPanel(page);
  const payload = '<img src=x onerror="window.__xss=5"><script>window.__xss=6</script>';
  await ask(page, payload);
  await expect(page.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText(payload);
  const answer = page.locator('[role=log] .fd-assistant').last();
  await expect(answer).toContainText('ok');
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  await expect(page.locator('[role=log] img, [role=log] script')).toHaveCount(0);
  await expect(answer.locator('a[href^="javascript"]')).toHaveCount(0);
});

test('the conversation survives reload and navigation', async ({ page }) => {
  await page.goto(demo());
  await openPanel(page);
  await ask(page, 'Which payment methods can I use?');
  await expect(page.locator('[role=log] .fd-msg')).toHaveCount(2);
  const stored = await page.evaluate((k) => localStorage.getItem(`frontdesk:${k}`), KEY());
  expect(JSON.parse(stored as string)).toMatchObject({ session_id: expect.any(String), session_token: expect.any(String) });
  await page.reload();
  // The panel was open: it opens again, with the same conversation.
  await expect(page.locator('.fd-panel')).toBeVisible();
  await expect(page.locator('[role=log] .fd-msg')).toHaveCount(2);
  await expect(page.locator('[role=log] .fd-visitor .fd-body')).toHaveText('Which payment methods can I use?');
  await page.goto(`${demo()}&page=lamps`);
  await expect(page.locator('[role=log] .fd-msg')).toHaveCount(2);
});

test('after a dropped socket the widget reconnects and resumes without duplicates', async ({ page }) => {
  const urls: string[] = [];
  const routes: { close: (o?: { code?: number; reason?: string }) => Promise<void> }[] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | null = null;
  await page.routeWebSocket(/\/api\/chat\/ws/, async (ws) => {
    urls.push(ws.url());
    routes.push(ws);
    if (gate) await gate;
    ws.connectToServer();
  });
  await page.goto(demo());
  await openPanel(page);
  const sent = page.waitForResponse('**/api/chat/message');
  await ask(page, 'Do you ship to Germany?');
  const conversationId = (await (await sent).json()).message.conversation_id as string;
  await expect(page.locator('[role=log] .fd-msg')).toHaveCount(2);
  await expect.poll(() => urls.length).toBeGreaterThan(0);

  // Drop the socket and hold the reconnection until an agent has answered.
  gate = new Promise((r) => (release = r));
  await routes[routes.length - 1].close({ code: 4008, reason: 'test: slow consumer' });
  const agent = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  expect((await agent.post('/api/app/login', { data: { email: process.env.FD_EMAIL, password: process.env.FD_PASSWORD } })).ok()).toBe(true);
  const posted = await agent.post(`/api/app/orgs/${process.env.FD_ORG}/conversations/${conversationId}/messages`, {
    data: { content: 'Hi, this is Sam from Northwind. Yes, we do!' },
  });
  expect(posted.ok()).toBe(true);
  await expect.poll(() => urls.length, { timeout: 20_000 }).toBeGreaterThan(1);
  expect(new globalThis.URL(urls[urls.length - 1]).searchParams.get('after_seq')).toBe('2');
  release();

  await expect(page.locator('[role=log] .fd-agent')).toHaveText(/Sam from Northwind/);
  await page.waitForTimeout(1000);
  await expect(page.locator('[role=log] .fd-agent')).toHaveCount(1);
  const seqs = await page.locator('[role=log] .fd-msg').evaluateAll((ns) => ns.map((n) => (n as HTMLElement).dataset.seq));
  expect(new Set(seqs).size).toBe(seqs.length);
  await agent.dispose();
});

test('the demo page works under a strict CSP', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const response = await page.goto(demo());
  const csp = response?.headers()['content-security-policy'] || '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  await page.getByRole('button', { name: 'Questions? Chat with us' }).click();
  await expect(page.locator('.fd-panel')).toBeVisible();
  await ask(page, 'How long does delivery to Belgium take?');
  await expect(page.locator('[role=log] .fd-assistant .fd-cites a')).toBeVisible();
  expect(violations).toEqual([]);
});

test('keyboard only: open, send, Esc closes and focus returns to the launcher', async ({ page }) => {
  await page.goto(demo());
  await expect(page.locator('.fd-launcher')).toBeVisible();
  const launcherFocused = () =>
    page.evaluate(() => document.getElementById('frontdesk-widget')?.shadowRoot?.activeElement?.className === 'fd-launcher');
  for (let i = 0; i < 20 && !(await launcherFocused()); i++) await page.keyboard.press('Tab');
  expect(await launcherFocused()).toBe(true);
  await page.keyboard.press('Enter');
  await expect(page.locator('.fd-panel')).toBeVisible();
  await expect(page.locator('.fd-form textarea')).toBeFocused();
  await page.keyboard.type('How long does delivery to Belgium take?');
  await page.keyboard.press('Enter');
  await expect(page.locator('[role=log] .fd-assistant')).toHaveCount(1);
  await page.keyboard.press('Escape');
  await expect(page.locator('.fd-panel')).toBeHidden();
  expect(await launcherFocused()).toBe(true);
  await expect(page.locator('.fd-launcher')).toHaveAttribute('aria-expanded', 'false');
});

test('frame mode in the playground, in Dutch', async ({ page }) => {
  await page.goto(`${URL()}/widget/nl/?site=${KEY()}`);
  const panel = page.locator('#fd-playground .fd-panel');
  await expect(panel).toBeVisible();
  await expect(page.locator('.fd-launcher')).toHaveCount(0);
  await expect(page.locator('.fd-form textarea')).toHaveAttribute('placeholder', 'Typ je bericht…');
  await page.screenshot({ path: `${shots}/frame-mode.png` });
});

test('the documented snippet and the command queue', async ({ page }) => {
  // A host page of the demo's own (allowed) origin, with the inline snippet and calls made before load.
  await page.route(`${URL()}/host-page.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><body><h1>Host</h1>
<script>
window.FrontdeskConfig = {apiUrl: ${JSON.stringify(URL())}, apiKey: ${JSON.stringify(KEY())}, primaryColor: '#facc15', position: 'bottom-left', nonce: 'n0nce'};
window.Frontdesk = window.Frontdesk || function(){ (window.Frontdesk.q = window.Frontdesk.q || []).push(arguments) };
window.events = [];
Frontdesk('on', 'ready', function(){ window.events.push('ready') });
Frontdesk('on', 'open', function(){ window.events.push('open') });
Frontdesk('open');
</script>
<script src="${URL()}/widget.js" defer></script></body></html>`,
    }),
  );
  await page.goto(`${URL()}/host-page.html`);
  await expect(page.locator('.fd-panel')).toBeVisible();
  await expect.poll(() => page.evaluate(() => (window as unknown as { events: string[] }).events)).toEqual(['ready', 'open']);
  // The chunk the loader added carries the page's nonce and an SRI hash.
  const chunk = page.locator('script[src*="/assets/panel."]');
  expect(await chunk.evaluate((s) => (s as HTMLScriptElement).nonce)).toBe('n0nce');
  await expect(chunk).toHaveAttribute('integrity', /^sha384-/);
  // A late `ready` subscriber still hears it.
  expect(
    await page.evaluate(
      () => new Promise((r) => (window as unknown as { Frontdesk: (...a: unknown[]) => void }).Frontdesk('on', 'ready', () => r('late ready'))),
    ),
  ).toBe('late ready');
  // A light brand colour gets dark text (WCAG contrast), and the bubble sits bottom-left.
  const launcher = page.locator('.fd-launcher');
  expect(await launcher.evaluate((b) => getComputedStyle(b).color)).toBe('rgb(17, 24, 39)');
  expect(await launcher.evaluate((b) => b.getBoundingClientRect().left)).toBeLessThan(100);
  // `on` returns an unsubscribe function.
  const count = await page.evaluate(() => {
    const w = window as unknown as { Frontdesk: (...a: unknown[]) => unknown };
    let n = 0;
    const off = w.Frontdesk('on', 'close', () => n++) as () => void;
    w.Frontdesk('close');
    off();
    w.Frontdesk('open');
    w.Frontdesk('close');
    return n;
  });
  expect(count).toBe(1);
});

test('size budget: loader ≤ 6 KB and panel ≤ 45 KB gzipped; cache headers', async () => {
  const api = await request.newContext({ baseURL: URL() });
  const loader = await api.get('/widget.js');
  expect(loader.headers()['cache-control']).toBe('public, max-age=300');
  const loaderBytes = await loader.body();
  const panelFile = /panel\.[0-9a-f]+\.js/.exec(loaderBytes.toString())?.[0];
  expect(panelFile).toBeTruthy();
  const panel = await api.get(`/assets/${panelFile}`);
  expect(panel.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  const panelBytes = await panel.body();
  const gz = (b: Buffer) => gzipSync(b, { level: 9 }).length;
  const sizes = { loader: gz(loaderBytes), panel: gz(panelBytes) };
  console.log(`gzipped sizes: loader ${sizes.loader} B, panel ${sizes.panel} B`);
  expect(sizes.loader).toBeLessThanOrEqual(6 * 1024);
  expect(sizes.panel).toBeLessThanOrEqual(45 * 1024);
  await api.dispose();
});

test('asking for a person shows the hand-over state; ending the chat invites a rating', async ({ page }) => {
  await page.goto(demo());
  await page.evaluate(() => {
    const w = window as unknown as { Frontdesk: (...a: unknown[]) => unknown; seen: string[] };
    w.seen = [];
    for (const e of ['escalated', 'rated']) w.Frontdesk('on', e, () => w.seen.push(e));
  });
  await openPanel(page);
  await expect(page.getByRole('button', { name: 'End chat' })).toBeHidden();
  await ask(page, 'I want to talk to a human');
  await expect(page.locator('.fd-banner')).toHaveText('Connecting you to a person…');
  await expect(page.locator('.fd-banner')).toBeVisible();
  await page.getByRole('button', { name: 'End chat' }).click();
  await expect(page.locator('.fd-rate')).toBeVisible();
  await expect(page.locator('.fd-form')).toBeHidden();
  await page.getByRole('button', { name: '4 stars' }).click();
  await page.getByRole('textbox', { name: 'Anything to add? (optional)' }).fill('Quick and friendly');
  await page.getByRole('button', { name: 'Send rating' }).click();
  await expect(page.locator('.fd-rate')).toContainText('Thank you for your feedback!');
  expect(await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).toEqual(['escalated', 'rated']);
  await page.getByRole('button', { name: 'Start a new conversation' }).click();
  await expect(page.locator('.fd-form')).toBeVisible();
  await expect(page.locator('.fd-log[role=log] .fd-msg')).toHaveCount(0);

  // The earlier conversation is in the history view, read-only, also after a reload.
  await page.reload();
  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(page.locator('.fd-form')).toBeHidden();
  await page.locator('.fd-past button', { hasText: 'I want to talk to a human' }).click();
  const past = page.locator('.fd-history [role=log]');
  await expect(past.locator('.fd-visitor .fd-body')).toHaveText('I want to talk to a human');
  await expect(page.locator('.fd-history')).toContainText('This conversation has ended.');
  await expect(past.locator('.fd-react')).toHaveCount(0);
  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(page.locator('.fd-form')).toBeVisible();
});

// Changes the demo site's published widget configuration through the private API (draft, then publish).
async function setWidget(widget: Record<string, unknown>) {
  const agent = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  expect((await agent.post('/api/app/login', { data: { email: process.env.FD_EMAIL, password: process.env.FD_PASSWORD } })).ok()).toBe(true);
  const site = `/api/app/orgs/${process.env.FD_ORG}/sites/${process.env.FD_SITE}`;
  const r = await agent.patch(site, { data: { widget } });
  expect(r.ok(), await r.text()).toBe(true);
  // PATCH {widget} writes the draft; visitors see it once published (a server without drafts has no publish route).
  const published = await agent.post(`${site}/widget/publish`, { data: {} });
  expect(published.ok() || published.status() === 404 || published.status() === 405, await published.text()).toBe(true);
  await agent.dispose();
}

test.describe('site configuration', () => {
  test.afterEach(async () => setWidget({}));

  test('the channel picker lists the site channels before the first message', async ({ page }) => {
    await setWidget({
      channels: [
        { kind: 'whatsapp', label: 'WhatsApp', url: 'https://wa.me/31612345678' },
        { kind: 'email', label: 'Email us', url: 'mailto:help@northwind.example' },
      ],
    });
    // The server refuses a script link on save; the widget drops one anyway (tampered response).
    await page.route('**/api/chat/config', async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      json.widget.channels.push({ kind: 'link', label: 'Evil', url: 'javascript:alert(1)' });
      await route.fulfill({ response, json });
    });
    await page.goto(demo());
    await openPanel(page);
    const picker = page.locator('.fd-channels');
    await expect(picker).toBeVisible();
    await expect(picker.getByRole('link', { name: 'WhatsApp' })).toHaveAttribute('href', 'https://wa.me/31612345678');
    await expect(picker.getByRole('link', { name: 'Email us' })).toHaveAttribute('href', 'mailto:help@northwind.example');
    await expect(picker.getByRole('link', { name: 'Evil' })).toHaveCount(0);
    await page.screenshot({ path: `${shots}/channel-picker.png` });
    await picker.getByRole('button', { name: 'Chat here' }).click();
    await expect(picker).toBeHidden();
    await expect(page.locator('.fd-form textarea')).toBeFocused();
  });

  test('proactive suggestions: time, scroll and selector triggers, each alone and combined', async ({ page }) => {
    await setWidget({
      suggestions: [
        { id: 'time', url_pattern: '*/demo*', message: 'Need help choosing a lamp?', triggers: { seconds_on_page: 1 } },
        { id: 'elsewhere', url_pattern: '*/checkout*', message: 'Never here', triggers: {} },
      ],
    });
    await page.goto(demo());
    const bubble = page.locator('.fd-sugg');
    await expect(bubble).toHaveCount(0);
    await expect(bubble).toHaveText(/Need help choosing a lamp\?/, { timeout: 5000 });
    await page.screenshot({ path: `${shots}/suggestion.png` });
    await bubble.getByRole('button', { name: 'Dismiss' }).click();
    await expect(bubble).toHaveCount(0);
    await page.reload();
    await page.waitForTimeout(1500);
    await expect(bubble).toHaveCount(0); // once per session

    // Combined: time and scroll depth must both hold.
    await setWidget({
      suggestions: [{ id: 'combo', url_pattern: '*', message: 'Still looking?', triggers: { seconds_on_page: 1, scroll_percent: 60 } }],
    });
    await page.setViewportSize({ width: 1280, height: 300 });
    await page.goto(demo());
    await page.waitForTimeout(1500);
    await expect(bubble).toHaveCount(0); // time holds, scroll does not
    await page.evaluate(() => scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * 0.3));
    await page.waitForTimeout(300);
    await expect(bubble).toHaveCount(0);
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await expect(bubble).toHaveText(/Still looking\?/);

    // A selector entering the viewport.
    await setWidget({
      suggestions: [{ id: 'help', url_pattern: '*', message: 'Questions about delivery?', triggers: { selector_visible: '#help' } }],
    });
    await page.goto(demo());
    await page.waitForTimeout(700);
    await expect(bubble).toHaveCount(0);
    await page.evaluate(() => document.getElementById('help')?.scrollIntoView());
    await expect(bubble).toHaveText(/Questions about delivery\?/);
    await bubble.locator('.fd-sugg-text').click();
    await expect(page.locator('.fd-panel')).toBeVisible();
    await expect(bubble).toHaveCount(0);
  });
});

test('a message typed while offline is sent when the network is back', async ({ page, context }) => {
  await page.goto(demo());
  await openPanel(page);
  await ask(page, 'How long does delivery to Belgium take?');
  await expect(page.locator('[role=log] .fd-assistant')).toHaveCount(1);
  await context.setOffline(true);
  await ask(page, 'Can I return a lamp?');
  await expect(page.locator('.fd-status')).toHaveText('Reconnecting…');
  await expect(page.locator('[role=log] .fd-visitor')).toHaveCount(1);
  await context.setOffline(false);
  await expect(page.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText('Can I return a lamp?');
  await expect(page.locator('[role=log] .fd-assistant')).toHaveCount(2);
});

test('no layout shift, the launcher within 300 ms, reduced motion, full screen on a narrow phone', async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as unknown as { __cls: number };
    w.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) {
        if (!e.hadRecentInput) w.__cls += e.value;
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await page.setViewportSize({ width: 375, height: 667 });
  await page.goto(demo());
  await expect(page.locator('.fd-launcher')).toBeVisible();
  const shown = await page.evaluate(() => performance.getEntriesByName('frontdesk:launcher')[0]?.startTime ?? Infinity);
  console.log(`launcher shown ${Math.round(shown)} ms after navigation start`);
  expect(shown).toBeLessThan(300);
  expect(await page.evaluate(() => (window as unknown as { __cls: number }).__cls)).toBe(0);
  // Reduced motion: the panel appears without animation (so it is measurable at once).
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await openPanel(page);
  expect(await page.locator('.fd-panel').evaluate((p) => p.getAnimations().length)).toBe(0);
  const box = await page.locator('.fd-panel').boundingBox();
  expect(box).toMatchObject({ x: 0, y: 0, width: 375 });
  expect(Math.round(box!.height)).toBe(667);
  await page.screenshot({ path: `${shots}/phone.png` });
});
