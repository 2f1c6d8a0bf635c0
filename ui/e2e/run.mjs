// End-to-end test of Link Loom's web UI: Debian's Chromium, driven by
// playwright-core, against a real stack that tests/ui.bats starts
// (PostgreSQL, loom-api serving ui/dist with api.auth = token,
// loom-engine, loom-exec and tests/backend's loom-test-backend).
//
//   LOOM_API=http://127.0.0.1:N  LOOM_TOKEN=loom_…  BACKEND_URL=http://…
//   SHOTS=DIR (screenshots)  WORK=DIR (scratch)  CHROMIUM=/usr/bin/chromium
//   node e2e/run.mjs
//
// Prints TAP-ish "ok"/"not ok" lines; exits 1 on the first failure (the
// rest would only fail after it) or on any console error of the page.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const API = process.env.LOOM_API;
const TOKEN = process.env.LOOM_TOKEN;
const BACKEND = process.env.BACKEND_URL;
const SHOTS = process.env.SHOTS ?? 'e2e-shots';
const WORK = process.env.WORK ?? fs.mkdtempSync('/tmp/loom-ui-e2e.');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!API || !TOKEN || !BACKEND) {
  console.error('run.mjs: LOOM_API, LOOM_TOKEN and BACKEND_URL must be set');
  process.exit(2);
}
fs.mkdirSync(SHOTS, { recursive: true });

// ---- the API, for setting the scene --------------------------------------
async function call(method, p, body, type = 'application/json') {
  const res = await fetch(API + p, {
    method, headers: { Authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'Content-Type': type } : {}) },
    body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}
const apply = (yaml) => call('POST', '/api/v1/workflows', yaml, 'application/yaml');
const trigger = async (id) => (await call('POST', `/api/v1/workflows/${id}/trigger`, { input: {} })).executionId;
async function waitRun(id, pred, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const e = await call('GET', `/api/v1/executions/${id}?wait=2s`);
    if (pred(e)) return e;
    if (Date.now() > end) throw new Error(`run ${id}: ${what} not seen: ${JSON.stringify(e).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const finished = (id) => waitRun(id, (e) => ['SUCCESS', 'FAILED', 'CANCELLED'].includes(e.status), 'the end');

const task = (u) => `${BACKEND}/api/tasks/${u}`;
const GO = path.join(WORK, 'go');
const GO2 = path.join(WORK, 'go2');

const workflows = {
  live: `id: live
name: Live colours
schedule: "0 3 * * *"
tasks:
  - id: start
    type: http
    url: ${task('start')}
  - id: slow
    type: http
    url: ${task('slow?gate=slow')}
    dependsOn: [start]
  - id: side
    type: http
    url: ${task('side')}
    dependsOn: [start]
  - id: finish
    type: http
    url: ${task('finish')}
    dependsOn: [slow, side]
`,
  flaky: `id: flaky
tasks:
  - id: fetch
    type: http
    url: ${task('fetch?fail=2&errtype=HttpServerError')}
    retryPolicy: {maxAttempts: 3, backoffStrategy: fixed, initialDelay: 400ms, jitter: 0}
  - id: report
    type: http
    url: ${task('report')}
    dependsOn: [fetch]
`,
  shelly: `id: shelly
tasks:
  - id: say
    type: shell
    command: "echo waiting for the go file; echo an error line >&2; i=0; while [ ! -e '${GO}' ] && [ $i -lt 600 ]; do sleep 0.02; i=$((i+1)); done; echo tail-marker-line; echo done"
`,
  ticker: `id: ticker
tasks:
  - id: tick
    type: shell
    command: "echo tick-one; i=0; while [ ! -e '${GO2}' ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i+1)); done; echo tick-two"
`,
  held: `id: held
tasks:
  - id: wait
    type: http
    url: ${task('wait?gate=held')}
`,
  chatty: `id: chatty
tasks:
  - id: talk
    type: shell
    command: "seq -f 'chatty line %g' 1 5000"
`,
  broken: `id: broken
tasks:
  - id: call
    type: http
    url: http://127.0.0.1:1/api/tasks/nothing-listens-here
    retryPolicy: {maxAttempts: 5, backoffStrategy: fixed, initialDelay: 100ms, jitter: 0}
`,
  deadly: `id: deadly
tasks:
  - id: once
    type: http
    url: ${task('once?fail=1&errtype=ValidationException')}
`,
};

// ---- the test harness ----------------------------------------------------
let n = 0;
let failed = false;
const consoleErrors = [];
let allowHttpErrors = false;
let restarted = null; // a loom-api this script started again (LOOM_API_RESTART)

async function step(name, fn) {
  n++;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok ${n} - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed = true;
    console.log(`not ok ${n} - ${name}`);
    console.log(String(e.stack ?? e).split('\n').map((l) => `# ${l}`).join('\n'));
    throw e;
  }
}
// Scrolled to the top first: a full-page shot of a scrolled page draws
// the sticky header in the middle.
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await ctx.newPage();
page.setDefaultTimeout(15000);
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  // The wrong-token step makes the browser log its 401 answers, and the
  // lost connection its failed requests.
  if (allowHttpErrors && /status of 401|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|Failed to fetch/.test(m.text())) return;
  consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
