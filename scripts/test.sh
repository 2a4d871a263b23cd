#!/usr/bin/env bash
# Runs every test of infra-node: Rust unit/integration tests, then the wallet
# libraries (ethers, viem, web3.py), the RPC comparison with anvil, the
# dashboard in a real browser and the crash test against a real node; then the
# GPU equality tests of the `cuda` feature (on by default; reported as skipped
# where there is no NVIDIA driver).
# Installs what the tests need (pinned): libclang-dev for libmdbx's bindgen,
# Debian's chromium for the browser test, Debian's Rust toolchain for RISC-V
# (rustc-web, cargo-web, rust-web-src, lld) for the fault-proof program, the npm packages of tests/wallets
# (npm ci) and the Python ones (tests/.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/infra-node/target}"
# Build and test in a fixed tree that mirrors this checkout (only changed files
# are rewritten): cargo's fingerprints depend on the workspace path and on file
# times, so a fresh clone elsewhere would otherwise recompile every crate of the
# workspace. One run at a time per tree (a lock); scripts/dev.sh shares it.
if [ -z "${INFRA_IN_BUILD_TREE:-}" ]; then
  TREE="${INFRA_BUILD_TREE:-$HOME/.cache/infra-node/tree}"
  mkdir -p "$TREE"
  exec 9>"$TREE.lock"
  flock 9
  python3 scripts/sync-tree.py . "$TREE"
  INFRA_IN_BUILD_TREE=1 exec bash "$TREE/scripts/test.sh" "$@"
fi
ROOT=$(pwd)
export CARGO_TERM_COLOR=never

START=$SECONDS
step() { printf '\n== [%ds] %s\n' "$((SECONDS - START))" "$*"; }

