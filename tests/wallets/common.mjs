// Shared helpers for the wallet-library end-to-end tests.
// Everything about the node under test comes from the environment; nothing
// here is specific to a particular node implementation.

export const RPC_URL = required('RPC_URL');
export const WS_URL = required('WS_URL');

// Well-known anvil/hardhat dev accounts #0 and #1 unless overridden.
export const DEV_KEY =
  process.env.DEV_KEY || '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
export const DEV_KEY2 =
  process.env.DEV_KEY2 || '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

/** Per-test timeout (ms). Generous so slow nodes don't flake; happy path is fast. */
export const TEST_TIMEOUT = Number(process.env.WALLET_TEST_TIMEOUT_MS || 60_000);

/** How often the libraries poll for new blocks/receipts over HTTP (ms). */
export const POLL_MS = Number(process.env.WALLET_TEST_POLL_MS || 250);

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (e.g. ${name === 'WS_URL' ? 'ws' : 'http'}://127.0.0.1:8545)`);
  return v;
}

let nextId = 1;

/**
 * Raw JSON-RPC call over HTTP with fetch, bypassing every library (and its
 * caches). Returns the full response object ({result} or {error}).
 */
export async function rawRpc(method, params = []) {
  const res = await fetch(RPC_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  return await res.json();
}

/** Raw JSON-RPC call that throws on error and returns `result`. */
export async function rawRpcResult(method, params = []) {
  const body = await rawRpc(method, params);
  if (body.error) throw new Error(`${method} failed: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** The node's own view of an account's nonce, uncached. */
export async function nodeNonce(address, tag = 'pending') {
  return Number(BigInt(await rawRpcResult('eth_getTransactionCount', [address, tag])));
}

/** Reject after `ms` with a descriptive message. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Call once at the top of a test file. When every test of the file has
 * finished, the process should exit on its own; if something still keeps it
 * alive `graceMs` later (a timer or socket a library left open), this prints
 * what is still open and ends the process with the tests' own status, so a
 * lingering handle shows up in the log instead of hanging `node --test`
 * forever. The timer is unref'd: it never keeps a clean process alive.
 */
export function exitWhenDone(afterHook, file, graceMs = 20_000) {
  afterHook(() => {
    setTimeout(() => {
      const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      console.error(
        `${file}: all tests finished ${graceMs / 1000} s ago but the process is still alive; ` +
          `open resources: ${JSON.stringify(open)}. Exiting with the tests' status.`,
      );
      process.exit(process.exitCode ?? 0);
    }, graceMs).unref();
  });
}
