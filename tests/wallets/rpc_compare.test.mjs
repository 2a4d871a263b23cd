// Differential JSON-RPC test: the node under test vs a reference anvil.
//
//   RPC_URL=http://127.0.0.1:8545 WS_URL=ws://127.0.0.1:8545 node --test rpc_compare.test.mjs
//
// Starts its own anvil (the pinned `@foundry-rs/anvil` npm package) on a free
// port with the node's chain id (eth_chainId) and the default dev mnemonic,
// sends the SAME signed transactions (identical raw bytes, so identical
// hashes) to both nodes, then makes the same calls to both and compares the
// SHAPE of every result: the JSON type at every path (object key set, array
// vs object, hex string vs other string vs number vs boolean vs null).
// Values that do not depend on the chain (transaction fields, log
// topics/data, call frames, access lists, struct-log opcode sequences and gas
// costs, ...) are compared too; block hashes, numbers and timestamps are not.
//
// Every differing path is listed in the failure message. Fields that anvil
// returns and that are legitimately chain-specific are in ALLOW below; keep
// it short: a field anvil has and the node lacks fails unless listed there.
//
// Sender: the compared transactions come from a fresh random key that
// DEV_KEY funds with the same amount on each node (two different funding
// transactions, one per node, each with that node's DEV_KEY nonce). The fresh
// key has nonce 0 and the same balance on both nodes, so one signed
// transaction is valid on both whatever DEV_KEY's nonce on the node under
// test is (the other suites use it first), and the token lands at the same
// address on both.
//
// Optional env: DEV_KEY, WALLET_TEST_TIMEOUT_MS (see common.mjs);
// ANVIL_BIN (default: the binary of the pinned npm package);
// ANVIL_HARDFORK (default "osaka"); RPC_COMPARE_DUMP=<dir> writes every
// compared pair of responses there as JSON, for inspecting differences.

import { rpcAt } from './rpc.mjs';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';
import WebSocket from 'ws'; // ethers' own WebSocket dependency (pinned by package-lock.json)
import { compileTestToken } from './compile.mjs';
import { RPC_URL, WS_URL, DEV_KEY, TEST_TIMEOUT, withTimeout, exitWhenDone } from './common.mjs';

exitWhenDone(after, 'rpc_compare.test.mjs');

const T = { timeout: TEST_TIMEOUT };
const MNEMONIC = 'test test test test test test test test test test test junk';
const ANVIL_HARDFORK = process.env.ANVIL_HARDFORK || 'osaka';
const DUMP_DIR = process.env.RPC_COMPARE_DUMP || '';
const GWEI = 10n ** 9n;
const FUNDING = ethers.parseEther('10');
const INITIAL_SUPPLY = ethers.parseUnits('1000000', 18);
const UNKNOWN_HASH = '0x' + 'ab'.repeat(32);
const UNKNOWN_FILTER = '0xdeadbeefdeadbeefdeadbeefdeadbeef';

// ---------------------------------------------------------------------------
// Allow-list: differences that are legitimately chain-specific, i.e. where
// anvil deviates from what geth/reth return. Each entry matches a path as
// printed in a failure (array indices normalised to `[]`, e.g.
// `$.transfer.receipt.blobGasPrice`, `$.blockReceipts[].blobGasPrice`) and
// allows exactly one kind of difference:
//   'anvil-only': anvil has the field, the node does not.
// Anything not listed fails - in particular every other field anvil returns
// that the node lacks, and every field the node returns that anvil lacks.
// ---------------------------------------------------------------------------
const ALLOW = [
  {
    // anvil puts `blobGasPrice` into EVERY receipt. It only has a meaning for
    // EIP-4844 blob transactions, and geth and reth return it (with
    // blobGasUsed) only for those; no transaction here is a blob transaction.
    path: /(^|\.)(receipt|blockReceipts\[\])\.blobGasPrice$/,
    kind: 'anvil-only',
  },
  {
    // anvil adds a top-level `blockTimestamp` to receipts, as a JSON number
    // (not a hex quantity). It is not part of the execution-apis receipt
    // schema and geth/reth do not return it (their *logs* carry
    // `blockTimestamp` as a hex quantity; that one is compared normally).
    path: /(^|\.)(receipt|blockReceipts\[\])\.blockTimestamp$/,
    kind: 'anvil-only',
  },
];

// ---------------------------------------------------------------------------
// Shapes and diffs
// ---------------------------------------------------------------------------

const HEX = /^0x[0-9a-fA-F]*$/;

/** The JSON type of a value: 'missing' | 'null' | 'boolean' | 'number' | 'hex' | 'string' | 'array' | 'object'. */
export function typeOf(x) {
  if (x === undefined) return 'missing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'string') return HEX.test(x) ? 'hex' : 'string';
  return typeof x; // 'boolean' | 'number' | 'object'
}

/** The shape of a JSON value: the same structure, every leaf replaced by its typeOf. */
export function shape(x) {
  const t = typeOf(x);
  if (t === 'array') return x.map(shape);
  if (t === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, shape(x[k])]));
  return t;
}

const normPath = (path) => path.replace(/\[[^\]]*\]/g, '[]');
const allowed = (path, kind) => ALLOW.some((a) => a.kind === kind && a.path.test(normPath(path)));

/**
 * Every path where `node` and `ref` (anvil) differ in shape, as {path, msg}
 * (no differences <=> shape(node) deep-equals shape(ref), up to ALLOW).
 * Objects: same key set, every value the same shape. Arrays: same length,
 * elements compared pairwise. Differences allowed by ALLOW are skipped.
 */
export function diffShapes(node, ref, path = '$', out = []) {
  const tn = typeOf(node);
  const tr = typeOf(ref);
  if (tn !== tr) {
    if (tn === 'missing') {
      if (!allowed(path, 'anvil-only')) out.push({ path, msg: `missing on the node (anvil: ${tr} ${brief(ref)})` });
    } else if (tr === 'missing') {
      out.push({ path, msg: `only on the node (${tn} ${brief(node)}), not on anvil` });
    } else {
      out.push({ path, msg: `node ${tn} ${brief(node)} vs anvil ${tr} ${brief(ref)}` });
    }
    return out;
  }
  if (tn === 'array') {
    if (node.length !== ref.length) out.push({ path, msg: `array length: node ${node.length} vs anvil ${ref.length}` });
    for (let i = 0; i < Math.min(node.length, ref.length); i++) diffShapes(node[i], ref[i], `${path}[${i}]`, out);
  } else if (tn === 'object') {
    for (const k of [...new Set([...Object.keys(node), ...Object.keys(ref)])].sort()) {
      diffShapes(node[k], ref[k], `${path}.${k}`, out);
    }
  }
  return out;
}

/**
 * For arrays whose lengths may legitimately differ (filter changes, all
 * receipts of a block): every element of both must have the shape of ref[0].
 */
export function diffItemShapes(node, ref, path = '$', out = []) {
  if (!Array.isArray(node) || !Array.isArray(ref)) return diffShapes(node, ref, path, out);
  if (ref.length === 0) {
    if (node.length > 0) out.push({ path, msg: `anvil returned no element to compare the node's ${node.length} with` });
    return out;
  }
  node.forEach((x, i) => diffShapes(x, ref[0], `${path}[${i}]`, out));
  ref.forEach((x, i) => i > 0 && diffShapes(x, ref[0], `${path}[${i}](anvil vs anvil[0])`, out));
  return out;
}

