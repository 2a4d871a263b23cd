// viem v2 end-to-end tests against any Ethereum JSON-RPC node.
//
//   RPC_URL=http://127.0.0.1:8545 WS_URL=ws://127.0.0.1:8545 node --test viem.test.mjs
//
// Nonce handling: viem's default for a local account (no nonceManager) asks the
// node for eth_getTransactionCount(address, "pending") on every send (or takes
// the nonce from eth_fillTransaction when the node implements it; viem tries
// that first and falls back to the individual calls if the node reports
// -32601). viem has no response cache for it, so back-to-back sends work with
// the defaults as long as the node's "pending" nonce counts the transactions
// already in its pool, which these tests check. Truly concurrent sends
// (Promise.all) need viem's opt-in `nonceManager`, exercised separately.
//
// The only non-default client option is `pollingInterval` (viem's default is
// 4 s for a chain without `blockTime`), which only controls how quickly
// waitForTransactionReceipt notices new blocks over HTTP.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BaseError,
  InsufficientFundsError,
  MethodNotFoundRpcError,
  NonceTooLowError,
  RpcRequestError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAbiItem,
  hexToBigInt,
  http,
  nonceManager,
  pad,
  parseEther,
  parseEventLogs,
  parseUnits,
  slice,
  toEventSelector,
  toHex,
  webSocket,
  zeroAddress,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
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

exitWhenDone(after, 'viem.test.mjs');

const T = { timeout: TEST_TIMEOUT };
const INITIAL_SUPPLY = parseUnits('1000000', 18);
const randomAddress = () => privateKeyToAccount(generatePrivateKey()).address;
const waitOpts = { timeout: TEST_TIMEOUT, pollingInterval: POLL_MS };
// The node's own JSON-RPC error message: viem keeps it as `details` of the
// RpcRequestError in the cause chain (the outer errors carry viem's canned text).
const nodeMessage = (err) => err?.walk?.((e) => e instanceof RpcRequestError)?.details;

