//! The fault-proof VM against the same program run natively, in one run.
//!
//! The program (program/, built by scripts/build-program.sh; INFRA_PROGRAM_ELF
//! names the ELF) runs N ETH transfers through revm; the native baseline is
//! the same source file compiled into this bench. Reports instructions per
//! transfer, the VM's instructions/s, and the VM/native time ratio.
//! Run: `INFRA_PROGRAM_ELF=$(scripts/build-program.sh) cargo bench -p infra-benches --bench fpvm`.

extern crate alloc;

#[path = "../../program/src/poseidon.rs"]
mod poseidon;
#[path = "../../program/src/transfers.rs"]
#[allow(dead_code)] // `hex` is the program's
mod transfers;

/// The program's output (program/src/main.rs).
fn native(n: u64, hashes: u64) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&transfers::run(n));
    both[32..].copy_from_slice(&poseidon::chain(hashes));
    revm::primitives::keccak256(both).0
}

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use infra_fpvm::{Preimages, Vm, local_key};

fn inputs(n: u64, hashes: u64, claim: [u8; 32]) -> Preimages {
    let mut p = Preimages::default();
    p.insert(local_key(1), n.to_be_bytes().to_vec());
    p.insert(local_key(3), hashes.to_be_bytes().to_vec());
    p.insert(local_key(2), claim.to_vec());
    p
}

fn run_vm(elf: &[u8], n: u64, hashes: u64, claim: [u8; 32]) -> (u64, Duration) {
    let mut vm = Vm::from_elf(elf, inputs(n, hashes, claim)).expect("a RISC-V executable");
    vm.snapshot_every = 0;
    let start = Instant::now();
    let end = vm.run_to(u64::MAX).expect("inputs known");
    let took = start.elapsed();
    assert_eq!(
        end.exit,
        Some(0),
        "the VM disagrees with native: {}",
        String::from_utf8_lossy(&vm.output)
    );
    (end.steps, took)
}

fn benches(c: &mut Criterion) {
    let path = std::env::var("INFRA_PROGRAM_ELF")
        .expect("INFRA_PROGRAM_ELF: build the program with scripts/build-program.sh");
    let elf = std::fs::read(&path).expect("the program's ELF");
    let mut group = c.benchmark_group("fpvm");
    group.sample_size(10);
    let mut rows = Vec::new();
    // (transfers, Poseidon hashes): per transfer from the first two rows, per
    // hash from the last two (both include the program's start).
    let work = [(1u64, 0u64), (1000, 0), (0, 1), (0, 1000)];
    for (n, hashes) in work {
        let claim = native(n, hashes);
        let name = format!("{n}_transfers_{hashes}_hashes");
        group.bench_function(format!("native/{name}"), |b| b.iter(|| native(n, hashes)));
        group.bench_function(format!("vm/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_vm(&elf, n, hashes, claim).1).sum())
        });
        // The summary's own timings: 5 runs each, the best.
        let native_time = (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(native(n, hashes));
                t.elapsed()
            })
            .min()
            .unwrap();
        let (steps, vm) =
            (0..5).map(|_| run_vm(&elf, n, hashes, claim)).min_by_key(|r| r.1).unwrap();
        rows.push((n, hashes, steps, vm, native_time));
    }
    group.finish();
    println!("\nSUMMARY fpvm (program ELF {} bytes):", elf.len());
    for (n, hashes, steps, vm, native) in &rows {
        println!(
            "  {n:>5} transfers, {hashes:>5} Poseidon hashes: {steps:>11} instructions, VM {:>8.1} ms = {:>5.1} M instructions/s; native {:>7.3} ms; VM/native {:>5.0}x",
            vm.as_secs_f64() * 1e3,
            *steps as f64 / vm.as_secs_f64() / 1e6,
            native.as_secs_f64() * 1e3,
            vm.as_secs_f64() / native.as_secs_f64(),
        );
    }
    let per = |a: usize, b: usize, k: f64| (rows[b].2 - rows[a].2) as f64 / k;
    println!(
        "  instructions per ETH transfer (revm, no signature recovery): {:.0}; per Poseidon hash (BN254, t=3): {:.0}",
        per(0, 1, 999.0),
        per(2, 3, 999.0)
    );
}

criterion_group!(fpvm, benches);
criterion_main!(fpvm);