/** Values of `keys` that differ (hex strings compared case-insensitively, else exactly). */
export function diffValues(node, ref, keys, path = '$', out = []) {
  for (const k of keys) {
    if (!isDeepStrictEqual(normalise(node?.[k]), normalise(ref?.[k]))) {
      out.push({ path: `${path}.${k}`, msg: `value: node ${brief(node?.[k])} vs anvil ${brief(ref?.[k])}` });
    }
  }
  return out;
}

const normalise = (x) =>
  typeof x === 'string' && HEX.test(x)
    ? x.toLowerCase()
    : Array.isArray(x)
      ? x.map(normalise)
      : x && typeof x === 'object'
        ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalise(v)]))
        : x;

function brief(x, max = 80) {
  const s = JSON.stringify(x);
  return s === undefined ? '(missing)' : s.length > max ? s.slice(0, max - 3) + '...' : s;
}

/**
 * Fails listing every difference (grouped by path with indices normalised,
 * so a field missing from 300 struct-log steps is one line), followed by
 * both responses (truncated).
 */
function assertNoDiffs(diffs, what, node, ref) {
  dump(what, node, ref);
  if (diffs.length === 0) return;
  // A value difference at a path whose shape already differs says nothing new.
  const shapePaths = new Set(diffs.filter((d) => !d.msg.startsWith('value:')).map((d) => d.path));
  diffs = diffs.filter((d) => !(d.msg.startsWith('value:') && shapePaths.has(d.path)));
  const groups = new Map();
  for (const d of diffs) {
    const key = `${normPath(d.path)}\u0000${d.msg.replace(/:.*/, '')}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { first: d, count: 1 });
  }
  const lines = [...groups.values()].map(
    ({ first, count }) => `${first.path}: ${first.msg}${count > 1 ? `  (+${count - 1} more like it at ${normPath(first.path)})` : ''}`,
  );
  const shown = lines.slice(0, 60);
  if (lines.length > shown.length) shown.push(`... and ${lines.length - shown.length} more`);
  assert.fail(
    `${what}: ${diffs.length} difference(s) between the node and anvil:\n  ${shown.join('\n  ')}\n` +
      `node:  ${brief(node, 3000)}\nanvil: ${brief(ref, 3000)}`,
  );
}

let dumpSeq = 0;
function dump(what, node, ref) {
  if (!DUMP_DIR) return;
  mkdirSync(DUMP_DIR, { recursive: true });
  const name = `${String(++dumpSeq).padStart(2, '0')}-${what.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80)}.json`;
  const body = { what, node, anvil: ref, nodeShape: shape(node), anvilShape: shape(ref) };
  writeFileSync(join(DUMP_DIR, name), JSON.stringify(body, null, 2) + '\n');
}

// Transaction fields that depend only on the signed transaction.
const TX_VALUE_KEYS = [
  'hash', 'from', 'to', 'value', 'input', 'nonce', 'gas', 'type', 'chainId',
  'maxFeePerGas', 'maxPriorityFeePerGas', 'accessList', 'v', 'r', 's', 'yParity',
];
// Receipt fields that depend only on the transaction and the sender's/token's state.
const RECEIPT_VALUE_KEYS = ['transactionHash', 'from', 'to', 'status', 'type', 'gasUsed', 'contractAddress', 'logsBloom'];
const LOG_VALUE_KEYS = ['address', 'topics', 'data', 'transactionHash', 'removed'];
// callTracer frame fields; `gas` (gas given to the frame) may differ: shape only.
const FRAME_VALUE_KEYS = ['type', 'from', 'to', 'value', 'input', 'output', 'gasUsed', 'error', 'revertReason'];
// (`index`, a log's index in the block, may differ: shape only.)
const FRAME_LOG_VALUE_KEYS = ['address', 'topics', 'data', 'position'];

function diffReceiptValues(rn, ra, path, out = []) {
  diffValues(rn, ra, RECEIPT_VALUE_KEYS, path, out);
  const ln = rn?.logs ?? [];
  const la = ra?.logs ?? [];
  for (let i = 0; i < Math.min(ln.length, la.length); i++) diffValues(ln[i], la[i], LOG_VALUE_KEYS, `${path}.logs[${i}]`, out);
  return out;
}

function diffFrameValues(fn, fa, path, out = []) {
  diffValues(fn, fa, FRAME_VALUE_KEYS, path, out);
  const ln = fn?.logs ?? [];
  const la = fa?.logs ?? [];
  for (let i = 0; i < Math.min(ln.length, la.length); i++) diffValues(ln[i], la[i], FRAME_LOG_VALUE_KEYS, `${path}.logs[${i}]`, out);
  const cn = fn?.calls ?? [];
  const ca = fa?.calls ?? [];
  for (let i = 0; i < Math.min(cn.length, ca.length); i++) diffFrameValues(cn[i], ca[i], `${path}.calls[${i}]`, out);
  return out;
}

/** Struct-logger results: top-level shape, every step's shape, and the step sequence values. */
function diffStructLogs(tn, ta, path, stepKeys, out = []) {
  diffShapes({ ...tn, structLogs: undefined }, { ...ta, structLogs: undefined }, path, out);
  diffValues(tn, ta, ['failed', 'gas', 'returnValue'], path, out);
  const sn = tn?.structLogs;
  const sa = ta?.structLogs;
  if (!Array.isArray(sn) || !Array.isArray(sa)) return diffShapes(sn, sa, `${path}.structLogs`, out);
  if (sn.length !== sa.length) out.push({ path: `${path}.structLogs`, msg: `number of steps: node ${sn.length} vs anvil ${sa.length}` });
  let valueDiffs = 0;
  for (let i = 0; i < Math.min(sn.length, sa.length); i++) {
    diffShapes(sn[i], sa[i], `${path}.structLogs[${i}]`, out);
    if (valueDiffs < 20) {
      const d = diffValues(sn[i], sa[i], stepKeys, `${path}.structLogs[${i}]`);
      valueDiffs += d.length;
      out.push(...d);
    }
  }
  if (valueDiffs >= 20) out.push({ path: `${path}.structLogs`, msg: 'value: (stopped after 20 differing step values)' });
  return out;
}

// ---------------------------------------------------------------------------
// JSON-RPC plumbing
// ---------------------------------------------------------------------------

const rpc = rpcAt;
/** Ids of this file's WebSocket requests. */
let nextId = 1;

async function rpcResult(url, method, params = []) {
  const body = await rpc(url, method, params);
  if (body.error) throw new Error(`${method} failed at ${url}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const isRpcError = (body) => body?.error != null && Number.isInteger(body.error.code) && typeof body.error.message === 'string';

/** Minimal JSON-RPC WebSocket client (requests + eth_subscription notifications). */
async function wsConnect(url) {
  const sock = new WebSocket(url);
  await withTimeout(
    new Promise((resolve, reject) => {
      sock.once('open', resolve);
      sock.once('error', reject);
    }),
    15_000,
    `WebSocket ${url} to open`,
  );
  sock.on('error', () => {}); // a reply that never comes times out below
  const waiting = new Map();
  const notes = [];
  let onNote = () => {};
  sock.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id != null && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    } else if (msg.method === 'eth_subscription') {
      notes.push(msg);
      onNote();
    }
  });
  return {
    request(method, params = []) {
      const id = nextId++;
      const reply = new Promise((resolve) => waiting.set(id, resolve));
      sock.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      return withTimeout(reply, 15_000, `${method} over WebSocket ${url}`);
    },
    /** The first notification (already received or not) matching `pred`. */
    notification(pred, ms, what) {
      return withTimeout(
        new Promise((resolve) => {
          const check = () => {
            const n = notes.find(pred);
            if (n) resolve(n);
          };
          onNote = check;
          check();
        }),
        ms,
        what,
      );
    },
    notes,
    close() {
      sock.terminate();
    },
  };
}

