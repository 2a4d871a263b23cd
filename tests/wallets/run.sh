#!/usr/bin/env bash
# Wallet-library end-to-end tests against an already running Ethereum JSON-RPC node.
#
#   RPC_URL=http://127.0.0.1:8545 WS_URL=ws://127.0.0.1:8545 [PYTHON=python3] tests/wallets/run.sh
#
# Optional: DEV_KEY / DEV_KEY2 (funded dev keys; default: anvil/hardhat accounts #0/#1),
#           WALLET_TEST_TIMEOUT_MS (per test, default 60000), WALLET_TEST_POLL_MS (default 250).
#
# Installs nothing and starts no node under test (rpc_compare.test.mjs starts its
# own reference anvil from node_modules). Prerequisites (done by the project's
# top-level test script): `npm ci` in this directory, and
# `$PYTHON -m pip install -r requirements.txt` for the interpreter in $PYTHON.
# Exits non-zero if any suite fails; all suites run regardless.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

: "${RPC_URL:?RPC_URL must be set, e.g. http://127.0.0.1:8545}"
: "${WS_URL:?WS_URL must be set, e.g. ws://127.0.0.1:8545}"
export RPC_URL WS_URL
PYTHON="${PYTHON:-python3}"

if [[ ! -d node_modules ]]; then
  echo "run.sh: tests/wallets/node_modules missing; run 'npm ci' in tests/wallets first" >&2
  exit 2
fi

echo "== compile TestToken (solc) =="
node compile.mjs || { echo "run.sh: compile failed" >&2; exit 1; }

status=0

# Each suite runs under a hard limit, so one that hangs (a test process kept
# alive, a node that stops answering) fails with its name instead of holding
# up everything after it. Normal runs take a few seconds to a minute.
run_suite() {
  local name=$1 limit=$2 rc
  shift 2
  timeout --kill-after=10s "$limit" "$@"
  rc=$?
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "run.sh: $name did not finish within $limit s: stopped" >&2
  fi
  return $rc
}

echo "== node --test: ethers v6 + viem v2 (RPC_URL=$RPC_URL WS_URL=$WS_URL) =="
# Files run one after another: both send from DEV_KEY, and concurrent
# processes would race for its nonces.
run_suite "ethers + viem" 300 node --test --test-concurrency=1 ethers.test.mjs viem.test.mjs || status=1

echo "== node --test: JSON-RPC shapes vs a reference anvil (rpc_compare) =="
# Starts its own anvil (the pinned npm package) on a free port and kills it at the end.
run_suite rpc_compare 300 node --test --test-concurrency=1 rpc_compare.test.mjs || status=1

if [[ -n "${L1_RPC_URL:-}" ]]; then
  echo "== node --test: deposit L1 -> L2 (L1_RPC_URL=$L1_RPC_URL BRIDGE=${BRIDGE:-}) =="
  run_suite deposit 200 node --test --test-concurrency=1 deposit.test.mjs || status=1
fi

echo "== pytest: web3.py v7 ($PYTHON) =="
run_suite web3.py 300 env PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest -q -p no:cacheprovider web3_test.py || status=1

if [[ $status -eq 0 ]]; then echo "wallet tests: all passed"; else echo "wallet tests: FAILED" >&2; fi
exit $status
