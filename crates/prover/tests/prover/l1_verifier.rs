//! The verifiers on an L1 (revm, Osaka): a zk rollup finalizes a batch with the
//! node's proof, Groth16 over BN254 (EIP-196/197) and BLS12-381 (EIP-2537), and
//! PLONK over BN254 (a verifier generated from the key, compiled by the pinned
//! solc); a flipped byte, another batch, a wrong pre-root, a tampered diff,
//! dropped or reordered chunks, a wrong claimed root and another verifying key are
//! all rejected on L1. Prints the gas of one proof's verification per system.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use infra_circuits::Shape;
use infra_l1::{
    BatchVerifierBn254,
    BatchVerifierBn254::BatchVerifierBn254Errors as VerifierError,
    Rollup,
    Rollup::RollupErrors,
    plonk_verifier_initcode, range_commitment,
    sim::{Failure, SimL1},
    verifier_initcode,
};
use infra_prover::{ChunkProof, Groth16Prover, PlonkProver, Prover, evm::EvmPairing, l1_proof};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};

const SHAPE: Shape = Shape::new(2, 16);
const OWNER: Address = Address::repeat_byte(0x01);
const BATCHER: Address = Address::repeat_byte(0x02);
const ANYONE: Address = Address::repeat_byte(0x0a);

fn key(h: &TreeHasher, i: u64) -> B256 {
    keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()))
}

fn value(h: &TreeHasher, i: u64) -> B256 {
    keys::storage_value_hash(h, U256::from(i))
}

/// A tree of `n` leaves.
fn tree(h: &TreeHasher, n: u64) -> (MemoryNodeStore, B256) {
    let mut store = MemoryNodeStore::default();
    let u = SparseMerkleTree::new(h)
        .update(&store, B256::ZERO, (0..n).map(|i| (key(h, i), Some(value(h, i)))).collect())
        .expect("build");
    store.apply(&u.changes);
    (store, u.root)
}

fn sorted(mut w: Vec<(B256, Option<B256>)>) -> Vec<(B256, Option<B256>)> {
    w.sort_by_key(|x| x.0);
    w
}

fn deploy_groth16(l1: &mut SimL1, prover: &dyn Prover) -> Address {
    let vk = prover.verifying_key_bytes();
    l1.deploy(OWNER, verifier_initcode(prover.curve() == Curve::Bls12_381, vk.into()))
}

fn deploy_plonk(l1: &mut SimL1, prover: &PlonkProver) -> Address {
    let code = infra_l1::solc::compile(&prover.solidity_verifier("PlonkVerifier"), "PlonkVerifier")
        .expect("solc");
    let plonk = l1.deploy(OWNER, code);
    l1.deploy(OWNER, plonk_verifier_initcode(plonk, prover.verifying_key_hash()))
}

fn deploy_rollup(l1: &mut SimL1, genesis_root: B256, verifier: Address) -> Address {
    let mut setup = infra_l1::sim::SimRollup::optimistic(OWNER, BATCHER, 100);
    setup.mode = 1;
    setup.verifier = verifier;
    setup.genesis.stateRoot = genesis_root;
    l1.deploy_rollup(OWNER, &setup, None).rollup
}

/// Submits blocks `first..=last` with `data` and claimed `root`; returns the
/// batch's data commitment.
fn submit(l1: &mut SimL1, rollup: Address, first: u64, last: u64, data: &[u8], root: B256) -> B256 {
    let call = Rollup::submitBatchCall {
        firstBlock: first,
        lastBlock: last,
        data: Bytes::copy_from_slice(data),
        output: Rollup::Output {
            stateRoot: root,
            l2BlockNumber: last,
            l2BlockHash: keccak256(root),
            nextBaseFee: 1_000_000_000,
            nextDepositNonce: 0,
        },
    };
    l1.send(BATCHER, rollup, &call, U256::ZERO).expect("submitted");
    keccak256(data)
}

fn prove_call(last: u64, proofs: &[ChunkProof]) -> Rollup::proveBatchesCall {
    Rollup::proveBatchesCall { last: U256::from(last), proof: l1_proof(proofs) }
}

/// The verifier's error behind a failed `proveBatches` (both verifiers share
/// `BatchVerifier`'s errors, so one decoder serves both curves).
fn verifier_error(f: Failure) -> VerifierError {
    f.decode()
}