describe('viem v2', () => {
  let chain;
  let publicClient;
  let walletClient; // default local account: node-provided nonce on every send
  let account;
  let abi;
  let tokenAddress;
  let deployBlock; // the token's deploy block

  before(async () => {
    const chainId = Number(BigInt(await rawRpcResult('eth_chainId')));
    chain = defineChain({
      id: chainId,
      name: 'node-under-test',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [RPC_URL], webSocket: [WS_URL] } },
    });
    account = privateKeyToAccount(DEV_KEY);
    publicClient = createPublicClient({ chain, transport: http(RPC_URL), pollingInterval: POLL_MS });
    walletClient = createWalletClient({ account, chain, transport: http(RPC_URL), pollingInterval: POLL_MS });
  });

  test('reads chainId, block number and balances', T, async () => {
    assert.equal(await publicClient.getChainId(), chain.id);
    assert.equal(await walletClient.getChainId(), chain.id);
    assert.ok((await publicClient.getBlockNumber()) >= 0n);
    const bal = await publicClient.getBalance({ address: account.address });
    assert.ok(bal > parseEther('1'), `dev account ${account.address} must be funded (balance ${bal})`);
    assert.equal(await publicClient.getBalance({ address: randomAddress() }), 0n);
  });

  test('EIP-1559 ETH transfer to a fresh address', T, async () => {
    const to = randomAddress();
    const value = parseEther('0.0123');
    const hash = await walletClient.sendTransaction({ to, value });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.type, 'eip1559');
    assert.equal(receipt.to, to.toLowerCase());
    assert.equal(receipt.from, account.address.toLowerCase());
    const tx = await publicClient.getTransaction({ hash });
    assert.equal(tx.type, 'eip1559');
    assert.equal(tx.chainId, chain.id);
    assert.ok(tx.maxFeePerGas > 0n && tx.maxPriorityFeePerGas != null);
    assert.equal(await publicClient.getBalance({ address: to }), value);
  });

  test('5 sequential transfers awaiting each receipt (default nonce handling)', T, async () => {
    const start = await nodeNonce(account.address, 'pending');
    for (let i = 0; i < 5; i++) {
      const to = randomAddress();
      const hash = await walletClient.sendTransaction({ to, value: BigInt(1000 + i) });
      const receipt = await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
      assert.equal(receipt.status, 'success', `transfer #${i} succeeded`);
      assert.equal((await publicClient.getTransaction({ hash })).nonce, start + i);
      assert.equal(await publicClient.getBalance({ address: to }), BigInt(1000 + i));
    }
    assert.equal(await nodeNonce(account.address, 'pending'), start + 5);
  });

  test('5 back-to-back transfers without awaiting receipts (default), then 3 concurrent (nonceManager)', T, async () => {
    const start = await nodeNonce(account.address, 'pending');
    const hashes = [];
    // Default nonce handling: each send asks the node for the pending nonce,
    // which must already include the previous, possibly unmined, transaction.
    for (let i = 0; i < 5; i++) {
      hashes.push(await walletClient.sendTransaction({ to: randomAddress(), value: 1n }));
    }
    assert.equal(await nodeNonce(account.address, 'pending'), start + 5);

    // Concurrent sends need viem's opt-in nonce manager (local increments).
    const managed = createWalletClient({
      account: privateKeyToAccount(DEV_KEY, { nonceManager }),
      chain,
      transport: http(RPC_URL),
      pollingInterval: POLL_MS,
    });
    hashes.push(
      ...(await Promise.all([0, 1, 2].map(() => managed.sendTransaction({ to: randomAddress(), value: 1n })))),
    );

    const receipts = await Promise.all(
      hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash, ...waitOpts })),
    );
    for (const r of receipts) assert.equal(r.status, 'success');
    const nonces = await Promise.all(hashes.map(async (hash) => (await publicClient.getTransaction({ hash })).nonce));
    assert.deepEqual(
      nonces.sort((a, b) => a - b),
      Array.from({ length: 8 }, (_, i) => start + i),
    );
    assert.equal(await nodeNonce(account.address, 'latest'), start + 8);
  });

  test('eth_estimateGas for an ETH transfer >= gasUsed', T, async () => {
    const to = randomAddress();
    const estimate = await publicClient.estimateGas({ account, to, value: 1n });
    const hash = await walletClient.sendTransaction({ to, value: 1n });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
    assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} >= gasUsed ${receipt.gasUsed}`);
    assert.equal(receipt.gasUsed, 21000n);
  });

  test('deploys TestToken (pinned solc) and reads it via eth_call', T, async () => {
    const compiled = compileTestToken();
    abi = compiled.abi;
    const hash = await walletClient.deployContract({
      abi,
      bytecode: compiled.bytecode,
      args: ['Test Token', 'TST', INITIAL_SUPPLY],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
    assert.equal(receipt.status, 'success');
    tokenAddress = receipt.contractAddress;
    deployBlock = receipt.blockNumber;
    assert.ok(tokenAddress);
    assert.ok((await publicClient.getCode({ address: tokenAddress }))?.length > 2);

    const read = (functionName, args = []) => publicClient.readContract({ address: tokenAddress, abi, functionName, args });
    assert.equal(await read('name'), 'Test Token');
    assert.equal(await read('symbol'), 'TST');
    assert.equal(await read('decimals'), 18);
    assert.equal(await read('totalSupply'), INITIAL_SUPPLY);
    assert.equal(await read('balanceOf', [account.address]), INITIAL_SUPPLY);
    const [mint] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'Transfer' });
    assert.equal(mint.args.from, zeroAddress);
    assert.equal(mint.args.value, INITIAL_SUPPLY);
  });

  test('token transfer: estimateGas, receipt event, eth_getLogs, WebSocket logs + newHeads', T, async (t) => {
    assert.ok(tokenAddress, 'TestToken deployed by the previous test');
    const recipient = randomAddress();
    const amount = parseUnits('42.5', 18);
    const transferEvent = getAbiItem({ abi, name: 'Transfer' });
    assert.equal(toEventSelector(transferEvent), toEventSelector('Transfer(address,address,uint256)'));

    // --- WebSocket subscriptions, established before the transfer is sent.
    const ws = createPublicClient({ chain, transport: webSocket(WS_URL) });
    t.after(async () => (await ws.transport.getRpcClient()).close());
    assert.equal(await ws.getChainId(), chain.id, 'WS endpoint reports the same chainId');

    let onHead;
    let onWsError;
    const wsFailed = new Promise((_, reject) => (onWsError = reject));
    const headSeen = new Promise((resolve) => (onHead = resolve));
    const unwatchBlocks = ws.watchBlocks({ onBlock: (block) => onHead(block), onError: (e) => onWsError(e) });

    let onLogs;
    const wsLogs = new Promise((resolve) => (onLogs = resolve));
    const unwatchEvent = ws.watchContractEvent({
      address: tokenAddress,
      abi,
      eventName: 'Transfer',
      args: { to: recipient },
      onLogs: (logs) => onLogs(logs),
      onError: (e) => onWsError(e),
    });
    await ws.getChainId(); // round-trip so the eth_subscribe calls are processed

    // --- eth_estimateGas vs actual gasUsed.
    const call = { address: tokenAddress, abi, functionName: 'transfer', args: [recipient, amount], account };
    const estimate = await publicClient.estimateContractGas(call);
    const { request } = await publicClient.simulateContract(call);
    assert.equal(request.functionName, 'transfer');

    const hash = await walletClient.writeContract(request);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
    assert.equal(receipt.status, 'success');
    assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} >= gasUsed ${receipt.gasUsed}`);

    // --- Decode the Transfer event from the receipt.
    const events = parseEventLogs({ abi, logs: receipt.logs });
    assert.equal(events.length, 1);
    assert.equal(events[0].eventName, 'Transfer');
    assert.equal(events[0].args.from, account.address);
    assert.equal(events[0].args.to, recipient);
    assert.equal(events[0].args.value, amount);
    const read = (functionName, args) => publicClient.readContract({ address: tokenAddress, abi, functionName, args });
    assert.equal(await read('balanceOf', [recipient]), amount);
    assert.equal(await read('balanceOf', [account.address]), INITIAL_SUPPLY - amount);

    // --- eth_getLogs filtered by address + topic.
    const logs = await publicClient.getLogs({
      address: tokenAddress,
      event: transferEvent,
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    });
    const log = logs.find((l) => l.transactionHash === hash);
    assert.ok(log, 'eth_getLogs returned the Transfer log');
    assert.equal(log.address, tokenAddress.toLowerCase());
    assert.equal(log.topics[0], toEventSelector(transferEvent));
    assert.equal(log.blockHash, receipt.blockHash);
    assert.equal(log.args.to, recipient);
    assert.equal(log.args.value, amount);
    // Same through getContractEvents with indexed-argument (topic) filtering.
    const filtered = await publicClient.getContractEvents({
      address: tokenAddress,
      abi,
      eventName: 'Transfer',
      args: { from: account.address, to: recipient },
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    });
    assert.equal(filtered.length, 1);
    assert.equal(filtered[0].transactionHash, hash);

    // --- The same event over eth_subscribe("logs").
    const got = await withTimeout(Promise.race([wsLogs, wsFailed]), 15_000, 'Transfer event over WebSocket');
    assert.equal(got.length, 1);
    assert.equal(got[0].transactionHash, hash);
    assert.equal(got[0].blockNumber, receipt.blockNumber);
    assert.equal(got[0].args.from, account.address);
    assert.equal(got[0].args.value, amount);

    // --- At least one new head over eth_subscribe("newHeads").
    const head = await withTimeout(Promise.race([headSeen, wsFailed]), 15_000, 'newHeads over WebSocket');
    assert.ok(typeof head.number === 'bigint' && head.hash);

    unwatchEvent();
    unwatchBlocks();
    await ws.getChainId(); // let the eth_unsubscribe replies arrive before closing
  });

  test('reads state at past blocks (blockNumber): readContract, balances, code, nonces', T, async () => {
    assert.ok(tokenAddress, 'TestToken deployed by an earlier test');
    const holder = randomAddress();
    const send = async (amount) => {
      const hash = await walletClient.writeContract({ address: tokenAddress, abi, functionName: 'transfer', args: [holder, amount] });
      return (await publicClient.waitForTransactionReceipt({ hash, ...waitOpts })).blockNumber;
    };
    const b1 = await send(5n);
    const b2 = await send(7n);
    assert.ok(b2 > b1, `two blocks: ${b1} < ${b2}`);
    const balanceAt = (blockNumber) =>
      publicClient.readContract({ address: tokenAddress, abi, functionName: 'balanceOf', args: [holder], blockNumber });
    assert.equal(await balanceAt(b1 - 1n), 0n);
    assert.equal(await balanceAt(b1), 5n);
    assert.equal(await balanceAt(b2), 12n);
    assert.equal(await publicClient.getCode({ address: tokenAddress, blockNumber: deployBlock - 1n }), undefined, 'no code before the deploy');
    assert.ok((await publicClient.getCode({ address: tokenAddress, blockNumber: deployBlock }))?.length > 2);
    const nonceAt = (blockNumber) => publicClient.getTransactionCount({ address: account.address, blockNumber });
    assert.ok((await nonceAt(b2)) > (await nonceAt(b1)), 'the dev nonce grew between the blocks');
    const balAt = (blockNumber) => publicClient.getBalance({ address: account.address, blockNumber });
    assert.ok((await balAt(b2)) < (await balAt(b1)), 'fees were paid between the blocks');
    // viem's multicall-free simulate at a past block runs on that state too.
    const { result } = await publicClient.simulateContract({
      account, address: tokenAddress, abi, functionName: 'balanceOf', args: [holder], blockNumber: b1,
    });
    assert.equal(result, 5n);
  });

  test('call, readContract and estimateGas with stateOverride', T, async () => {
    assert.ok(tokenAddress, 'TestToken deployed by an earlier test');
    // Runtime code returning (SLOAD(0), SELFBALANCE).
    const probe = '0x6000546000524760205260406000f3';
    const at = randomAddress();
    const word = (n) => pad(toHex(n), { size: 32 });
    const { data } = await publicClient.call({
      to: at,
      stateOverride: [{ address: at, code: probe, balance: 0x1234n, stateDiff: [{ slot: word(0), value: word(42) }] }],
    });
    assert.equal(hexToBigInt(slice(data, 0, 32)), 42n);
    assert.equal(hexToBigInt(slice(data, 32, 64)), 0x1234n);
    // `state` replaces the token's whole storage (one unrelated slot set:
    // viem sends no `state` at all for an empty list): its total supply reads 0.
    const supply = (stateOverride) =>
      publicClient.readContract({ address: tokenAddress, abi, functionName: 'totalSupply', stateOverride });
    assert.equal(await supply(undefined), INITIAL_SUPPLY);
    assert.equal(await supply([{ address: tokenAddress, state: [{ slot: word(12345), value: word(1) }] }]), 0n);
    // The estimate runs the overriding code (a plain transfer without it),
    // here with 1 ETH from a sender whose balance is overridden too.
    const poor = randomAddress();
    assert.equal(await publicClient.estimateGas({ account: poor, to: at }), 21000n);
    const gas = await publicClient.estimateGas({
      account: poor,
      to: at,
      value: parseEther('1'),
      stateOverride: [{ address: poor, balance: parseEther('2') }, { address: at, code: probe }],
    });
    assert.ok(gas > 21000n, `the probe's code ran in the estimate: ${gas}`);
  });

  test('error: too-low nonce -> "nonce too low"', T, async () => {
    if ((await nodeNonce(account.address, 'latest')) === 0) {
      const hash = await walletClient.sendTransaction({ to: randomAddress(), value: 1n });
      await publicClient.waitForTransactionReceipt({ hash, ...waitOpts });
    }
    const latest = await nodeNonce(account.address, 'latest');
    // Explicit stale nonce; gas set so the error comes from eth_sendRawTransaction.
    await assert.rejects(
      walletClient.sendTransaction({ to: randomAddress(), value: 1n, nonce: latest - 1, gas: 21000n }),
      (err) => {
        assert.ok(err instanceof BaseError, `viem BaseError (got ${err?.name})`);
        assert.ok(err.walk((e) => e instanceof NonceTooLowError), `NonceTooLowError in cause chain of ${err.name}`);
        assert.match(String(nodeMessage(err)), /nonce too low/i, 'node error message');
        return true;
      },
    );
  });

  test('error: value exceeding balance -> "insufficient funds"', T, async () => {
    const account2 = privateKeyToAccount(DEV_KEY2);
    const wallet2 = createWalletClient({ account: account2, chain, transport: http(RPC_URL) });
    const balance = await publicClient.getBalance({ address: account2.address });
    await assert.rejects(
      wallet2.sendTransaction({ to: randomAddress(), value: balance + parseEther('1'), gas: 21000n }),
      (err) => {
        assert.ok(err instanceof BaseError, `viem BaseError (got ${err?.name})`);
        assert.ok(err.walk((e) => e instanceof InsufficientFundsError), `InsufficientFundsError in cause chain of ${err.name}`);
        assert.match(String(nodeMessage(err)), /insufficient funds/i, 'node error message');
        return true;
      },
    );
  });

  test('error: unknown method -> JSON-RPC error -32601', T, async () => {
    const body = await rawRpc('eth_thisMethodDoesNotExist', []);
    assert.equal(body.result, undefined);
    assert.equal(body.error?.code, -32601, `raw response: ${JSON.stringify(body)}`);
    // And how viem surfaces it.
    await assert.rejects(publicClient.request({ method: 'eth_thisMethodDoesNotExist', params: [] }), (err) => {
      assert.ok(err.walk((e) => e instanceof MethodNotFoundRpcError), `MethodNotFoundRpcError (got ${err.name})`);
      assert.equal(err.walk((e) => e instanceof MethodNotFoundRpcError).code, -32601);
      return true;
    });
  });
});
