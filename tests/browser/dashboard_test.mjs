// The dashboard in a real browser (issue #15): the system Chromium, driven by puppeteer-core,
// against the real canaryd binary in demo mode with an admin token. Run by CTest:
//   node dashboard_test.mjs CANARYD ARTIFACT_DIR
// Exits 77 (CTest: skipped) only when no Chromium is installed.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [canaryd, artifacts] = process.argv.slice(2);
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!chromium) { console.log('SKIP: no Chromium installed'); process.exit(77); }
const { default: puppeteer } = await import('puppeteer-core');

const failures = [];
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, predicate, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) { if (await predicate()) return true; await sleep(250); }
  throw new Error(`timed out after ${seconds} s waiting for ${what}`);
}

const dir = mkdtempSync(join(tmpdir(), 'canaryd-browser-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, 'browser-test-token\n');
mkdirSync(artifacts, { recursive: true });

const demo = spawn(canaryd, ['--demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--token-file', tokenFile],
                   { stdio: ['ignore', 'pipe', 'ignore'] });
let out = '';
demo.stdout.on('data', (chunk) => { out += chunk; });
let browser;
try {
  await until('the demo to print its dashboard address', () => /dashboard: http:\/\/([0-9.:]+)\//.test(out), 20);
  const admin = out.match(/dashboard: http:\/\/([0-9.:]+)\//)[1];
  const base = `http://${admin}`;

  browser = await puppeteer.launch({ executablePath: chromium, headless: true,
                                     args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const page = await browser.newPage();
  const consoleErrors = [];
  const foreign = [];
  // The one error expected: Chromium's own line for the 401 this test provokes with a wrong token.
  let expected401 = false;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expected401 && m.text().includes('status of 401')) { expected401 = false; return; }
    consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => { const u = new URL(r.url()); if (u.hostname !== '127.0.0.1') foreign.push(r.url()); });
  page.on('dialog', (d) => d.accept());  // the rollback confirmation
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${base}/`, { waitUntil: 'load' });

  const card = '[data-route="demo"]';
  const cell = (version, metric) => page.$eval(`${card} td[data-version="${version}"][data-metric="${metric}"]`, (e) => e.textContent);
  await until('both versions to show requests', async () =>
    (await page.$(card)) && Number(await cell('stable', 'requests (window)')) > 0 && Number(await cell('canary', 'requests (window)')) > 0, 20);
  check(/%$/.test(await cell('canary', 'success rate')), 'the canary shows a success rate');
  check(/ms$/.test(await cell('stable', 'p99 latency')), 'the stable shows a p99 latency');
  check((await page.$eval(`${card} [data-field="weight"]`, (e) => e.textContent)).includes('configured 20.00 %'),
        'configured and current weight are shown');

  const rateLine = `${card} [data-chart="rate"] path[data-version="canary"]`;
  const first = await page.$eval(rateLine, (e) => e.getAttribute('d'));
  await until('the request-rate chart to move', async () => (await page.$eval(rateLine, (e) => e.getAttribute('d'))) !== first, 10);
  check(true, 'the charts move without a reload');

  // No token: read-only.
  check(await page.$eval(`${card} button[data-action="rollback"]`, (b) => b.disabled), 'without a token the buttons are disabled');
  const status = async () => (await (await fetch(`${base}/status`)).json()).routes[0];

  // A wrong token is refused with a clear message, and nothing changes.
  await page.type('#token', 'not-the-token');
  await page.click('#token-form button[type="submit"]');
  await until('the buttons to enable', () => page.$eval(`${card} button[data-action="pause"]`, (b) => !b.disabled), 5);
  expected401 = true;
  await page.click(`${card} button[data-action="pause"]`);
  await until('the refusal', async () => (await page.$eval('#message', (e) => e.textContent)).includes('401'), 5);
  check((await page.$eval('#message', (e) => e.textContent)).includes('token is missing or wrong'), 'a wrong token says so');
  check((await status()).state !== 'paused', 'a wrong token changes nothing');
  await page.click('#forget-token');

  await page.screenshot({ path: join(artifacts, 'dashboard-desktop.png') });

  // Errors injected in the canary: the rollback appears without a reload.
  execFileSync(canaryd, ['ctl', 'demo', '--error-rate', '5', '--admin', base, '--token-file', tokenFile]);
  const started = Date.now();
  await until('the rollback on the page', () => page.$eval(`${card} [data-field="state"]`, (e) => e.dataset.state === 'rolled_back'), 120);
  console.log(`     rolled back ${((Date.now() - started) / 1000).toFixed(1)} s after the errors began`);
  check(await page.$eval(`${card} tbody[data-field="events"]`, (e) => e.textContent.includes('rollback') && e.textContent.includes('analyzer')),
        'the events list shows the rollback and who did it');
  execFileSync(canaryd, ['ctl', 'demo', '--error-rate', '0', '--admin', base, '--token-file', tokenFile]);

  // With the right token: Resume, then Roll back (confirmed), both by the browser.
  await page.type('#token', 'browser-test-token');
  await page.click('#token-form button[type="submit"]');
  await until('the buttons to enable', () => page.$eval(`${card} button[data-action="resume"]`, (b) => !b.disabled), 5);
  await page.click(`${card} button[data-action="resume"]`);
  await until('resume to take effect', async () => (await status()).state !== 'rolled_back', 10);
  check(true, 'Resume with the token acts');
  await until('the page to show it', () => page.$eval(`${card} [data-field="state"]`, (e) => e.dataset.state !== 'rolled_back'), 10);
  await page.click(`${card} button[data-action="rollback"]`);
  await until('the operator rollback', async () => (await status()).state === 'rolled_back', 10);
  const events = (await (await fetch(`${base}/events`)).json()).events;
  check(events.some((e) => e.event === 'rollback' && e.actor.startsWith('admin@127.0.0.1')), 'the browser rollback names the token');
  check(await page.$eval('#message', (e) => e.textContent.includes('done')), 'the page confirms the action');
  await page.screenshot({ path: join(artifacts, 'dashboard-desktop-rolled-back.png') });

  await page.setViewport({ width: 390, height: 844, isMobile: true });
  await sleep(1500);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `at a phone's width nothing overflows the page (${overflow} px)`);
  await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: false });

  check(consoleErrors.length === 0, `no console errors (${consoleErrors.join(' | ')})`);
  check(foreign.length === 0, `no request leaves loopback (${foreign.join(' ')})`);
} catch (error) {
  failures.push(String(error));
  console.log(`FAIL ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  demo.kill('SIGTERM');
}
console.log(failures.length ? `${failures.length} failed` : 'all passed');
process.exit(failures.length ? 1 : 0);