// ---------------------------------------------------------------------------
// The reference anvil
// ---------------------------------------------------------------------------

function anvilBinary() {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN;
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  try {
    // The real binary (see README) rather than the npm wrapper.
    return createRequire(import.meta.url).resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil`);
  } catch {
    return join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'anvil');
  }
}

async function startAnvil(chainId) {
  // Port 0: anvil binds a free port and prints it ("Listening on 127.0.0.1:PORT").
  const args = [
    '--host', '127.0.0.1',
    '--port', '0',
    '--chain-id', String(chainId),
    '--mnemonic', MNEMONIC,
    '--hardfork', ANVIL_HARDFORK,
    '--steps-tracing', // geth-style struct logs from debug_trace*
  ];
  const bin = anvilBinary();
  // Own process group: if `bin` is the npm wrapper, killing the group kills anvil too.
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  let address = null;
  const keep = (d) => {
    log = (log + d).slice(-4000);
    address ??= log.match(/Listening on (\S+:\d+)/)?.[1] ?? null;
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.on('error', (err) => (exited = { error: err.message }));
  const deadline = Date.now() + 30_000;
  // Ready when anvil printed its address and answers eth_chainId with `chainId`.
  for (;;) {
    if (exited) throw new Error(`anvil (${bin} ${args.join(' ')}) exited: ${JSON.stringify(exited)}\n${log}`);
    if (address) {
      try {
        const id = (await rpc(`http://${address}`, 'eth_chainId')).result;
        if (id !== undefined && BigInt(id) === BigInt(chainId)) break;
        if (id !== undefined) throw new Error(`anvil at ${address} answers chain id ${id}, not ${chainId}`);
      } catch (e) {
        if (e.message.startsWith('anvil at')) throw e;
        /* not answering yet */
      }
    }
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`anvil did not answer within 30 s\n${log}`);
    }
    await sleep(100);
  }
  return { child, url: `http://${address}`, ws: `ws://${address}` };
}

function killGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (n) => ethers.toQuantity(n);

// ---------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------

