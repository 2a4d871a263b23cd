// ethers v6 end-to-end tests against any Ethereum JSON-RPC node.
//
//   RPC_URL=http://127.0.0.1:8545 WS_URL=ws://127.0.0.1:8545 node --test ethers.test.mjs
//
// ---------------------------------------------------------------------------
// About ethers v6's response cache and nonces (read before "fixing" a test)
// ---------------------------------------------------------------------------
// AbstractProvider#perform shares identical requests for `cacheTimeout`
// (default 250 ms): an identical call made within 250 ms of a previous one
// gets the previous *result*, without touching the node. `Wallet.sendTransaction`
// takes its nonce from `provider.getTransactionCount(address, "pending")`,
// which is such a call. Consequently, with the default Wallet + default
// provider:
//   * two sends issued less than 250 ms apart get the SAME nonce; the second
//     is rejected ("nonce too low" once the first is mined, otherwise
//     "replacement transaction underpriced"/"already known"). Sending several
//     transactions without awaiting receipts in between is therefore
//     impossible with the defaults on ANY node, however correct;
//   * even awaiting each receipt fails on nodes that include a transaction
//     immediately (anvil/hardhat automine, sequencers with instant receipts):
//     the receipt arrives within 250 ms of the nonce lookup, and the next send
//     reuses the cached, now stale, pending nonce -> "nonce too low". With
//     slow blocks (receipt > 250 ms later) it happens to work.
// This is client-side behaviour, not a node bug; the tests below verify the
// node's side (eth_getTransactionCount "pending"/"latest", fetched raw,
// bypassing ethers) on every step. The narrowest standard workaround, and
// what ethers documents for multiple in-flight transactions, is
// `ethers.NonceManager`, which fetches the pending nonce once and then
// increments locally. It leaves the provider at its defaults (cache
// included). Every DEV_KEY transaction that the node should accept goes
// through one shared NonceManager, except the very first transfer, which uses
// a plain default `Wallet` on a provider of its own (a single send is fine
// with the defaults), so the cache can never hand a stale nonce to the
// NonceManager. (NonceManager must not be reset/re-created mid-file: its
// re-fetch would go through the same 250 ms cache.)
//
// The only provider option changed is `pollingInterval` (default 4000 ms),
// which only controls how quickly `tx.wait()` notices new blocks over HTTP;
// it has no effect on nonces or the response cache, and without it this
// file takes ~40 s on a node with 1 s blocks.
// ---------------------------------------------------------------------------

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { compileTestToken } from './compile.mjs';
import {
  RPC_URL,
  WS_URL,
  DEV_KEY,
  DEV_KEY2,
  TEST_TIMEOUT,
  POLL_MS,
  rawRpc,
  rawRpcResult,
  nodeNonce,
  withTimeout,
  exitWhenDone,
} from './common.mjs';

exitWhenDone(after, 'ethers.test.mjs');

const T = { timeout: TEST_TIMEOUT };
const INITIAL_SUPPLY = ethers.parseUnits('1000000', 18);

const newProvider = () => new ethers.JsonRpcProvider(RPC_URL, undefined, { pollingInterval: POLL_MS });
const randomAddress = () => ethers.Wallet.createRandom().address;
// The node's own JSON-RPC error message, as ethers keeps it (err.info.error
// for eth_sendRawTransaction failures, err.error for provider.send()).
// ethers' own err.shortMessage is a canned text and is deliberately not used.
const nodeMessage = (err) => err?.info?.error?.message ?? err?.error?.message;

