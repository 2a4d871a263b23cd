//! The memory tree, the oracle system calls, step proofs and the reference
//! verifier: differential tests (interpreter vs verifier on random instruction
//! streams) and the attacker's side (every forged proof is refused).

use alloy::primitives::B256;

use super::*;
use crate::testing::{AnyKey, Rng, random_machine};

#[test]
fn empty_memory_root_and_proofs() {
    let mut m = SparseMemory::default();
    assert_eq!(m.root(), zero_hash(TREE_DEPTH));
    for leaf in [0u64, 1, 12345, (1 << 59) - 1] {
        let p = m.proof(leaf);
        assert_eq!(p.len(), MEM_PROOF_SIZE);
        assert_eq!(verify_leaf(&m.root(), leaf, &p), Some([0u8; 32]));
    }
}

#[test]
fn memory_proofs_follow_writes() {
    let mut rng = Rng(7);
    let mut m = SparseMemory::default();
    let mut roots = vec![m.root()];
    let addrs = [0u64, 31, 4095, 4096, 0x10_0000, 0xffff_ffff_ffff_ffe0, 0x7fff_0000_1234];
    for _ in 0..40 {
        let addr = rng.pick(&addrs).wrapping_add(rng.below(64));
        m.write(addr, 8, rng.next());
        let root = m.root();
        assert!(!roots.contains(&root) || roots.last() == Some(&root));
        roots.push(root);
        for probe in addrs {
            let leaf = probe >> 5;
            let p = m.proof(leaf);
            let want = m.leaf(leaf);
            assert_eq!(verify_leaf(&root, leaf, &p), Some(want), "leaf {leaf:#x}");
            // The same proof does not pass for a neighbour (unless both hold the
            // same bytes) or an old root.
            if p[..32] != p[32..64] {
                assert_eq!(verify_leaf(&root, leaf ^ 1, &p), None);
            }
            assert_eq!(verify_leaf(&roots[0], leaf, &p), None);
        }
    }
    // The cached page hashes give the same root as a fresh build.
    let mut fresh = SparseMemory::default();
    for leaf_addr in (0..4096 * 2).step_by(32) {
        let mut buf = [0u8; 32];
        m.read_bytes(leaf_addr, &mut buf);
        fresh.write_bytes(leaf_addr, &buf);
    }
    // (fresh only has the low pages; compare a sub-case exactly)
    let mut low = SparseMemory::default();
    low.write(5, 8, 99);
    let mut low2 = SparseMemory::default();
    low2.write_bytes(5, &99u64.to_le_bytes());
    assert_eq!(low.root(), low2.root());
    let _ = fresh.root();
}

fn asm(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
}
fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}
const ECALL: u32 = 0x73;

/// A program that names a key stored at 0x2000, reads its whole stream to
/// 0x3000 with reads of at most 32 bytes, and exits with the byte count.
fn oracle_program() -> Vec<u32> {
    [
        lui(10, 2),                                                             // a0 = 0x2000
        addi(17, 0, 0),                                                         // a7 = 0
        lui(17, 1),                               // a7 = 0x1000 (preimage_key)
        ECALL,                                    //
        lui(9, 3),                                // s1 = 0x3000 (write cursor)
        addi(8, 0, 0),                            // s0 = total
        addi(10, 9, 0),                           // loop: a0 = cursor
        addi(11, 0, 32),                          // a1 = 32
        lui(17, 1),                               //
        addi(17, 17, 1),                          // a7 = 0x1001 (preimage_read)
        ECALL,                                    //
        (10 << 20) | (9 << 15) | (9 << 7) | 0x33, // s1 += a0
        (10 << 20) | (8 << 15) | (8 << 7) | 0x33, // s0 += a0
        (0x7f << 25) | (10 << 15) | (1 << 12) | (0x1d << 7) | 0x63 | (1 << 31), // bne a0, x0, loop (-24)
        addi(10, 8, 0),                                                         // a0 = total
        addi(17, 0, 93),                                                        //
        ECALL,
    ]
    .to_vec()
}

