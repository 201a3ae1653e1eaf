// Privacy in the dashboard (docs/privacy.md): export and erasure from a conversation's visitor
// panel and from the Privacy page (by email), and a site's retention period.
import { type Browser, type Download, expect, type Page, request, test } from '@playwright/test';
import { readFileSync } from 'node:fs';

const URL = () => process.env.FD_URL as string;
const KEY = () => process.env.FD_KEY as string;
const ORG = () => process.env.FD_ORG as string;
const O = () => `/api/app/orgs/${ORG()}`;
type Fd = { Frontdesk: (...a: unknown[]) => unknown };

/** Fails the test on any Content-Security-Policy violation or uncaught error in the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

async function signIn(page: Page, hash: string, email = process.env.FD_EMAIL as string, password = process.env.FD_PASSWORD as string) {
  await page.goto(`${URL()}/app/${hash}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.conn')).toHaveText('Live');
}

async function agentPage(browser: Browser, hash: string, email?: string, password?: string) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await signIn(page, hash, email, password);
  return { context, page, errors };
}

/** Clicks `button` and returns the downloaded file's name and text. */
async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const waiting: Promise<Download> = page.waitForEvent('download');
  await click();
  const d = await waiting;
  const path = await d.path();
  return { name: d.suggestedFilename(), text: readFileSync(path, 'utf8') };
}

/** A visitor's identified conversation through the chat API (no browser): its session id. */
async function apiVisitor(email: string, text: string): Promise<string> {
  const api = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { 'X-API-Key': KEY(), Origin: URL() } });
  const s = await (await api.post('/api/chat/session', { data: {} })).json();
  const auth = { Authorization: `Bearer ${s.session_token}` };
  const id = await api.post('/api/chat/identify', { data: { session_id: s.session_id, name: 'Grace Hopper', email }, headers: auth });
  expect(id.ok(), await id.text()).toBe(true);
  const m = await api.post('/api/chat/message', { data: { session_id: s.session_id, content: text }, headers: auth });
  expect(m.ok(), await m.text()).toBe(true);
  await api.dispose();
  return s.session_id as string;
}

