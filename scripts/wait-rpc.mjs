// Waits until the JSON-RPC server at URL answers eth_chainId with CHAIN_ID
// (decimal); exits 1 after 60 s or on another chain id.
//   node scripts/wait-rpc.mjs URL CHAIN_ID
const [url, want] = process.argv.slice(2);
if (!url || !want) {
  console.error('usage: node scripts/wait-rpc.mjs URL CHAIN_ID');
  process.exit(2);
}
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    const { result } = await res.json();
    if (result !== undefined && BigInt(result) === BigInt(want)) process.exit(0);
    if (result !== undefined) {
      console.error(`${url} answers chain id ${BigInt(result)}, not ${want}`);
      process.exit(1);
    }
  } catch {
    /* not answering yet */
  }
  if (Date.now() > deadline) {
    console.error(`${url} did not answer eth_chainId within 60 s`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
