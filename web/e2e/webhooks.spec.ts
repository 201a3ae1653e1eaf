// Outgoing webhooks from the dashboard: an owner adds an endpoint pointing at a receiver started
// here (a node HTTP server on 127.0.0.1; the e2e server allows private addresses), a visitor's
// message reaches it signed, the delivery shows in the log, and Redeliver sends it again.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, request, test } from '@playwright/test';

const URL = () => process.env.FD_URL as string;
const KEY = () => process.env.FD_KEY as string;

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
}

/** The receiver's own check of a Standard Webhooks signature (any `v1,` entry may match). */
function verifies(secret: string, hit: Hit): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${hit.headers['webhook-id']}.${hit.headers['webhook-timestamp']}.${hit.body}`;
  const expected = createHmac('sha256', key).update(signed).digest('base64');
  return String(hit.headers['webhook-signature'] ?? '')
    .split(' ')
    .some((s) => s === `v1,${expected}`);
}

let server: Server;
const hits: Hit[] = [];
let receiverUrl = '';

test.beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hits.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});

test.afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

test('an endpoint added in the dashboard receives signed events; the log shows them and redelivers', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  await page.goto(`${URL()}/app/#/webhooks`);
  await page.getByLabel('Email').fill(process.env.FD_EMAIL as string);
  await page.getByLabel('Password').fill(process.env.FD_PASSWORD as string);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Webhooks', level: 1 })).toBeVisible();

  // Add the endpoint: the events it wants, and the secret shown once.
  const form = page.getByRole('form', { name: 'Add an endpoint' });
  await form.getByLabel('URL').fill(receiverUrl);
  await form.getByLabel('Description').fill('E2E receiver');
  await form.getByRole('checkbox', { name: /Visitor identified/ }).check();
  await form.getByRole('button', { name: 'Add endpoint' }).click();
  const secretBox = form.getByLabel("New endpoint's signing secret");
  await expect(secretBox).toHaveValue(/^whsec_/);
  const secret = await secretBox.inputValue();
  const card = page.getByRole('listitem', { name: 'Endpoint E2E receiver' });
  await expect(card.getByText('Enabled', { exact: true })).toBeVisible();
  await expect(card.getByRole('checkbox', { name: /New message/ })).toBeChecked();

  // A visitor writes: the message reaches the receiver, signed with that secret.
  const api = await request.newContext({ baseURL: URL(), extraHTTPHeaders: { 'X-API-Key': KEY(), Origin: URL() } });
  const s = await (await api.post('/api/chat/session', { data: {} })).json();
  const said = await api.post('/api/chat/message', {
    data: { session_id: s.session_id, content: 'Webhook me, please' },
    headers: { Authorization: `Bearer ${s.session_token}` },
  });
  expect(said.ok(), await said.text()).toBe(true);
  await api.dispose();
  const isMine = (h: Hit) => h.body.includes('Webhook me, please') && h.body.includes('"message.created"');
  await expect.poll(() => hits.filter(isMine).length).toBe(1);
  const first = hits.find(isMine) as Hit;
  expect(verifies(secret, first)).toBe(true);
  expect(JSON.parse(first.body).data.message.body).toBe('Webhook me, please');

  // The log shows it delivered; Redeliver sends the same message (same webhook-id) again.
  await page.getByRole('button', { name: 'Refresh' }).click();
  const messageId = String(first.headers['webhook-id']);
  const row = page.locator('tr', { has: page.getByRole('button', { name: `Redeliver message.created ${messageId}` }) });
  await expect(row.getByText('Delivered')).toBeVisible();
  await expect(row.getByRole('cell', { name: /^200/ })).toBeVisible();
  // What the receiver answered, for whoever debugs the endpoint.
  await row.getByText('Answer', { exact: true }).click();
  await expect(row.locator('.response-body pre')).toHaveText('{"received":true}');
  await row.getByRole('button', { name: /Redeliver/ }).click();
  await expect.poll(() => hits.filter(isMine).length).toBe(2);
  const again = hits.filter(isMine)[1];
  expect(again.headers['webhook-id']).toBe(messageId);
  expect(verifies(secret, again)).toBe(true);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(row.getByRole('cell', { name: '2', exact: true })).toBeVisible();

  // Turning it off shows, and a test event cannot be sent to it then.
  await card.getByRole('button', { name: 'Disable' }).click();
  await expect(card.getByText('Disabled', { exact: true })).toBeVisible();
  await expect(card.getByRole('button', { name: 'Send test event' })).toBeDisabled();
  expect(errors).toEqual([]);
});
