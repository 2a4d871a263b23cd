// Real-browser test of the node's operator dashboard (GET /dashboard).
//
//   DASHBOARD_URL=http://127.0.0.1:8545/dashboard RPC_URL=http://127.0.0.1:8545 \
//     [SCREENSHOT=/tmp/dashboard.png] [CHROMIUM=/usr/bin/chromium] node tests/wallets/dashboard.mjs
//
// Sends one transfer after the page has loaded (DEV_KEY, default dev key #0;
// DASHBOARD_NO_TX=1 to skip on a chain that seals empty blocks).
// Drives Debian's chromium through playwright-core (never downloads a browser).
// Passes when the page shows a head block produced after it loaded, with that
// block's row in #blocks, every section is present, and the page made no
// request outside its own origin. Exits 0 on success, 1 on failure.
import { chromium } from 'playwright-core';
import { JsonRpcProvider, Wallet } from 'ethers';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const DASHBOARD_URL = process.env.DASHBOARD_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const HEAD_TIMEOUT_MS = 15_000; // first head number on the page
const NEW_BLOCK_TIMEOUT_MS = 30_000; // a block produced after load shown
const SECTIONS = ['#head', '#blocks', '#txs', '#batches', '#settlement', '#peers', '#keys', '#mempool'];

function fail(message) {
  console.error(`dashboard: FAIL: ${message}`);
  process.exitCode = 1;
}

async function rpcBlockNumber(url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
  });
  const body = await res.json();
  if (body.error || typeof body.result !== 'string') {
    throw new Error(`eth_blockNumber over ${url} failed: ${JSON.stringify(body.error ?? body)}`);
  }
  return Number(BigInt(body.result));
}

async function main() {
  if (!DASHBOARD_URL) throw new Error('DASHBOARD_URL must be set, e.g. http://127.0.0.1:8545/dashboard');
  const dash = new URL(DASHBOARD_URL);
  // Default RPC endpoint: the one the page itself uses (same origin, /v1/<key> with ?key=).
  const key = dash.searchParams.get('key');
  const RPC_URL = process.env.RPC_URL || `${dash.origin}/${key ? `v1/${encodeURIComponent(key)}` : ''}`;
  const screenshot =
    process.env.SCREENSHOT || path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-')), 'dashboard.png');
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`);
  }

  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

    const foreign = [];
    let rpcPosts = 0;
    page.on('request', (req) => {
      const url = req.url();
      if (/^(data|blob|about):/.test(url)) return;
      let origin;
      try { origin = new URL(url).origin; } catch { origin = url; }
      if (origin !== dash.origin) foreign.push(`${req.method()} ${url}`);
      else if (req.method() === 'POST') rpcPosts++;
    });
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));

    const resp = await page.goto(DASHBOARD_URL, { waitUntil: 'load' });
    if (!resp || !resp.ok()) throw new Error(`GET ${DASHBOARD_URL} -> HTTP ${resp ? resp.status() : 'no response'}`);
    const ctype = resp.headers()['content-type'] || '';
    if (!ctype.startsWith('text/html')) throw new Error(`GET ${DASHBOARD_URL}: content-type is '${ctype}', want text/html`);

    const readHead = () =>
      page.evaluate(() => {
        const t = document.querySelector('#head-number')?.textContent?.trim() ?? '';
        return /^\d+$/.test(t) ? Number(t) : null;
      });

    try {
      await page.waitForFunction(() => /^\d+$/.test(document.querySelector('#head-number')?.textContent?.trim() ?? ''),
        null, { timeout: HEAD_TIMEOUT_MS, polling: 100 });
    } catch {
      const bar = await page.locator('#statusbar').textContent().catch(() => '');
      throw new Error(`#head-number showed no number within ${HEAD_TIMEOUT_MS / 1000} s (status bar: ${bar || 'empty'})`);
    }
    const n0 = await readHead();
    const rpcHead = await rpcBlockNumber(RPC_URL);
    const target = Math.max(n0, rpcHead);
    // A node that seals only blocks with transactions needs one: send a
    // transfer (dev key #0 unless DEV_KEY is set) so a new block follows.
    if (!process.env.DASHBOARD_NO_TX) {
      const key = process.env.DEV_KEY || '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
      const wallet = new Wallet(key, new JsonRpcProvider(RPC_URL, undefined, { staticNetwork: true }));
      const tx = await wallet.sendTransaction({ to: Wallet.createRandom().address, value: 1n });
      console.log(`dashboard: sent ${tx.hash} after the page loaded`);
    }

    let n1;
    try {
      const handle = await page.waitForFunction(
        (target) => {
          const t = document.querySelector('#head-number')?.textContent?.trim() ?? '';
          if (!/^\d+$/.test(t) || !(Number(t) > target)) return false;
          return document.querySelector(`#blocks tr[data-block="${t}"]`) ? Number(t) : false;
        },
        target,
        { timeout: NEW_BLOCK_TIMEOUT_MS, polling: 100 },
      );
      n1 = await handle.jsonValue();
    } catch {
      const now = await readHead();
      const bar = await page.locator('#statusbar').textContent().catch(() => '');
      throw new Error(
        `no block newer than ${target} (page head at load ${n0}, rpc head ${rpcHead}) shown with its #blocks row ` +
          `within ${NEW_BLOCK_TIMEOUT_MS / 1000} s; page head now ${now}; status bar: ${bar || 'empty'}`,
      );
    }

    const missing = [];
    for (const sel of SECTIONS) if ((await page.locator(sel).count()) !== 1) missing.push(sel);
    if (missing.length) throw new Error(`missing section(s): ${missing.join(', ')}`);
    const rows = await page.locator('#blocks tr[data-block]').count();

    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`dashboard: screenshot ${screenshot}`);

    if (foreign.length) throw new Error(`requests left the dashboard's origin ${dash.origin}: ${foreign.join(', ')}`);
    if (pageErrors.length) throw new Error(`uncaught page error(s): ${pageErrors.join(' | ')}`);
    if (rpcPosts === 0) throw new Error('the page made no JSON-RPC POST to its origin');

    console.log(
      `dashboard: OK head ${n0} -> ${n1} (rpc head at load ${rpcHead}), ${rows} block rows, ` +
        `${rpcPosts} RPC posts, all requests to ${dash.origin}, screenshot ${screenshot}`,
    );
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
}

// Hard stop in case the browser hangs (the waits above are bounded well below this).
const watchdog = setTimeout(() => {
  fail('timed out after 120 s');
  process.exit(1);
}, 120_000);
watchdog.unref();

try {
  await main();
} catch (e) {
  fail(e && e.message ? e.message : String(e));
}
