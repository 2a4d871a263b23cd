//! The fault-proof program: decides one claim about one batch.
//!
//! It reads the claim's inputs from the preimage oracle (local inputs: the
//! pre-output, the claimed output, the batch, the chain, the deposits L1
//! held; then state, headers and batch data by hash: see
//! `crates/stf/src/claim.rs`), applies the batch with the node's own
//! state-transition function (`infra_stf::apply_batch`), prints the output it
//! derives, and exits 0 when the claim is that output, 1 when not. When it
//! cannot decide (a preimage it needs is not served, inputs malformed) it
//! panics: exit 2, neither valid nor invalid.
//!
//! Natively (`infra-program PREIMAGES`) it reads the preimages from a file
//! (`infra_stf::claim::encode_preimages`) and does the same.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

#[cfg(target_os = "none")]
mod rt;

#[cfg(target_os = "none")]
struct VmOracle;

#[cfg(target_os = "none")]
impl infra_stf::claim::Oracle for VmOracle {
    fn get(
        &self,
        key: &infra_stf::revm::primitives::B256,
    ) -> Result<alloc::vec::Vec<u8>, infra_stf::SourceError> {
        Ok(rt::preimage(&key.0))
    }
}

#[cfg(target_os = "none")]
fn program_main() -> u64 {
    match infra_stf::claim::decide(&VmOracle) {
        Ok(d) => {
            rt::print(&infra_stf::claim::report(&d));
            u64::from(!d.claim_holds())
        }
        Err(e) => panic!("cannot decide: {e}"),
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    use infra_stf::claim::{decide, decode_preimages, report};
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: infra-program <preimages file>");
        std::process::exit(2)
    };
    let raw = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("reading {path}: {e}");
        std::process::exit(2)
    });
    let Some(preimages) = decode_preimages(&raw) else {
        eprintln!("{path}: not a preimages file");
        std::process::exit(2)
    };
    let start = std::time::Instant::now();
    match decide(&preimages) {
        Ok(d) => {
            print!("{}", report(&d));
            eprintln!("native: decided in {:.3} ms", start.elapsed().as_secs_f64() * 1e3);
            std::process::exit(i32::from(!d.claim_holds()))
        }
        Err(e) => {
            eprintln!("cannot decide: {e}");
            std::process::exit(2)
        }
    }
}
