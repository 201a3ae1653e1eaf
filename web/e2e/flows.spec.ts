// Bot scenarios (issue 7) against the real demo server: an owner uploads a scenario, checks it in
// the editor (select, edit, a validation error that comes and goes, the simulator), publishes it
// and makes it the start scenario; a visitor on a host page with `params.plan = 'pro'` is greeted
// and walks through it; the agent sees the escalated conversation and what the bot collected.
// The scenario lives on a site of its own, so the other specs' sites are never greeted by a bot.
import { expect, type Page, test } from '@playwright/test';

const URL = () => process.env.FD_URL as string;
const ORG = () => process.env.FD_ORG as string;
const O = () => `/api/app/orgs/${ORG()}`;
const shots = 'test-results/screenshots';

/** Fails the test on any Content-Security-Policy violation or uncaught error in the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

async function signIn(page: Page, hash: string) {
  await page.goto(`${URL()}/app/${hash}`);
  await page.getByLabel('Email').fill(process.env.FD_EMAIL as string);
  await page.getByLabel('Password').fill(process.env.FD_PASSWORD as string);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.conn')).toHaveText('Live');
}

/** The scenario: greet with {{params.plan}}, ask for an email (with a retry message), ask a choice and branch, hand off. */
function supportScenario() {
  return {
    schema: 1,
    start: 'greet',
    triggers: [{ type: 'conversation_start' }],
    variables: [],
    nodes: [
      { id: 'greet', type: 'message', position: { x: 40, y: 40 }, text: 'Hi {{visitor.name | there}}! You are on the {{params.plan | free}} plan.', quick_replies: [] },
      {
        id: 'ask_email', type: 'ask', position: { x: 40, y: 180 }, input: 'email', prompt: 'What is your email?', variable: 'email',
        retry_message: 'That is not an email address.', max_retries: 2,
      },
      {
        id: 'topic', type: 'ask', position: { x: 40, y: 320 }, input: 'choice', prompt: 'What is it about?', variable: 'topic',
        choices: [{ id: 'billing', label: 'Billing' }, { id: 'tech', label: 'Something technical' }],
      },
      { id: 'billing_note', type: 'message', position: { x: 40, y: 460 }, text: 'Billing it is.', quick_replies: [] },
      { id: 'human', type: 'handoff', position: { x: 300, y: 600 }, message: 'Connecting you with our team…', only_when_online: false },
    ],
    edges: [
      { from: 'greet', port: 'next', to: 'ask_email' },
      { from: 'ask_email', port: 'next', to: 'topic' },
      { from: 'ask_email', port: 'invalid', to: 'human' },
      { from: 'topic', port: 'choice:billing', to: 'billing_note' },
      { from: 'topic', port: 'choice:tech', to: 'human' },
      { from: 'billing_note', port: 'next', to: 'human' },
    ],
  };
}