describe('ethers v6', () => {
  /** @type {ethers.JsonRpcProvider[]} */
  const providers = [];
  let chainId;
  let provider;
  let devAddress;
  let signer; // NonceManager(Wallet(DEV_KEY)) - see header comment
  let token; // TestToken contract connected to `signer`
  let tokenAddress;
  let deployBlock; // the token's deploy block

  const track = (p) => (providers.push(p), p);

  before(async () => {
    chainId = BigInt(await rawRpcResult('eth_chainId'));
    provider = track(newProvider());
    devAddress = new ethers.Wallet(DEV_KEY).address;
    signer = new ethers.NonceManager(new ethers.Wallet(DEV_KEY, provider));
  });

  after(async () => {
    for (const p of providers) p.destroy();
  });

  test('reads chainId, block number and balances', T, async () => {
    const net = await provider.getNetwork();
    assert.equal(net.chainId, chainId, 'provider chainId matches eth_chainId');
    assert.ok((await provider.getBlockNumber()) >= 0);
    const bal = await provider.getBalance(devAddress);
    assert.ok(bal > ethers.parseEther('1'), `dev account ${devAddress} must be funded (balance ${bal})`);
    assert.equal(await provider.getBalance(randomAddress()), 0n);
  });

  test('EIP-1559 ETH transfer to a fresh address (default Wallet, default provider)', T, async () => {
    // Single transaction from a plain Wallet on its own provider: fully default.
    const wallet = new ethers.Wallet(DEV_KEY, track(newProvider()));
    const to = randomAddress();
    const value = ethers.parseEther('0.0123');
    const tx = await wallet.sendTransaction({ to, value });
    assert.equal(tx.type, 2, 'ethers defaults to an EIP-1559 (type 2) transaction');
    assert.equal(tx.chainId, chainId);
    assert.ok(tx.maxFeePerGas > 0n && tx.maxPriorityFeePerGas != null);
    const receipt = await tx.wait(1, TEST_TIMEOUT);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.hash, tx.hash);
    assert.equal(receipt.to, to);
    assert.equal(receipt.from, devAddress);
    assert.equal(await wallet.provider.getBalance(to), value);
  });

  test('5 sequential transfers awaiting each receipt (NonceManager, default provider)', T, async () => {
    const start = await nodeNonce(devAddress, 'pending');
    for (let i = 0; i < 5; i++) {
      const to = randomAddress();
      const tx = await signer.sendTransaction({ to, value: BigInt(1000 + i) });
      assert.equal(tx.nonce, start + i);
      const receipt = await tx.wait(1, TEST_TIMEOUT);
      assert.equal(receipt.status, 1, `transfer #${i} succeeded`);
      assert.equal(await provider.getBalance(to), BigInt(1000 + i));
      assert.ok((await nodeNonce(devAddress, 'latest')) >= start + i + 1, 'node advanced the latest nonce');
    }
    assert.equal(await nodeNonce(devAddress, 'pending'), start + 5);
  });

  test('5 back-to-back transfers without awaiting receipts, then 3 concurrent (NonceManager)', T, async () => {
    const start = await nodeNonce(devAddress, 'pending');
    const sent = [];
    for (let i = 0; i < 5; i++) {
      sent.push(await signer.sendTransaction({ to: randomAddress(), value: 1n }));
    }
    // The node's pending nonce must count transactions still in its pool.
    assert.equal(await nodeNonce(devAddress, 'pending'), start + 5);
    // NonceManager increments synchronously, so concurrent sends are safe too.
    sent.push(
      ...(await Promise.all(
        [0, 1, 2].map(() => signer.sendTransaction({ to: randomAddress(), value: 1n })),
      )),
    );
    assert.deepEqual(
      sent.map((t) => t.nonce).sort((a, b) => a - b),
      Array.from({ length: 8 }, (_, i) => start + i),
    );
    const receipts = await Promise.all(sent.map((t) => t.wait(1, TEST_TIMEOUT)));
    for (const r of receipts) assert.equal(r.status, 1);
    assert.equal(await nodeNonce(devAddress, 'latest'), start + 8);
  });

  test('eth_estimateGas for an ETH transfer >= gasUsed', T, async () => {
    const to = randomAddress();
    const estimate = await provider.estimateGas({ from: devAddress, to, value: 1n });
    const receipt = await (await signer.sendTransaction({ to, value: 1n })).wait(1, TEST_TIMEOUT);
    assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} >= gasUsed ${receipt.gasUsed}`);
    assert.equal(receipt.gasUsed, 21000n);
  });

  test('deploys TestToken (pinned solc) and reads it via eth_call', T, async () => {
    const { abi, bytecode } = compileTestToken();
    const factory = new ethers.ContractFactory(abi, bytecode, signer);
    const deployed = await factory.deploy('Test Token', 'TST', INITIAL_SUPPLY);
    const receipt = await deployed.deploymentTransaction().wait(1, TEST_TIMEOUT);
    assert.equal(receipt.status, 1);
    tokenAddress = await deployed.getAddress();
    deployBlock = receipt.blockNumber;
    assert.equal(receipt.contractAddress, tokenAddress);
    assert.notEqual(await provider.getCode(tokenAddress), '0x');
    token = new ethers.Contract(tokenAddress, abi, signer);

    assert.equal(await token.name(), 'Test Token');
    assert.equal(await token.symbol(), 'TST');
    assert.equal(await token.decimals(), 18n);
    assert.equal(await token.totalSupply(), INITIAL_SUPPLY);
    assert.equal(await token.balanceOf(devAddress), INITIAL_SUPPLY);
    // The constructor's mint is a Transfer from the zero address.
    const mint = receipt.logs.map((l) => token.interface.parseLog(l)).find((e) => e?.name === 'Transfer');
    assert.equal(mint.args.from, ethers.ZeroAddress);
    assert.equal(mint.args.value, INITIAL_SUPPLY);
  });

  test('token transfer: estimateGas, receipt event, eth_getLogs, WebSocket logs + newHeads', T, async (t) => {
    assert.ok(token, 'TestToken deployed by the previous test');
    const recipient = randomAddress();
    const amount = ethers.parseUnits('42.5', 18);
    const transferTopic = token.interface.getEvent('Transfer').topicHash;
    assert.equal(transferTopic, ethers.id('Transfer(address,address,uint256)'));

    // --- WebSocket subscriptions, established before the transfer is sent.
    const ws = new ethers.WebSocketProvider(WS_URL);
    t.after(() => ws.destroy());
    assert.equal((await withTimeout(ws.getNetwork(), 15_000, 'WS getNetwork')).chainId, chainId, 'WS endpoint reports the same chainId');
    const wsToken = new ethers.Contract(tokenAddress, token.interface, ws);

    let onHead;
    const headSeen = new Promise((resolve) => (onHead = resolve));
    await withTimeout(ws.on('block', (blockNumber) => onHead(blockNumber)), 15_000, 'WS subscribe newHeads');

    let onTransfer;
    const wsEvent = new Promise((resolve) => (onTransfer = resolve));
    await withTimeout(
      wsToken.on('Transfer', (from, to, value, ev) => {
        if (to === recipient) onTransfer({ from, to, value, log: ev.log });
      }),
      15_000,
      'WS subscribe logs',
    );
    // round-trip so the eth_subscribe calls are processed
    await withTimeout(ws.send('eth_chainId', []), 15_000, 'WS eth_chainId after subscribing');

    // --- eth_estimateGas vs actual gasUsed.
    const estimate = await token.transfer.estimateGas(recipient, amount);

    const tx = await token.transfer(recipient, amount);
    const receipt = await tx.wait(1, TEST_TIMEOUT);
    assert.equal(receipt.status, 1);
    assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} >= gasUsed ${receipt.gasUsed}`);

    // --- Decode the Transfer event from the receipt.
    const events = receipt.logs.map((l) => token.interface.parseLog(l)).filter(Boolean);
    assert.equal(events.length, 1);
    assert.equal(events[0].name, 'Transfer');
    assert.equal(events[0].args.from, devAddress);
    assert.equal(events[0].args.to, recipient);
    assert.equal(events[0].args.value, amount);
    assert.equal(await token.balanceOf(recipient), amount);
    assert.equal(await token.balanceOf(devAddress), INITIAL_SUPPLY - amount);

    // --- eth_getLogs filtered by address + topic.
    const logs = await provider.getLogs({
      address: tokenAddress,
      topics: [transferTopic],
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    });
    const log = logs.find((l) => l.transactionHash === tx.hash);
    assert.ok(log, 'eth_getLogs returned the Transfer log');
    assert.equal(log.address, tokenAddress);
    assert.equal(log.blockHash, receipt.blockHash);
    const decoded = token.interface.parseLog(log);
    assert.equal(decoded.args.to, recipient);
    assert.equal(decoded.args.value, amount);
    // Same through the contract's typed filter (indexed topic filtering).
    const queried = await token.queryFilter(
      token.filters.Transfer(devAddress, recipient),
      receipt.blockNumber,
      receipt.blockNumber,
    );
    assert.equal(queried.length, 1);
    assert.equal(queried[0].transactionHash, tx.hash);

    // --- The same event over eth_subscribe("logs").
    const got = await withTimeout(wsEvent, 15_000, 'Transfer event over WebSocket');
    assert.equal(got.from, devAddress);
    assert.equal(got.value, amount);
    assert.equal(got.log.transactionHash, tx.hash);
    assert.equal(got.log.blockNumber, receipt.blockNumber);

    // --- At least one new head over eth_subscribe("newHeads").
    const head = await withTimeout(headSeen, 15_000, 'newHeads over WebSocket');
    assert.ok(head >= 0);

    // Unsubscribe (eth_unsubscribe) and let the replies arrive before the
    // provider is destroyed, so no request is left in flight.
    await withTimeout(wsToken.removeAllListeners(), 15_000, 'WS unsubscribe logs');
    await withTimeout(ws.removeAllListeners(), 15_000, 'WS unsubscribe newHeads');
    // ethers sends eth_unsubscribe without awaiting it, and a node may answer
    // later calls first (calls on one socket run concurrently): give the
    // replies time, then one more round-trip.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await withTimeout(ws.send('eth_chainId', []), 15_000, 'WS eth_chainId after unsubscribing');
  });

  test('reads state at past blocks (blockTag): token balances, code, nonces, ETH balances', T, async () => {
    assert.ok(token, 'TestToken deployed by an earlier test');
    const holder = randomAddress();
    const send = async (amount) => (await (await token.transfer(holder, amount)).wait(1, TEST_TIMEOUT)).blockNumber;
    const b1 = await send(5n);
    const b2 = await send(7n);
    assert.ok(b2 > b1, `two blocks: ${b1} < ${b2}`);
    const reader = new ethers.Contract(tokenAddress, token.interface, provider);
    assert.equal(await reader.balanceOf(holder, { blockTag: b1 - 1 }), 0n);
    assert.equal(await reader.balanceOf(holder, { blockTag: b1 }), 5n);
    assert.equal(await reader.balanceOf(holder, { blockTag: b2 }), 12n);
    assert.equal(await reader.balanceOf(holder), 12n);
    assert.equal(await provider.getCode(tokenAddress, deployBlock - 1), '0x', 'no code before the deploy');
    assert.equal(await provider.getCode(tokenAddress, deployBlock), await provider.getCode(tokenAddress));
    const [n1, n2] = [await provider.getTransactionCount(devAddress, b1), await provider.getTransactionCount(devAddress, b2)];
    assert.ok(n2 > n1, `the dev nonce grew between the blocks: ${n1} -> ${n2}`);
    const [e1, e2] = [await provider.getBalance(devAddress, b1), await provider.getBalance(devAddress, b2)];
    assert.ok(e2 < e1, `fees were paid between the blocks: ${e1} -> ${e2}`);
    assert.equal(await provider.getBalance(devAddress, b2), e2, 'a past read is stable');
  });

  test('error: too-low nonce -> "nonce too low"', T, async () => {
    if ((await nodeNonce(devAddress, 'latest')) === 0) {
      await (await signer.sendTransaction({ to: randomAddress(), value: 1n })).wait(1, TEST_TIMEOUT);
    }
    const latest = await nodeNonce(devAddress, 'latest');
    // Plain Wallet with an explicit (stale) nonce; gasLimit set so the error
    // comes from eth_sendRawTransaction rather than eth_estimateGas.
    const wallet = new ethers.Wallet(DEV_KEY, track(newProvider()));
    await assert.rejects(
      wallet.sendTransaction({ to: randomAddress(), value: 1n, nonce: latest - 1, gasLimit: 21000n }),
      (err) => {
        assert.equal(err.code, 'NONCE_EXPIRED', `ethers error code (got ${err.code}: ${err.message})`);
        assert.match(String(nodeMessage(err)), /nonce too low/i, 'node error message');
        return true;
      },
    );
  });

  test('error: value exceeding balance -> "insufficient funds"', T, async () => {
    const wallet2 = new ethers.Wallet(DEV_KEY2, track(newProvider()));
    const balance = await wallet2.provider.getBalance(wallet2.address);
    const tx = { to: randomAddress(), value: balance + ethers.parseEther('1'), gasLimit: 21000n };
    await assert.rejects(wallet2.sendTransaction(tx), (err) => {
      assert.equal(err.code, 'INSUFFICIENT_FUNDS', `ethers error code (got ${err.code}: ${err.message})`);
      assert.match(String(nodeMessage(err)), /insufficient funds/i, 'node error message');
      return true;
    });
  });

  test('error: unknown method -> JSON-RPC error -32601', T, async () => {
    const body = await rawRpc('eth_thisMethodDoesNotExist', []);
    assert.equal(body.result, undefined);
    assert.equal(body.error?.code, -32601, `raw response: ${JSON.stringify(body)}`);
    // And how ethers surfaces it: geth's message ("the method ... does not
    // exist/is not available") is what ethers maps to UNSUPPORTED_OPERATION.
    await assert.rejects(provider.send('eth_thisMethodDoesNotExist', []), (err) => {
      assert.equal(err.code, 'UNSUPPORTED_OPERATION', `ethers error: ${err.message}`);
      assert.equal(err.info?.error?.code, -32601, `ethers error: ${err.message}`);
      return true;
    });
  });
});
