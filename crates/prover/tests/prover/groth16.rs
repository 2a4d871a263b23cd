//! Groth16 over both curves on real state-tree batches: proofs verify from their
//! EVM bytes; a flipped byte, another public input, another batch or another
//! verifying key do not.

use alloy::primitives::{Address, B256, U256};
use infra_circuits::Shape;
use infra_config::{ProofBackend, ProofConfig};
use infra_prover::{ChunkProof, Groth16Prover, Prover, evm::EvmPairing};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};

const SHAPE: Shape = Shape::new(2, 16);

fn batch(h: &TreeHasher) -> (MemoryNodeStore, B256, Vec<(B256, Option<B256>)>) {
    let tree = SparseMerkleTree::new(h);
    let mut store = MemoryNodeStore::default();
    let key = |i: u64| keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()));
    let value = |i: u64| keys::storage_value_hash(h, U256::from(i));
    let u = tree
        .update(&store, B256::ZERO, (0..12).map(|i| (key(i), Some(value(i)))).collect())
        .expect("build");
    store.apply(&u.changes);
    let mut writes = vec![(key(1), Some(value(100))), (key(20), Some(value(7))), (key(3), None)];
    writes.sort_by_key(|w| w.0);
    (store, u.root, writes)
}

fn flip(p: &ChunkProof, byte: usize) -> ChunkProof {
    let mut q = p.clone();
    q.proof[byte] ^= 1;
    q
}

fn check<E: EvmPairing>() {
    let h = TreeHasher::new(E::CURVE);
    let prover = Groth16Prover::<E>::insecure_dev_setup(SHAPE).expect("setup");
    let (store, pre, writes) = batch(&h);
    let binding = B256::repeat_byte(0xda);
    let proofs = prover.prove_batch(&h, &store, pre, &writes, binding).expect("prove");
    assert_eq!(proofs.len(), 2, "3 writes in chunks of 2");
    assert_eq!(proofs[0].public[0], pre);
    assert_eq!(proofs[0].public[1], proofs[1].public[0], "chunks chain");
    let tree = SparseMerkleTree::new(&h);
    let post = tree.update(&store, pre, writes.clone()).expect("apply").root;
    assert_eq!(proofs[1].public[1], post);
    assert_eq!(proofs[0].proof.len(), 8 * E::WIDTH);
    for p in &proofs {
        assert!(prover.verify(p).expect("verify"), "an honest proof verifies");
    }
    let p = &proofs[0];
    // A flipped byte in each of A, B and C.
    for byte in [E::WIDTH + 5, 3 * E::WIDTH + 7, 7 * E::WIDTH + 1] {
        assert!(!prover.verify(&flip(p, byte)).expect("verify"), "flipped byte {byte} accepted");
    }
    // Each public input changed.
    for i in 0..5 {
        let mut q = p.clone();
        q.public[i].0[31] ^= 1;
        assert!(!prover.verify(&q).expect("verify"), "public input {i} changed, accepted");
    }
    // The same proof for another batch (another binding gives another z).
    let other =
        prover.prove_batch(&h, &store, pre, &writes, B256::repeat_byte(0xdb)).expect("prove");
    assert_ne!(other[0].public[3], p.public[3], "z depends on the batch");
    let mut q = p.clone();
    q.public = other[0].public;
    assert!(!prover.verify(&q).expect("verify"), "proof moved to another batch");
    // A proof made with another verifying key.
    let stranger = Groth16Prover::<E>::setup_from_seed(SHAPE, "another ceremony").expect("setup");
    assert_ne!(stranger.verifying_key_hash(), prover.verifying_key_hash());
    let foreign = stranger.prove_batch(&h, &store, pre, &writes, binding).expect("prove");
    assert_eq!(foreign[0].public, p.public);
    assert!(stranger.verify(&foreign[0]).expect("verify"));
    assert!(!prover.verify(&foreign[0]).expect("verify"), "proof from another key accepted");
    // Keys are deterministic per seed, and survive a save/load.
    let again = Groth16Prover::<E>::insecure_dev_setup(SHAPE).expect("setup");
    assert_eq!(again.verifying_key_hash(), prover.verifying_key_hash());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("chunk.pk");
    prover.save(&file).expect("save");
    let loaded = Groth16Prover::<E>::load(SHAPE, &file).expect("load");
    assert_eq!(loaded.verifying_key_hash(), prover.verifying_key_hash());
    assert!(loaded.verify(p).expect("verify"));
}

#[test]
fn groth16_bn254() {
    check::<ark_bn254::Bn254>();
}

#[test]
fn groth16_bls12_381() {
    check::<ark_bls12_381::Bls12_381>();
}

#[test]
fn unavailable_backends_fail_loudly() {
    let cuda = ProofConfig { backend: ProofBackend::Cuda, ..Default::default() };
    match infra_prover::from_config(&cuda, SHAPE, None) {
        Err(err) if cfg!(feature = "cuda") => {
            // Built with the backend: only a machine without a GPU refuses it.
            assert!(!infra_prover::cuda_driver_present(), "a GPU is here, yet: {err}");
            assert!(err.to_string().contains("no NVIDIA driver"), "{err}");
        }
        Err(err) => {
            assert!(err.to_string().contains("built without the `cuda` feature"), "{err}")
        }
        // Only a `cuda` build on a machine with a GPU gets a prover.
        Ok(p) => assert!(
            infra_prover::cuda_driver_present(),
            "a cuda prover without a GPU: {:?}",
            p.curve()
        ),
    }
    let plonk_cuda = ProofConfig {
        system: infra_config::ProofSystem::Plonk,
        backend: ProofBackend::Cuda,
        ..Default::default()
    };
    let err = infra_prover::from_config(&plonk_cuda, SHAPE, None).err().expect("plonk on cuda");
    assert!(err.to_string().contains("proof.system = \"plonk\" proves on the CPU"), "{err}");
    let plonk_bls = ProofConfig {
        system: infra_config::ProofSystem::Plonk,
        curve: Curve::Bls12_381,
        ..Default::default()
    };
    let err = infra_prover::from_config(&plonk_bls, SHAPE, None).err().expect("plonk over bls");
    assert!(err.to_string().contains("proof.system = \"plonk\" proves over BN254"), "{err}");
    let ok = infra_prover::from_config(
        &ProofConfig { curve: Curve::Bls12_381, ..Default::default() },
        Shape::new(1, 4),
        None,
    )
    .expect("cpu groth16");
    assert_eq!((ok.curve(), ok.shape()), (Curve::Bls12_381, Shape::new(1, 4)));
}
