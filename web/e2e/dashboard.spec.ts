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
  // The audit log's hash chain checks out.
  await a.getByRole('button', { name: 'Verify chain' }).click();
  await expect(a.getByTestId('audit-verdict')).toContainText(/^Intact: \d+ events/);
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

/** A unique suffix for the accounts and texts a test creates. */
const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

test('(e) an owner invites a member from the Team page; the link opens a fresh browser where the account is created', async ({ browser }) => {
  const email = `new-member-${unique()}@example.com`;
  const owner = await agentPage(browser, '#/team');
  const o = owner.page;
  const form = o.getByRole('form', { name: 'Invite a teammate' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Role').selectOption('member');
  await form.getByRole('button', { name: 'Invite' }).click();
  const linkBox = o.getByRole('textbox', { name: 'Invitation link' });
  await expect(linkBox).toHaveValue(/\/app\/#\/invite\//);
  const link = await linkBox.inputValue();
  await expect(o.getByRole('table', { name: 'Pending invitations' })).toContainText(email);

  // The invited person: another browser, nobody signed in.
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Join a team on Frontdesk' })).toBeVisible();
  await expect(page.locator('.auth-card')).toContainText(email);
  await page.getByLabel('Your name').fill('New Member');
  await page.getByLabel('Choose a password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Accept the invitation' }).click();
  await expect(page).toHaveURL(/#\/inbox$/);
  await expect(page.locator('.conn')).toHaveText('Live');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: /Inbox/ })).toBeVisible();
  for (const hidden of ['Sites', 'Team', 'Knowledge base']) await expect(nav.getByRole('link', { name: hidden })).toHaveCount(0);
  // The session is a real one: the member's own profile says so.
  const me = await (await page.request.get(`${URL()}/api/app/me`)).json();
  expect(me.user.email).toBe(email);
  expect(me.memberships.find((m: { org_id: string }) => m.org_id === ORG())?.role).toBe('member');
  expect(errors).toEqual([]);
  await context.close();

  // The owner's Team page now lists the member, and the invitation is no longer pending.
  await o.reload();
  await expect(o.getByRole('combobox', { name: `Role of ${email}` })).toHaveValue('member');
  await expect(o.getByRole('table', { name: 'Pending invitations' }).getByText(email)).toHaveCount(0);
  await owner.context.close();
});

test('(f) an admin writes and publishes an article; the widget answers from it with a citation', async ({ browser }) => {
  // An admin account, invited and accepted over the API.
  const email = `kb-admin-${unique()}@example.com`;
  const password = 'admin-password-e2e';
  const api = await ownerApi();
  const inv = await api.post(`/api/app/orgs/${ORG()}/invites`, { data: { email, role: 'admin' } });
  expect(inv.ok(), await inv.text()).toBe(true);
  const token = decodeURIComponent(String((await inv.json()).link).split('#/invite/')[1]);
  const fresh = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const acc = await fresh.post(`/api/app/invites/${encodeURIComponent(token)}/accept`, { data: { name: 'KB Admin', password } });
  expect(acc.ok(), await acc.text()).toBe(true);
  await Promise.all([api.dispose(), fresh.dispose()]);

  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await signIn(page, email, password, '#/kb');
  await page.getByRole('link', { name: 'New article' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'New article' })).toBeVisible();
  const title = 'Gift wrapping with recycled kraft paper';
  await page.getByLabel('Title').fill(title);
  await page
    .getByLabel('Body (Markdown)')
    .fill('Every lamp can be **gift wrapped** in recycled kraft paper for 4 euros.\n\nChoose gift wrapping at checkout; the kraft paper is fully recyclable.');
  await page.getByRole('tab', { name: 'Preview' }).click();
  await expect(page.getByRole('tabpanel', { name: 'Preview' }).locator('strong')).toHaveText('gift wrapped');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(page.locator('.badge.kb-published')).toHaveText('Published');
  expect(errors).toEqual([]);
  await context.close();

  // A visitor asks on the demo page.
  const visitor = await visitorPage(browser);
  const v = visitor.page;
  const input = v.locator('.fd-form textarea');
  await input.fill('Can a lamp be gift wrapped in recycled kraft paper?');
  await input.press('Enter');
  const answer = v.locator('[role=log] .fd-assistant').last();
  await expect(answer).toContainText('kraft paper');
  // The article has no public URL: the citation names it (as text).
  await expect(answer.locator('.fd-cites li')).toHaveText(title);
  await visitor.context.close();
});

