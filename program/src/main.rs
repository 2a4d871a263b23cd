//! The fault-proof program.
//!
//! Today it is a measuring program, not yet the state-transition function:
//! the STF crate (`crates/stf`, issue 18's first part) is not extracted yet, so
//! the program runs a workload of ETH transfers through revm (no_std,
//! pure-Rust precompiles), to prove the toolchain, the runtime, the oracle
//! client and the VM on real compiled revm code, and to measure instructions
//! per transfer. Inputs (preimage oracle, local keys): 1 = the number of
//! transfers (8 bytes big-endian), 2 = the claimed output (32 bytes). It prints
//! the output it computes and exits 0 when it equals the claim, 1 when not.
//! Natively (`infra-program N`) it prints the same output.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod transfers;

#[cfg(target_os = "none")]
mod rt;

#[cfg(target_os = "none")]
fn program_main() -> u64 {
    let n = rt::preimage(&rt::local_key(1));
    let n = u64::from_be_bytes(n.as_slice().try_into().expect("local input 1 is 8 bytes"));
    let claim = rt::preimage(&rt::local_key(2));
    let out = transfers::run(n);
    rt::print(&alloc::format!("output {}\n", transfers::hex(&out)));
    u64::from(claim.as_slice() != out.as_slice())
}

#[cfg(not(target_os = "none"))]
fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: infra-program <number of transfers>");
        std::process::exit(2)
    });
    let start = std::time::Instant::now();
    let out = transfers::run(n);
    let took = start.elapsed();
    println!("output {}", transfers::hex(&out));
    eprintln!("native: {n} transfers in {:.3} ms", took.as_secs_f64() * 1e3);
}
