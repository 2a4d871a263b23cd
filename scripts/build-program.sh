#!/usr/bin/env bash
# Builds the fault-proof program (program/, a member of the workspace) for the
# VM: RV64IMA, no compressed instructions, with Debian's Rust toolchain
# (rustc-web, cargo-web, rust-web-src, lld; scripts/test.sh installs them;
# rustup cannot fetch targets here). Only the program's own dependency graph is
# built (-p), so no std feature of the node's crates reaches it. The build is
# reproducible: the workspace's Cargo.lock as it is (--locked), paths remapped,
# the `program` profile (one codegen unit, fat LTO, stripped). Prints the ELF's path.
# `--no-std-crates` instead builds the crates the program will run on
# (infra-stf, with infra-primitives and infra-state) without std for RISC-V:
# in the workspace their std features are always on, so only this catches a
# change that breaks no_std.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${PROGRAM_TARGET_DIR:-$HOME/.cache/infra-node/program-target}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for bin in /usr/bin/rustc /usr/bin/cargo /usr/bin/ld.lld; do
    [ -x "$bin" ] || { echo "build-program: $bin is missing (apt-get install rustc-web cargo-web rust-web-src lld)" >&2; exit 1; }
done
[ -d /usr/lib/rustlib/src/rust/library/core ] || { echo "build-program: rust-web-src is missing" >&2; exit 1; }
cd "$root"
what=(-p infra-program)
if [ "${1:-}" = "--no-std-crates" ]; then
    what=(-p infra-stf --no-default-features)
fi
env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTUP_TOOLCHAIN -u CARGO_TARGET_DIR \
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$out" \
    RUSTFLAGS="-C target-feature=-c,-zca -C linker=ld.lld --remap-path-prefix=$root=/infra-node --remap-path-prefix=$cargo_home=/cargo" \
    /usr/bin/cargo build --locked --quiet --profile program "${what[@]}" \
    -Zbuild-std=core,alloc --target riscv64imac-unknown-none-elf
[ "${1:-}" = "--no-std-crates" ] || echo "$out/riscv64imac-unknown-none-elf/program/infra-program"