fn bne_back(words: &mut [u32]) {
    // bne a0, x0, -28: imm = -28 -> bits [12|10:5|4:1|11]
    let imm = (-28i32) as u32;
    words[13] = (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (10 << 15)
        | (1 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63;
}

#[test]
fn oracle_reads_a_preimage_into_memory_and_every_step_verifies() {
    let data: Vec<u8> = (0..100u32).map(|i| (i * 7) as u8).collect();
    let mut pre = Preimages::default();
    let key = pre.insert_keccak(data.clone());
    let mut words = oracle_program();
    bne_back(&mut words);
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&words));
    mem.load(0x2000, key.as_slice());
    let mut vm = Vm::new(Cpu::new(0x1000), mem, pre.clone());
    let mut checker = pre;
    let mut steps = 0;
    while vm.cpu.exit.is_none() {
        let proof = vm.prove_step().expect("preimage known");
        let (_, post) = verify_step(&proof.pre_state, &proof.mem_proofs, &mut checker)
            .expect("the proof verifies");
        assert_eq!(post, proof.post_hash, "step {}", proof.step);
        steps += 1;
        assert!(steps < 1000);
    }
    assert_eq!(vm.cpu.exit, Some(108), "8 length bytes + 100 data bytes");
    let mut got = [0u8; 108];
    for (i, chunk) in got.chunks_mut(32).enumerate() {
        vm.mem.read_bytes(0x3000 + 32 * i as u64, chunk);
    }
    assert_eq!(&got[..8], &100u64.to_be_bytes());
    assert_eq!(&got[8..], &data[..]);
    assert_eq!(vm.state().status(), STATUS_PANIC, "exit code 108 is neither valid nor invalid");

    // An oracle that lacks the preimage stops the host, not the machine.
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&words));
    mem.load(0x2000, keccak_key(b"unknown").as_slice());
    let mut cpu = Cpu::new(0x1000);
    let err = cpu.run(&mut mem, &mut Preimages::default(), 100).unwrap_err();
    assert_eq!(err, OracleError::Missing(keccak_key(b"unknown")));
    assert_eq!(cpu.exit, None);
}

#[test]
fn interpreter_and_reference_verifier_agree_on_random_instruction_streams() {
    let mut rng = Rng(0x5eed);
    let mut steps = 0u64;
    let (mut faults, mut exits, mut oracle_reads, mut crossings) = (0, 0, 0, 0);
    for program in 0..2500u64 {
        let mut vm = random_machine(&mut rng, program);
        for _ in 0..60 {
            if vm.cpu.exit.is_some() {
                break;
            }
            let proof = vm.prove_step().expect("AnyKey serves every key");
            let (post, hash) = verify_step(&proof.pre_state, &proof.mem_proofs, &mut AnyKey)
                .unwrap_or_else(|e| panic!("program {program} step {}: {e}", proof.step));
            assert_eq!(
                hash,
                proof.post_hash,
                "program {program} step {}: the verifier's post-state {post:?} differs from the VM's {:?}",
                proof.step,
                vm.state()
            );
            steps += 1;
            oracle_reads += usize::from(proof.preimage.is_some());
            crossings += usize::from(proof.mem_proofs.len() > 2 * MEM_PROOF_SIZE);
        }
        match vm.cpu.exit {
            Some(FAULT_EXIT_CODE) => faults += 1,
            Some(_) => exits += 1,
            None => {}
        }
    }
    // The stream exercised what it is meant to.
    assert!(steps > 8_000, "{steps} steps");
    assert!(faults > 50 && exits > 5, "{faults} faults, {exits} exits");
    assert!(oracle_reads > 5, "{oracle_reads} oracle reads");
    assert!(crossings > 5, "{crossings} steps with more than two memory proofs");
}

/// A few steps of the oracle program, proven, for the attacker tests.
fn proofs_of_oracle_program() -> (Vec<StepProof>, Preimages) {
    let mut pre = Preimages::default();
    let key = pre.insert_keccak(vec![42; 40]);
    let mut words = oracle_program();
    bne_back(&mut words);
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&words));
    mem.load(0x2000, key.as_slice());
    let mut vm = Vm::new(Cpu::new(0x1000), mem, pre.clone());
    let mut out = Vec::new();
    while vm.cpu.exit.is_none() {
        out.push(vm.prove_step().unwrap());
    }
    (out, pre)
}

