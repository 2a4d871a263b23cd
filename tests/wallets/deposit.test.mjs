// L1 -> L2 deposit with real wallet libraries, as a new user would do it:
// a fresh key gets ETH on L1, sends some to the bridge (a plain transfer: the
// bridge's receive() deposits to the sender), sees it on L2 and spends it there.
// Then ethers and viem read the L2 block holding the deposit (a type-0x7e system
// transaction) with full transactions.
//
//   L1_RPC_URL=http://127.0.0.1:8546 BRIDGE=0x... RPC_URL=... WS_URL=... node --test deposit.test.mjs

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { createPublicClient, http } from 'viem';
import { RPC_URL, DEV_KEY, POLL_MS, rawRpc, exitWhenDone } from './common.mjs';

exitWhenDone(after, 'deposit.test.mjs');

const L1_RPC_URL = process.env.L1_RPC_URL;
const BRIDGE = process.env.BRIDGE;

test('deposit on L1 with ethers, spend on L2 within 30 s; ethers and viem read the deposit block', { timeout: 90_000 }, async () => {
  assert.ok(L1_RPC_URL && BRIDGE, 'L1_RPC_URL and BRIDGE must be set (the --dev banner prints them)');
  const l1 = new ethers.JsonRpcProvider(L1_RPC_URL, undefined, { pollingInterval: POLL_MS });
  const l2 = new ethers.JsonRpcProvider(RPC_URL, undefined, { pollingInterval: POLL_MS });
  const funder = new ethers.Wallet(DEV_KEY, l1);
  const user = ethers.Wallet.createRandom();

  await (await funder.sendTransaction({ to: user.address, value: ethers.parseEther('1') })).wait();
  const started = Date.now();
  const onL1 = user.connect(l1);
  const dep = await onL1.sendTransaction({ to: BRIDGE, value: ethers.parseEther('0.5') });
  const depReceipt = await dep.wait();
  assert.equal(depReceipt.status, 1);

  let balance = 0n;
  while (Date.now() - started < 30_000) {
    balance = await l2.getBalance(user.address);
    if (balance === ethers.parseEther('0.5')) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(balance, ethers.parseEther('0.5'), 'deposit credited on L2');

  const onL2 = user.connect(l2);
  const spend = await onL2.sendTransaction({ to: funder.address, value: ethers.parseEther('0.1') });
  const spent = await spend.wait();
  assert.equal(spent.status, 1);
  const elapsed = Date.now() - started;
  console.log(`deposit -> spent on L2 in ${elapsed} ms`);
  assert.ok(elapsed < 30_000, `took ${elapsed} ms`);

  // The block with the deposit, found with raw JSON-RPC.
  const head = Number((await rawRpc('eth_blockNumber')).result);
  let depositBlock = null;
  for (let n = head; n >= Math.max(1, head - 200) && depositBlock === null; n--) {
    const b = (await rawRpc('eth_getBlockByNumber', ['0x' + n.toString(16), true])).result;
    const d = b.transactions.find((t) => t.type === '0x7e' && t.from.toLowerCase() === user.address.toLowerCase());
    if (d) depositBlock = { number: n, tx: d, count: b.transactions.length };
  }
  assert.ok(depositBlock, 'the deposit is a transaction of an L2 block');
  assert.equal(BigInt(depositBlock.tx.value), ethers.parseEther('0.5'));
  const receipt = (await rawRpc('eth_getTransactionReceipt', [depositBlock.tx.hash])).result;
  assert.equal(receipt.status, '0x1');
  assert.equal(receipt.type, '0x7e');

  const eb = await l2.getBlock(depositBlock.number, true);
  assert.equal(eb.prefetchedTransactions.length, depositBlock.count, 'ethers parses the block');
  const viem = createPublicClient({ transport: http(RPC_URL) });
  const vb = await viem.getBlock({ blockNumber: BigInt(depositBlock.number), includeTransactions: true });
  assert.equal(vb.transactions.length, depositBlock.count, 'viem parses the block');
});
