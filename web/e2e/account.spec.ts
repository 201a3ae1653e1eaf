// "My account" against a real demo server: login sessions, two-factor login, password reset.
import { createHmac } from 'node:crypto';
import { type Browser, expect, type Page, request, test } from '@playwright/test';

const URL = () => process.env.FD_URL as string;
const ORG = () => process.env.FD_ORG as string;
const MEMBER = () => ({ email: process.env.FD_MEMBER_EMAIL as string, password: process.env.FD_MEMBER_PASSWORD as string });

/** A member account of its own (invited by the owner, accepted through the API), for a test that
 * changes how the account signs in: a failure half-way cannot lock the shared member out. */
async function ownMember(): Promise<{ email: string; password: string }> {
  const email = `two-factor-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = 'two-factor-password-e2e';
  const owner = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const login = await owner.post('/api/app/login', { data: { email: process.env.FD_EMAIL, password: process.env.FD_PASSWORD } });
  expect(login.ok(), await login.text()).toBe(true);
  const invite = await owner.post(`/api/app/orgs/${ORG()}/invites`, { data: { email, role: 'member' } });
  expect(invite.ok(), await invite.text()).toBe(true);
  const token = decodeURIComponent(String((await invite.json()).link).split('#/invite/')[1]);
  await owner.dispose();
  const fresh = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { Origin: URL() } });
  const accepted = await fresh.post(`/api/app/invites/${encodeURIComponent(token)}/accept`, { data: { name: 'Two-factor', password } });
  expect(accepted.ok(), await accepted.text()).toBe(true);
  await fresh.dispose();
  return { email, password };
}

/** RFC 4648 base32 (no padding needed) to bytes. */
function base32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) for time step `counter`. */
function totp(secret: string, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32(secret)).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const n = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(n % 1_000_000).padStart(6, '0');
}
const step = () => Math.floor(Date.now() / 1000 / 30);

test('the TOTP helper matches RFC 6238', () => {
  // RFC 6238 appendix B, SHA-1: the ASCII secret "12345678901234567890", T = 59 s → 94287082 (8 digits).
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  expect(totp(secret, 1)).toBe('287082');
  expect(totp(secret, Math.floor(1111111109 / 30))).toBe('081804');
});

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

async function fillSignIn(page: Page, email: string, password: string) {
  // The sign-in form itself: right after "Sign out" the account page (with its "Email me…" boxes)
  // may still be on screen.
  const form = page.getByRole('form', { name: 'Sign in to Frontdesk' });
  await form.getByRole('textbox', { name: 'Email' }).fill(email);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function memberPage(browser: Browser, userAgent?: string, member = MEMBER()) {
  const context = await browser.newContext(userAgent ? { userAgent } : {});
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${URL()}/app/#/inbox`);
  await fillSignIn(page, member.email, member.password);
  await expect(page.locator('.conn')).toHaveText('Live');
  return { context, page, errors };
}

test.describe('my account', () => {

  test('signing out another session sends that browser to the sign-in screen', async ({ browser }) => {
    const a = await memberPage(browser);
    const b = await memberPage(browser, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0');
    await a.page.getByRole('link', { name: 'My account' }).click();
    await expect(a.page.getByRole('heading', { name: 'My account' })).toBeVisible();
    const rows = a.page.locator('table.sessions tbody tr');
    await expect(rows.filter({ hasText: 'This device' })).toHaveCount(1);
    await expect(rows.filter({ hasText: 'Firefox on Linux' })).toHaveCount(1);
    await a.page.getByRole('button', { name: /^Sign out Firefox on Linux/ }).click();
    await expect(rows.filter({ hasText: 'Firefox on Linux' })).toHaveCount(0);
    await expect(rows.filter({ hasText: 'This device' })).toHaveCount(1);

    // B's next action meets the sign-in screen — unless its socket's heartbeat check (close 4001)
    // got there first and the dashboard already went to it.
    const signIn = b.page.getByRole('heading', { name: 'Sign in to Frontdesk' });
    if (!(await signIn.isVisible())) {
      await b.page.getByRole('link', { name: 'Escalations' }).click({ timeout: 5_000 }).catch(() => undefined);
    }
    await expect(signIn).toBeVisible();
    // The first browser is still signed in.
    await a.page.reload();
    await expect(a.page.getByRole('heading', { name: 'My account' })).toBeVisible();
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    await a.context.close();
    await b.context.close();
  });

  test('two-factor login: set up, sign in with a code, turn off', async ({ browser }) => {
    const member = await ownMember();
    const { context, page, errors } = await memberPage(browser, undefined, member);
    await page.goto(`${URL()}/app/#/account`);
    await page.getByRole('button', { name: 'Set up two-factor login' }).click();
    const shown = (await page.locator('.totp-secret').textContent()) ?? '';
    expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    const secret = shown.replace(/\s/g, '');
    await expect(page.getByRole('textbox', { name: /setup link/ })).toHaveValue(new RegExp(`^otpauth://totp/.*secret=${secret}`));
    const now = step();
    await page.getByLabel('Code from the app').fill(totp(secret, now));
    await page.getByRole('button', { name: 'Turn on two-factor login' }).click();
    await expect(page.getByRole('button', { name: 'Turn off two-factor login' })).toBeVisible();

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await fillSignIn(page, member.email, member.password);
    const code = page.getByLabel('Two-factor code');
    await expect(code).toBeVisible();
    await expect(code).toHaveAttribute('autocomplete', 'one-time-code');
    await expect(code).toHaveAttribute('inputmode', 'numeric');
    // A code works once: the one used to turn it on is spent, the next step's is in the window.
    await code.fill(`${totp(secret, now + 1).slice(0, 3)} ${totp(secret, now + 1).slice(3)}`);
    await expect(code).toHaveValue(totp(secret, now + 1));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.locator('.conn')).toHaveText('Live');

    await page.goto(`${URL()}/app/#/account`);
    await page.getByLabel('Your password').fill('not the password');
    await page.getByRole('button', { name: 'Turn off two-factor login' }).click();
    await expect(page.getByRole('alert')).toBeVisible();
    await page.getByLabel('Your password').fill(member.password);
    await page.getByRole('button', { name: 'Turn off two-factor login' }).click();
    await expect(page.getByRole('button', { name: 'Set up two-factor login' })).toBeVisible();
    expect(errors).toEqual([]);
    await context.close();
  });
});

test('forgot password and a bogus reset link', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`${URL()}/app/#/inbox`);
  await page.getByRole('button', { name: 'Forgot your password?' }).click();
  await page.getByLabel('Email').fill('nobody@example.com');
  await page.getByRole('button', { name: 'Email me a link' }).click();
  await expect(page.getByRole('status')).toContainText("If that address has an account, we've emailed a link");

  await page.goto(`${URL()}/app/#/reset/bogus-token`);
  await page.getByLabel(/^New password/).fill('correct horse battery');
  await page.getByLabel('Confirm new password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toContainText('This link is invalid, used or expired');
  expect(errors).toEqual([]);
});
