// The agent & admin dashboard against a real demo server: a visitor in the widget and an agent in
// the dashboard, each in their own browser context.
import { type Browser, type BrowserContext, expect, type Page, request, test } from '@playwright/test';
import { brandColors, parseColor } from '../src/widget/contrast';

const URL = () => process.env.FD_URL as string;
const KEY = () => process.env.FD_KEY as string;
const ORG = () => process.env.FD_ORG as string;
const SITE = () => process.env.FD_SITE as string;
const shots = 'test-results/screenshots';

/** The CSS `rgb(…)` the widget paints for a brand colour (after its automatic contrast fix). */
function painted(hex: string): string {
  const rgb = parseColor(brandColors(hex).bg) ?? [0, 0, 0];
  return `rgb(${rgb.join(', ')})`;
}

/** Fails the test on any Content-Security-Policy violation or uncaught error in the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

async function signIn(page: Page, email = process.env.FD_EMAIL as string, password = process.env.FD_PASSWORD as string, hash = '#/inbox') {
  await page.goto(`${URL()}/app/${hash}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.conn')).toHaveText('Live');
}

async function agentPage(browser: Browser, hash = '#/inbox'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await signIn(page, undefined, undefined, hash);
  return { context, page, errors };
}

async function visitorPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${URL()}/demo?key=${KEY()}`);
  await page.locator('.fd-launcher').click();
  await expect(page.locator('.fd-panel')).toBeVisible();
  return { context, page };
}

async function visitorSays(page: Page, text: string) {
  const input = page.locator('.fd-form textarea');
  await input.fill(text);
  await input.press('Enter');
  await expect(page.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText(text);
}

/** A visitor's conversation created through the chat API (no browser). */
async function apiConversation(text: string): Promise<string> {
  const api = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { 'X-API-Key': KEY(), Origin: URL() } });
  const s = await (await api.post('/api/chat/session', { data: { params: { plan: 'e2e' } } })).json();
  const r = await api.post('/api/chat/message', { data: { session_id: s.session_id, content: text }, headers: { Authorization: `Bearer ${s.session_token}` } });
  expect(r.ok(), await r.text()).toBe(true);
  await api.dispose();
  return s.session_id as string;
}

async function ownerApi() {
  const api = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const r = await api.post('/api/app/login', { data: { email: process.env.FD_EMAIL, password: process.env.FD_PASSWORD } });
  expect(r.ok()).toBe(true);
  return api;
}

test('the shell is served with a strict CSP, hashed assets and SRI', async ({ page }) => {
  const r = await page.goto(`${URL()}/app/`);
  expect(r?.status()).toBe(200);
  const csp = r?.headers()['content-security-policy'] ?? '';
  expect(csp).toMatch(/script-src 'self' 'sha384-[A-Za-z0-9+/=]+'/);
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).toContain("frame-ancestors 'none'");
  expect(r?.headers()['x-frame-options']).toBe('DENY');
  expect(r?.headers()['referrer-policy']).toBe('no-referrer');
  const script = page.locator('script[src^="/assets/app."]');
  await expect(script).toHaveAttribute('integrity', /^sha384-/);
  await expect(page.getByRole('heading', { name: 'Sign in to Frontdesk' })).toBeVisible();
  // A deep link gets the same shell.
  expect((await page.request.get(`${URL()}/app/conversations/x`)).status()).toBe(200);
});