const setToken = (t) => page.evaluate((v) => localStorage.setItem('loom.token', v), t);

try {
  const flakyRun = await (async () => {
    for (const y of Object.values(workflows)) await apply(y);
    // a second version of live, for the versions diff
    await apply(workflows.live.replace('name: Live colours', 'name: Live colours (v2)'));
    return trigger('flaky');
  })();
  const deadRun = await trigger('deadly');
  const deadRun2 = await trigger('deadly');

  await step('a wrong token shows an error in words, not a blank page', async () => {
    allowHttpErrors = true;
    await page.goto(API + '/');
    await setToken('loom_000000000000_' + '0'.repeat(64));
    await page.reload();
    const alert = page.getByRole('alert').first();
    await alert.waitFor();
    const text = await alert.innerText();
    if (!/Not signed in/.test(text) || !/token/i.test(text)) throw new Error(`error says: ${text}`);
    await shot(page, '01-wrong-token');
    allowHttpErrors = false;
  });

  await step('the dashboard lists the workflows', async () => {
    await setToken(TOKEN);
    await page.goto(API + '/');
    const table = page.getByTestId('workflows');
    await table.waitFor();
    for (const id of Object.keys(workflows)) await table.getByRole('link', { name: id, exact: true }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.tile-v').length > 0 &&
      [...document.querySelectorAll('.tile-v')].every((t) => t.textContent !== '…'));
    await shot(page, '02-dashboard');
  });

  await step('the run DAG shows every task, a slow task RUNNING, then its new colour', async () => {
    const id = await trigger('live');
    await page.goto(`${API}/runs/${id}`);
    const dag = page.getByTestId('dag');
    for (const t of ['start', 'slow', 'side', 'finish']) await dag.locator(`.react-flow__node[data-id="${t}"]`).waitFor();
    const slow = dag.locator('.react-flow__node[data-id="slow"]');
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="slow"]')?.classList.contains('st-RUNNING'));
    const runningColour = await slow.evaluate((e) => getComputedStyle(e).borderTopColor);
    await shot(page, '03-run-running');
    const res = await fetch(`${BACKEND}/gates/slow`, { method: 'POST' });
    if (!res.ok) throw new Error(`gate: HTTP ${res.status}`);
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="slow"]')?.classList.contains('st-SUCCESS'));
    const doneColour = await slow.evaluate((e) => getComputedStyle(e).borderTopColor);
    if (doneColour === runningColour) throw new Error(`colour stayed ${doneColour}`);
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="finish"]')?.classList.contains('st-SUCCESS'));
    // every dependency is still drawn after the nodes changed colour
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dag] .react-flow__edge').length === 4);
    await shot(page, '04-run-done');
  });

  await step('the Gantt shows three bars for a task that failed twice', async () => {
    const e = await finished(flakyRun);
    if (e.status !== 'SUCCESS') throw new Error(`flaky ended ${e.status}`);
    await page.goto(`${API}/runs/${flakyRun}`);
    const gantt = page.getByTestId('gantt');
    await gantt.waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=gantt] rect.bar[data-task=fetch]').length === 3);
    const waits = await gantt.locator('line.wait[data-task=fetch]').count();
    if (waits !== 2) throw new Error(`${waits} waits drawn for fetch, want 2`);
    const crit = await gantt.locator('rect.bar.crit[data-task=report]').count();
    if (crit !== 1) throw new Error('report is not on the critical path');
    await page.getByRole('button', { name: 'fetch', exact: true }).click();
    await page.getByTestId('attempts').getByText('HttpServerError').first().waitFor();
    if ((await page.getByTestId('attempts').locator('.attempt-err').count()) !== 2) throw new Error('want the errors of two attempts');
    await shot(page, '05-run-gantt-retries');
  });

  await step('the log tail shows a line printed by a shell task within a second', async () => {
    const id = await trigger('shelly');
    await page.goto(`${API}/runs/${id}/logs`);
    await page.getByTestId('logline').filter({ hasText: 'waiting for the go file' }).waitFor({ timeout: 20000 });
    const t0 = Date.now();
    fs.writeFileSync(GO, '');
    await page.getByTestId('logline').filter({ hasText: 'tail-marker-line' }).waitFor({ timeout: 5000 });
    const dt = Date.now() - t0;
    if (dt > 1000) throw new Error(`the line took ${dt} ms to show`);
    console.log(`# the line showed after ${dt} ms`);
    await finished(id);
    await page.getByText('run over').waitFor();
    await shot(page, '06-logs');
  });

  await step('search finds a line', async () => {
    await page.getByLabel('search log lines').fill('MARKER');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=logline]').length === 1);
    const text = await page.getByTestId('logline').innerText();
    if (!/tail-marker-line/.test(text)) throw new Error(`found: ${text}`);
    if ((await page.locator('[data-testid=logline] mark').innerText()).toLowerCase() !== 'marker') throw new Error('no highlight');
    await shot(page, '07-logs-search');
    await page.getByLabel('search log lines').fill('');
    await page.getByLabel('stderr').check();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=logline]').length === 1);
    // loom-log stores stderr lines as warn: "warn and above" is that line
    await page.getByLabel('stderr').uncheck();
    await page.getByLabel('level', { exact: true }).selectOption('warn');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=logline]').length === 1);
    const warn = await page.getByTestId('logline').innerText();
    if (!/\bwarn\b/.test(warn)) throw new Error(`level filter kept: ${warn}`);
    await page.getByLabel('level', { exact: true }).selectOption('');
  });

  await step('cancel a run, then retry it from the failed tasks', async () => {
    const id = await trigger('held');
    await page.goto(`${API}/runs/${id}`);
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="wait"]')?.classList.contains('st-RUNNING'));
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('h1').getByText('CANCELLED').waitFor();
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="wait"]')?.classList.contains('st-CANCELLED'));
    await page.getByRole('button', { name: 'Retry from failed' }).click();
    await page.getByRole('status').filter({ hasText: 'Retrying from the failed tasks' }).waitFor();
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="wait"]')?.classList.contains('st-RUNNING'));
    await fetch(`${BACKEND}/gates/held`, { method: 'POST' });
    await page.locator('h1').getByText('SUCCESS').waitFor();
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="wait"]')?.classList.contains('st-SUCCESS'));
    await shot(page, '05b-run-cancelled-retried');
  });

  await step('five thousand log lines: all counted, only a screenful drawn, search finds one', async () => {
    const id = await trigger('chatty');
    await finished(id);
    await page.goto(`${API}/runs/${id}/logs`);
    await page.getByText(/^5000 of 5000 lines/).waitFor({ timeout: 20000 });
    const drawn = await page.getByTestId('logline').count();
    if (drawn > 120) throw new Error(`${drawn} rows drawn for 5000 lines`);
    await page.getByTestId('logline').filter({ hasText: 'chatty line 5000' }).waitFor(); // followed to the end
    await page.getByLabel('search log lines').fill('chatty line 4321');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=logline]').length === 1);
  });

  await step('the keyboard reaches the navigation', async () => {
    await page.goto(`${API}/`);
    await page.getByTestId('workflows').waitFor();
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab'); // Link Loom
    await page.keyboard.press('Tab'); // Dashboard
    await page.keyboard.press('Tab'); // Runs
    if ((await page.evaluate(() => document.activeElement?.textContent)) !== 'Runs') throw new Error('Tab did not reach Runs');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runs$/);
    await page.getByTestId('runs').waitFor();
  });

  await step('replaying a dead letter works', async () => {
    await waitRun(deadRun, (e) => e.status === 'FAILED', 'FAILED');
    await page.goto(`${API}/dead-letters`);
    const table = page.getByTestId('dead-letters');
    await table.waitFor();
    const row = table.locator('tr', { hasText: deadRun });
    await row.waitFor();
    await shot(page, '08-dead-letters');
    await row.getByRole('button', { name: /^replay/ }).click();
    await page.getByRole('status').filter({ hasText: 'Replaying once' }).waitFor();
    const e = await finished(deadRun);
    if (e.status !== 'SUCCESS') throw new Error(`replayed run ended ${e.status}`);
    await page.getByLabel('show resolved letters too').check();
    await table.locator('tr', { hasText: deadRun }).getByText('replayed').waitFor();
    await shot(page, '09-dead-letters-replayed');
    // and discarding one: it closes, and its run stays FAILED
    await waitRun(deadRun2, (e) => e.status === 'FAILED', 'FAILED');
    const row2 = table.locator('tr', { hasText: deadRun2 });
    await row2.getByRole('button', { name: /^discard/ }).click();
    await row2.getByText('discarded').waitFor();
    if ((await call('GET', `/api/v1/executions/${deadRun2}`)).status !== 'FAILED') throw new Error('discard changed the run');
  });

  await step('every other page renders: workflow (graph, YAML, versions, history), runs, breakers', async () => {
    await page.goto(`${API}/workflows/live`);
    await page.getByTestId('next-fires').getByText(/^Next fires: /).waitFor();
    // pause shows at once, and the schedule stops; unpause again
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByTestId('next-fires').getByText('Paused').waitFor();
    if (!(await call('GET', '/api/v1/workflows/live')).paused) throw new Error('not paused');
    await page.getByRole('button', { name: 'Unpause', exact: true }).click();
    await page.getByTestId('next-fires').getByText(/^Next fires: /).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dag] .react-flow__edge').length === 4);
    await page.locator('.react-flow__node[data-id="slow"]').click();
    await page.getByLabel('task slow configuration').getByText('gate=slow').waitFor();
    // the keyboard reaches a node too: focus it, Enter shows its configuration
    await page.locator('.react-flow__node[data-id="side"]').focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('task side configuration').waitFor();
    await shot(page, '10-workflow-graph');
    await page.getByRole('tab', { name: 'YAML' }).click();
    await page.getByTestId('yaml').getByText('id: live').waitFor();
    await shot(page, '11-workflow-yaml');
    await page.getByRole('tab', { name: 'Versions' }).click();
    await page.getByTestId('diff').locator('.add').first().waitFor();
    await shot(page, '12-workflow-versions');
    await page.getByRole('tab', { name: 'Run history' }).click();
    await page.getByTestId('runs').waitFor();
    await page.getByText('Trigger a run…').click();
    await page.getByLabel(/^Input/).fill('{"limit": ');
    await page.getByText(/Not valid JSON/).waitFor();
    await shot(page, '13-workflow-trigger-invalid');
    if (!(await page.getByRole('button', { name: 'Trigger', exact: true }).isDisabled())) throw new Error('Trigger enabled with bad JSON');
    await page.getByLabel(/^Input/).fill('{"limit": 3}');
    await fetch(`${BACKEND}/gates/slow`, { method: 'POST' }); // open already; harmless
    await page.getByRole('button', { name: 'Trigger', exact: true }).click();
    await page.waitForURL(/\/runs\/exec-/);
    const runId = page.url().split('/runs/')[1];
    const started = await finished(runId);
    if (started.workflowId !== 'live' || started.params.limit !== 3) throw new Error(`triggered: ${JSON.stringify(started).slice(0, 200)}`);
    // rerun one task of it (with what depends on it) from the run page
    await page.getByTestId('tasks').getByRole('button', { name: 'side', exact: true }).click();
    await page.getByRole('button', { name: 'Rerun task' }).click();
    await page.getByRole('status').filter({ hasText: 'Rerunning side' }).waitFor();
    await waitRun(runId, (e) => e.status === 'SUCCESS' && e.tasks.find((t) => t.taskId === 'side').attempts.length === 2, 'side run twice');
    // the page follows the run again: its end, and the new line, show
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=gantt] rect.bar[data-task=side]').length === 2);
    await page.waitForFunction(() => document.querySelector('.react-flow__node[data-id="finish"]')?.classList.contains('st-SUCCESS'));
    await page.getByTestId('logline').filter({ hasText: 'side#2' }).waitFor();
    await page.getByText('run over').waitFor();
    await shot(page, '13b-run-rerun');
    await page.goto(`${API}/runs`);
    await page.getByTestId('runs').waitFor();
    await page.getByLabel('Status').selectOption('SUCCESS');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => location.search.includes('status=SUCCESS'));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=runs] tbody tr')].every((r) => r.textContent.includes('SUCCESS')));
    await shot(page, '14-runs');
    // cursor paging: two runs a page, the next page holds others, and back
    await page.goto(`${API}/runs?limit=2`);
    const ids = () => page.locator('[data-testid=runs] tbody tr td:first-child').allInnerTexts();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=runs] tbody tr').length === 2);
    const first = await ids();
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.getByRole('heading', { name: 'Page 2' }).waitFor();
    await page.waitForFunction((f) => { const r = [...document.querySelectorAll('[data-testid=runs] tbody tr td:first-child')].map((e) => e.textContent); return r.length > 0 && !r.includes(f[0]); }, first);
    const second = await ids();
    if (second.some((x) => first.includes(x))) throw new Error(`page 2 repeats page 1: ${first} / ${second}`);
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.getByRole('heading', { name: 'Page 1' }).waitFor();
    // a target that refuses five calls in a row opens its breaker; reset it
    const broken = await trigger('broken');
    await finished(broken);
    await page.goto(`${API}/breakers`);
    const brow = page.getByTestId('breakers').locator('tr', { hasText: 'http://127.0.0.1:1' });
    await brow.getByText('OPEN').waitFor();
    await shot(page, '15-breakers');
    await brow.getByRole('button', { name: /^reset breaker/ }).click();
    await brow.waitFor({ state: 'detached' }); // reset forgets the target
  });

  await step('narrow window and dark scheme render', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    await page.goto(`${API}/`);
    await page.getByTestId('workflows').waitFor();
    await shot(page, '16-dashboard-narrow');
    await page.goto(`${API}/runs/${flakyRun}`);
    await page.getByTestId('gantt').waitFor();
    await shot(page, '17-run-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${API}/runs/${flakyRun}`);
    await page.getByTestId('gantt').waitFor();
    await shot(page, '18-run-dark');
  });

  await step('a lost connection shows a banner; the log stream resumes with Last-Event-ID', async () => {
    if (!process.env.LOOM_API_PID || !process.env.LOOM_API_RESTART) {
      console.log('# skip: LOOM_API_PID and LOOM_API_RESTART are not set');
      return;
    }
    const id = await trigger('ticker');
    await page.goto(`${API}/runs/${id}/logs`);
    await page.getByTestId('logline').filter({ hasText: 'tick-one' }).waitFor({ timeout: 20000 });
    allowHttpErrors = true;
    process.kill(Number(process.env.LOOM_API_PID), 'SIGTERM');
    await page.getByRole('alert').filter({ hasText: 'Connection to loom-api lost' }).waitFor();
    await shot(page, '19-connection-lost');
    fs.writeFileSync(GO2, '');
    restarted = spawn('/bin/sh', ['-c', process.env.LOOM_API_RESTART], { stdio: ['ignore', 'ignore', 'inherit'] });
    await page.getByTestId('logline').filter({ hasText: 'tick-two' }).waitFor({ timeout: 20000 });
    await page.getByRole('alert').filter({ hasText: 'Connection to loom-api lost' }).waitFor({ state: 'detached' });
    const texts = await page.getByTestId('logline').allInnerTexts();
    const ones = texts.filter((t) => t.includes('tick-one')).length;
    const twos = texts.filter((t) => t.includes('tick-two')).length;
    if (ones !== 1 || twos !== 1) throw new Error(`after the resume: ${ones} tick-one, ${twos} tick-two lines`);
    allowHttpErrors = false;
    await shot(page, '20-connection-back');
  });

  await step('no console errors', async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join('\n'));
  });
} catch {
  failed = true;
  await shot(page, 'failure').catch(() => {});
} finally {
  await browser.close();
  if (restarted) {
    restarted.kill('SIGTERM');
    await new Promise((r) => restarted.once('exit', r));
  }
}
console.log(`# screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
