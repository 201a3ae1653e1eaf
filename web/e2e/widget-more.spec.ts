// The widget's identity, rating tags, continuing a resolved conversation, right-to-left pages and
// long tasks; and the dashboard's identity-verification settings. Against the real demo server.
import { expect, request, test, type Page } from '@playwright/test';
import { createHmac } from 'node:crypto';

const URL = () => process.env.FD_URL as string;
const KEY = () => process.env.FD_KEY as string;
const ORG = () => process.env.FD_ORG as string;
const SITE = () => process.env.FD_SITE as string;
const demo = () => `${URL()}/demo?key=${KEY()}`;
const shots = 'test-results/screenshots';

type Fd = { Frontdesk: (...a: unknown[]) => unknown };

async function openPanel(page: Page) {
  await page.locator('.fd-launcher').click();
  await expect(page.locator('.fd-panel')).toBeVisible();
}

async function ask(page: Page, text: string) {
  const input = page.locator('.fd-form textarea');
  await input.fill(text);
  await input.press('Enter');
  await expect(page.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText(text);
}

async function storedSession(page: Page): Promise<{ visitor_id: string; session_id: string; session_token: string }> {
  return JSON.parse((await page.evaluate((k) => localStorage.getItem(`frontdesk:${k}`), KEY())) as string);
}

/** A request context logged in as the demo owner (the dashboard's API). */
async function ownerApi() {
  const api = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const r = await api.post('/api/app/login', { data: { email: process.env.FD_EMAIL, password: process.env.FD_PASSWORD } });
  expect(r.ok()).toBe(true);
  return api;
}

const O = () => `/api/app/orgs/${ORG()}`;

test('identify before the session starts: the name reaches the inbox', async ({ page }) => {
  await page.goto(demo());
  const name = `Ada Lovelace ${Date.now() % 100000}`;
  // Called before any session: it waits for the session the first message starts.
  await page.evaluate((n) => (window as unknown as Fd).Frontdesk('identify', { name: n, email: 'ada@example.com' }), name);
  await page.waitForTimeout(200);
  const identified = page.waitForResponse((r) => r.url().endsWith('/api/chat/identify'));
  await openPanel(page);
  await ask(page, 'Hello, who am I?');
  const r = await identified;
  expect(r.status()).toBe(200);
  expect(r.request().headers()['authorization']).toMatch(/^Bearer /);
  expect(r.request().headers()['x-api-key']).toBe(KEY());
  const { session_id } = await storedSession(page);
  expect(r.request().postDataJSON()).toEqual({ session_id, name, email: 'ada@example.com' });

  const api = await ownerApi();
  const inbox = await (await api.get(`${O()}/conversations?limit=200`)).json();
  const conv = (inbox.conversations as { id: string; visitor_name: string | null; visitor_email: string | null }[]).find((c) => c.id === session_id);
  expect(conv?.visitor_name).toBe(name);
  expect(conv?.visitor_email).toBe('ada@example.com');
  await api.dispose();
});

test('identify with a wrong userHash is an identity_invalid error; the right one is verified', async ({ page }) => {
  await page.goto(demo());
  await page.evaluate(() => {
    const w = window as unknown as Fd & { errors: unknown[] };
    w.errors = [];
    w.Frontdesk('on', 'error', (e: unknown) => w.errors.push(e));
  });
  await openPanel(page);
  await ask(page, 'Hello');
  const { session_id } = await storedSession(page);
  const userId = `user-${Date.now()}`;

  // After the session started: sent at once, refused, reported, not retried.
  let calls = 0;
  page.on('request', (q) => q.url().endsWith('/api/chat/identify') && calls++);
  await page.evaluate((u) => (window as unknown as Fd).Frontdesk('identify', { userId: u, userHash: 'deadbeef'.repeat(8) }), userId);
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { errors: { code?: string }[] }).errors.map((e) => e.code)))
    .toEqual(['identity_invalid']);
  await page.waitForTimeout(300);
  expect(calls).toBe(1);

  // The correct hash needs the site secret: the site's backend would compute it.
  const api = await ownerApi();
  const { secret } = await (await api.get(`${O()}/sites/${SITE()}/secret`)).json();
  const userHash = createHmac('sha256', secret).update(userId).digest('hex');
  const ok = page.waitForResponse((r) => r.url().endsWith('/api/chat/identify'));
  await page.evaluate(([u, h]) => (window as unknown as Fd).Frontdesk('identify', { name: 'Grace', userId: u, userHash: h }), [userId, userHash]);
  const r = await ok;
  expect(r.status()).toBe(200);
  expect(await r.json()).toMatchObject({ user_id: userId, verified: true });
  const panel = await (await api.get(`${O()}/conversations/${session_id}/visitor`)).json();
  expect(panel.visitor).toMatchObject({ user_id: userId, verified: true, name: 'Grace' });
  expect(await page.evaluate(() => (window as unknown as { errors: unknown[] }).errors.length)).toBe(1);
  await api.dispose();
});