/// `prover` settles on L1 through the verifier `deploy` puts there; `flips`:
/// byte offsets to tamper with in a proof of the given length; `stranger`: a
/// prover with another key.
fn check(
    prover: &dyn Prover,
    stranger: &dyn Prover,
    deploy: &dyn Fn(&mut SimL1) -> Address,
    flips: &dyn Fn(usize) -> Vec<usize>,
    system: &str,
) {
    let curve = prover.curve();
    let h = TreeHasher::new(curve);
    let (store, pre) = tree(&h, 12);
    let writes = sorted(vec![
        (key(&h, 1), Some(value(&h, 100))),
        (key(&h, 20), Some(value(&h, 7))),
        (key(&h, 3), None),
    ]);
    let smt = SparseMerkleTree::new(&h);
    let post = smt.update(&store, pre, writes.clone()).expect("apply").root;

    let mut l1 = SimL1::new(&[OWNER, BATCHER, ANYONE], U256::from(10u128.pow(24)));
    let verifier = deploy(&mut l1);
    let rollup = deploy_rollup(&mut l1, pre, verifier);
    assert_eq!(l1.view(rollup, &Rollup::vkHashCall {}), prover.verifying_key_hash());
    let data = submit(&mut l1, rollup, 1, 2, b"batch one", post);
    let binding = range_commitment(1, 1, &[data]);
    assert_eq!(
        l1.view(rollup, &Rollup::rangeCommitmentCall { first: U256::ONE, last: U256::ONE }),
        binding,
        "L1 and the node bind proofs to the same commitment"
    );
    let proofs = prover.prove_batch(&h, &store, pre, &writes, binding).expect("prove");
    assert_eq!(proofs.len(), 2);

    let rejected = |l1: &mut SimL1, call: &Rollup::proveBatchesCall| {
        verifier_error(l1.send(ANYONE, rollup, call, U256::ZERO).expect_err("L1 accepted"))
    };
    // A flipped byte at each place asked, in either chunk.
    for chunk in 0..2 {
        for byte in flips(proofs[chunk].proof.len()) {
            let mut bad = proofs.clone();
            bad[chunk].proof[byte] ^= 1;
            assert!(matches!(
                rejected(&mut l1, &prove_call(1, &bad)),
                VerifierError::ProofRejected(r) if r.chunk == U256::from(chunk)
            ));
        }
    }
    // A proof made for another batch (another data commitment, so another z).
    let other = prover
        .prove_batch(&h, &store, pre, &writes, range_commitment(1, 1, &[keccak256(b"batch two")]))
        .expect("prove");
    assert!(matches!(rejected(&mut l1, &prove_call(1, &other)), VerifierError::ProofRejected(_)));
    // A proof from another pre-root (the same writes on another tree).
    let (store2, pre2) = tree(&h, 11);
    let wrong_pre = prover.prove_batch(&h, &store2, pre2, &writes, binding).expect("prove");
    assert!(matches!(
        rejected(&mut l1, &prove_call(1, &wrong_pre)),
        VerifierError::ProofRejected(r) if r.chunk == U256::ZERO
    ));
    // The posted diff tampered with (a value changed): z and y change.
    let mut tampered = proofs.clone();
    tampered[1].diff[0].1 = value(&h, 8);
    assert!(matches!(
        rejected(&mut l1, &prove_call(1, &tampered)),
        VerifierError::ProofRejected(_)
    ));
    // A diff element outside the field.
    let mut huge = proofs.clone();
    huge[0].diff[0].1 = B256::repeat_byte(0xff);
    assert!(matches!(rejected(&mut l1, &prove_call(1, &huge)), VerifierError::NotAFieldElement(_)));
    // Chunks dropped or reordered.
    assert!(matches!(
        rejected(&mut l1, &prove_call(1, &proofs[..1])),
        VerifierError::RootMismatch(_)
    ));
    let swapped = vec![proofs[1].clone(), proofs[0].clone()];
    assert!(matches!(rejected(&mut l1, &prove_call(1, &swapped)), VerifierError::ProofRejected(_)));
    assert!(matches!(rejected(&mut l1, &prove_call(1, &[])), VerifierError::NoChunks(_)));
    // Another verifying key: its proofs fail (the verifier, and so the key, is
    // fixed for the rollup's life).
    let foreign = stranger.prove_batch(&h, &store, pre, &writes, binding).expect("prove");
    assert!(matches!(rejected(&mut l1, &prove_call(1, &foreign)), VerifierError::ProofRejected(_)));
    assert!(
        matches!(
            l1.try_view(rollup, &Rollup::finalizedStateRootCall { index: U256::ONE }),
            Err(Failure::Revert(_))
        ),
        "nothing finalized by a rejected proof"
    );

    // The honest proof finalizes the batch.
    let ok = l1.send(ANYONE, rollup, &prove_call(1, &proofs), U256::ZERO).expect("proven");
    assert_eq!(l1.view(rollup, &Rollup::finalizedStateRootCall { index: U256::ONE }), post);
    let err: RollupErrors =
        l1.send(ANYONE, rollup, &prove_call(1, &proofs), U256::ZERO).expect_err("twice").decode();
    assert!(matches!(err, RollupErrors::NotPending(_)), "a batch is proven once");

    // Two batches proven together: the net diff from batch 1's root to batch 3's.
    let step2 = sorted(vec![(key(&h, 30), Some(value(&h, 1))), (key(&h, 4), Some(value(&h, 2)))]);
    let mut store_after = store.clone();
    let u = smt.update(&store, pre, writes.clone()).expect("apply");
    store_after.apply(&u.changes);
    let mid = smt.update(&store_after, post, step2.clone()).expect("apply").root;
    let c2 = submit(&mut l1, rollup, 3, 3, b"batch two", mid);
    let step3 = sorted(vec![(key(&h, 30), None)]);
    let mut net: Vec<(B256, Option<B256>)> = step2.clone();
    net.retain(|w| w.0 != key(&h, 30));
    let end = smt.update(&store_after, post, net.clone()).expect("apply").root;
    let c3 = submit(&mut l1, rollup, 4, 5, b"batch three", end);
    let _ = step3;
    let range = prover
        .prove_batch(&h, &store_after, post, &net, range_commitment(2, 3, &[c2, c3]))
        .expect("prove");
    // Bound to the range: proving only batch 2 with it fails.
    assert!(matches!(rejected(&mut l1, &prove_call(2, &range)), VerifierError::ProofRejected(_)));
    l1.send(ANYONE, rollup, &prove_call(3, &range), U256::ZERO).expect("range proven");
    assert_eq!(l1.view(rollup, &Rollup::finalizedStateRootCall { index: U256::from(3) }), end);
    // Batch 2's own root was not proven (the proof went from batch 1's root to
    // batch 3's): it is superseded, and no withdrawal can be proven against it.
    let err: RollupErrors = l1
        .try_view(rollup, &Rollup::finalizedStateRootCall { index: U256::from(2) })
        .expect_err("batch 2's root is not final")
        .decode();
    assert!(matches!(err, RollupErrors::NotFinalized(_)));
    assert_ne!(mid, end);

    // A claimed root that the diff does not reach never finalizes.
    let rollup2 = deploy_rollup(&mut l1, pre, verifier);
    let data2 = submit(&mut l1, rollup2, 1, 2, b"batch one", B256::repeat_byte(0x11));
    let honest = prover
        .prove_batch(&h, &store, pre, &writes, range_commitment(1, 1, &[data2]))
        .expect("prove");
    let err = verifier_error(
        l1.send(ANYONE, rollup2, &prove_call(1, &honest), U256::ZERO).expect_err("wrong root"),
    );
    assert!(matches!(err, VerifierError::RootMismatch(_)));

    // Gas: one chunk proof alone, and `proveBatches` with two chunks.
    let inputs: [U256; 5] = proofs[0].public.map(|w| U256::from_be_bytes(w.0));
    let one = BatchVerifierBn254::verifyProofCall {
        proof: proofs[0].proof.clone().into(),
        input: inputs,
    };
    assert!(l1.view(verifier, &one), "verifyProof accepts the honest chunk");
    let mut flipped = one.clone();
    flipped.input[4] ^= U256::ONE;
    assert!(!l1.view(verifier, &flipped), "verifyProof rejects another y");
    let gas = l1.send(ANYONE, verifier, &one, U256::ZERO).expect("verify").gas;
    println!(
        "L1 gas ({system}): verifyProof of one chunk {gas} (whole tx); proveBatches with 2 chunks {}",
        ok.gas
    );
}