describe('JSON-RPC node vs anvil (same transactions, same calls, same shapes)', () => {
  let anvil;
  /** [node, anvil] */
  let sides;
  let chainId;
  let sender; // fresh ethers.Wallet funded on both nodes; signs every compared transaction
  let token; // { address, iface }
  const txs = {}; // name -> { hash, raw, receipts: [node, anvil] }
  const recipient = ethers.Wallet.createRandom().address; // token recipient
  const ethRecipient = ethers.Wallet.createRandom().address;

  const onExit = () => killGroup(anvil?.child);

  /** The same call on both; [nodeResponse, anvilResponse] (whole bodies). `params` may be a function of (side, index). */
  const both = (method, params) =>
    Promise.all(sides.map((s, i) => rpc(s.url, method, typeof params === 'function' ? params(s, i) : params)));

  /** The same call on both; fails unless both answer with a result. Returns [node, anvil] results. */
  async function bothResults(method, params) {
    const [n, a] = await both(method, params);
    if (n.error || a.error) {
      assert.fail(
        `${method}: ` +
          `node ${n.error ? `error ${JSON.stringify(n.error)}` : 'ok'}, ` +
          `anvil ${a.error ? `error ${JSON.stringify(a.error)}` : 'ok'}` +
          (typeof params === 'function' ? '' : `\nparams: ${brief(params, 400)}`),
      );
    }
    return [n.result, a.result];
  }

  async function waitReceipt(url, hash, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await rpcResult(url, 'eth_getTransactionReceipt', [hash]);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no receipt for ${hash} at ${url} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Fee fields valid on both nodes: a generous max fee over the higher base fee. */
  async function fees() {
    const info = await Promise.all(
      sides.map(async (s) => {
        const block = await rpcResult(s.url, 'eth_getBlockByNumber', ['latest', false]);
        const tip = await rpc(s.url, 'eth_maxPriorityFeePerGas', []);
        return { base: BigInt(block.baseFeePerGas ?? 0), tip: tip.result ? BigInt(tip.result) : GWEI };
      }),
    );
    const tip = info.reduce((m, x) => (x.tip > m ? x.tip : m), 1n);
    const base = info.reduce((m, x) => (x.base > m ? x.base : m), 0n);
    return { maxPriorityFeePerGas: tip, maxFeePerGas: base * 4n + tip + GWEI };
  }

  /** The sender's next nonce, which must be the same on both nodes. */
  async function senderNonce() {
    const [n, a] = await Promise.all(
      sides.map((s) => rpcResult(s.url, 'eth_getTransactionCount', [sender.address, 'pending'])),
    );
    assert.equal(BigInt(n), BigInt(a), `sender nonce differs: node ${n}, anvil ${a} (an earlier send failed on one side)`);
    return Number(BigInt(n));
  }

  /** Gas limit that suits both nodes: the higher eth_estimateGas plus 25 %. */
  async function gasFor(tx) {
    const [n, a] = await bothResults('eth_estimateGas', [{ from: sender.address, ...tx }]);
    const g = BigInt(n) > BigInt(a) ? BigInt(n) : BigInt(a);
    return (g * 5n) / 4n;
  }

  /** Signs one transaction from `sender` and sends the same raw bytes to both; does not wait. */
  async function sendSame(name, tx) {
    const raw = await sender.signTransaction({
      type: 2,
      chainId,
      nonce: await senderNonce(),
      value: 0n,
      data: '0x',
      ...(await fees()),
      ...tx,
    });
    const hash = ethers.keccak256(raw);
    const [n, a] = await both('eth_sendRawTransaction', [raw]);
    assert.ok(
      !n.error && !a.error,
      `${name}: eth_sendRawTransaction: node ${JSON.stringify(n.error ?? n.result)}, anvil ${JSON.stringify(a.error ?? a.result)}`,
    );
    assert.equal(n.result.toLowerCase(), hash, `${name}: the node returned the transaction hash`);
    assert.equal(a.result.toLowerCase(), hash, `${name}: anvil returned the transaction hash`);
    return (txs[name] = { hash, raw });
  }

  /** Waits for `name`'s receipt on both; both must have succeeded. */
  async function waitSame(name) {
    const t = txs[name];
    t.receipts = await Promise.all(sides.map((s) => waitReceipt(s.url, t.hash)));
    t.receipts.forEach((r, i) => assert.equal(r.status, '0x1', `${name} succeeded on ${sides[i].name}: ${JSON.stringify(r)}`));
    return t.receipts;
  }

  const transferData = (to, amount) => token.iface.encodeFunctionData('transfer', [to, amount]);

  async function sendTokenTransfer(name, amount) {
    const data = transferData(recipient, amount);
    await sendSame(name, { to: token.address, data, gasLimit: await gasFor({ to: token.address, data }) });
    return waitSame(name);
  }

  async function sendEth(name) {
    await sendSame(name, { to: ethRecipient, value: 12345n, gasLimit: 21000n });
    return waitSame(name);
  }

  /** Funds `sender` from DEV_KEY on one node (that node's DEV_KEY nonce). */
  async function fund(side) {
    const dev = new ethers.Wallet(DEV_KEY);
    const nonce = await rpcResult(side.url, 'eth_getTransactionCount', [dev.address, 'pending']);
    const raw = await dev.signTransaction({
      type: 2,
      chainId,
      nonce: Number(BigInt(nonce)),
      to: sender.address,
      value: FUNDING,
      gasLimit: 21000n,
      ...(await fees()),
    });
    const hash = await rpcResult(side.url, 'eth_sendRawTransaction', [raw]);
    const r = await waitReceipt(side.url, hash);
    assert.equal(r.status, '0x1', `funding the sender on ${side.name}`);
  }

  before(async () => {
    process.on('exit', onExit);
    chainId = Number(BigInt(await rpcResult(RPC_URL, 'eth_chainId')));
    anvil = await startAnvil(chainId);
    sides = [
      { name: 'node', url: RPC_URL, ws: WS_URL },
      { name: 'anvil', url: anvil.url, ws: anvil.ws },
    ];
    sender = ethers.Wallet.createRandom();
    await Promise.all(sides.map(fund));

    // (1) deploy TestToken
    const { abi, bytecode } = compileTestToken();
    const factory = new ethers.ContractFactory(abi, bytecode);
    const { data } = await factory.getDeployTransaction('Test Token', 'TST', INITIAL_SUPPLY);
    token = {
      address: ethers.getCreateAddress({ from: sender.address, nonce: await senderNonce() }).toLowerCase(),
      iface: factory.interface,
    };
    await sendSame('deploy', { to: null, data, gasLimit: await gasFor({ data }) });
    for (const r of await waitSame('deploy')) assert.equal(r.contractAddress?.toLowerCase(), token.address, 'token address');

    // (2) token transfer (emits Transfer), (3) plain ETH transfer
    await sendTokenTransfer('transfer', ethers.parseUnits('42.5', 18));
    await sendEth('eth');
  }, { timeout: 3 * TEST_TIMEOUT });

  after(() => {
    killGroup(anvil?.child);
    process.off('exit', onExit);
  });

  test('the same transactions and receipts on both (eth_getTransactionByHash, eth_getTransactionReceipt)', T, async () => {
    for (const name of ['deploy', 'transfer', 'eth']) {
      const [tn, ta] = await bothResults('eth_getTransactionByHash', [txs[name].hash]);
      const p = `$.${name}.tx`;
      assertNoDiffs([...diffShapes(tn, ta, p), ...diffValues(tn, ta, TX_VALUE_KEYS, p)], `eth_getTransactionByHash(${name})`, tn, ta);
      const [rn, ra] = txs[name].receipts;
      const q = `$.${name}.receipt`;
      assertNoDiffs([...diffShapes(rn, ra, q), ...diffReceiptValues(rn, ra, q)], `eth_getTransactionReceipt(${name})`, rn, ra);
    }
  });

  test('log filters: eth_newFilter, eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter', T, async (t) => {
    const [idn, ida] = await bothResults('eth_newFilter', (_, i) => [
      { address: token.address, fromBlock: txs.deploy.receipts[i].blockNumber, toBlock: 'latest' },
    ]);
    assertNoDiffs(diffShapes(idn, ida, '$.filterId'), 'eth_newFilter id', idn, ida);
    const ids = [idn, ida];

    await sendTokenTransfer('filterTransfer', 7n);
    const hash = txs.filterTransfer.hash;

    // Changes since the filter was created: must contain the new Transfer.
    const [cn, ca] = await bothResults('eth_getFilterChanges', (_, i) => [ids[i]]);
    const diffs = diffItemShapes(cn, ca, '$.filterChanges');
    const pick = (logs) => (Array.isArray(logs) ? logs.find((l) => l?.transactionHash?.toLowerCase() === hash) : undefined);
    const [ln, la] = [pick(cn), pick(ca)];
    assert.ok(la, `anvil's eth_getFilterChanges contains the new Transfer log: ${brief(ca, 2000)}`);
    if (!ln) diffs.push({ path: '$.filterChanges', msg: `the node's changes lack the log of ${hash}: ${brief(cn, 1000)}` });
    else {
      diffShapes(ln, la, '$.filterChanges[new]', diffs);
      diffValues(ln, la, LOG_VALUE_KEYS, '$.filterChanges[new]', diffs);
    }
    assertNoDiffs(diffs, 'eth_getFilterChanges (log filter)', cn, ca);

    // All logs of the filter since fromBlock: the mint, `transfer` and `filterTransfer`.
    const [gn, ga] = await bothResults('eth_getFilterLogs', (_, i) => [ids[i]]);
    assert.equal(ga.length, 3, `anvil: 3 Transfer logs since the deploy block: ${brief(ga, 2000)}`);
    const gd = diffShapes(gn, ga, '$.filterLogs');
    if (Array.isArray(gn)) gn.forEach((l, i) => i < ga.length && diffValues(l, ga[i], LOG_VALUE_KEYS, `$.filterLogs[${i}]`, gd));
    assertNoDiffs(gd, 'eth_getFilterLogs', gn, ga);

    const [un, ua] = await bothResults('eth_uninstallFilter', (_, i) => [ids[i]]);
    assert.equal(ua, true, 'anvil: eth_uninstallFilter -> true');
    assert.equal(un, true, `node: eth_uninstallFilter -> true (got ${brief(un)})`);

    // Polling an uninstalled filter is an error on both.
    const [en, ea] = await both('eth_getFilterChanges', (_, i) => [ids[i]]);
    t.diagnostic(`uninstalled filter: node ${brief(en.error ?? en, 300)} | anvil ${brief(ea.error ?? ea, 300)}`);
    assert.ok(isRpcError(ea), `anvil: eth_getFilterChanges on an uninstalled filter is an error: ${brief(ea, 300)}`);
    assert.ok(isRpcError(en), `node: eth_getFilterChanges on an uninstalled filter is a JSON-RPC error with an integer code: ${brief(en, 300)}`);
  });

  test('block filter: eth_newBlockFilter -> eth_getFilterChanges returns block hashes', T, async () => {
    const ids = await bothResults('eth_newBlockFilter', []);
    assertNoDiffs(diffShapes(ids[0], ids[1], '$.filterId'), 'eth_newBlockFilter id', ids[0], ids[1]);
    const [rn, ra] = await sendEth('blockFilterEth');
    const [cn, ca] = await bothResults('eth_getFilterChanges', (_, i) => [ids[i]]);
    const diffs = diffItemShapes(cn, ca, '$.blockFilterChanges');
    for (const [side, changes, r] of [['node', cn, rn], ['anvil', ca, ra]]) {
      const hashes = Array.isArray(changes) ? changes.map((h) => String(h).toLowerCase()) : [];
      if (!hashes.includes(r.blockHash.toLowerCase())) {
        diffs.push({ path: '$.blockFilterChanges', msg: `${side}: lacks the hash of block ${r.blockNumber} (${r.blockHash}): ${brief(changes, 600)}` });
      }
      for (const h of hashes) if (!/^0x[0-9a-f]{64}$/.test(h)) diffs.push({ path: '$.blockFilterChanges[]', msg: `${side}: not a block hash: ${h}` });
    }
    assertNoDiffs(diffs, 'eth_getFilterChanges (block filter)', cn, ca);
    const [un, ua] = await bothResults('eth_uninstallFilter', (_, i) => [ids[i]]);
    assert.deepEqual([un, ua], [true, true], 'eth_uninstallFilter -> true on both');
  });

  test('pending transaction filter: eth_newPendingTransactionFilter -> eth_getFilterChanges', T, async (t) => {
    const [n, a] = await both('eth_newPendingTransactionFilter', []);
    if (a.error) {
      t.skip(`anvil does not support it: ${JSON.stringify(a.error)}`);
      return;
    }
    assert.ok(!n.error, `node: eth_newPendingTransactionFilter failed (anvil supports it): ${JSON.stringify(n.error)}`);
    const ids = [n.result, a.result];
    assertNoDiffs(diffShapes(ids[0], ids[1], '$.filterId'), 'eth_newPendingTransactionFilter id', ids[0], ids[1]);
    await sendEth('pendingFilterEth');
    const hash = txs.pendingFilterEth.hash;
    const [cn, ca] = await bothResults('eth_getFilterChanges', (_, i) => [ids[i]]);
    const diffs = diffItemShapes(cn, ca, '$.pendingFilterChanges');
    const has = (changes) => Array.isArray(changes) && changes.some((h) => String(h).toLowerCase() === hash);
    t.diagnostic(`pending filter changes: node ${brief(cn, 300)} | anvil ${brief(ca, 300)}`);
    if (has(ca) && !has(cn)) diffs.push({ path: '$.pendingFilterChanges', msg: `the node's changes lack ${hash} (anvil's have it)` });
    assertNoDiffs(diffs, 'eth_getFilterChanges (pending transaction filter)', cn, ca);
    await both('eth_uninstallFilter', (_, i) => [ids[i]]);
  });

  test('eth_getBlockReceipts(block of the token transfer)', T, async () => {
    const [bn, ba] = await bothResults('eth_getBlockReceipts', (_, i) => [txs.transfer.receipts[i].blockNumber]);
    const diffs = diffItemShapes(bn, ba, '$.blockReceipts');
    const pick = (rs) => (Array.isArray(rs) ? rs.find((r) => r?.transactionHash?.toLowerCase() === txs.transfer.hash) : undefined);
    const [rn, ra] = [pick(bn), pick(ba)];
    assert.ok(ra, `anvil's block receipts contain the transfer: ${brief(ba, 1000)}`);
    if (!rn) diffs.push({ path: '$.blockReceipts', msg: `the node's lack the transfer ${txs.transfer.hash}` });
    else {
      diffShapes(rn, ra, '$.blockReceipts[transfer]', diffs);
      diffReceiptValues(rn, ra, '$.blockReceipts[transfer]', diffs);
      // Same as eth_getTransactionReceipt on the same node.
      if (!isDeepStrictEqual(rn, txs.transfer.receipts[0])) {
        diffs.push({ path: '$.blockReceipts[transfer]', msg: `node: differs from its own eth_getTransactionReceipt ${brief(txs.transfer.receipts[0], 600)}` });
      }
    }
    assertNoDiffs(diffs, 'eth_getBlockReceipts', bn, ba);
  });

  test('eth_feeHistory (what wallets suggest fees from) over the token transfer block, and eth_blobBaseFee', T, async () => {
    const receipts = txs.transfer.receipts;
    const percentiles = [25, 75];
    // Two blocks: the transfer's and the one before (every chain here has it).
    const [hn, ha] = await bothResults('eth_feeHistory', (_, i) => ['0x2', receipts[i].blockNumber, percentiles]);
    const diffs = diffShapes(hn, ha, '$.feeHistory');
    const blocks = await Promise.all(
      sides.map((s, i) =>
        Promise.all([-1n, 0n].map((d) => rpcResult(s.url, 'eth_getBlockByNumber', [hex(BigInt(receipts[i].blockNumber) + d), false]))),
      ),
    );
    const blockReceipts = await bothResults('eth_getBlockReceipts', (_, i) => [receipts[i].blockNumber]);
    const latest = await bothResults('eth_feeHistory', ['0x1', 'latest', percentiles]);
    const blobBaseFee = await bothResults('eth_blobBaseFee', []);
    diffShapes(latest[0], latest[1], '$.feeHistory(latest)', diffs);
    [hn, ha].forEach((h, i) => {
      const side = sides[i].name;
      const at = (path, msg) => diffs.push({ path, msg: `${side}: ${msg}` });
      if (BigInt(h.oldestBlock) !== BigInt(receipts[i].blockNumber) - 1n) at('$.feeHistory.oldestBlock', `${h.oldestBlock}, transfer in ${receipts[i].blockNumber}`);
      blocks[i].forEach((b, j) => {
        if (BigInt(h.baseFeePerGas[j]) !== BigInt(b.baseFeePerGas)) at(`$.feeHistory.baseFeePerGas[${j}]`, `${h.baseFeePerGas[j]}, the block says ${b.baseFeePerGas}`);
        const ratio = Number(BigInt(b.gasUsed)) / Number(BigInt(b.gasLimit));
        if (Math.abs(h.gasUsedRatio[j] - ratio) > 1e-9) at(`$.feeHistory.gasUsedRatio[${j}]`, `${h.gasUsedRatio[j]}, the block's gasUsed / gasLimit is ${ratio}`);
      });
      // Each reward of the transfer's block is the tip some transaction in it paid.
      const base = BigInt(blocks[i][1].baseFeePerGas);
      const tips = blockReceipts[i].map((r) => BigInt(r.effectiveGasPrice) - base);
      for (const r of h.reward?.[1] ?? []) {
        if (!tips.includes(BigInt(r))) at('$.feeHistory.reward[1]', `${r} is no tip paid in the block (${tips.join(', ')})`);
      }
      if ((h.reward?.[1] ?? []).length !== percentiles.length) at('$.feeHistory.reward[1]', `${JSON.stringify(h.reward)}`);
      // The next block's blob base fee is what eth_blobBaseFee says.
      const next = latest[i].baseFeePerBlobGas?.at(-1);
      if (next === undefined || BigInt(next) !== BigInt(blobBaseFee[i])) at('$.feeHistory(latest).baseFeePerBlobGas', `${next}, eth_blobBaseFee says ${blobBaseFee[i]}`);
    });
    assertNoDiffs(diffs, 'eth_feeHistory', { hn, latest: latest[0], blobBaseFee: blobBaseFee[0] }, { ha, latest: latest[1], blobBaseFee: blobBaseFee[1] });
  });

  test("eth_call and eth_estimateGas with state overrides (geth's set: balance, nonce, code, state, stateDiff)", T, async () => {
    // Runtime code returning (SLOAD(0), SELFBALANCE).
    const probe = '0x6000546000524760205260406000f3';
    const at = ethers.Wallet.createRandom().address.toLowerCase();
    const word = (n) => ethers.toBeHex(n, 32);
    const decode = (out) => [BigInt(ethers.dataSlice(out, 0, 32)), BigInt(ethers.dataSlice(out, 32, 64))];
    const diffs = [];
    const same = (what, [n, a], want) => {
      if (n !== a) diffs.push({ path: `$.${what}`, msg: `node ${n}, anvil ${a}` });
      if (want !== undefined && n !== want) diffs.push({ path: `$.${what}`, msg: `node ${n}, want ${want}` });
    };
    // Code and balance at an empty address, one slot set.
    const [pn, pa] = await bothResults('eth_call', [{ to: at }, 'latest', { [at]: { code: probe, balance: '0x1234', stateDiff: { [word(0)]: word(42) } } }]);
    same('probe(stateDiff)', [decode(pn).join(), decode(pa).join()], '42,4660');
    // `state` replaces the whole storage: slot 0 is not in it.
    const [qn, qa] = await bothResults('eth_call', [{ to: at }, 'latest', { [at]: { code: probe, state: { [word(1)]: word(5) } } }]);
    same('probe(state)', [decode(qn).join(), decode(qa).join()], '0,0');
    // The token's storage replaced by nothing: its total supply reads 0; one
    // slot changed by stateDiff keeps every other (the total supply).
    const totalSupply = { to: token.address, data: token.iface.encodeFunctionData('totalSupply') };
    same('totalSupply(state {})', await bothResults('eth_call', [totalSupply, 'latest', { [token.address]: { state: {} } }]), word(0));
    same('totalSupply(stateDiff)', await bothResults('eth_call', [totalSupply, 'latest', { [token.address]: { stateDiff: { [word(1000)]: word(1) } } }]), word(INITIAL_SUPPLY));
    same('totalSupply', await bothResults('eth_call', [totalSupply, 'latest']), word(INITIAL_SUPPLY));
    // A sender with no ETH sends 1 ETH: refused, unless a balance override pays.
    const poor = ethers.Wallet.createRandom().address.toLowerCase();
    const pay = { from: poor, to: at, value: ethers.toQuantity(ethers.parseEther('1')), maxFeePerGas: '0x2540be400', maxPriorityFeePerGas: '0x1' };
    const rich = { [poor]: { balance: ethers.toQuantity(ethers.parseEther('2')) } };
    const refused = await both('eth_call', [pay, 'latest']);
    refused.forEach((r, i) => { if (!r.error) diffs.push({ path: '$.call(no funds)', msg: `${sides[i].name}: ${JSON.stringify(r)}` }); });
    same('call(balance override)', await bothResults('eth_call', [pay, 'latest', rich]), '0x');
    same('estimateGas(balance override)', await bothResults('eth_estimateGas', [pay, 'latest', rich]), '0x5208');
    // Both `state` and `stateDiff` for one account: an error on both.
    const bad = await both('eth_call', [{ to: at }, 'latest', { [at]: { state: {}, stateDiff: {} } }]);
    bad.forEach((r, i) => { if (!r.error) diffs.push({ path: '$.call(state and stateDiff)', msg: `${sides[i].name}: ${JSON.stringify(r)}` }); });
    // debug_traceCall runs under the same overrides (callTracer output).
    const [tn, ta] = await bothResults('debug_traceCall', [{ to: at }, 'latest', { tracer: 'callTracer', stateOverrides: { [at]: { code: probe, stateDiff: { [word(0)]: word(7) } } } }]);
    same('traceCall(stateOverrides).output', [tn.output, ta.output], word(7) + '0'.repeat(64));
    // A null block is the latest (as geth).
    same('call(null block)', await bothResults('eth_call', [totalSupply, null, {}]), word(INITIAL_SUPPLY));
    // Block overrides (the fourth parameter) are not supported by the node:
    // refused as invalid params, never ignored.
    const blockOverride = await rpc(RPC_URL, 'eth_call', [totalSupply, 'latest', {}, { number: '0x1' }]);
    if (blockOverride.error?.code !== -32602) diffs.push({ path: '$.call(block overrides)', msg: `node: ${JSON.stringify(blockOverride)}` });
    assertNoDiffs(diffs, 'state overrides', { pn, qn }, { pa, qa });
  });

  test('block transaction counts and transactions by block and index', T, async () => {
    const [rn, ra] = txs.transfer.receipts;
    const receipts = [rn, ra];
    const blocks = await bothResults('eth_getBlockByNumber', (_, i) => [receipts[i].blockNumber, false]);
    const diffs = [];

    const byNum = await bothResults('eth_getBlockTransactionCountByNumber', (_, i) => [receipts[i].blockNumber]);
    const byHash = await bothResults('eth_getBlockTransactionCountByHash', (_, i) => [receipts[i].blockHash]);
    diffShapes(byNum[0], byNum[1], '$.countByNumber', diffs);
    diffShapes(byHash[0], byHash[1], '$.countByHash', diffs);
    sides.forEach((s, i) => {
      const count = hex(blocks[i].transactions.length);
      if (byNum[i] !== count) diffs.push({ path: '$.countByNumber', msg: `${s.name}: ${byNum[i]}, block has ${count} transactions` });
      if (byHash[i] !== count) diffs.push({ path: '$.countByHash', msg: `${s.name}: ${byHash[i]}, block has ${count} transactions` });
    });
    const unknownCount = await bothResults('eth_getBlockTransactionCountByHash', [UNKNOWN_HASH]);
    diffShapes(unknownCount[0], unknownCount[1], '$.countByHash(unknown)', diffs);
    assert.equal(unknownCount[1], null, 'anvil: unknown block hash -> null');

    // The transfer by block number/hash and its index: the same transaction.
    const [tn, ta] = await bothResults('eth_getTransactionByHash', [txs.transfer.hash]);
    const atNum = await bothResults('eth_getTransactionByBlockNumberAndIndex', (_, i) => [receipts[i].blockNumber, receipts[i].transactionIndex]);
    const atHash = await bothResults('eth_getTransactionByBlockHashAndIndex', (_, i) => [receipts[i].blockHash, receipts[i].transactionIndex]);
    for (const [p, [xn, xa]] of [['$.txByNumberAndIndex', atNum], ['$.txByHashAndIndex', atHash]]) {
      diffShapes(xn, xa, p, diffs);
      diffValues(xn, xa, TX_VALUE_KEYS, p, diffs);
      if (!isDeepStrictEqual(xn, tn)) diffs.push({ path: p, msg: `node: differs from its own eth_getTransactionByHash ${brief(tn, 400)}` });
    }

    // Index 0x0 exists in both blocks; one past the last index -> null on both.
    const first = await bothResults('eth_getTransactionByBlockNumberAndIndex', (_, i) => [receipts[i].blockNumber, '0x0']);
    diffShapes(first[0], first[1], '$.txByNumberAndIndex(0x0)', diffs);
    if (first[0] && typeof first[0] === 'object' && first[0].transactionIndex !== '0x0') {
      diffs.push({ path: '$.txByNumberAndIndex(0x0).transactionIndex', msg: `node: ${first[0].transactionIndex}` });
    }
    const past = await bothResults('eth_getTransactionByBlockNumberAndIndex', (_, i) => [receipts[i].blockNumber, hex(blocks[i].transactions.length)]);
    diffShapes(past[0], past[1], '$.txByNumberAndIndex(out of range)', diffs);
    const pastH = await bothResults('eth_getTransactionByBlockHashAndIndex', (_, i) => [receipts[i].blockHash, hex(blocks[i].transactions.length)]);
    diffShapes(pastH[0], pastH[1], '$.txByHashAndIndex(out of range)', diffs);
    assert.equal(past[1], null, 'anvil: out-of-range index -> null');
    assertNoDiffs(diffs, 'block transaction counts / transactions by index', { byNum: byNum[0], byHash: byHash[0], atNum: atNum[0], past: past[0] }, { byNum: byNum[1], byHash: byHash[1], atNum: atNum[1], past: past[1] });
  });

  test('eth_createAccessList for a token transfer', T, async () => {
    const call = { from: sender.address, to: token.address, data: transferData(ethers.Wallet.createRandom().address, 1n) };
    const [n, a] = await bothResults('eth_createAccessList', [call, 'latest']);
    const diffs = diffShapes(n, a, '$');
    // The access list as a set: address -> set of storage keys.
    const asSet = (al) =>
      Array.isArray(al)
        ? Object.fromEntries(al.map((e) => [String(e?.address).toLowerCase(), [...(e?.storageKeys ?? [])].map((k) => String(k).toLowerCase()).sort()]).sort())
        : al;
    if (!isDeepStrictEqual(asSet(n?.accessList), asSet(a?.accessList))) {
      diffs.push({ path: '$.accessList', msg: `value: node ${brief(asSet(n?.accessList), 600)} vs anvil ${brief(asSet(a?.accessList), 600)}` });
    }
    assert.ok(asSet(a.accessList)[token.address]?.length === 2, `anvil: the token's two balance slots: ${brief(a.accessList, 600)}`);
    assertNoDiffs(diffs, 'eth_createAccessList', n, a);
  });

  for (const [label, config] of [
    ['callTracer', { tracer: 'callTracer' }],
    ['callTracer withLog', { tracer: 'callTracer', tracerConfig: { withLog: true } }],
  ]) {
    test(`debug_traceTransaction(token transfer, ${label})`, T, async () => {
      const [n, a] = await bothResults('debug_traceTransaction', [txs.transfer.hash, config]);
      assertNoDiffs([...diffShapes(n, a, '$'), ...diffFrameValues(n, a, '$')], `debug_traceTransaction ${label}`, n, a);
      if (config.tracerConfig?.withLog) assert.equal(a.logs?.length, 1, 'anvil: the Transfer log in the frame');
    });
  }

  // Step values compared for debug_traceTransaction: the same transaction
  // with the same gas limit, so also `gas` (gas left before the step) and the
  // stack must match. (storage/memory/refund: shape only.)
  const TX_STEP_KEYS = ['pc', 'op', 'depth', 'gasCost', 'gas', 'stack'];
  for (const [label, config] of [
    ['struct logger, default config', {}],
    ['struct logger, disableStorage + no memory', { disableStorage: true, enableMemory: false }],
  ]) {
    test(`debug_traceTransaction(token transfer, ${label})`, T, async () => {
      const [n, a] = await bothResults('debug_traceTransaction', [txs.transfer.hash, config]);
      assert.ok(a.structLogs?.length > 50, `anvil returned struct logs (started with --steps-tracing): ${brief(a, 300)}`);
      assertNoDiffs(diffStructLogs(n, a, '$', TX_STEP_KEYS), `debug_traceTransaction ${label}`, n, a);
    });
  }

  test('debug_traceCall(balanceOf, latest) with callTracer and with the struct logger', T, async () => {
    const call = { from: sender.address, to: token.address, data: token.iface.encodeFunctionData('balanceOf', [recipient]) };
    const [cn, ca] = await bothResults('debug_traceCall', [call, 'latest', { tracer: 'callTracer' }]);
    assertNoDiffs([...diffShapes(cn, ca, '$'), ...diffFrameValues(cn, ca, '$')], 'debug_traceCall callTracer', cn, ca);
    assert.equal(BigInt(ca.output), ethers.parseUnits('42.5', 18) + 7n, 'anvil: balanceOf(recipient)');
    // The gas given to a call differs per node (its RPC gas cap), so `gas` left per step is not compared.
    const [sn, sa] = await bothResults('debug_traceCall', [call, 'latest', {}]);
    assert.ok(sa.structLogs?.length > 20, `anvil returned struct logs: ${brief(sa, 300)}`);
    assertNoDiffs(diffStructLogs(sn, sa, '$', ['pc', 'op', 'depth', 'gasCost', 'stack']), 'debug_traceCall struct logger', sn, sa);
  });

  // State at past blocks: each side at its own blocks of the deploy, the token
  // transfer and the ETH transfer (and the block before the deploy), by number
  // and by EIP-1898 block hash. Later transactions of this suite change the
  // same accounts, so only a real historical read gives these answers.
  test('state at past blocks: balances, nonces, code, storage, eth_call, estimateGas, access lists, traces (by number and EIP-1898 hash)', T, async () => {
    const at = (name, i, delta = 0) => hex(BigInt(txs[name].receipts[i].blockNumber) + BigInt(delta));
    const byHash = (name, i) => ({ blockHash: txs[name].receipts[i].blockHash, requireCanonical: true });
    const balanceOf = (who) => ({ from: sender.address, to: token.address, data: token.iface.encodeFunctionData('balanceOf', [who]) });
    const same = async (what, method, params, expect) => {
      const [n, a] = await bothResults(method, params);
      assert.deepEqual(n, a, `${what}: node ${brief(n, 300)} vs anvil ${brief(a, 300)}`);
      if (expect !== undefined) assert.deepEqual(n, expect, `${what}: ${brief(n, 300)}`);
      return n;
    };
    // Code: none before the deploy, the token's runtime code from its block on.
    await same('code before the deploy', 'eth_getCode', (_, i) => [token.address, at('deploy', i, -1)], '0x');
    const code = await same('code at the deploy', 'eth_getCode', (_, i) => [token.address, at('deploy', i)]);
    assert.ok(code.length > 100, 'the token has code at its deploy block');
    await same('code by EIP-1898 hash', 'eth_getCode', (_, i) => [token.address, byHash('deploy', i)], code);
    // The sender's nonce after each of its transactions.
    await same('nonce before the deploy', 'eth_getTransactionCount', (_, i) => [sender.address, at('deploy', i, -1)], '0x0');
    await same('nonce at the deploy', 'eth_getTransactionCount', (_, i) => [sender.address, at('deploy', i)], '0x1');
    await same('nonce at the token transfer', 'eth_getTransactionCount', (_, i) => [sender.address, byHash('transfer', i)], '0x2');
    await same('nonce at the ETH transfer', 'eth_getTransactionCount', (_, i) => [sender.address, at('eth', i)], '0x3');
    // The ETH recipient's balance before and after its transfer.
    await same('ETH recipient before', 'eth_getBalance', (_, i) => [ethRecipient, at('transfer', i)], '0x0');
    await same('ETH recipient after', 'eth_getBalance', (_, i) => [ethRecipient, at('eth', i)], hex(12345n));
    // eth_call: the token recipient's balance before and after the transfer.
    await same('balanceOf at the deploy', 'eth_call', (_, i) => [balanceOf(recipient), at('deploy', i)], ethers.toBeHex(0n, 32));
    const after = ethers.toBeHex(ethers.parseUnits('42.5', 18), 32);
    await same('balanceOf at the transfer', 'eth_call', (_, i) => [balanceOf(recipient), at('transfer', i)], after);
    await same('balanceOf by EIP-1898 hash', 'eth_call', (_, i) => [balanceOf(recipient), byHash('transfer', i)], after);
    // Storage: the token's first slots at the deploy and at the transfer.
    for (const name of ['deploy', 'transfer']) {
      for (let slot = 0; slot < 6; slot++) {
        await same(`slot ${slot} at the ${name}`, 'eth_getStorageAt', (_, i) => [token.address, hex(slot), at(name, i)]);
      }
    }
    // The recipient can send tokens only from the transfer's block on.
    const spend = { from: recipient, to: token.address, data: transferData(ethRecipient, 1n) };
    const [early, late] = [await both('eth_estimateGas', (_, i) => [spend, at('deploy', i)]), await both('eth_estimateGas', (_, i) => [spend, at('transfer', i)])];
    assert.ok(early.every((r) => r.error), `estimateGas before the recipient had tokens fails on both: ${brief(early, 400)}`);
    assert.ok(late.every((r) => r.result), `estimateGas once it had tokens succeeds on both: ${brief(late, 400)}`);
    const [ln, la] = await bothResults('eth_createAccessList', (_, i) => [spend, at('transfer', i)]);
    assert.ok(!ln.error && !la.error, `createAccessList at the transfer: ${brief([ln, la], 400)}`);
    assertNoDiffs(diffShapes(ln, la, '$'), 'eth_createAccessList at a past block', ln, la);
    const [tn, ta] = await bothResults('debug_traceCall', (_, i) => [balanceOf(recipient), at('deploy', i), { tracer: 'callTracer' }]);
    assertNoDiffs([...diffShapes(tn, ta, '$'), ...diffFrameValues(tn, ta, '$')], 'debug_traceCall at a past block', tn, ta);
    assert.equal(BigInt(tn.output), 0n, 'traceCall at the deploy block: balanceOf(recipient) = 0');
  });

  test('WebSocket eth_subscribe(newPendingTransactions) delivers the same transaction hash', T, async (t) => {
    const socks = await Promise.all(sides.map((s) => wsConnect(s.ws)));
    t.after(() => socks.forEach((s) => s.close()));
    const subs = await Promise.all(socks.map((s) => s.request('eth_subscribe', ['newPendingTransactions'])));
    t.diagnostic(`eth_subscribe replies: node ${brief(subs[0], 300)} | anvil ${brief(subs[1], 300)}`);
    assert.ok(subs[1].result, `anvil: eth_subscribe(newPendingTransactions): ${brief(subs[1], 300)}`);
    assert.ok(subs[0].result && !subs[0].error, `node: eth_subscribe(newPendingTransactions): ${brief(subs[0], 300)}`);
    assertNoDiffs(diffShapes(subs[0], subs[1], '$.subscribeReply'), 'eth_subscribe reply', subs[0], subs[1]);

    await sendSame('wsPending', { to: ethRecipient, value: 1n, gasLimit: 21000n });
    const hash = txs.wsPending.hash;
    const notes = await Promise.all(
      socks.map((s, i) =>
        s
          .notification(
            (m) => m.params?.subscription === subs[i].result && String(m.params?.result).toLowerCase() === hash,
            15_000,
            `${sides[i].name}: newPendingTransactions notification for ${hash}`,
          )
          .catch((err) => {
            throw new Error(`${err.message}; notifications received: ${brief(s.notes, 1000)}`);
          }),
      ),
    );
    assertNoDiffs(diffShapes(notes[0], notes[1], '$.notification'), 'newPendingTransactions notification', notes[0], notes[1]);
    await waitSame('wsPending');

    const unsub = await Promise.all(socks.map((s, i) => s.request('eth_unsubscribe', [subs[i].result])));
    assertNoDiffs(
      [...diffShapes(unsub[0], unsub[1], '$.unsubscribeReply'), ...diffValues(unsub[0], unsub[1], ['result'], '$.unsubscribeReply')],
      'eth_unsubscribe reply',
      unsub[0],
      unsub[1],
    );
  });

  test('errors: unknown filter id, debug_traceTransaction of an unknown hash', T, async (t) => {
    for (const [method, params, anvilErrs] of [
      ['eth_getFilterChanges', [UNKNOWN_FILTER], true],
      ['eth_getFilterLogs', [UNKNOWN_FILTER], true],
      // Known anvil deviation: for an unknown transaction hash anvil answers
      // an empty struct-log trace ({failed: false, gas: 0, returnValue: "0x",
      // structLogs: []}) whatever the tracer, where geth and reth answer an
      // error. The node passes with an error (preferred) or with exactly
      // anvil's shape; anything else fails.
      ['debug_traceTransaction', [UNKNOWN_HASH, {}], false],
      ['debug_traceTransaction', [UNKNOWN_HASH, { tracer: 'callTracer' }], false],
    ]) {
      const [n, a] = await both(method, params);
      const what = `${method}(${params.map((p) => JSON.stringify(p)).join(', ')})`;
      t.diagnostic(`${what}: node ${brief(n.error ?? n, 300)} | anvil ${brief(a.error ?? a, 300)}`);
      if (anvilErrs) assert.ok(isRpcError(a), `anvil: ${what} is an error: ${brief(a, 300)}`);
      if (!anvilErrs && !isRpcError(a) && !n.error) {
        assertNoDiffs(diffShapes(n.result, a.result, '$'), `${what} (no error on either side)`, n, a);
        continue;
      }
      assert.ok(isRpcError(n), `node: ${what} must be a JSON-RPC error with an integer code and a message; got ${brief(n, 300)}`);
      assert.notEqual(n.error.code, -32601, `node: ${what} must fail because of its argument, not as an unknown method: ${brief(n.error, 300)}`);
    }
    // Uninstalling an unknown filter: whatever anvil answers (false), the node must answer in the same shape.
    const [n, a] = await both('eth_uninstallFilter', [UNKNOWN_FILTER]);
    assert.notEqual(n.error?.code, -32601, `node: eth_uninstallFilter is an unknown method: ${brief(n.error, 300)}`);
    t.diagnostic(`eth_uninstallFilter(unknown): node ${brief(n, 300)} | anvil ${brief(a, 300)}`);
    const strip = (b) => ({ result: b.result, error: b.error && { code: typeOf(b.error.code), message: typeOf(b.error.message) } });
    assertNoDiffs(diffShapes(strip(n), strip(a), '$.uninstallUnknown'), 'eth_uninstallFilter(unknown id)', n, a);
  });
});
