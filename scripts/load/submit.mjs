// Transaction submission load against a running node, in phases measured in
// one run:
//   1. N transfers submitted with C concurrent HTTP clients, no subscriber;
//   2. the same again with S WebSocket connections subscribed to full pending
//      transactions, newHeads and logs that never read (their sockets paused);
//   3. (QUEUED > 0) QUEUED transactions behind a nonce gap, with the node's
//      resident memory before and after (PID given).
// For 1 and 2: submissions per second (eth_sendRawTransaction answered) and
// end to end (first send to the last receipt), and the ratio of 2 to 1.
//
//   node scripts/load/submit.mjs <rpc-url> [pid]
//
// Env: N (default 10000), C (16), S (50), QUEUED (0), KEYS (dev accounts used,
// default 1..9: account 0 funds nothing here). Prints a markdown table.

import { ethers } from '../../tests/wallets/node_modules/ethers/lib.esm/index.js';
import WebSocket from '../../tests/wallets/node_modules/ws/wrapper.mjs';
import { readFileSync } from 'node:fs';

const url = process.argv[2];
const pid = process.argv[3];
if (!url) {
  console.error('usage: node submit.mjs <rpc-url> [pid]');
  process.exit(2);
}
const N = Number(process.env.N || 10000);
const C = Number(process.env.C || 16);
const S = Number(process.env.S || 50);
const QUEUED = Number(process.env.QUEUED || 0);
const MNEMONIC = 'test test test test test test test test test test test junk';
const KEYS = (process.env.KEYS || '1,2,3,4,5,6,7,8,9').split(',').map(Number);
const wallets = KEYS.map((i) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`));
const log = (...a) => console.error('[submit]', ...a);

let id = 0;
async function rpc(method, params) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
  });
  const j = await r.json();
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

const chainId = BigInt(await rpc('eth_chainId', []));
const gasPrice = BigInt(await rpc('eth_gasPrice', []));
const maxFee = gasPrice * 4n + 10n ** 9n;

async function sign(n, gap = 0) {
  const nonces = await Promise.all(wallets.map((w) => rpc('eth_getTransactionCount', [w.address, 'pending'])));
  const next = nonces.map((x) => BigInt(x) + BigInt(gap));
  const raws = [];
  for (let i = 0; i < n; i++) {
    const k = i % wallets.length;
    const tx = ethers.Transaction.from({
      type: 2, chainId, nonce: Number(next[k]++), gasLimit: 21000n, maxFeePerGas: maxFee,
      maxPriorityFeePerGas: 1n, to: '0x' + '42'.repeat(20), value: BigInt(i + 1),
    });
    tx.signature = wallets[k].signingKey.sign(tx.unsignedHash);
    raws.push(tx.serialized);
  }
  return raws;
}

async function submit(raws) {
  const hashes = new Array(raws.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < raws.length) {
      const i = next++;
      hashes[i] = await rpc('eth_sendRawTransaction', [raws[i]]);
    }
  }));
  const sent = performance.now();
  // End to end: until the last one of each sender is mined.
  const last = hashes.slice(-wallets.length);
  for (const h of last) {
    for (;;) {
      const r = await rpc('eth_getTransactionReceipt', [h]);
      if (r) break;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  const mined = performance.now();
  return { submitS: (sent - started) / 1000, e2eS: (mined - started) / 1000 };
}

async function idleSubscribers(n) {
  const wsUrl = url.replace(/^http/, 'ws');
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(wsUrl);
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    let answered = 0;
    const done = new Promise((res) => ws.on('message', () => { if (++answered === 3) res(); }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newPendingTransactions', true] }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'eth_subscribe', params: ['newHeads'] }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'eth_subscribe', params: ['logs', {}] }));
    await done;
    ws._socket.pause(); // never read again
    sockets.push({ ws });
  }
  return sockets;
}

function rssMiB() {
  if (!pid) return null;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
}

function cpuS() {
  if (!pid) return null;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

const rows = [];
log(`signing ${N} transfers from ${wallets.length} senders`);
let raws = await sign(N);
let cpu0 = cpuS();
const base = await submit(raws);
rows.push(['no subscriber', base, cpuS() - cpu0]);
log(`baseline: ${(N / base.submitS).toFixed(0)} submissions/s`);

log(`${S} idle subscribers`);
const subs = await idleSubscribers(S);
raws = await sign(N);
cpu0 = cpuS();
const loaded = await submit(raws);
rows.push([`${S} idle subscribers`, loaded, cpuS() - cpu0]);
// (A paused socket never sees its close frame: the node logs each one it
// closes, "closing a WebSocket connection ... client too slow".)
for (const s of subs) s.ws.terminate();

console.log(`| phase (${N} transfers, ${C} clients, ${wallets.length} senders) | submit s | submissions/s | first send -> last receipt s | tx/s end to end | node CPU s |`);
console.log('|---|---|---|---|---|---|');
for (const [name, r, cpu] of rows) {
  console.log(`| ${name} | ${r.submitS.toFixed(2)} | ${(N / r.submitS).toFixed(0)} | ${r.e2eS.toFixed(2)} | ${(N / r.e2eS).toFixed(0)} | ${cpu == null ? '-' : cpu.toFixed(1)} |`);
}
console.log(`\nsubmission throughput with ${S} idle subscribers / without: ${(base.submitS / loaded.submitS).toFixed(3)}`);

if (QUEUED > 0) {
  const before = rssMiB();
  raws = await sign(QUEUED, 1); // nonce gap of one: all queued
  const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < raws.length) await rpc('eth_sendRawTransaction', [raws[next++]]);
  }));
  const status = await rpc('infra_status', []);
  const after = rssMiB();
  console.log(`\n${QUEUED} queued transactions in ${((performance.now() - t) / 1000).toFixed(2)} s; pool ${JSON.stringify(status.mempool)}; node RSS ${before?.toFixed(1)} MiB -> ${after?.toFixed(1)} MiB (+${(after - before).toFixed(1)} MiB)`);
}