fn groth16<E: EvmPairing>() {
    let prover = Groth16Prover::<E>::insecure_dev_setup(SHAPE).expect("setup");
    let stranger = Groth16Prover::<E>::setup_from_seed(SHAPE, "another ceremony").expect("setup");
    // A byte in each of A, B and C.
    let w = E::WIDTH;
    let system = format!("groth16 {}", E::CURVE);
    let flips = |_| vec![w + 5, 3 * w + 7, 7 * w + 1];
    check(&prover, &stranger, &|l1| deploy_groth16(l1, &prover), &flips, &system);
}

#[test]
fn l1_verifies_bn254_batches() {
    groth16::<ark_bn254::Bn254>();
}

#[test]
fn l1_verifies_bls12_381_batches() {
    groth16::<ark_bls12_381::Bls12_381>();
}

#[test]
fn l1_verifies_plonk_batches() {
    let prover = PlonkProver::insecure_dev_setup(SHAPE).expect("setup");
    let stranger = PlonkProver::setup_from_seed(SHAPE, "another ceremony").expect("setup");
    // A commitment's coordinate, an evaluation in the middle, the last opening.
    let flips = |len: usize| vec![5, len / 2 + 3, len - 2];
    check(&prover, &stranger, &|l1| deploy_plonk(l1, &prover), &flips, "plonk bn254");
}