test('a scenario: edited and simulated in the editor, published as the start scenario, greets a visitor with their plan and hands off with what it collected', async ({ browser }) => {
  test.setTimeout(120_000);
  const agentContext = await browser.newContext();
  const a = await agentContext.newPage();
  const errors = watchErrors(a);
  await signIn(a, '#/inbox');
  const write = { headers: { Origin: URL() } };

  // A site of its own (the widget of the other tests' site is never greeted), and the scenario uploaded with the page's cookie.
  const siteName = `Bots e2e ${Date.now() % 100000}`;
  const siteRes = await a.request.post(`${URL()}${O()}/sites`, { ...write, data: { name: siteName, allowed_origins: [URL()] } });
  expect(siteRes.ok(), await siteRes.text()).toBe(true);
  const site = (await siteRes.json()) as { id: string; public_key: string };
  const created = await a.request.post(`${URL()}${O()}/sites/${site.id}/scenarios`, { ...write, data: { name: 'Support', document: supportScenario() } });
  expect(created.status(), await created.text()).toBe(201);
  const scenario = (await created.json()) as { id: string; published_version: number | null };
  expect(scenario.published_version).toBeNull();

  try {
    // The list: the site's scenarios, not published yet.
    await a.getByRole('link', { name: 'Bots', exact: true }).click();
    await expect(a.getByRole('heading', { name: 'Bots' })).toBeVisible();
    await a.getByLabel('Site').selectOption({ label: siteName });
    const row = a.locator(`.bots-table tr[data-id="${scenario.id}"]`);
    await expect(row).toContainText('Not published');
    await row.getByRole('link', { name: 'Support' }).click();
    await expect(a).toHaveURL(new RegExp(`#/bots/${scenario.id}$`));

    // The graph: every node is drawn, edges between them; no problems.
    for (const id of ['greet', 'ask_email', 'topic', 'billing_note', 'human']) await expect(a.locator(`.flow-node[data-id="${id}"]`)).toBeVisible();
    await expect(a.locator('.flow-edge')).toHaveCount(6);
    await expect(a.locator('.flow-node.is-start')).toHaveAttribute('data-id', 'greet');
    await expect(a.locator('.bot-state')).toContainText('No problems found');

    // Publish, then make it the start scenario.
    await a.getByRole('button', { name: 'Publish' }).click();
    await expect(a.locator('.bot-state')).toContainText('Published v1');
    await a.getByRole('button', { name: 'Make start scenario' }).click();
    await expect(a.locator('.bot-state')).toContainText('Start scenario');
    await expect(a.getByRole('button', { name: 'Stop starting conversations' })).toBeVisible();

    // Select a node and edit its text in the side panel: the box follows.
    await a.locator('.flow-node[data-id="greet"]').click();
    await expect(a.locator('.flow-node[data-id="greet"]')).toHaveAttribute('aria-pressed', 'true');
    const text = a.getByLabel('Message text');
    await expect(text).toHaveValue(/You are on the/);
    await text.fill('Welcome! You are on the {{params.plan | free}} plan.');
    await expect(a.locator('.flow-node[data-id="greet"] .flow-node-body')).toHaveText('Welcome! You are on the {{params.plan | free}} plan.');
    await expect(a.locator('.bot-state')).toContainText('Unsaved changes');

    // An invalid edit: the ask without a variable. The node and the field show it; publishing waits.
    await a.locator('.flow-node[data-id="ask_email"]').click();
    const variable = a.getByLabel('Save the answer as');
    const validated = a.waitForResponse(
      (r) =>
        r.url().endsWith(`/scenarios/${scenario.id}/validate`) &&
        (r.request().postDataJSON() as { document: { nodes: { id: string; variable?: string }[] } }).document.nodes.some((n) => n.id === 'ask_email' && n.variable === ''),
    );
    await variable.fill('');
    await expect(a.locator('.flow-node[data-id="ask_email"]')).toHaveClass(/has-error/);
    await expect(a.locator('.flow-node[data-id="ask_email"] .flow-badge')).toBeVisible();
    await expect(variable).toHaveAttribute('aria-invalid', 'true');
    await expect(a.locator('#fn-variable-err')).toBeVisible();
    await expect(a.getByRole('button', { name: 'Publish' })).toBeDisabled();
    // The server's answer (after the debounce) agrees and stays.
    const report = await validated;
    expect(report.status()).toBe(200);
    expect((await report.json()).errors).toContainEqual(expect.objectContaining({ node: 'ask_email', field: 'variable' }));
    await expect(a.locator('.flow-node[data-id="ask_email"]')).toHaveClass(/has-error/);
    await a.screenshot({ path: `${shots}/bot-editor-error.png` });
    // Fixed: gone again.
    await variable.fill('email');
    await expect(a.locator('.flow-node[data-id="ask_email"]')).not.toHaveClass(/has-error/);
    await expect(a.locator('#fn-variable-err')).toHaveCount(0);
    await expect(a.locator('.bot-state')).toContainText('No problems found');
    await expect(a.getByRole('button', { name: 'Publish' })).toBeEnabled();

    // Connect through the side panel: the email's "Invalid answer" now leads to the choice.
    await a.getByLabel('Invalid answer →').selectOption('topic');
    await expect(a.locator('.flow-edge[data-from="ask_email"][data-port="invalid"]')).toHaveAttribute('data-to', 'topic');

    // The simulator runs the draft (the edited greeting) with the params given there.
    await a.getByRole('tab', { name: 'Simulator' }).click();
    await expect(a.getByLabel('Param value 1')).toHaveValue('pro');
    await a.getByRole('button', { name: 'Start', exact: true }).click();
    const sim = a.getByRole('log', { name: 'Simulated conversation' });
    await expect(sim).toContainText('Welcome! You are on the pro plan.');
    await expect(sim).toContainText('What is your email?');
    await expect(a.locator('.flow-node.is-current')).toHaveAttribute('data-id', 'ask_email');
    const say = async (t: string) => {
      await a.getByLabel('Message as the visitor').fill(t);
      await a.getByRole('button', { name: 'Send', exact: true }).click();
    };
    await say('not an email');
    await expect(sim).toContainText('That is not an email address.');
    await say('Ada@Example.COM');
    await expect(sim).toContainText('What is it about?');
    await expect(a.getByRole('group', { name: 'Quick replies' }).getByRole('button')).toHaveText(['Billing', 'Something technical']);
    await expect(a.locator('.sim-vars')).toContainText('ada@example.com');
    await expect(a.locator('.flow-node.is-current')).toHaveAttribute('data-id', 'topic');
    await a.getByRole('group', { name: 'Quick replies' }).getByRole('button', { name: 'Billing' }).click();
    await expect(sim).toContainText('Billing it is.');
    await expect(sim).toContainText('Connecting you with our team…');
    await expect(sim).toContainText('Handed off to a person');
    await expect(a.locator('.sim-vars')).toContainText('billing');
    await a.screenshot({ path: `${shots}/bot-simulator.png` });

    // The edits are discarded: the published version is what visitors meet either way.
    a.once('dialog', (d) => void d.accept());
    await a.getByRole('button', { name: 'Discard changes' }).click();
    await expect(a.locator('.bot-state')).toContainText('All changes saved');
    await expect(a.locator('.flow-node[data-id="greet"] .flow-node-body')).toContainText('Hi {{visitor.name | there}}!');

    // The visitor: a host page whose widget params say plan "pro". Opening the panel starts the conversation: the bot greets.
    const visitorContext = await browser.newContext();
    const v = await visitorContext.newPage();
    await v.route(`${URL()}/bots-host.html`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title></head><body><h1>Account</h1>
<script type="application/json" id="frontdesk-config">${JSON.stringify({ apiUrl: URL(), apiKey: site.public_key, locale: 'en', params: { plan: 'pro' } })}</script>
<script src="${URL()}/widget.js" defer></script></body></html>`,
      }),
    );
    await v.goto(`${URL()}/bots-host.html`);
    const config = await (await v.request.get(`${URL()}/api/chat/config`, { headers: { 'X-API-Key': site.public_key } })).json();
    expect(config.greets).toBe(true);
    await v.locator('.fd-launcher').click();
    await expect(v.locator('.fd-panel')).toBeVisible();
    const bot = v.locator('[role=log] .fd-bot .fd-body');
    await expect(bot.first()).toHaveText('Hi there! You are on the pro plan.');
    await expect(bot.last()).toHaveText('What is your email?');
    const visitorSays = async (t: string) => {
      const input = v.locator('.fd-form textarea');
      await input.fill(t);
      await input.press('Enter');
      await expect(v.locator('[role=log] .fd-visitor .fd-body').last()).toHaveText(t);
    };
    await visitorSays('my email is secret');
    await expect(bot.filter({ hasText: 'That is not an email address.' })).toHaveCount(1);
    await expect(bot.last()).toHaveText('What is your email?');
    await visitorSays('Grace@Example.com');
    await expect(bot.last()).toHaveText('What is it about?');
    const chips = v.locator('.fd-chips button');
    await expect(chips).toHaveText(['Billing', 'Something technical']);
    await chips.filter({ hasText: 'Billing' }).click();
    await expect(bot.filter({ hasText: 'Billing it is.' })).toHaveCount(1);
    await expect(bot.last()).toHaveText('Connecting you with our team…');
    await expect(v.locator('.fd-banner')).toBeVisible();
    await v.screenshot({ path: `${shots}/bot-widget.png` });
    const stored = JSON.parse((await v.evaluate((k) => localStorage.getItem(`frontdesk:${k}`), site.public_key)) as string);
    const conversationId = stored.session_id as string;

    // The agent: the conversation waits for a person; the bot's variables are beside it.
    await a.goto(`${URL()}/app/#/escalations`);
    const item = a.locator(`.items a.item[data-id="${conversationId}"]`);
    await expect(item).toBeVisible();
    await item.click();
    await expect(a.locator('.timeline')).toContainText('Connecting you with our team…');
    const panel = a.locator('details.bot-flow');
    await expect(panel).toContainText('Support v1');
    await expect(panel).toContainText('handed off');
    await panel.locator('summary').click();
    await expect(panel.locator('dd').filter({ hasText: 'grace@example.com' })).toBeVisible();
    await expect(panel.locator('dd').filter({ hasText: /^billing$/ })).toBeVisible();
    await a.screenshot({ path: `${shots}/bot-variables.png` });
    await visitorContext.close();
    expect(errors).toEqual([]);
  } finally {
    // Tidy: the scenario stops starting conversations and goes.
    await a.request.post(`${URL()}${O()}/scenarios/${scenario.id}/start`, { ...write, data: { start: false } }).catch(() => {});
    await a.request.delete(`${URL()}${O()}/scenarios/${scenario.id}`, write).catch(() => {});
    await agentContext.close();
  }
});
