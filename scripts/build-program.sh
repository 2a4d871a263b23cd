#!/usr/bin/env bash
# Builds the fault-proof program (program/) for the VM: RV64IMA, no compressed
# instructions, with Debian's Rust toolchain (rustc-web, cargo-web,
# rust-web-src, lld; scripts/test.sh installs them). The build is reproducible:
# paths are remapped, the lock file is used as it is, one codegen unit. Prints
# the ELF's path. `--native` builds the same program for this machine instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${PROGRAM_TARGET_DIR:-$HOME/.cache/infra-node/program-target}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
cd "$root/program"
if [ "${1:-}" = "--native" ]; then
    env -u RUSTFLAGS CARGO_TARGET_DIR="$out" cargo build --locked --release --quiet
    echo "$out/release/infra-program"
    exit 0
fi
for bin in /usr/bin/rustc /usr/bin/cargo /usr/bin/ld.lld; do
    [ -x "$bin" ] || { echo "build-program: $bin is missing (apt-get install rustc-web cargo-web rust-web-src lld)" >&2; exit 1; }
done
[ -d /usr/lib/rustlib/src/rust/library ] || { echo "build-program: rust-web-src is missing" >&2; exit 1; }
env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTUP_TOOLCHAIN \
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$out" \
    RUSTFLAGS="-C target-feature=-c,-zca -C linker=ld.lld --remap-path-prefix=$root/program=/program --remap-path-prefix=$cargo_home=/cargo" \
    /usr/bin/cargo build --locked --release --quiet -Zbuild-std=core,alloc --target riscv64imac-unknown-none-elf
echo "$out/riscv64imac-unknown-none-elf/release/infra-program"