test('visitor panel: export the visitor data as a file, then erase it through the confirmation', async ({ browser }) => {
  const tag = Date.now().toString(36);
  const email = `ada.${tag}@example.com`;
  const said = `My order number is ZX-${tag}, please call me back`;

  // A visitor chats in the widget on the demo page and identifies with an email.
  const vContext = await browser.newContext();
  const v = await vContext.newPage();
  await v.goto(`${URL()}/demo?key=${KEY()}`);
  await v.evaluate((e) => (window as unknown as Fd).Frontdesk('identify', { name: 'Ada Lovelace', email: e }), email);
  const identified = v.waitForResponse((r) => r.url().endsWith('/api/chat/identify'));
  await v.locator('.fd-launcher').click();
  await expect(v.locator('.fd-panel')).toBeVisible();
  const input = v.locator('.fd-form textarea');
  await input.fill(said);
  await input.press('Enter');
  await expect(v.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText(said);
  expect((await identified).status()).toBe(200);
  const stored = JSON.parse((await v.evaluate((k) => localStorage.getItem(`frontdesk:${k}`), KEY())) as string);
  const conversationId = stored.session_id as string;
  const visitorId = stored.visitor_id as string;
  expect(visitorId).toBeTruthy();

  // The owner opens the conversation; the visitor panel has the privacy actions.
  const { context, page, errors } = await agentPage(browser, `#/conversations/${conversationId}`);
  await expect(page.locator('.timeline .msg.visitor').first()).toContainText(said);
  const panel = page.locator('#visitor-panel');
  await expect(panel).toContainText(email);

  const first = await download(page, () => panel.getByRole('button', { name: 'Export data' }).click());
  expect(first.name).toBe(`visitor-${visitorId}.json`);
  const doc = JSON.parse(first.text);
  expect(doc.format).toBe('frontdesk.visitor-export.v1');
  expect(doc.visitors).toHaveLength(1);
  expect(doc.visitors[0].visitor.id).toBe(visitorId);
  expect(doc.visitors[0].visitor.email).toBe(email);
  expect(first.text).toContain(said);

  // Erase: the dialog names what goes, what stays, and that it cannot be undone; Cancel does nothing.
  await panel.getByRole('button', { name: 'Erase visitor…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Erase this visitor?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(visitorId);
  for (const words of ['message', 'ratings', 'page views', 'notes', 'unanswered questions', 'scenario runs', 'identity', 'anonymous', 'cannot be undone']) {
    await expect(dialog).toContainText(words);
  }
  await page.screenshot({ path: 'test-results/screenshots/privacy-erase-dialog.png' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('.timeline .msg.visitor').first()).toContainText(said);

  await panel.getByRole('button', { name: 'Erase visitor…' }).click();
  await expect(dialog).toBeVisible();
  const erased = page.waitForResponse((r) => r.url().endsWith('/privacy/erase'));
  await dialog.getByRole('button', { name: 'Erase visitor', exact: true }).click();
  const body = await (await erased).json();
  expect(body.visitors).toEqual([visitorId]);
  expect(body.counts.messages).toBeGreaterThanOrEqual(1);
  await expect(dialog).toBeHidden();
  const result = panel.locator('.erase-result');
  await expect(result).toContainText('Erased 1 visitor. 1 conversation kept without their content.');
  await expect(result).toContainText(`${body.counts.messages} messages`);

  // The conversation has no messages left; the panel no longer knows the email.
  await expect(page.locator('.timeline .msg.visitor')).toHaveCount(0);
  await expect(page.locator('.timeline')).not.toContainText(said);
  await expect(panel).not.toContainText(email);
  await expect(panel.getByRole('button', { name: 'Erase visitor…' })).toHaveCount(0);
  await page.reload();
  await expect(page.locator('.conn')).toHaveText('Live');
  await expect(page.locator('#visitor-panel')).toContainText("This visitor's data was erased.");
  await expect(page.locator('.timeline .msg.visitor')).toHaveCount(0);

  // A second export has nothing personal in it.
  const second = await download(page, () => page.locator('#visitor-panel').getByRole('button', { name: 'Export data' }).click());
  expect(second.text).not.toContain(said);
  expect(second.text).not.toContain(email);
  expect(second.text).not.toContain('Ada Lovelace');
  const after = JSON.parse(second.text);
  expect(after.visitors[0].visitor.erased_at).toBeTruthy();
  expect(after.visitors[0].conversations.flatMap((c: { messages: unknown[] }) => c.messages)).toHaveLength(0);

  expect(errors).toEqual([]);
  await context.close();
  await vContext.close();
});

test('Privacy page: look a person up by email, export, erase all their visitors', async ({ browser }) => {
  const tag = Date.now().toString(36);
  const email = `grace.${tag}@example.com`;
  const one = `First device question ${tag}`;
  const two = `Second device question ${tag}`;
  await apiVisitor(email, one);
  // The same person on another device, with the address in other letter case.
  await apiVisitor(email.toUpperCase(), two);

  const { context, page, errors } = await agentPage(browser, '#/inbox');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Privacy' }).click();
  await expect(page).toHaveURL(/#\/privacy$/);
  await expect(page.getByRole('heading', { name: 'Privacy', level: 1 })).toBeVisible();
  await page.getByRole('textbox', { name: 'Email' }).fill(email);

  const file = await download(page, () => page.getByRole('button', { name: 'Export', exact: true }).click());
  expect(file.name).toBe(`visitors-${email}.json`);
  expect(file.text).toContain(one);
  expect(file.text).toContain(two);
  expect(JSON.parse(file.text).visitors).toHaveLength(2);
  await expect(page.getByRole('heading', { name: `Exported for ${email}` })).toBeVisible();
  await expect(page.locator('.panel [role=status]')).toHaveText(/^2 visitors, 2 conversations, \d+ messages\.$/);

  await page.getByRole('button', { name: 'Erase all visitors with this email…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Erase all visitors with this email?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(email);
  await expect(dialog).toContainText('cannot be undone');
  await dialog.getByRole('button', { name: 'Erase all visitors with this email', exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('.erase-result')).toContainText('Erased 2 visitors. 2 conversations kept without their content.');
  await page.screenshot({ path: 'test-results/screenshots/privacy-page.png' });

  // Nobody has the email any more.
  const empty = await download(page, () => page.getByRole('button', { name: 'Export', exact: true }).click());
  expect(JSON.parse(empty.text).visitors).toEqual([]);
  expect(empty.text).not.toContain(one);
  await expect(page.locator('.panel [role=status]')).toHaveText('Nothing found: no visitor has this email.');

  // Both are in the audit log, without the email.
  const audit = await (await page.request.get(`${URL()}${O()}/audit?action=privacy.`)).json();
  const actions = (audit.events as { action: string }[]).map((e) => e.action);
  expect(actions).toContain('privacy.erase');
  expect(actions).toContain('privacy.export');
  expect(JSON.stringify(audit)).not.toContain(email);

  expect(errors).toEqual([]);
  await context.close();
});

test('members have no privacy actions and cannot open the Privacy page', async ({ browser }) => {
  const conversationId = await apiVisitor(`member.${Date.now().toString(36)}@example.com`, 'Hello from a visitor');
  const { context, page } = await agentPage(
    browser,
    `#/conversations/${conversationId}`,
    process.env.FD_MEMBER_EMAIL as string,
    process.env.FD_MEMBER_PASSWORD as string,
  );
  await expect(page.locator('#visitor-panel')).toContainText('Grace Hopper');
  await expect(page.locator('#visitor-panel').getByRole('button', { name: 'Export data' })).toHaveCount(0);
  await expect(page.locator('#visitor-panel').getByRole('button', { name: 'Erase visitor…' })).toHaveCount(0);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Privacy' })).toHaveCount(0);
  await page.goto(`${URL()}/app/#/privacy`);
  await expect(page.getByRole('heading', { name: "You don't have access to this page" })).toBeVisible();
  await context.close();
});

test('site settings: the retention period is validated, saved and kept after reload', async ({ browser }) => {
  const { context, page, errors } = await agentPage(browser, '#/sites');
  // A site of its own, so the demo site's conversations are never subject to retention.
  const created = await page.request.post(`${URL()}${O()}/sites`, {
    headers: { Origin: URL() },
    data: { name: `Retention ${Date.now().toString(36)}`, allowed_origins: [] },
  });
  expect(created.ok(), await created.text()).toBe(true);
  const site = await created.json();
  expect(site.retention_days ?? null).toBeNull();
  await page.goto(`${URL()}/app/#/sites/${site.id}`);

  const field = page.getByLabel('Retention (days)');
  await expect(field).toHaveValue('');
  await expect(page.locator('#retention')).toContainText('kept until they are erased');
  const save = page.getByRole('button', { name: 'Save retention' });

  // Out of range: refused before any request.
  let patched = 0;
  page.on('request', (r) => r.method() === 'PATCH' && r.url().endsWith(`/sites/${site.id}`) && patched++);
  await field.fill('0');
  await save.click();
  await expect(page.locator('#retention-error')).toHaveText(/Between 1 and 3650 days/);
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await field.fill('3651');
  await save.click();
  await expect(page.locator('#retention-error')).toBeVisible();
  expect(patched).toBe(0);

  await field.fill('30');
  const saved = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(`/sites/${site.id}`));
  await save.click();
  const r = await saved;
  expect(r.status()).toBe(200);
  expect(r.request().postDataJSON()).toEqual({ retention_days: 30 });
  expect((await r.json()).retention_days).toBe(30);
  await expect(page.locator('#retention-error')).toHaveCount(0);
  await expect(page.locator('#retention')).toContainText('no activity for 30 days');

  await page.reload();
  await expect(page.locator('.conn')).toHaveText('Live');
  await expect(page.getByLabel('Retention (days)')).toHaveValue('30');
  expect((await (await page.request.get(`${URL()}${O()}/sites/${site.id}`)).json()).retention_days).toBe(30);

  // Empty keeps everything again (null).
  await page.getByLabel('Retention (days)').fill('');
  const cleared = page.waitForResponse((q) => q.request().method() === 'PATCH' && q.url().endsWith(`/sites/${site.id}`));
  await page.getByRole('button', { name: 'Save retention' }).click();
  expect((await cleared).request().postDataJSON()).toEqual({ retention_days: null });
  await page.reload();
  await expect(page.locator('.conn')).toHaveText('Live');
  await expect(page.getByLabel('Retention (days)')).toHaveValue('');

  expect(errors).toEqual([]);
  await context.close();
});
