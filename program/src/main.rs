//! The fault-proof program.
//!
//! Today it is a measuring program, not yet the state-transition function:
//! the batch-level STF (`crates/stf`) is not finished, so the program runs a
//! workload of ETH transfers through revm (no_std, pure-Rust precompiles) and a
//! chain of Poseidon hashes (the state tree's, from `crates/state`, no_std), to
//! prove the toolchain, the runtime, the oracle client and the VM on real
//! compiled code, and to measure instructions per transfer and per hash.
//! Inputs (preimage oracle, local keys): 1 = the number of transfers, 3 = the
//! number of Poseidon hashes (8 bytes big-endian each), 2 = the claimed output
//! (32 bytes). It prints the output it computes (keccak256 of both parts'
//! results) and exits 0 when it equals the claim, 1 when not. Natively
//! (`infra-program N [P]`) it prints the same output.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod poseidon;
mod transfers;

/// The output: keccak256 of the two workloads' results.
fn output(transfers: u64, hashes: u64) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&transfers::run(transfers));
    both[32..].copy_from_slice(&poseidon::chain(hashes));
    revm::primitives::keccak256(both).0
}

#[cfg(target_os = "none")]
mod rt;

#[cfg(target_os = "none")]
fn program_main() -> u64 {
    let number = |k: u64| {
        let v = rt::preimage(&rt::local_key(k));
        u64::from_be_bytes(v.as_slice().try_into().expect("local inputs 1 and 3 are 8 bytes"))
    };
    let (n, p) = (number(1), number(3));
    let claim = rt::preimage(&rt::local_key(2));
    let out = output(n, p);
    rt::print(&alloc::format!("output {}\n", transfers::hex(&out)));
    u64::from(claim.as_slice() != out.as_slice())
}

#[cfg(not(target_os = "none"))]
fn main() {
    let arg = |i: usize, default: Option<u64>| {
        std::env::args().nth(i).map(|s| s.parse().ok()).unwrap_or(default).unwrap_or_else(|| {
            eprintln!("usage: infra-program <number of transfers> [<number of Poseidon hashes>]");
            std::process::exit(2)
        })
    };
    let (n, p) = (arg(1, None), arg(2, Some(0)));
    let start = std::time::Instant::now();
    let out = output(n, p);
    let took = start.elapsed();
    println!("output {}", transfers::hex(&out));
    eprintln!("native: {n} transfers, {p} hashes in {:.3} ms", took.as_secs_f64() * 1e3);
}