step "system packages"
APT_NEEDED=""
# bindgen (clang-sys) loads libclang.so or libclang-N.so[.M]; the image's
# libclang-cpp.so.N is another library and does not count.
has_libclang() {
  dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed" && return 0
  ls /usr/lib/llvm-*/lib/ /usr/lib/x86_64-linux-gnu/ 2>/dev/null | grep -qE '^libclang(-[0-9.]+)?\.so(\.[0-9.]+)?$'
}
has_libclang || APT_NEEDED="libclang-dev"
[ -x /usr/bin/chromium ] || APT_NEEDED="$APT_NEEDED chromium"
# The fault-proof program is built by Debian's Rust (rustup cannot fetch
# targets here): its rustc, cargo, library sources (for -Zbuild-std) and lld.
/usr/bin/rustc --version >/dev/null 2>&1 || APT_NEEDED="$APT_NEEDED rustc-web"
[ -x /usr/bin/cargo ] || APT_NEEDED="$APT_NEEDED cargo-web"
[ -d /usr/lib/rustlib/src/rust/library/core ] || APT_NEEDED="$APT_NEEDED rust-web-src"
[ -x /usr/bin/ld.lld ] || APT_NEEDED="$APT_NEEDED lld"
if [ -n "$APT_NEEDED" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # shellcheck disable=SC2086
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_NEEDED >/dev/null
fi

step "npm packages (contracts and tests/wallets, pinned by their package-lock.json)"
# `npm ci` once per package-lock.json: node_modules is kept while it was
# installed from this very lockfile and `npm ls` finds every package in it.
npm_install() {
  local want stamp="$1/node_modules/.infra-package-lock.sha256"
  want=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && (cd "$1" && npm ls --all >/dev/null 2>&1); then
    echo "$1: node_modules installed from this package-lock.json, npm ls finds every package: kept"
    return
  fi
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}
npm_install contracts
npm_install tests/wallets

step "python packages (tests/.venv, pinned by tests/wallets/requirements.txt)"
if [ ! -x tests/.venv/bin/python ]; then python3 -m venv tests/.venv; fi
tests/.venv/bin/pip install -q --disable-pip-version-check -r tests/wallets/requirements.txt

step "format"
cargo fmt --all -- --check

step "contracts: committed artifacts match a fresh compile by the pinned solc"
node contracts/compile.mjs --check

step "cargo build, and beside it the fault-proof program's RISC-V build ($(/usr/bin/rustc --version); the native one is the workspace build's)"
# Two builds at once fill each other's single-threaded stretches (linking,
# the program's one-unit LTO); each has its own target directory.
PROGRAM_OUT=$(mktemp); PROGRAM_LOG=$(mktemp)
( scripts/build-program.sh >"$PROGRAM_OUT" && scripts/build-program.sh --no-std-crates ) 2>"$PROGRAM_LOG" &
PROGRAM_PID=$!
# (If the workspace build fails, the script waits for the program's build
# before it exits: that build holds the tree's lock too.)
cargo build --workspace --all-targets || { wait "$PROGRAM_PID" 2>/dev/null; exit 1; }
step "fault-proof program: waiting for its build"
PROGRAM_RC=0
wait "$PROGRAM_PID" || PROGRAM_RC=$?
cat "$PROGRAM_LOG" >&2
[ "$PROGRAM_RC" = 0 ] || exit "$PROGRAM_RC"
INFRA_PROGRAM_ELF=$(tail -n 1 "$PROGRAM_OUT")
rm -f "$PROGRAM_OUT" "$PROGRAM_LOG"
[ -f "$INFRA_PROGRAM_ELF" ] || { echo "the program's build named no ELF: '$INFRA_PROGRAM_ELF'" >&2; exit 1; }
INFRA_PROGRAM_NATIVE="$CARGO_TARGET_DIR/debug/infra-program"
export INFRA_PROGRAM_ELF INFRA_PROGRAM_NATIVE
echo "ELF $(stat -c %s "$INFRA_PROGRAM_ELF") bytes, sha256 $(sha256sum "$INFRA_PROGRAM_ELF" | cut -d' ' -f1)"

step "rust tests (every test binary and the doctests, side by side by the CPU each used last time: scripts/run-tests.py)"
set +e
python3 scripts/run-tests.py --jobs 2 2>&1 | tee /tmp/infra-cargo-test.log
RUNNER_RC=${PIPESTATUS[0]}
set -e
RUST_PASSED=$(grep -E '^test result:' /tmp/infra-cargo-test.log | awk '{s+=$4} END {print s+0}')
RUST_FAILED=$(grep -E '^test result:' /tmp/infra-cargo-test.log | awk '{s+=$6} END {print s+0}')
# A binary that crashed or did not start has no `test result:` line: count it.
if [ "$RUNNER_RC" != 0 ] && [ "$RUST_FAILED" = 0 ]; then RUST_FAILED=1; fi

BIN="$CARGO_TARGET_DIR/debug/infra-node"
LOGDIR=$(mktemp -d)
NODE_PID=""
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true; }
trap cleanup EXIT

step "wallet libraries against a fresh --dev node (any free port, read from its banner)"
"$BIN" --dev --rpc.port 0 --sequencer.block-time-ms 250 >"$LOGDIR/node.out" 2>"$LOGDIR/node.err" &
NODE_PID=$!
for _ in $(seq 1 600); do
  grep -q "^Listening on" "$LOGDIR/node.out" 2>/dev/null && break
  kill -0 "$NODE_PID" 2>/dev/null || break
  sleep 0.1
done
RPC_URL=$(sed -n 's/^RPC URL: *\(http[^ ]*\).*/\1/p' "$LOGDIR/node.out")
WS_URL="ws://${RPC_URL#http://}"
node scripts/wait-rpc.mjs "$RPC_URL" 13370 || { tail -50 "$LOGDIR/node.err"; exit 1; }
WALLET_RC=0
L1_RPC_URL=$(sed -n 's/^L1 RPC URL: *\(http[^ ]*\).*/\1/p' "$LOGDIR/node.out")
BRIDGE=$(sed -n 's/^Bridge: *\(0x[0-9a-fA-F]*\).*/\1/p' "$LOGDIR/node.out")
RPC_URL="$RPC_URL" WS_URL="$WS_URL" PYTHON="$ROOT/tests/.venv/bin/python" \
  L1_RPC_URL="$L1_RPC_URL" BRIDGE="$BRIDGE" timeout --kill-after=10s 1200 tests/wallets/run.sh || WALLET_RC=$?