#[test]
fn forged_step_proofs_are_refused() {
    let (proofs, mut oracle) = proofs_of_oracle_program();
    let mut checked = 0;
    for p in &proofs {
        assert_eq!(verify_step(&p.pre_state, &p.mem_proofs, &mut oracle).unwrap().1, p.post_hash);
        // Any flipped bit in any memory proof (leaf or sibling) is refused or
        // changes nothing the step reads... there is no such bit: every byte is checked.
        for at in (0..p.mem_proofs.len()).step_by(97) {
            let mut forged = p.mem_proofs.clone();
            forged[at] ^= 1;
            let got = verify_step(&p.pre_state, &forged, &mut oracle);
            assert!(
                matches!(got, Err(VerifyError::BadProof { .. })),
                "step {}: byte {at} flipped gave {got:?}",
                p.step
            );
            checked += 1;
        }
        // A missing proof.
        if !p.mem_proofs.is_empty() {
            let short = &p.mem_proofs[..p.mem_proofs.len() - MEM_PROOF_SIZE];
            assert!(matches!(
                verify_step(&p.pre_state, short, &mut oracle),
                Err(VerifyError::MissingProof { .. })
            ));
        }
        // A proof of another leaf's value, under the same root, for the fetch.
        let mut other = SparseMemory::default();
        other.write(0, 8, 1);
        let swapped = [other.proof(0), p.mem_proofs[MEM_PROOF_SIZE..].to_vec()].concat();
        assert!(verify_step(&p.pre_state, &swapped, &mut oracle).is_err());
    }
    assert!(checked > 100);

    // A pre-state that is not one: x0 set, flags out of range, wrong length.
    let p = &proofs[0];
    let mut bad = p.pre_state.clone();
    bad[STATE_SIZE - 256 + 7] = 1; // x0's low byte
    assert_eq!(verify_step(&bad, &p.mem_proofs, &mut oracle), Err(VerifyError::BadState));
    let mut bad = p.pre_state.clone();
    bad[80] = 2;
    assert_eq!(verify_step(&bad, &p.mem_proofs, &mut oracle), Err(VerifyError::BadState));
    assert_eq!(
        verify_step(&p.pre_state[..STATE_SIZE - 1], &p.mem_proofs, &mut oracle),
        Err(VerifyError::BadState)
    );

    // An oracle read L1 has not been given the preimage for cannot be stepped.
    let read = proofs.iter().find(|p| p.preimage.is_some()).expect("the program reads");
    assert!(matches!(
        verify_step(&read.pre_state, &read.mem_proofs, &mut Preimages::default()),
        Err(VerifyError::Oracle(OracleError::Missing(_)))
    ));
    // A different preimage under the same key (a lying host) gives another post-state.
    let (key, _) = read.preimage.unwrap();
    let mut liar = Preimages::default();
    liar.insert(key, vec![43; 40]);
    let (_, post) = verify_step(&read.pre_state, &read.mem_proofs, &mut liar).unwrap();
    assert_ne!(post, read.post_hash);
}

#[test]
fn exited_states_are_fixed_points_and_status_is_in_the_hash() {
    let (proofs, mut oracle) = proofs_of_oracle_program();
    let last = proofs.last().unwrap();
    let (post, hash) = verify_step(&last.pre_state, &last.mem_proofs, &mut oracle).unwrap();
    assert!(post.exited);
    let (again, hash2) = verify_step(&post.encode(), &[], &mut oracle).unwrap();
    assert_eq!((again, hash2), (post, hash), "stepping past the end changes nothing");
    assert_eq!(hash[0], post.status());
    let mut s = post;
    s.exit_code = 0;
    assert_eq!(s.hash()[0], STATUS_VALID);
    s.exit_code = 1;
    assert_eq!(s.hash()[0], STATUS_INVALID);
    s.exited = false;
    assert_eq!(s.hash()[0], STATUS_UNFINISHED);
}

#[test]
fn seeking_through_snapshots_gives_the_same_states() {
    // A loop: count a0 up to 5000, then exit.
    let words = [
        addi(10, 10, 1),
        lui(11, 1),        // a1 = 4096
        addi(11, 11, 904), // a1 = 5000
        (11 << 20) | (10 << 15) | (1 << 12) | 0x63 | (0x7f << 25) | (0x1b << 7) | (1 << 31), // placeholder
        addi(17, 0, 93),
        ECALL,
    ];
    let mut words = words.to_vec();
    let imm = (-12i32) as u32; // bne a0, a1, -12
    words[3] = (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (11 << 20)
        | (10 << 15)
        | (1 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63;
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&words));
    let fresh = |k: u64| {
        let mut vm = Vm::new(Cpu::new(0x1000), mem.clone(), Preimages::default());
        vm.snapshot_every = 0;
        vm.run_to(k).unwrap();
        vm.state().hash()
    };
    let mut vm = Vm::new(Cpu::new(0x1000), mem.clone(), Preimages::default());
    vm.snapshot_every = 1000;
    let end = vm.run_to(u64::MAX).unwrap();
    assert_eq!(end.exit, Some(5000));
    assert_eq!(end.steps, 4 * 5000 + 2);
    for k in [0, 1, 999, 1000, 1001, 7777, 19_999, 20_002, 30_000] {
        vm.seek(k).unwrap();
        assert_eq!(vm.cpu.steps, k.min(20_002));
        assert_eq!(vm.state().hash(), fresh(k), "step {k}");
    }
    // With at most 4 snapshots kept, the interval doubles as the run goes
    // (1000, 2000, 4000, 8000: 0, 8000 and 16000 remain) and seeks still land.
    let mut thin = Vm::new(Cpu::new(0x1000), mem.clone(), Preimages::default());
    thin.snapshot_every = 1000;
    thin.max_snapshots = 4;
    thin.run_to(u64::MAX).unwrap();
    assert_eq!(thin.snapshot_every, 8000);
    assert_eq!(thin.snapshots.iter().map(|(c, ..)| c.steps).collect::<Vec<_>>(), [0, 8000, 16000]);
    for k in [20_001, 3, 8_001, 15_999, 16_000, 9_999] {
        thin.seek(k).unwrap();
        assert_eq!(thin.state().hash(), fresh(k), "thinned, step {k}");
    }
}

