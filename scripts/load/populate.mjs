// Populates several JSON-RPC servers with THE SAME chain data for the load test
// (scripts/load.sh): identical signed transactions (same raw bytes, same hashes)
// are sent to every server.
//
//   node scripts/load/populate.mjs <rpc-url> [<rpc-url> ...]  > populated.json
//
// 1. A fresh random sender is funded from DEV_KEY on each server (one funding
//    transaction per server, with that server's DEV_KEY nonce), so the sender
//    has nonce 0 and the same balance everywhere.
// 2. The sender deploys TestToken (tests/wallets/compile.mjs) -> same address
//    everywhere; its constructor emits one Transfer (mint).
// 3. The sender makes TRANSFERS (default 300) token transfers to RECIPIENTS
//    (default 30) deterministic recipients, in chunks of CHUNK (default 30):
//    each chunk is signed once (explicit nonce, gas limit, and fees valid on
//    every server), sent to every server, and awaited (receipts with status 1
//    everywhere) before the next one, so the logs span several blocks.
//
// Prints JSON on stdout: chain id, token address, Transfer topic, recipients,
// number of Transfer logs, and per server the block range that holds them.
// Progress goes to stderr. Exits non-zero on any mismatch or failure.
//
// Env: DEV_KEY (default: dev account 0), TRANSFERS, RECIPIENTS, CHUNK.

import { rpcAt } from '../../tests/wallets/rpc.mjs';
import { ethers } from '../../tests/wallets/node_modules/ethers/lib.esm/index.js';
import { compileTestToken } from '../../tests/wallets/compile.mjs';

const DEV_KEY = process.env.DEV_KEY || '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const TRANSFERS = Number(process.env.TRANSFERS || 300);
const RECIPIENTS = Number(process.env.RECIPIENTS || 30);
const CHUNK = Number(process.env.CHUNK || 30);
const GWEI = 10n ** 9n;
const FUNDING = ethers.parseEther('100');
const INITIAL_SUPPLY = ethers.parseUnits('1000000', 18);
const TRANSFER_GAS = 100_000n; // an ERC-20 transfer to a new holder needs ~52k
const RECEIPT_TIMEOUT_MS = 60_000;

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error('usage: node populate.mjs <rpc-url> [<rpc-url> ...]');
  process.exit(2);
}

