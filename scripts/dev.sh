#!/usr/bin/env bash
# Runs a whole devnet (`infra-node --dev`): an embedded L1 with the rollup
# contracts and the L2 settling to it. Extra arguments go to infra-node
# (e.g. `--rpc.port 0`, `--datadir DIR`, `--state.history archive`).
#
# Builds exactly what scripts/test.sh builds (the same command, build tree,
# target directory and profile: ~/.cache/infra-node/{tree,target}), so after
# the test command this starts without compiling, and the test command after
# this one compiles nothing either.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/infra-node/target}"
TREE="${INFRA_BUILD_TREE:-$HOME/.cache/infra-node/tree}"
mkdir -p "$TREE"
(
  flock 9
  python3 scripts/sync-tree.py . "$TREE" >/dev/null
  cd "$TREE" && cargo build -q --workspace --all-targets
) 9>"$TREE.lock"
exec "$CARGO_TARGET_DIR/debug/infra-node" --dev "$@"
