//! The fault-proof program (program/, built for RISC-V by
//! scripts/build-program.sh): its hash is the committed one. The program
//! deciding real batches in the VM, against the same program natively, with
//! sampled steps verified: crates/stf/tests/batch.rs.

use std::path::PathBuf;

use alloy::primitives::keccak256;
use infra_fpvm::{Preimages, Vm};

fn path_from(var: &str) -> PathBuf {
    let p = std::env::var_os(var).unwrap_or_else(|| {
        panic!(
            "{var} is not set: build the program with scripts/build-program.sh (and --native) \
             and point {var} at it; scripts/test.sh does both"
        )
    });
    PathBuf::from(p)
}

fn elf() -> Vec<u8> {
    let p = path_from("INFRA_PROGRAM_ELF");
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

#[test]
fn committed_prestate_is_the_built_programs() {
    let elf = elf();
    let mut vm = Vm::from_elf(&elf, Preimages::default()).expect("a RISC-V executable");
    let want = format!(
        "elf_keccak256 = \"{}\"\nabsolute_prestate = \"{}\"\n",
        keccak256(&elf),
        vm.state().hash()
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../program/PRESTATE");
    let committed = std::fs::read_to_string(path).expect("program/PRESTATE");
    assert_eq!(
        committed, want,
        "program/PRESTATE differs from the program built here: the build is not reproducible, \
         or the program changed and PRESTATE must be rewritten with the text on the right"
    );
}