test('(a) escalation → take over → live exchange with typing both ways → resolve → the visitor reopens it', async ({ browser }) => {
  const agent = await agentPage(browser, '#/escalations');
  const a = agent.page;
  await expect(a.getByRole('heading', { name: 'Escalations' })).toBeVisible();
  const visitor = await visitorPage(browser);
  const v = visitor.page;
  const question = `I want to talk to a human about order ${Date.now() % 100000}`;
  await visitorSays(v, question);
  await expect(v.locator('.fd-banner')).toBeVisible();

  // It appears in the queue live, with its waiting time (the widget's session is the conversation).
  const stored = await v.evaluate((k) => localStorage.getItem(`frontdesk:${k}`), KEY());
  const conversationId = JSON.parse(stored as string).session_id as string;
  const item = a.locator(`.items a.item[data-id="${conversationId}"]`);
  await expect(item).toBeVisible();
  await expect(item.locator('.item-time')).toHaveText(/^waiting \d+ s$/);
  await expect(a.getByRole('button', { name: /Notifications, \d+ new/ })).toBeVisible();
  await a.screenshot({ path: `${shots}/escalations.png` });
  await item.click();
  await expect(a.locator('.timeline')).toContainText(question);
  await a.getByRole('button', { name: 'Take over' }).click();
  await expect(a.getByLabel('Assignee')).toHaveValue(/.+/);
  await expect(a.getByRole('button', { name: 'Take over' })).toBeHidden();

  // The agent types: the visitor sees it; the agent sends.
  const reply = a.getByRole('textbox', { name: 'Reply to the visitor' });
  await reply.click();
  await reply.pressSequentially('Hi, this is Sam from support. ', { delay: 20 });
  await expect(v.locator('.fd-status')).toHaveText('An agent is typing…');
  await reply.pressSequentially('How can I help?', { delay: 5 });
  await reply.press('Control+Enter');
  await expect(v.locator('[role=log] .fd-agent')).toContainText('How can I help?');
  await expect(a.locator('.timeline .msg.agent')).toContainText('How can I help?');

  // The visitor types: the agent sees it; the visitor sends.
  const vInput = v.locator('.fd-form textarea');
  await vInput.pressSequentially('My lamp ', { delay: 20 });
  await expect(a.locator('.typing')).toHaveText(/is typing…/);
  await vInput.pressSequentially('arrived broken', { delay: 5 });
  await vInput.press('Enter');
  await expect(a.locator('.timeline .msg.visitor').last()).toContainText('My lamp arrived broken');
  await a.screenshot({ path: `${shots}/conversation.png` });

  // Resolve; the visitor writes again and it reopens for the agent.
  await a.getByRole('button', { name: 'Resolve' }).click();
  await expect(a.locator('.conv-title .badge')).toHaveText('Resolved');
  await visitorSays(v, 'One more thing: can I get a refund?');
  await expect(a.locator('.timeline')).toContainText('can I get a refund?');
  await expect(a.locator('.conv-title .badge')).not.toHaveText('Resolved');
  expect(agent.errors).toEqual([]);
  await visitor.context.close();
  await agent.context.close();
});

test('(b) a widget draft shows in the preview, and visitors see it only once published', async ({ browser }) => {
  const api = await ownerApi();
  const before = await (await api.get(`/api/app/orgs/${ORG()}/sites/${SITE()}`)).json();
  const agent = await agentPage(browser, `#/sites/${SITE()}`);
  const a = agent.page;
  try {
    await expect(a.getByRole('heading', { name: 'Widget', exact: true })).toBeVisible();
    const preview = a.frameLocator('iframe[title="Widget preview"]');
    await expect(preview.locator('.fd-panel')).toBeVisible();
    expect(painted(before.widget.primary_color)).not.toBe('rgb(15, 118, 110)');
    await a.getByLabel('Brand colour (hex)').fill('#0f766e');
    await a.getByLabel('Welcome heading').fill('Hello from the draft');
    // The preview shows the draft at once (the real widget, fed by postMessage).
    await expect(preview.locator('.fd-launcher')).toHaveCSS('background-color', 'rgb(15, 118, 110)');
    await expect(preview.locator('.fd-head')).toHaveCSS('background-color', 'rgb(15, 118, 110)');
    await expect(preview.locator('.fd-welcome h3')).toHaveText('Hello from the draft');
    await a.getByRole('button', { name: 'Save draft' }).click();
    await expect(a.locator('.draft-state')).toHaveText('Draft saved — not published yet');
    await a.locator('#widget').scrollIntoViewIfNeeded();
    await a.screenshot({ path: `${shots}/site-settings.png`, fullPage: false });

    // Before publishing, a visitor still gets the published colour.
    const visitor = await browser.newContext();
    const playground = `${URL()}/widget/en/?site=${KEY()}`;
    const v1 = await visitor.newPage();
    await v1.goto(playground);
    await expect(v1.locator('.fd-head')).toHaveCSS('background-color', painted(before.widget.primary_color));

    await a.getByRole('button', { name: 'Publish' }).click();
    await expect(a.locator('.draft-state')).toHaveText('Visitors see this version');
    const v2 = await visitor.newPage();
    await v2.goto(playground);
    await expect(v2.locator('.fd-head')).toHaveCSS('background-color', 'rgb(15, 118, 110)');
    await visitor.close();
    expect(agent.errors).toEqual([]);
  } finally {
    const site = `/api/app/orgs/${ORG()}/sites/${SITE()}`;
    await api.patch(site, { data: { widget: before.widget } });
    await api.post(`${site}/widget/publish`, { data: {} });
    await api.dispose();
    await agent.context.close();
  }
});