test('rating tags are toggle buttons and reach the server', async ({ page }) => {
  await page.goto(demo());
  await openPanel(page);
  await ask(page, 'How long does delivery take?');
  const { session_id } = await storedSession(page);
  await page.getByRole('button', { name: 'End chat' }).click();
  await expect(page.locator('.fd-rate')).toBeVisible();
  await page.getByRole('button', { name: '5 stars' }).click();
  const tags = page.getByRole('group', { name: 'What stood out?' });
  await expect(tags.getByRole('button')).toHaveText(['Quick', 'Helpful', 'Friendly', 'Slow', 'Unclear']);
  const quick = tags.getByRole('button', { name: 'Quick' });
  const friendly = tags.getByRole('button', { name: 'Friendly' });
  const slow = tags.getByRole('button', { name: 'Slow' });
  await expect(quick).toHaveAttribute('aria-pressed', 'false');
  await quick.click();
  await expect(quick).toHaveAttribute('aria-pressed', 'true');
  // Keyboard: Space and Enter toggle.
  await slow.focus();
  await page.keyboard.press('Space');
  await expect(slow).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('Enter');
  await expect(slow).toHaveAttribute('aria-pressed', 'false');
  await friendly.focus();
  await page.keyboard.press('Enter');
  await expect(friendly).toHaveAttribute('aria-pressed', 'true');
  await page.screenshot({ path: `${shots}/rating-tags.png` });
  const rated = page.waitForResponse((r) => r.url().endsWith(`/api/chat/session/${session_id}/rate`));
  await page.getByRole('button', { name: 'Send rating' }).click();
  expect((await rated).status()).toBe(201);
  await expect(page.locator('.fd-rate')).toContainText('Thank you for your feedback!');

  const api = await ownerApi();
  const detail = await (await api.get(`${O()}/conversations/${session_id}`)).json();
  expect(detail.rating).toMatchObject({ stars: 5, tags: ['quick', 'friendly'] });
  await api.dispose();
});

test('a resolved conversation from the history can be continued: same session', async ({ page }) => {
  await page.goto(demo());
  await openPanel(page);
  const first = `Where is my order ${Date.now() % 100000}?`;
  await ask(page, first);
  await expect(page.locator('[role=log] .fd-msg')).toHaveCount(2);
  const s = await storedSession(page);

  // An agent resolves it.
  const api = await ownerApi();
  const resolved = await api.post(`${O()}/conversations/${s.session_id}/status`, { data: { action: 'resolve' } });
  expect(resolved.ok(), await resolved.text()).toBe(true);

  // Later the visitor started another conversation: the resolved one is in the widget's history,
  // with its token (as "Start a new conversation" leaves it).
  await page.evaluate(
    ([k, v]) => localStorage.setItem(`frontdesk:${k}`, v),
    [KEY(), JSON.stringify({ visitor_id: s.visitor_id, past: [{ id: s.session_id, token: s.session_token, at: Date.now(), preview: first }] })],
  );
  await page.reload();
  await expect(page.locator('.fd-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Conversations' }).click();
  await page.locator('.fd-past button', { hasText: first }).click();
  await expect(page.locator('.fd-history [role=log] .fd-visitor .fd-body')).toHaveText(first);
  const cont = page.getByRole('button', { name: 'Continue this conversation' });
  await expect(cont).toBeVisible();
  await cont.click();
  await expect(page.locator('.fd-history')).toBeHidden();
  await expect(page.locator('.fd-log[role=log] .fd-visitor .fd-body').first()).toHaveText(first);

  const sent = page.waitForResponse((r) => r.url().endsWith('/api/chat/message'));
  await ask(page, 'I am back with one more question');
  const r = await sent;
  expect(r.ok()).toBe(true);
  expect((await r.json()).message.conversation_id).toBe(s.session_id);
  expect(r.request().postDataJSON().session_id).toBe(s.session_id);
  expect((await storedSession(page)).session_id).toBe(s.session_id);

  const detail = await (await api.get(`${O()}/conversations/${s.session_id}`)).json();
  const bodies = (detail.messages as { body: string }[]).map((m) => m.body);
  expect(bodies).toContain(first);
  expect(bodies).toContain('I am back with one more question');
  expect(detail.conversation?.status ?? detail.status).not.toBe('resolved');
  await api.dispose();
});

