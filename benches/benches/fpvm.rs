//! The fault-proof VM against the same program run natively, in one run.
//!
//! The program (program/, built by scripts/build-program.sh; INFRA_PROGRAM_ELF
//! names the ELF) runs N ETH transfers through revm; the native baseline is
//! the same source file compiled into this bench. Reports instructions per
//! transfer, the VM's instructions/s, and the VM/native time ratio.
//! Run: `INFRA_PROGRAM_ELF=$(scripts/build-program.sh) cargo bench -p infra-benches --bench fpvm`.

extern crate alloc;

#[path = "../../program/src/transfers.rs"]
mod transfers;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use infra_fpvm::{Preimages, Vm, local_key};

fn inputs(n: u64, claim: [u8; 32]) -> Preimages {
    let mut p = Preimages::default();
    p.insert(local_key(1), n.to_be_bytes().to_vec());
    p.insert(local_key(2), claim.to_vec());
    p
}

fn run_vm(elf: &[u8], n: u64, claim: [u8; 32]) -> (u64, Duration) {
    let mut vm = Vm::from_elf(elf, inputs(n, claim)).expect("a RISC-V executable");
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
    for n in [1u64, 1000] {
        let claim = transfers::run(n);
        group.bench_function(format!("native/{n}_transfers"), |b| b.iter(|| transfers::run(n)));
        group.bench_function(format!("vm/{n}_transfers"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_vm(&elf, n, claim).1).sum())
        });
        // The summary's own timings: 5 runs each, the best.
        let native = (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(transfers::run(n));
                t.elapsed()
            })
            .min()
            .unwrap();
        let (steps, vm) = (0..5).map(|_| run_vm(&elf, n, claim)).min_by_key(|r| r.1).unwrap();
        rows.push((n, steps, vm, native, transfers::hex(&claim)));
    }
    group.finish();
    let (_, base_steps, ..) = rows[0];
    println!("\nSUMMARY fpvm (program ELF {} bytes):", elf.len());
    for (n, steps, vm, native, claim) in &rows {
        println!(
            "  {n:>5} transfers: {steps:>11} instructions ({:>6.0} per transfer after the first), VM {:>8.1} ms = {:>5.1} M instructions/s; native {:>7.3} ms; VM/native {:>6.0}x; output {claim}",
            (steps - base_steps) as f64 / (*n as f64 - 1.0).max(1.0),
            vm.as_secs_f64() * 1e3,
            *steps as f64 / vm.as_secs_f64() / 1e6,
            native.as_secs_f64() * 1e3,
            vm.as_secs_f64() / native.as_secs_f64(),
        );
    }
}

criterion_group!(fpvm, benches);
criterion_main!(fpvm);
