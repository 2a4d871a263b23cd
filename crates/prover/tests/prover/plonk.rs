//! The PLONK prover natively: honest chunk proofs verify, tampered ones and those
//! of another key do not; the dev chain's verifier contract, committed under
//! contracts/src/zk/generated, is the one generated from the dev key.

use alloy::primitives::{Address, B256, U256};
use infra_prover::{PlonkProver, Prover, Shape};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};

const SHAPE: Shape = Shape::new(2, 16);

fn key(h: &TreeHasher, i: u64) -> B256 {
    keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()))
}

fn value(h: &TreeHasher, i: u64) -> B256 {
    keys::storage_value_hash(h, U256::from(i))
}

#[test]
fn proves_and_verifies_natively() {
    let h = TreeHasher::new(Curve::Bn254);
    let prover = PlonkProver::insecure_dev_setup(SHAPE).expect("setup");
    let (k, columns) = prover.layout();
    println!("PLONK layout for {SHAPE:?}: k = {k}, advice columns {columns:?}");
    let mut store = MemoryNodeStore::default();
    let u = SparseMerkleTree::new(&h)
        .update(&store, B256::ZERO, (0..10).map(|i| (key(&h, i), Some(value(&h, i)))).collect())
        .expect("build");
    store.apply(&u.changes);
    let mut writes = vec![
        (key(&h, 2), Some(value(&h, 50))),
        (key(&h, 40), Some(value(&h, 1))),
        (key(&h, 7), None),
    ];
    writes.sort_by_key(|w| w.0);
    let proofs =
        prover.prove_batch(&h, &store, u.root, &writes, B256::repeat_byte(7)).expect("prove");
    assert_eq!(proofs.len(), 2);
    for p in &proofs {
        assert!(prover.verify(p).expect("verify"), "an honest chunk proof");
        let mut flipped = p.clone();
        let n = flipped.proof.len();
        flipped.proof[n / 2] ^= 1;
        assert!(!prover.verify(&flipped).expect("verify"), "a flipped byte");
        let mut other = p.clone();
        other.public[4] = B256::from(U256::from_be_bytes(other.public[4].0) ^ U256::ONE);
        assert!(!prover.verify(&other).expect("verify"), "another y");
        let mut huge = p.clone();
        huge.public[0] = B256::repeat_byte(0xff);
        assert!(!prover.verify(&huge).expect("verify"), "a public input outside the field");
    }
    let stranger = PlonkProver::setup_from_seed(SHAPE, "another ceremony").expect("setup");
    assert_ne!(stranger.verifying_key_hash(), prover.verifying_key_hash());
    assert!(!stranger.verify(&proofs[0]).expect("verify"), "another key");
    let again = PlonkProver::insecure_dev_setup(SHAPE).expect("setup");
    assert_eq!(again.verifying_key_hash(), prover.verifying_key_hash(), "keys are deterministic");
    // A tree over the other curve is refused, not proven.
    let bls = TreeHasher::new(Curve::Bls12_381);
    let err = prover.prove_batch(&bls, &store, u.root, &writes, B256::ZERO).expect_err("refused");
    assert!(err.to_string().to_lowercase().contains("bls12-381"), "{err}");
}

/// The dev chain deploys `contracts/src/zk/generated/PlonkVerifierDev.sol` (compiled with
/// the other contracts): it must be exactly what the dev key generates. Run with
/// `INFRA_WRITE_PLONK_DEV_VERIFIER=1` to rewrite it after a circuit change (then
/// `node contracts/compile.mjs`).
#[test]
fn the_committed_dev_verifier_is_the_dev_keys() {
    let dev = infra_config::ProofConfig::default();
    let shape = Shape::new(dev.chunk_writes as usize, dev.depth as usize);
    let started = std::time::Instant::now();
    let prover = PlonkProver::insecure_dev_setup(shape).expect("setup");
    println!("dev PLONK setup and keys: {:?}, layout {:?}", started.elapsed(), prover.layout());
    let generated = prover.solidity_verifier("PlonkVerifierDev");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/src/zk/generated/PlonkVerifierDev.sol");
    if std::env::var_os("INFRA_WRITE_PLONK_DEV_VERIFIER").is_some() {
        std::fs::write(&path, &generated).expect("write");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not the verifier of the dev PLONK key: rerun this test with INFRA_WRITE_PLONK_DEV_VERIFIER=1, then node contracts/compile.mjs",
        path.display()
    );
}

/// The fast dev parameters are exactly halo2's `setup` for the same secret.
#[test]
fn fast_dev_parameters_equal_halo2_setup() {
    use infra_circuits::plonk::halo2_base::halo2_proofs::{
        halo2curves::bn256::Bn256,
        poly::{commitment::Params, kzg::commitment::ParamsKZG},
    };
    use rand_chacha::rand_core::SeedableRng;
    let seed = [42u8; 32];
    let bytes = |p: &ParamsKZG<Bn256>| {
        let mut out = Vec::new();
        p.write(&mut out).expect("write");
        out
    };
    for k in [1, 6] {
        let fast = infra_prover::plonk::params_from_seed(k, seed);
        let slow = ParamsKZG::<Bn256>::setup(k, rand_chacha::ChaCha20Rng::from_seed(seed));
        assert!(bytes(&fast) == bytes(&slow), "k = {k}");
    }
}
