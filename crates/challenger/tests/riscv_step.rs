//! L1's RISC-V step (`contracts/src/fpvm/RiscV.sol`, in revm) against the
//! reference step verifier (`infra_fpvm::verify_step`), which the VM's trace
//! agrees with: on sampled steps of the fault-proof program's real trace (a
//! batch of sealed blocks with an ETH transfer, an ERC-20 deployment and
//! transfers), on every step of the program's start (it reads its local
//! inputs: keys L1 localizes to the game that asks) and on random instruction
//! streams (every instruction class, faults, system calls, memory accesses
//! across leaves and at the top of memory), the post-state L1 computes is the
//! VM's, byte for byte. Forged proofs and unloaded preimage parts are refused.
//! Prints the gas of a step (mean and worst).

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolCall, SolConstructor, SolValue},
};
use infra_fpvm::{
    MEM_PROOF_SIZE, PreimageSource, StepProof, Vm, stream_part,
    testing::{AnyKey, Rng, any_key_data, random_machine},
    verify_step,
};
use infra_l1::{
    RiscV, TestPreimageOracle,
    sim::{Failure, SimL1},
};
use std::collections::BTreeMap;

mod common;
use common::{ETH, program_elf, real_claim};

/// Who calls the step (the game, on L1): local keys are localized to it.
const CALLER: Address = Address::repeat_byte(0x9a);
const CONTEXT: B256 = B256::repeat_byte(0x3c);

/// L1 with the step contract over an oracle the test loads freely.
struct L1 {
    sim: SimL1,
    oracle: Address,
    riscv: Address,
    gas: Vec<u64>,
}

impl L1 {
    fn new() -> Self {
        let mut sim = SimL1::new(&[CALLER], U256::from(1_000 * ETH));
        let oracle = sim.deploy(CALLER, TestPreimageOracle::BYTECODE.to_vec());
        let args = RiscV::constructorCall { oracle_: oracle }.abi_encode();
        let riscv = sim.deploy(CALLER, [RiscV::BYTECODE.to_vec(), args].concat());
        Self { sim, oracle, riscv, gas: Vec::new() }
    }

    /// The key L1's oracle holds `key` under, for a step the game calls.
    fn l1_key(key: &B256) -> B256 {
        if key[0] != infra_fpvm::KEY_LOCAL {
            return *key;
        }
        let mut k = keccak256((*key, CALLER, CONTEXT).abi_encode());
        k.0[0] = infra_fpvm::KEY_LOCAL;
        k
    }

    /// Loads the part `proof` reads, as `source` serves it.
    fn load(&mut self, proof: &StepProof, source: &mut impl PreimageSource) {
        let Some((key, offset)) = proof.preimage else { return };
        let (part, len) = source.part(&key, offset).expect("the part is known");
        let call = TestPreimageOracle::setPartCall {
            key: Self::l1_key(&key),
            offset: U256::from(offset),
            part: part.into(),
            len: U256::from(len),
        };
        self.sim.send(CALLER, self.oracle, &call, U256::ZERO).expect("part loaded");
    }

    fn step(&mut self, pre: &[u8], proofs: &[u8]) -> Result<(B256, Bytes), Failure> {
        let call = RiscV::stepCall {
            state: pre.to_vec().into(),
            proofs: proofs.to_vec().into(),
            localContext: CONTEXT,
        };
        let out = self.sim.send(CALLER, self.riscv, &call, U256::ZERO)?;
        self.gas.push(out.gas);
        let r = RiscV::stepCall::abi_decode_returns(&out.output).expect("step returns");
        Ok((r.postHash, r.post))
    }

    /// Runs `proof` on L1 and checks it gives the reference verifier's post-state.
    fn check(&mut self, proof: &StepProof, source: &mut impl PreimageSource, what: &str) {
        self.load(proof, source);
        let (post, hash) = verify_step(&proof.pre_state, &proof.mem_proofs, source)
            .unwrap_or_else(|e| panic!("{what}: the reference refuses: {e}"));
        assert_eq!(hash, proof.post_hash, "{what}: the reference and the VM");
        let (l1_hash, l1_post) = self
            .step(&proof.pre_state, &proof.mem_proofs)
            .unwrap_or_else(|e| panic!("{what}: L1 refused: {e:?}"));
        assert_eq!(l1_post.as_ref(), post.encode().as_slice(), "{what}: post-state");
        assert_eq!(l1_hash, hash, "{what}: post-state hash");
    }