test('on a right-to-left host page the widget stays usable', async ({ page }) => {
  // No inline script: the configuration is a JSON block.
  await page.route(`${URL()}/rtl-page.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html dir="rtl" lang="he"><head><meta charset="utf-8"><title>RTL</title></head><body><h1>חנות</h1>
<script type="application/json" id="frontdesk-config">${JSON.stringify({ apiUrl: URL(), apiKey: KEY(), locale: 'en' })}</script>
<script src="${URL()}/widget.js" defer></script></body></html>`,
    }),
  );
  await page.goto(`${URL()}/rtl-page.html`);
  const launcher = page.locator('.fd-launcher');
  await expect(launcher).toBeVisible();
  const vp = page.viewportSize()!;
  const lb = (await launcher.boundingBox())!;
  // Mirrored: the launcher sits at the inline end, which is the left on an RTL page.
  expect(lb.x).toBeGreaterThanOrEqual(0);
  expect(lb.x + lb.width).toBeLessThan(vp.width / 2);
  await launcher.click();
  const panel = page.locator('.fd-panel');
  await expect(panel).toBeVisible();
  const pb = (await panel.boundingBox())!;
  expect(pb.x).toBeGreaterThanOrEqual(0);
  expect(pb.y).toBeGreaterThanOrEqual(0);
  expect(pb.x + pb.width).toBeLessThanOrEqual(vp.width);
  expect(pb.y + pb.height).toBeLessThanOrEqual(vp.height);
  expect(await panel.evaluate((p) => getComputedStyle(p).direction)).toBe('rtl');
  await ask(page, 'How long does delivery to Belgium take?');
  await expect(page.locator('[role=log] .fd-assistant').last()).toContainText('working days');
  await page.screenshot({ path: `${shots}/rtl.png` });
  // Narrow phone: full screen, still inside the viewport.
  await page.setViewportSize({ width: 375, height: 667 });
  const nb = (await panel.boundingBox())!;
  expect(nb.x).toBeGreaterThanOrEqual(0);
  expect(nb.x + nb.width).toBeLessThanOrEqual(375);
});

type LoadResult = { supported: boolean; tasks: { start: number; duration: number; attribution: string[] }[]; scriptEnd: number; launcherAt: number | null; now: number };

/** Loads /demo in a fresh page and returns the long tasks the load produced. */
async function loadAndWatch(page: Page): Promise<LoadResult> {
  await page.addInitScript(() => {
    const w = window as unknown as { __longtasks: { start: number; duration: number; attribution: string[] }[] };
    w.__longtasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const a = ((e as unknown as { attribution?: { name: string; containerSrc: string }[] }).attribution || []).map(
            (x) => `${x.name} ${x.containerSrc}`,
          );
          w.__longtasks.push({ start: e.startTime, duration: e.duration, attribution: a });
        }
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      /* not supported */
    }
  });
  await page.goto(demo());
  await expect(page.locator('.fd-launcher')).toBeVisible();
  await page.waitForFunction(() => (window as unknown as { Frontdesk?: { (...a: unknown[]): unknown } }).Frontdesk?.('isReady') === true);
  await page.waitForTimeout(500);
  return page.evaluate(() => {
    const w = window as unknown as { __longtasks: { start: number; duration: number; attribution: string[] }[] };
    const supported = PerformanceObserver.supportedEntryTypes.includes('longtask');
    const script = performance.getEntriesByType('resource').find((r) => /\/widget\.js|\/assets\/widget\./.test(r.name)) as PerformanceResourceTiming | undefined;
    const launcher = performance.getEntriesByName('frontdesk:launcher')[0];
    return { supported, tasks: w.__longtasks, scriptEnd: script?.responseEnd ?? 0, launcherAt: launcher?.startTime ?? null, now: performance.now() };
  });
}

