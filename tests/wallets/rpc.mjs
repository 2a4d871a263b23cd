// Raw JSON-RPC over HTTP with fetch, bypassing every library (and its caches),
// for scripts that talk to several nodes at once. Needs no environment.

let nextId = 1;

/** Calls `method` at `url`; returns the whole response ({result} or {error}). */
export async function rpcAt(url, method, params = []) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${method} at ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
}