    fn gas_report(&self, what: &str) {
        let mean = self.gas.iter().sum::<u64>() / self.gas.len().max(1) as u64;
        let worst = self.gas.iter().max().copied().unwrap_or_default();
        eprintln!(
            "{what}: {} steps on L1, gas per step (transaction, calldata included): mean {mean}, worst {worst}",
            self.gas.len()
        );
    }
}

#[test]
fn l1_steps_the_programs_real_trace_as_the_vm_does() {
    let preimages = real_claim();
    let mut source = infra_fpvm::Preimages::default();
    for (k, v) in &preimages {
        source.insert(*k, v.clone());
    }
    let elf = program_elf();
    let mut vm = Vm::from_elf(&elf, source.clone()).expect("the ELF loads");
    vm.snapshot_every = 1 << 18;
    let end = vm.run_to(u64::MAX).expect("every preimage is there");
    assert_eq!(end.exit, Some(0), "{}", String::from_utf8_lossy(&vm.output));
    let mut l1 = L1::new();
    // The start (local inputs are read here), samples across the trace, the
    // exit, and the first reads of keccak256 and Poseidon preimages (found by
    // running the machine and looking at each instruction before it runs).
    let mut steps: Vec<u64> = (0..1500).collect();
    steps.extend((0..120).map(|i| 1500 + (end.steps - 1501) * i / 119));
    let mut scan = Vm::from_elf(&elf, source.clone()).expect("the ELF loads");
    scan.snapshot_every = 0;
    let mut found: BTreeMap<u8, usize> = BTreeMap::new();
    while scan.cpu.exit.is_none() && found.values().filter(|n| **n >= 3).count() < 2 {
        let (_, at_read) = scan
            .run_to_read(u64::MAX, &mut |key| {
                key[0] != infra_fpvm::KEY_LOCAL && found.get(&key[0]).is_none_or(|n| *n < 3)
            })
            .expect("every preimage is there");
        if at_read {
            steps.push(scan.cpu.steps);
            *found.entry(scan.cpu.preimage_key[0]).or_default() += 1;
            scan.cpu.step(&mut scan.mem, &mut scan.oracle).expect("every preimage is there");
        }
    }
    assert_eq!(found.keys().copied().collect::<Vec<_>>(), [2, 3], "keccak and Poseidon reads");
    steps.sort_unstable();
    steps.dedup();
    let (mut reads, mut local_reads) = (0, 0);
    for k in steps {
        vm.seek(k).expect("seek");
        let proof = vm.prove_step().expect("prove");
        if let Some((key, _)) = proof.preimage {
            reads += 1;
            local_reads += usize::from(key[0] == infra_fpvm::KEY_LOCAL);
        }
        l1.check(&proof, &mut source, &format!("step {k}"));
    }
    // Inputs 4, 1, 2 and 3 are read at the start (5 after the batch's data).
    assert!(local_reads >= 4 && reads >= local_reads + 6, "{reads} reads, {local_reads} local");
    // After the exit, a step changes nothing.
    vm.seek(end.steps).expect("seek");
    let state = vm.state();
    assert!(state.exited);
    let (hash, post) = l1.step(&state.encode(), &[]).expect("an exited state steps");
    assert_eq!((hash, post.as_ref()), (state.hash(), state.encode().as_slice()));
    l1.gas_report(&format!("real trace ({} instructions)", end.steps));
}