/// One `preimage_read` step from a chosen state, proven and verified.
fn read_step(
    key: B256,
    max: u64,
    oracle: &mut Preimages,
) -> (StepProof, Result<B256, VerifyError>) {
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&[ECALL]));
    let mut cpu = Cpu::new(0x1000);
    cpu.regs[17] = SYS_PREIMAGE_READ;
    cpu.regs[10] = 0x3000;
    cpu.regs[11] = max;
    cpu.preimage_key = key;
    let mut vm = Vm::new(cpu, mem, oracle.clone());
    let proof = vm.prove_step().expect("the host has what it needs");
    let got = verify_step(&proof.pre_state, &proof.mem_proofs, oracle).map(|(_, h)| h);
    (proof, got)
}

#[test]
fn reads_l1_could_not_serve_fault_and_empty_reads_need_no_oracle() {
    // A key type L1's oracle does not serve: a fault, in both implementations,
    // even when the host happens to hold data under that key.
    let mut odd = keccak_key(b"x");
    odd.0[0] = 9;
    let mut host = Preimages::default();
    host.insert(odd, vec![1, 2, 3]);
    let (proof, got) = read_step(odd, 8, &mut host);
    assert_eq!(got, Ok(proof.post_hash));
    assert_eq!(proof.post_hash[0], STATUS_PANIC, "the read faulted");
    // The initial all-zero key is of no type either.
    let (proof, _) = read_step(B256::ZERO, 8, &mut host);
    assert_eq!(proof.post_hash[0], STATUS_PANIC);
    // Reading at most 0 bytes asks nothing of the oracle: L1 can step it with
    // an empty oracle.
    let key = keccak_key(b"unloaded");
    let (proof, got) = read_step(key, 0, &mut Preimages::default());
    assert_eq!(got, Ok(proof.post_hash));
    assert_eq!(proof.preimage, None);
    assert_eq!(proof.post_hash[0], STATUS_UNFINISHED);
}

#[test]
fn one_encoding_per_state() {
    let (proofs, _) = proofs_of_oracle_program();
    let mut s = VmState::decode(&proofs[0].pre_state).unwrap();
    assert_eq!(VmState::decode(&s.encode()), Some(s));
    let mut b = s.encode();
    b[88] = 5; // exit code 5 on a running machine
    assert_eq!(VmState::decode(&b), None);
    s.reservation = Some(0x1002);
    assert_eq!(VmState::decode(&s.encode()), None, "a misaligned reservation");
}

#[test]
fn hostile_elf_headers_are_refused_not_looped_or_panicking() {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[16..18].copy_from_slice(&2u16.to_le_bytes());
    h[18..20].copy_from_slice(&243u16.to_le_bytes());
    h[24..32].copy_from_slice(&0x1000u64.to_le_bytes());
    let with = |phoff: u64, phentsize: u16, phnum: u16| {
        let mut e = h.clone();
        e[32..40].copy_from_slice(&phoff.to_le_bytes());
        e[54..56].copy_from_slice(&phentsize.to_le_bytes());
        e[56..58].copy_from_slice(&phnum.to_le_bytes());
        load_elf(&e, &mut SparseMemory::default())
    };
    assert_eq!(with(u64::MAX, 56, 1), Err(ElfError::Truncated));
    assert_eq!(with(0, 0, 65_535), Err(ElfError::Malformed));
    assert_eq!(with(64, 56, 65_535), Err(ElfError::Truncated));
    assert_eq!(with(64, 56, 0), Ok(0x1000));
    let mut odd = h.clone();
    odd[24..32].copy_from_slice(&0x1002u64.to_le_bytes());
    odd[54..56].copy_from_slice(&56u16.to_le_bytes());
    assert_eq!(load_elf(&odd, &mut SparseMemory::default()), Err(ElfError::Malformed));
}

#[test]
fn seeking_back_does_not_repeat_output() {
    // write(1, 0x2000, 3) then exit 0.
    let words = [
        addi(10, 0, 1),
        lui(11, 2),
        addi(12, 0, 3),
        addi(17, 0, 64),
        ECALL,
        addi(10, 0, 0),
        addi(17, 0, 93),
        ECALL,
    ];
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &asm(&words));
    mem.load(0x2000, b"abc");
    let mut vm = Vm::new(Cpu::new(0x1000), mem, Preimages::default());
    vm.snapshot_every = 2;
    vm.run_to(u64::MAX).unwrap();
    assert_eq!(vm.output, b"abc");
    vm.seek(1).unwrap();
    vm.run_to(u64::MAX).unwrap();
    assert_eq!(vm.output, b"abc");
}
