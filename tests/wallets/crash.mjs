// Crash-safety test: kill -9 the node while it seals blocks under load, restart
// it on the same datadir, and check that no sealed block was lost or changed and
// that the state is consistent (ETH is conserved: fees go to the fee recipient,
// nothing is burned), and that every transaction the node accepted (gave a
// hash for) before the kill is still known after it, and mined (the pool's
// journal). Run by scripts/test.sh with BIN set to the node binary.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.BIN;
if (!BIN) throw new Error('BIN must point at the infra-node binary');
// The node binds any free port (--rpc.port 0) and prints it; set by start().
let URL = null;
const DEV_CHAIN_ID = 13370n;
const KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
];
const RECIPIENTS = Array.from({ length: 8 }, (_, i) => ethers.getAddress('0x' + (0x1000 + i).toString(16).padStart(40, '0')));
const FEE_RECIPIENT = '0xfefefefefefefefefefefefefefefefefefefefe';
const datadir = mkdtempSync(join(tmpdir(), 'infra-crash-'));
let failures = 0;
let passes = 0;
const check = (ok, what) => {
  if (ok) { passes++; console.log(`ok - ${what}`); } else { failures++; console.log(`not ok - ${what}`); }
};

let id = 1;
async function rpc(method, params = []) {
  const res = await fetch(URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }) });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function start() {
  const child = spawn(BIN, ['--datadir', datadir, '--genesis', join(ROOT, 'genesis/dev.json'), '--rpc.port', '0', '--sequencer.block-time-ms', '100', '--log', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  URL = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^RPC URL:\s+(http\S+)/m);
      if (m && out.includes('Listening on')) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`node exited early with ${code}`)));
  });
  // Ready when it answers eth_chainId with the dev chain's id.
  for (let i = 0; ; i++) {
    try {
      if (BigInt(await rpc('eth_chainId')) === DEV_CHAIN_ID) return child;
    } catch { /* not answering yet */ }
    if (i > 300) throw new Error(`node at ${URL} did not answer eth_chainId`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function snapshot(head) {
  const hashes = [];
  for (let n = 0; n <= head; n++) hashes.push((await rpc('eth_getBlockByNumber', ['0x' + n.toString(16), false])).hash);
  return hashes;
}

async function totalBalance() {
  const addrs = [...KEYS.map((k) => new ethers.Wallet(k).address), ...RECIPIENTS, FEE_RECIPIENT];
  let sum = 0n;
  for (const a of addrs) sum += BigInt(await rpc('eth_getBalance', [a, 'latest']));
  return sum;
}

const wallets = KEYS.map((k) => new ethers.Wallet(k));
let node = await start();
try {
  const initial = await totalBalance();
  const chainId = BigInt(await rpc('eth_chainId'));
  // Load: each sender signs a stream of transfers with explicit nonces.
  let stop = false;
  const sent = [0, 0, 0, 0];
  const accepted = [];
  const loaders = wallets.map(async (w, i) => {
    let nonce = Number(await rpc('eth_getTransactionCount', [w.address, 'pending']));
    while (!stop) {
      const raw = await w.signTransaction({ type: 2, chainId, nonce, to: RECIPIENTS[(nonce + i) % RECIPIENTS.length], value: 1000n + BigInt(nonce), gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n });
      try { accepted.push(await rpc('eth_sendRawTransaction', [raw])); nonce++; sent[i]++; } catch { await new Promise((r) => setTimeout(r, 20)); }
    }
  });
  // Let it seal a few blocks under load, snapshot, then kill -9 at once.
  let head = 0;
  while (head < 8) { await new Promise((r) => setTimeout(r, 100)); head = Number(await rpc('eth_blockNumber')); }
  const before = await snapshot(head);
  node.kill('SIGKILL');
  stop = true;
  await Promise.allSettled(loaders);
  await new Promise((r) => setTimeout(r, 200));
  console.log(`killed at head >= ${head} after ${sent.reduce((a, b) => a + b)} transactions were accepted`);

  node = await start();
  const after = await snapshot(head);
  check(after.length === before.length && after.every((h, i) => h === before[i]), `every block sealed before the kill (0..${head}) is there with the same hash`);
  let unknown = 0;
  for (const h of accepted) if (!(await rpc('eth_getTransactionByHash', [h]))) unknown++;
  check(unknown === 0, `every transaction accepted before the kill is known after it (${accepted.length - unknown} of ${accepted.length})`);
  // The pool drains (blocks are sealed only with transactions), then every
  // accepted one has a receipt.
  for (let i = 0; i < 300; i++) {
    const { mempool } = await rpc('infra_status');
    if (mempool.pending + mempool.queued === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  let unmined = 0;
  for (const h of accepted) if (!(await rpc('eth_getTransactionReceipt', [h]))) unmined++;
  check(unmined === 0, `every accepted transaction is mined after the restart (${unmined} not)`);
  const newHead = Number(await rpc('eth_blockNumber'));
  check(newHead >= head, `head after restart (${newHead}) >= head seen before the kill (${head})`);
  const total = await totalBalance();
  check(total === initial, `ETH is conserved across the crash (${total} == ${initial})`);
  // every included tx is counted in its sender's nonce
  let included = new Map();
  for (let n = 1; n <= newHead; n++) {
    const b = await rpc('eth_getBlockByNumber', ['0x' + n.toString(16), true]);
    for (const tx of b.transactions) included.set(tx.from.toLowerCase(), (included.get(tx.from.toLowerCase()) || 0) + 1);
  }
  let noncesOk = true;
  for (const w of wallets) {
    const nonce = Number(await rpc('eth_getTransactionCount', [w.address, 'latest']));
    if (nonce !== (included.get(w.address.toLowerCase()) || 0)) noncesOk = false;
  }
  check(noncesOk, 'each sender nonce equals the number of its transactions in blocks');
  // the chain keeps going
  const w = wallets[0];
  const nonce = Number(await rpc('eth_getTransactionCount', [w.address, 'pending']));
  const raw = await w.signTransaction({ type: 2, chainId, nonce, to: RECIPIENTS[0], value: 1n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n });
  const hash = await rpc('eth_sendRawTransaction', [raw]);
  let receipt = null;
  for (let i = 0; i < 100 && !receipt; i++) { await new Promise((r) => setTimeout(r, 100)); receipt = await rpc('eth_getTransactionReceipt', [hash]); }
  check(receipt && receipt.status === '0x1', 'a new transaction is sealed after the restart');
} catch (e) {
  failures++;
  console.log(`not ok - ${e.message}`);
} finally {
  node.kill('SIGKILL');
  rmSync(datadir, { recursive: true, force: true });
}
console.log(`crash: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
