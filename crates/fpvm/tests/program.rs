//! The fault-proof program (program/, built for RISC-V by
//! scripts/build-program.sh) in the VM: its hash is the committed one, it
//! computes what the same program computes natively, and sampled steps of its
//! real trace verify with the reference step verifier.

use std::{path::PathBuf, process::Command, time::Instant};

use alloy::primitives::{B256, keccak256};
use infra_fpvm::{Preimages, STATUS_INVALID, STATUS_VALID, Vm, local_key, verify_step};

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

fn native_output(n: u64, p: u64) -> B256 {
    let out = Command::new(path_from("INFRA_PROGRAM_NATIVE"))
        .args([n.to_string(), p.to_string()])
        .output()
        .expect("the native program runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim().strip_prefix("output ").expect("an output line").parse().expect("32 bytes hex")
}

fn inputs(n: u64, hashes: u64, claim: B256) -> Preimages {
    let mut p = Preimages::default();
    p.insert(local_key(1), n.to_be_bytes().to_vec());
    p.insert(local_key(3), hashes.to_be_bytes().to_vec());
    p.insert(local_key(2), claim.to_vec());
    p
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

#[test]
fn program_in_the_vm_matches_native_and_its_steps_verify() {
    let elf = elf();
    for (n, hashes) in [(1u64, 0u64), (300, 0), (2, 40)] {
        let claim = native_output(n, hashes);
        let mut vm = Vm::from_elf(&elf, inputs(n, hashes, claim)).unwrap();
        vm.snapshot_every = 1 << 20;
        let start = Instant::now();
        let end = vm.run_to(u64::MAX).expect("every input is known");
        let took = start.elapsed();
        let out = String::from_utf8_lossy(&vm.output).to_string();
        assert_eq!(end.fault, None, "{out}");
        assert_eq!(end.exit, Some(0), "the VM's output differs from native {claim}: {out}");
        assert_eq!(out.trim(), format!("output {claim}"));
        assert_eq!(vm.state().status(), STATUS_VALID);
        eprintln!(
            "{n} transfers, {hashes} Poseidon hashes: {} instructions, {:.1} ms, {:.1} M instructions/s, {} pages",
            end.steps,
            took.as_secs_f64() * 1e3,
            end.steps as f64 / took.as_secs_f64() / 1e6,
            vm.mem.page_count()
        );

        // Sampled steps of the real trace, each proven and checked.
        let mut checker = inputs(n, hashes, claim);
        let samples = 60;
        let mut sizes = Vec::new();
        for i in 0..samples {
            let k = end.steps * i / samples;
            vm.seek(k).unwrap();
            let proof = vm.prove_step().unwrap();
            let (_, post) = verify_step(&proof.pre_state, &proof.mem_proofs, &mut checker)
                .unwrap_or_else(|e| panic!("step {k}: {e}"));
            assert_eq!(post, proof.post_hash, "step {k}");
            sizes.push(proof.size());
        }
        eprintln!(
            "step proofs: {} to {} bytes",
            sizes.iter().min().unwrap(),
            sizes.iter().max().unwrap()
        );

        // A wrong claim: the program says so (status "invalid").
        let mut vm = Vm::from_elf(&elf, inputs(n, hashes, B256::repeat_byte(7))).unwrap();
        let end = vm.run_to(u64::MAX).unwrap();
        assert_eq!(end.exit, Some(1));
        assert_eq!(vm.state().status(), STATUS_INVALID);
    }
}