test('(g) canned responses can be edited on the Team page', async ({ browser }) => {
  const shortcut = `e2e${unique()}`;
  const owner = await agentPage(browser, '#/team');
  const o = owner.page;
  const add = o.getByRole('form', { name: 'Add a canned response' });
  await add.getByLabel('Shortcut').fill(shortcut);
  await add.getByLabel('Title').fill('Opening hours');
  await add.getByLabel('Text (Markdown)').fill('We are open 9 to 5.');
  await add.getByRole('button', { name: 'Add canned response' }).click();
  const row = o.getByRole('row').filter({ hasText: `/${shortcut}` });
  await expect(row).toContainText('We are open 9 to 5.');
  await row.getByRole('button', { name: `Edit /${shortcut}` }).click();
  const edit = o.getByRole('form', { name: `Edit /${shortcut}` });
  await expect(edit.getByLabel('Shortcut')).toBeFocused();
  await expect(edit.getByLabel('Title')).toHaveValue('Opening hours');
  await edit.getByLabel('Text (Markdown)').fill('We are open 8 to 6, Monday to Saturday.');
  await edit.screenshot({ path: `${shots}/canned-edit.png` });
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(row).toContainText('We are open 8 to 6, Monday to Saturday.');
  await expect(o.getByRole('form', { name: 'Add a canned response' })).toBeVisible();
  // Stored: the API returns the new text.
  const list = await (await o.request.get(`${URL()}/api/app/orgs/${ORG()}/canned-responses`)).json();
  expect(list.canned_responses.find((c: { shortcut: string }) => c.shortcut === shortcut)?.body).toBe('We are open 8 to 6, Monday to Saturday.');
  expect(owner.errors).toEqual([]);
  await owner.context.close();
});