step "dashboard in a real browser (Debian chromium, playwright-core)"
DASH_RC=0
DASHBOARD_URL="$RPC_URL/dashboard" RPC_URL="$RPC_URL" \
  SCREENSHOT="$LOGDIR/dashboard.png" timeout --kill-after=10s 180 node tests/wallets/dashboard.mjs || DASH_RC=$?
# SIGTERM, and SIGKILL if the node has not exited 30 s later: a shutdown that
# hangs must not hold up the run.
kill "$NODE_PID" 2>/dev/null || true
for _ in $(seq 1 300); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$NODE_PID" 2>/dev/null; then
  echo "the --dev node did not exit within 30 s of SIGTERM: killed"; kill -9 "$NODE_PID" 2>/dev/null || true
fi
wait "$NODE_PID" 2>/dev/null || true; NODE_PID=""
if [ "$WALLET_RC" != 0 ]; then echo "node log:"; tail -50 "$LOGDIR/node.err"; fi

step "crash safety: kill -9 under load, restart, compare"
CRASH_RC=0
BIN="$BIN" timeout --kill-after=10s 300 node tests/wallets/crash.mjs || CRASH_RC=$?

step "the GPU equality tests (the cuda feature is on by default: built with the workspace)"
# They ran in the Rust tests above, where each prints `SKIPPED (no GPU)` and
# returns when there is no NVIDIA driver: run again with their output shown to
# count the skips, which are then not counted as passes.
CUDA_RC=0
# One test thread, so no test's line is cut into by another's; each skip's
# mark is counted wherever it stands on a line.
timeout --kill-after=10s 900 cargo test --workspace --test prover -- --nocapture --test-threads 1 cuda:: 2>&1 | tee /tmp/infra-cuda-test.log || CUDA_RC=$?
GPU_SKIPPED=$(grep -o 'SKIPPED (no GPU)' /tmp/infra-cuda-test.log | wc -l)
GPU_RAN=$(grep -E '^test result:' /tmp/infra-cuda-test.log | awk '{s+=$4} END {print s+0}')
GPU_RAN=$((GPU_RAN - GPU_SKIPPED))
RUST_PASSED=$((RUST_PASSED - GPU_SKIPPED))

step "summary"
SUITES_FAILED=0
[ "$WALLET_RC" = 0 ] || SUITES_FAILED=$((SUITES_FAILED + 1))
[ "$CRASH_RC" = 0 ] || SUITES_FAILED=$((SUITES_FAILED + 1))
[ "$DASH_RC" = 0 ] || SUITES_FAILED=$((SUITES_FAILED + 1))
[ "$CUDA_RC" = 0 ] || SUITES_FAILED=$((SUITES_FAILED + 1))
echo "rust: $RUST_PASSED passed, $RUST_FAILED failed; wallet suites: $([ "$WALLET_RC" = 0 ] && echo ok || echo FAILED); dashboard: $([ "$DASH_RC" = 0 ] && echo ok || echo FAILED); crash test: $([ "$CRASH_RC" = 0 ] && echo ok || echo FAILED); GPU tests run: $([ "$CUDA_RC" = 0 ] && echo ok || echo FAILED), GPU tests: $GPU_RAN ran, $GPU_SKIPPED SKIPPED for lack of a GPU"
if [ "$RUST_FAILED" != 0 ] || [ "$SUITES_FAILED" != 0 ]; then
  echo "tests: $RUST_PASSED passed, $((RUST_FAILED + SUITES_FAILED)) failed, $GPU_SKIPPED skipped"
  exit 1
fi
echo "tests: $RUST_PASSED passed, 0 failed, $GPU_SKIPPED skipped"