#[test]
fn l1_and_the_reference_agree_on_random_instruction_streams() {
    let mut l1 = L1::new();
    let mut rng = Rng(0x51ed);
    let (mut steps, mut faults) = (0, 0);
    for program in 0..400u64 {
        let mut vm = random_machine(&mut rng, program);
        for _ in 0..40 {
            if vm.cpu.exit.is_some() {
                break;
            }
            let proof = vm.prove_step().expect("AnyKey serves every key");
            l1.check(&proof, &mut AnyKey, &format!("program {program} step {}", proof.step));
            steps += 1;
        }
        faults += usize::from(vm.cpu.exit == Some(infra_fpvm::FAULT_EXIT_CODE));
    }
    assert!(steps > 1_000 && faults > 10, "{steps} steps, {faults} faults");
    l1.gas_report("random streams");
}

#[test]
fn forged_steps_are_refused_on_l1() {
    let mut l1 = L1::new();
    let mut rng = Rng(0xbad);
    // A step that reads memory (a load, or the instruction fetch itself).
    let mut vm = random_machine(&mut rng, 1);
    let proof = vm.prove_step().expect("prove");
    l1.load(&proof, &mut AnyKey);
    assert!(l1.step(&proof.pre_state, &proof.mem_proofs).is_ok());

    // A memory proof with another leaf value, a sibling changed, or none.
    let mut leaf = proof.mem_proofs.clone();
    leaf[0] ^= 1;
    let mut sibling = proof.mem_proofs.clone();
    sibling[32 * 30] ^= 1;
    for (what, proofs) in [
        ("another leaf value", leaf),
        ("another sibling", sibling),
        ("no proof", vec![]),
        ("a proof cut short", proof.mem_proofs[..MEM_PROOF_SIZE - 1].to_vec()),
    ] {
        assert!(l1.step(&proof.pre_state, &proofs).is_err(), "{what}: accepted");
    }
    // States that do not decode: x0 set, a flag of 2, a wrong length.
    let mut x0 = proof.pre_state.clone();
    x0[113] = 1;
    let mut flag = proof.pre_state.clone();
    flag[80] = 2;
    for (what, state) in
        [("x0 != 0", x0), ("exited = 2", flag), ("short", proof.pre_state[..361].to_vec())]
    {
        assert!(l1.step(&state, &proof.mem_proofs).is_err(), "{what}: accepted");
    }

    // A preimage read of a part the oracle does not hold reverts: no one
    // wins a step because it could not be executed, and no value is made up.
    // A local key loaded as is (not localized to the caller and context that
    // step) is not the game's input either.
    let mut rng = Rng(3);
    let read = (0..10_000u64)
        .find_map(|p| {
            let mut vm = random_machine(&mut rng, p);
            (0..40).find_map(|_| {
                if vm.cpu.exit.is_some() {
                    return None;
                }
                let proof = vm.prove_step().ok()?;
                let local = proof.preimage.is_some_and(|(k, _)| k[0] == infra_fpvm::KEY_LOCAL);
                local.then_some(proof)
            })
        })
        .expect("a random stream reads a local key");
    assert!(l1.step(&read.pre_state, &read.mem_proofs).is_err(), "an unloaded part was read");
    let (key, offset) = read.preimage.expect("a read");
    let (part, len) = stream_part(&any_key_data(&key), offset);
    let raw = TestPreimageOracle::setPartCall {
        key,
        offset: U256::from(offset),
        part: part.into(),
        len: U256::from(len),
    };
    l1.sim.send(CALLER, l1.oracle, &raw, U256::ZERO).expect("loaded");
    assert!(l1.step(&read.pre_state, &read.mem_proofs).is_err(), "a local key not localized");
    l1.load(&read, &mut AnyKey);
    let (_, hash) = verify_step(&read.pre_state, &read.mem_proofs, &mut AnyKey).expect("verifies");
    assert_eq!(l1.step(&read.pre_state, &read.mem_proofs).expect("localized").0, hash);
    let other = RiscV::stepCall {
        state: read.pre_state.clone().into(),
        proofs: read.mem_proofs.clone().into(),
        localContext: B256::repeat_byte(0x3d),
    };
    assert!(l1.sim.send(CALLER, l1.riscv, &other, U256::ZERO).is_err(), "another context");
}