const log = (...a) => console.error('[populate]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rpc = rpcAt;

async function rpcResult(url, method, params = []) {
  const body = await rpc(url, method, params);
  if (body.error) throw new Error(`${url} ${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const all = (fn) => Promise.all(urls.map(fn));

/** Fee fields valid on every server: a generous max fee over the highest base fee. */
async function fees() {
  const info = await all(async (url) => {
    const block = await rpcResult(url, 'eth_getBlockByNumber', ['latest', false]);
    const tip = await rpc(url, 'eth_maxPriorityFeePerGas', []);
    return { base: BigInt(block.baseFeePerGas ?? 0), tip: tip.result ? BigInt(tip.result) : GWEI };
  });
  const tip = info.reduce((m, x) => (x.tip > m ? x.tip : m), 1n);
  const base = info.reduce((m, x) => (x.base > m ? x.base : m), 0n);
  return { maxPriorityFeePerGas: tip, maxFeePerGas: base * 4n + tip + GWEI };
}

async function waitReceipt(url, hash) {
  const deadline = Date.now() + RECEIPT_TIMEOUT_MS;
  for (;;) {
    const r = await rpcResult(url, 'eth_getTransactionReceipt', [hash]);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`${url}: no receipt for ${hash} within ${RECEIPT_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

/** Sends raw transactions (in nonce order) to one server; checks the returned hashes. */
async function sendAll(url, raws) {
  for (const raw of raws) {
    const want = ethers.keccak256(raw).toLowerCase();
    const got = await rpcResult(url, 'eth_sendRawTransaction', [raw]);
    if (String(got).toLowerCase() !== want) throw new Error(`${url}: eth_sendRawTransaction returned ${got}, expected ${want}`);
  }
}

/** Sends the same raw transactions to every server and waits for successful receipts everywhere. */
async function sendSameAndWait(what, raws) {
  const hashes = raws.map((r) => ethers.keccak256(r).toLowerCase());
  await all((url) => sendAll(url, raws));
  return all(async (url) => {
    // The last one (highest nonce) first: once it is in, the others are too.
    await waitReceipt(url, hashes[hashes.length - 1]);
    const receipts = await Promise.all(hashes.map((h) => waitReceipt(url, h)));
    receipts.forEach((r, i) => {
      if (r.status !== '0x1') throw new Error(`${url}: ${what} tx ${i} (${hashes[i]}) failed: status ${r.status}`);
    });
    return receipts;
  });
}

async function main() {
  const chainIds = await all((url) => rpcResult(url, 'eth_chainId'));
  const chainId = Number(BigInt(chainIds[0]));
  if (chainIds.some((c) => Number(BigInt(c)) !== chainId)) throw new Error(`chain ids differ: ${JSON.stringify(chainIds)}`);
  log(`chain id ${chainId}, ${urls.length} server(s)`);

  // 1. fresh sender, funded on every server from DEV_KEY (per-server nonce)
  const dev = new ethers.Wallet(DEV_KEY);
  const sender = ethers.Wallet.createRandom();
  const f = await fees();
  await all(async (url) => {
    const nonce = Number(BigInt(await rpcResult(url, 'eth_getTransactionCount', [dev.address, 'pending'])));
    const raw = await dev.signTransaction({
      type: 2, chainId, nonce, to: sender.address, value: FUNDING, gasLimit: 21000n, ...f,
    });
    const hash = await rpcResult(url, 'eth_sendRawTransaction', [raw]);
    const r = await waitReceipt(url, hash);
    if (r.status !== '0x1') throw new Error(`${url}: funding the sender failed`);
  });
  const nonces = await all((url) => rpcResult(url, 'eth_getTransactionCount', [sender.address, 'pending']));
  if (nonces.some((n) => BigInt(n) !== 0n)) throw new Error(`fresh sender nonce is not 0 everywhere: ${nonces}`);
  log(`sender ${sender.address} funded with ${ethers.formatEther(FUNDING)} ETH everywhere`);

  // 2. deploy TestToken (same raw tx everywhere)
  const { abi, bytecode } = compileTestToken();
  const factory = new ethers.ContractFactory(abi, bytecode);
  const iface = factory.interface;
  const { data: deployData } = await factory.getDeployTransaction('Test Token', 'TST', INITIAL_SUPPLY);
  const estimates = await all((url) => rpcResult(url, 'eth_estimateGas', [{ from: sender.address, data: deployData }]));
  const deployGas = (estimates.reduce((m, g) => (BigInt(g) > m ? BigInt(g) : m), 0n) * 5n) / 4n;
  let nonce = 0;
  const token = ethers.getCreateAddress({ from: sender.address, nonce }).toLowerCase();
  const deployRaw = await sender.signTransaction({
    type: 2, chainId, nonce: nonce++, to: null, value: 0n, data: deployData, gasLimit: deployGas, ...(await fees()),
  });
  const deployReceipts = (await sendSameAndWait('deploy', [deployRaw])).map((rs) => rs[0]);
  for (const [i, r] of deployReceipts.entries()) {
    if (r.contractAddress?.toLowerCase() !== token) throw new Error(`${urls[i]}: token at ${r.contractAddress}, expected ${token}`);
  }
  const fromBlocks = deployReceipts.map((r) => Number(BigInt(r.blockNumber)));
  log(`TestToken at ${token} (blocks ${fromBlocks.join(', ')})`);

  // 3. transfers to deterministic recipients, in chunks
  const recipients = Array.from({ length: RECIPIENTS }, (_, i) =>
    ethers.getAddress(ethers.dataSlice(ethers.id(`infra-node load test recipient ${i}`), 12)),
  );
  const toBlocks = [...fromBlocks];
  const blocksUsed = deployReceipts.map((r) => new Set([r.blockNumber]));
  for (let start = 0; start < TRANSFERS; start += CHUNK) {
    const n = Math.min(CHUNK, TRANSFERS - start);
    const fee = await fees();
    const raws = [];
    for (let k = 0; k < n; k++) {
      const i = start + k;
      const data = iface.encodeFunctionData('transfer', [recipients[i % RECIPIENTS], BigInt(i + 1) * 10n ** 18n]);
      raws.push(
        await sender.signTransaction({
          type: 2, chainId, nonce: nonce++, to: token, value: 0n, data, gasLimit: TRANSFER_GAS, ...fee,
        }),
      );
    }
    const perServer = await sendSameAndWait(`transfers ${start}..${start + n - 1}`, raws);
    perServer.forEach((receipts, s) => {
      for (const r of receipts) {
        if (r.logs.length !== 1) throw new Error(`${urls[s]}: transfer ${r.transactionHash} has ${r.logs.length} logs, expected 1`);
        blocksUsed[s].add(r.blockNumber);
        toBlocks[s] = Math.max(toBlocks[s], Number(BigInt(r.blockNumber)));
      }
    });
    log(`transfers ${start + n}/${TRANSFERS} mined everywhere`);
  }

  const transferTopic = iface.getEvent('Transfer').topicHash;
  const out = {
    chainId,
    token,
    sender: sender.address,
    transferTopic,
    recipients,
    transfers: TRANSFERS,
    logs: TRANSFERS + 1, // + the constructor's mint
    servers: urls.map((url, s) => ({
      url,
      fromBlock: fromBlocks[s],
      toBlock: toBlocks[s],
      fromBlockHex: '0x' + fromBlocks[s].toString(16),
      toBlockHex: '0x' + toBlocks[s].toString(16),
      blocksWithTxs: blocksUsed[s].size,
    })),
  };
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error('[populate] FAILED:', e?.stack ?? e);
  process.exit(1);
});