test('no long task over 50 ms from the widget while /demo loads', async ({ browser }) => {
  // Timing on a shared two-core machine is noisy: a task the widget causes shows up on every
  // load, a hiccup of the machine does not. So the best of three fresh loads must be clean.
  const attempts: { tasks: LoadResult['tasks'] }[] = [];
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext();
    const result = await loadAndWatch(await context.newPage());
    await context.close();
    console.log(`long tasks during load: ${JSON.stringify(result.tasks)} (widget script at ${result.scriptEnd.toFixed(0)} ms, launcher at ${result.launcherAt?.toFixed(0)} ms)`);
    expect(result.supported).toBe(true);
    expect(result.launcherAt).not.toBeNull();
    // The widget runs from when its script arrived until it is ready (and the launcher is drawn):
    // no long task may overlap that window.
    const tasks = result.tasks.filter((t) => t.duration > 50 && t.start + t.duration > result.scriptEnd && t.start < result.now);
    attempts.push({ tasks });
    if (tasks.length === 0) break;
  }
  expect(attempts.some((a) => a.tasks.length === 0), JSON.stringify(attempts)).toBe(true);
});

test('dashboard: "Require verified identity" and the verified badge in the visitor panel', async ({ browser }) => {
  // A visitor verified through identify.
  const vctx = await browser.newContext();
  const v = await vctx.newPage();
  await v.goto(demo());
  await openPanel(v);
  await ask(v, 'Hi from a verified customer');
  const { session_id } = await storedSession(v);
  const api = await ownerApi();
  const { secret } = await (await api.get(`${O()}/sites/${SITE()}/secret`)).json();
  const userId = `cust-${Date.now()}`;
  const ok = v.waitForResponse((r) => r.url().endsWith('/api/chat/identify'));
  await v.evaluate(
    ([u, h]) => (window as unknown as Fd).Frontdesk('identify', { userId: u, userHash: h }),
    [userId, createHmac('sha256', secret).update(userId).digest('hex')],
  );
  expect((await ok).status()).toBe(200);

  const actx = await browser.newContext();
  const a = await actx.newPage();
  await a.goto(`${URL()}/app/#/sites/${SITE()}`);
  await a.getByLabel('Email').fill(process.env.FD_EMAIL as string);
  await a.getByLabel('Password').fill(process.env.FD_PASSWORD as string);
  await a.getByRole('button', { name: 'Sign in' }).click();
  const toggle = a.getByRole('checkbox', { name: 'Require verified identity' });
  await expect(toggle).toBeVisible();
  await expect(toggle).not.toBeChecked();
  await expect(a.locator('#keys')).toContainText('HMAC-SHA256(secret, userId)');
  await toggle.check();
  await expect.poll(async () => (await (await api.get(`${O()}/sites/${SITE()}`)).json()).require_verified_identity).toBe(true);
  // Now an identify without a hash is refused (a new user id drops the earlier user's hash).
  const errs = await v.evaluate(async () => {
    const w = window as unknown as Fd;
    return new Promise<unknown>((res) => {
      w.Frontdesk('on', 'error', (e: unknown) => res(e));
      w.Frontdesk('identify', { userId: 'someone-else' });
    });
  });
  expect(errs).toMatchObject({ code: 'identity_invalid' });
  await toggle.uncheck();
  await expect.poll(async () => (await (await api.get(`${O()}/sites/${SITE()}`)).json()).require_verified_identity).toBe(false);

  // The visitor panel shows the user id with a verified badge.
  await a.goto(`${URL()}/app/#/conversations/${session_id}`);
  const panel = a.locator('#visitor-panel');
  if (!(await panel.isVisible())) await a.locator('.visitor-toggle').click();
  await expect(panel).toContainText(userId);
  await expect(panel.locator('.badge.verified')).toHaveText('verified');
  await a.screenshot({ path: `${shots}/visitor-verified.png` });
  await api.dispose();
  await vctx.close();
  await actx.close();
});