test('(c) a member sees conversations only and cannot open site settings', async ({ page }) => {
  test.skip(!process.env.FD_MEMBER_EMAIL, 'the demo has no member account (member_email in demo.json)');
  await signIn(page, process.env.FD_MEMBER_EMAIL, process.env.FD_MEMBER_PASSWORD);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: /Inbox/ })).toBeVisible();
  await expect(nav.getByRole('link', { name: /Escalations/ })).toBeVisible();
  for (const hidden of ['Sites', 'Team', 'Knowledge base', 'Analytics', 'Audit log']) {
    await expect(nav.getByRole('link', { name: hidden })).toHaveCount(0);
  }
  await page.goto(`${URL()}/app/#/sites/${SITE()}`);
  await expect(page.getByRole('heading', { name: "You don't have access to this page" })).toBeVisible();
  // The API says no as well.
  const r = await page.request.get(`${URL()}/api/app/orgs/${ORG()}/sites/${SITE()}/secret`);
  expect(r.status()).toBe(403);
});

test('(d) keyboard only: j/k to a conversation, Enter, r, type, Ctrl+Enter', async ({ browser }) => {
  const text = `Keyboard question ${Date.now() % 100000}`;
  const id = await apiConversation(text);
  const agent = await agentPage(browser, '#/inbox');
  const a = agent.page;
  // The newest conversation comes first.
  await expect(a.locator('.items a.item').first()).toHaveAttribute('data-id', id);
  await a.locator('main').focus();
  await a.keyboard.press('j');
  await a.keyboard.press('j');
  await a.keyboard.press('k');
  await expect(a.locator('.items a.item').first()).toBeFocused();
  await a.keyboard.press('Enter');
  await expect(a).toHaveURL(/#\/conversations\//);
  await expect(a.locator('.timeline')).toContainText(text);
  await a.keyboard.press('?');
  await expect(a.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await a.keyboard.press('Escape');
  await a.keyboard.press('r');
  await expect(a.getByRole('textbox', { name: 'Reply to the visitor' })).toBeFocused();
  await a.keyboard.type('Answered with the keyboard only.');
  await a.keyboard.press('Control+Enter');
  await expect(a.locator('.timeline .msg.agent')).toContainText('Answered with the keyboard only.');
  await expect(a.getByRole('textbox', { name: 'Reply to the visitor' })).toHaveValue('');
  // Esc leaves the field; / goes to search.
  await a.keyboard.press('Escape');
  await a.keyboard.press('/');
  await expect(a.getByRole('searchbox', { name: 'Search conversations' })).toBeFocused();
  await agent.context.close();
});

test('the main screens render without CSP errors (screenshots)', async ({ browser }) => {
  await apiConversation('Do you deliver to Belgium?');
  const agent = await agentPage(browser, '#/inbox');
  const a = agent.page;
  await expect(a.locator('.items a.item').first()).toBeVisible();
  await a.screenshot({ path: `${shots}/inbox.png` });
  const pages: [string, RegExp | string, string][] = [
    ['#/team', 'Team', 'team'],
    ['#/kb', 'Knowledge base', 'kb'],
    ['#/unanswered', 'Unanswered questions', 'unanswered'],
    ['#/analytics', 'Analytics', 'analytics'],
    ['#/audit', 'Audit log', 'audit'],
  ];
  for (const [hash, heading, name] of pages) {
    await a.goto(`${URL()}/app/${hash}`);
    await expect(a.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    await a.waitForLoadState('networkidle');
    await a.screenshot({ path: `${shots}/${name}.png` });
  }
  expect(agent.errors).toEqual([]);
  await agent.context.close();
});

test('on a tablet the sidebar collapses behind the menu button', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 820, height: 1180 } });
  const page = await context.newPage();
  await signIn(page);
  const toggle = page.getByRole('button', { name: 'Menu' });
  await expect(toggle).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeHidden();
  await toggle.click();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Escalations/ }).click();
  await expect(page.getByRole('heading', { name: 'Escalations' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeHidden();
  await page.screenshot({ path: `${shots}/tablet-escalations.png` });
  await context.close();
});