test('(h) someone with an account signs in on the invitation page and accepts without opening the link again', async ({ browser }) => {
  // An account that exists but is not (or no longer) in the organization.
  const email = `returning-${unique()}@example.com`;
  const password = 'returning-password-e2e';
  const api = await ownerApi();
  const first = await (await api.post(`/api/app/orgs/${ORG()}/invites`, { data: { email, role: 'member' } })).json();
  const fresh = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const token1 = decodeURIComponent(String(first.link).split('#/invite/')[1]);
  const acc = await fresh.post(`/api/app/invites/${encodeURIComponent(token1)}/accept`, { data: { name: 'Returning', password } });
  expect(acc.ok(), await acc.text()).toBe(true);
  const userId = (await acc.json()).user.id as string;
  await fresh.dispose();
  const removed = await api.delete(`/api/app/orgs/${ORG()}/members/${encodeURIComponent(userId)}`);
  expect(removed.ok(), await removed.text()).toBe(true);
  const again = await api.post(`/api/app/orgs/${ORG()}/invites`, { data: { email, role: 'member' } });
  expect(again.ok(), await again.text()).toBe(true);
  const link = String((await again.json()).link);
  await api.dispose();

  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(link);
  await expect(page.getByRole('heading', { level: 2, name: 'Sign in' })).toBeVisible();
  await expect(page.getByLabel('Email')).toHaveValue(email);
  await page.screenshot({ path: `${shots}/invite-sign-in.png` });
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Still on the invitation: accept it.
  await expect(page).toHaveURL(/#\/invite\//);
  await expect(page.locator('.auth-card')).toContainText(`Signed in as ${email}`);
  await page.getByRole('button', { name: 'Accept the invitation' }).click();
  await expect(page).toHaveURL(/#\/inbox$/);
  await expect(page.locator('.conn')).toHaveText('Live');
  const me = await (await page.request.get(`${URL()}/api/app/me`)).json();
  expect(me.memberships.find((m: { org_id: string }) => m.org_id === ORG())?.role).toBe('member');
  expect(errors).toEqual([]);
  await context.close();
});

test('(i) an answer being generated streams into the open conversation and the stored message replaces it', async ({ browser }) => {
  const id = await apiConversation(`Streaming question ${unique()}`);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  // The real agent socket, with a hand on the frames it delivers to the page.
  let socket: { send: (m: string) => void } | null = null;
  await page.routeWebSocket(/\/api\/app\/ws/, (ws) => {
    ws.connectToServer();
    socket = ws;
  });
  await signIn(page, undefined, undefined, `#/conversations/${encodeURIComponent(id)}`);
  await expect(page.locator('.timeline')).toContainText('Streaming question');
  const push = (f: Record<string, unknown>) => socket!.send(JSON.stringify({ v: 1, org_id: ORG(), conversation_id: id, ...f }));
  push({ type: 'thinking', stage: 'Writing an answer…', timeout_ms: 30000 });
  await expect(page.locator('.typing')).toHaveText('Assistant: Writing an answer…');
  for (const text of ['Delivery to ', 'Belgium takes ', 'two days']) push({ type: 'message.delta', stream_id: `${id}:1`, text });
  // Another conversation's pieces stay out.
  push({ type: 'message.delta', conversation_id: 'someone-else', stream_id: 'x', text: 'not here' });
  const streaming = page.locator('.timeline .msg.streaming');
  await expect(streaming).toHaveCount(1);
  await expect(streaming.locator('.msg-body')).toHaveText('Delivery to Belgium takes two days');
  await expect(page.locator('.timeline')).not.toContainText('not here');
  await page.screenshot({ path: `${shots}/streaming.png` });
  push({
    type: 'message.created',
    seq: 1000,
    message: {
      id: `fake-${unique()}`,
      conversation_id: id,
      seq: 1000,
      author_kind: 'assistant',
      author_id: null,
      body: 'Delivery to Belgium takes two days.',
      html: '<p>Delivery to Belgium takes two days.</p>',
      citations: [],
      created_at: new Date().toISOString(),
    },
  });
  await expect(streaming).toHaveCount(0);
  await expect(page.locator('.timeline .msg.assistant').last()).toContainText('Delivery to Belgium takes two days.');
  await expect(page.locator('.typing')).toHaveText('');
  expect(errors).toEqual([]);
  await context.close();
});

test('(j) the inbox shows more conversations on request, and a live change keeps them shown', async ({ browser }) => {
  const word = `pager${unique()}`;
  const ids: string[] = [];
  for (const n of [1, 2, 3]) ids.push(await apiConversation(`Paging question ${n} ${word}`));
  const agent = await agentPage(browser, '#/inbox');
  const a = agent.page;
  // Pages of two instead of a hundred: the same requests to the real server, a smaller `limit`.
  await a.route(/\/api\/app\/orgs\/[^/]+\/conversations\?/, (route) => {
    const url = new globalThis.URL(route.request().url());
    if (url.searchParams.get('limit') === '100') url.searchParams.set('limit', '2');
    return route.continue({ url: url.toString() });
  });
  // The search applies after a pause in typing: wait for the filtered list, not the whole inbox.
  const filtered = a.waitForResponse((r) => r.url().includes(`q=${word}`) && r.ok());
  await a.getByRole('searchbox', { name: 'Search conversations' }).fill(word);
  await filtered;
  const items = a.locator('.items a.item');
  await expect(items).toHaveCount(2);
  await expect(items.first()).toHaveAttribute('data-id', ids[2]);
  const more = a.getByRole('button', { name: 'Show more conversations' });
  await more.click();
  await expect(items).toHaveCount(3);
  await expect(items.last()).toHaveAttribute('data-id', ids[0]);
  await expect(more).toHaveCount(0);
  // A new conversation reloads the list live: it comes first, and the three stay shown.
  const fourth = await apiConversation(`Paging question 4 ${word}`);
  await expect(items).toHaveCount(4);
  await expect(items.first()).toHaveAttribute('data-id', fourth);
  await expect(more).toBeVisible();
  expect(agent.errors).toEqual([]);
  await agent.context.close();
});
