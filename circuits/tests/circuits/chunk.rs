//! The chunk circuit: satisfied by witnesses built from real trees (updates,
//! inserts and deletes of every shape, both curves); unsatisfied by every kind of
//! tampering; its size asserted so a regression shows.

use crate::cases::{in_pool, key, public, scenario, value};
use alloy::primitives::B256;
use ark_ff::PrimeField;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef};
use infra_circuits::{ChunkCircuit, ChunkPublic, ChunkWitness, Op, Shape, chunk_witnesses};
use infra_state::{
    Curve, MemoryNodeStore, Poseidon, SparseMerkleTree, TreeHasher, to_b256, to_field as fe,
};
use std::sync::Arc;

fn synthesize<F: PrimeField>(
    shape: Shape,
    p: &Arc<Poseidon<F>>,
    public: ChunkPublic<F>,
    witness: ChunkWitness<F>,
) -> ConstraintSystemRef<F> {
    let cs = ConstraintSystem::<F>::new_ref();
    let circuit =
        ChunkCircuit { shape, poseidon: p.clone(), public: Some(public), witness: Some(witness) };
    circuit.generate_constraints(cs.clone()).expect("synthesis");
    cs
}

fn satisfied<F: PrimeField>(
    shape: Shape,
    p: &Arc<Poseidon<F>>,
    public: ChunkPublic<F>,
    witness: ChunkWitness<F>,
) -> bool {
    in_pool(|| synthesize(shape, p, public, witness).is_satisfied().expect("satisfiability check"))
}

fn real_batches_satisfy<F: PrimeField>(curve: Curve) {
    let h = TreeHasher::new(curve);
    let p = Arc::new(Poseidon::<F>::new());
    let shape = Shape::new(4, 24);
    let (store, pre, writes, post) = scenario(&h, 48, 6);
    let chunks: Vec<ChunkWitness<F>> =
        chunk_witnesses(&h, &store, pre, &writes, shape).expect("witness");
    assert_eq!(chunks.len(), writes.len().div_ceil(shape.writes));
    assert_eq!(chunks[0].pre_root, fe::<F>(&pre));
    assert_eq!(chunks.last().expect("a chunk").post_root, fe::<F>(&post));
    for pair in chunks.windows(2) {
        assert_eq!(pair[0].post_root, pair[1].pre_root, "chunks chain by roots");
    }
    // Every shape of write is covered: updates, inserts and deletes next to a
    // leaf (which moves) and next to an internal node.
    let slots: Vec<_> = chunks.iter().flat_map(|c| c.slots.iter()).collect();
    for op in [Op::Insert, Op::Delete] {
        for leaf in [true, false] {
            assert!(
                slots.iter().any(|s| s.op == op && s.sibling_is_leaf == leaf),
                "no {op:?} beside a {} in the scenario",
                if leaf { "leaf" } else { "internal node" }
            );
        }
    }
    assert!(slots.iter().any(|s| s.op == Op::Update));
    for (i, c) in chunks.into_iter().enumerate() {
        let public = public(&p, &c, F::from(7 + i as u64));
        let unsatisfied = in_pool(|| {
            let cs = synthesize(shape, &p, public, c);
            (!cs.is_satisfied().expect("check")).then(|| cs.which_is_unsatisfied().expect("check"))
        });
        assert_eq!(unsatisfied, None, "chunk {i}");
    }
}

#[test]
fn real_batches_satisfy_bn254() {
    real_batches_satisfy::<ark_bn254::Fr>(Curve::Bn254);
}

#[test]
fn real_batches_satisfy_bls12_381() {
    real_batches_satisfy::<ark_bls12_381::Fr>(Curve::Bls12_381);
}

/// Growing a tree from empty and emptying it again: inserts into an empty tree and
/// deletes of the last leaf (the leaf is the root), with padding slots.
#[test]
fn from_empty_and_back() {
    type F = ark_bn254::Fr;
    let h = TreeHasher::new(Curve::Bn254);
    let p = Arc::new(Poseidon::<F>::new());
    let shape = Shape::new(3, 16);
    let store = MemoryNodeStore::default();
    let mut ks: Vec<B256> = (0..2).map(|i| key(&h, i)).collect();
    ks.sort();
    let first = vec![(ks[0], Some(value(&h, 1)))];
    let c = chunk_witnesses::<F, _>(&h, &store, B256::ZERO, &first, shape).expect("witness");
    assert_eq!(c[0].slots[0].siblings.len(), 0, "the leaf is the root");
    assert!(satisfied(shape, &p, public(&p, &c[0], F::from(3u64)), c[0].clone()));

    let tree = SparseMerkleTree::new(&h);
    let mut store = MemoryNodeStore::default();
    let u = tree.update(&store, B256::ZERO, first).expect("insert");
    store.apply(&u.changes);
    let gone = vec![(ks[0], None), (ks[1], Some(value(&h, 2)))];
    let c = chunk_witnesses::<F, _>(&h, &store, u.root, &gone, shape).expect("witness");
    assert_eq!(c[0].slots[0].op, Op::Delete);
    assert_eq!(c[0].slots[0].siblings.len(), 0);
    assert!(satisfied(shape, &p, public(&p, &c[0], F::from(5u64)), c[0].clone()));
    // An empty diff is a chunk of padding only, with pre_root == post_root.
    let c = chunk_witnesses::<F, _>(&h, &store, u.root, &[], shape).expect("witness");
    assert_eq!((c.len(), c[0].slots.len()), (1, 0));
    assert!(satisfied(shape, &p, public(&p, &c[0], F::from(9u64)), c[0].clone()));
}

#[test]
fn every_kind_of_tampering_is_unsatisfied() {
    let p = Arc::new(Poseidon::<ark_bn254::Fr>::new());
    let shape = Shape::new(6, 20);
    let ((_, good_public, good), cases) = crate::cases::tampered(shape);
    assert!(satisfied(shape, &p, good_public, good), "the untampered chunk");
    for (what, public, witness) in cases {
        assert!(!satisfied(shape, &p, public, witness), "{what}: accepted");
    }
}

/// An insert beside a leaf, where the leaf beside is claimed to be another one,
/// with consistent roots: only the check that the leaf beside lies on its own
/// key's path (sharing the key's bits above the split, differing at it) stands
/// between this and a tree where a key is unreachable.
#[test]
fn a_leaf_beside_must_be_on_its_own_path() {
    let p = Arc::new(Poseidon::<ark_bn254::Fr>::new());
    let shape = Shape::new(1, 20);
    let ((_, control_public, control), (what, bad_public, bad)) = crate::cases::leaf_off_its_path();
    assert!(satisfied(shape, &p, control_public, control), "control");
    assert!(!satisfied(shape, &p, bad_public, bad), "{what}: accepted");
}

#[test]
fn poseidon_gadget_matches_the_node_hash() {
    fn check<F: PrimeField>(curve: Curve) {
        use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, fields::fp::FpVar};
        let h = TreeHasher::new(curve);
        let p = Poseidon::<F>::new();
        let cs = ConstraintSystem::<F>::new_ref();
        let a = FpVar::new_witness(cs.clone(), || Ok(F::from(12345u64))).expect("alloc");
        let b = FpVar::new_witness(cs.clone(), || Ok(F::from(678u64))).expect("alloc");
        let out = infra_circuits::poseidon::hash2(&p, infra_circuits::poseidon::domain(2), &a, &b)
            .expect("hash");
        let native = h.hash(2, &to_b256(F::from(12345u64)), &to_b256(F::from(678u64)));
        assert_eq!(out.value().expect("value"), fe::<F>(&native));
        // A constant domain saves the first round's S-box on it.
        assert_eq!(cs.num_constraints(), infra_circuits::poseidon::PERMUTATION_CONSTRAINTS - 3);
        let d = FpVar::new_witness(cs.clone(), || Ok(F::from(2u64))).expect("alloc");
        let before = cs.num_constraints();
        let state = infra_circuits::poseidon::permute(&p, [d, a, b]).expect("permute");
        assert_eq!(
            cs.num_constraints() - before,
            infra_circuits::poseidon::PERMUTATION_CONSTRAINTS
        );
        let native = p.permute([F::from(2u64), F::from(12345u64), F::from(678u64)]);
        for (x, y) in state.iter().zip(native) {
            assert_eq!(x.value().expect("value"), y);
        }
        assert!(cs.is_satisfied().expect("check"));
    }
    check::<ark_bn254::Fr>(Curve::Bn254);
    check::<ark_bls12_381::Fr>(Curve::Bls12_381);
}

/// The circuit's size, so a change that grows it is noticed. Per write slot at
/// depth D: 2D + 3 hashes + the sponge permutation, two canonical bit
/// decompositions and the selection logic.
#[test]
fn constraint_counts() {
    fn count<F: PrimeField>(shape: Shape) -> usize {
        let cs = ConstraintSystem::<F>::new_ref();
        cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
        ChunkCircuit::blank(shape, Arc::new(Poseidon::<F>::new()))
            .generate_constraints(cs.clone())
            .expect("synthesis");
        cs.num_constraints()
    }
    let bn_one = count::<ark_bn254::Fr>(Shape::new(1, 32));
    let bn_two = count::<ark_bn254::Fr>(Shape::new(2, 32));
    let bls_one = count::<ark_bls12_381::Fr>(Shape::new(1, 32));
    let bls_two = count::<ark_bls12_381::Fr>(Shape::new(2, 32));
    let deeper = count::<ark_bn254::Fr>(Shape::new(1, 33));
    println!(
        "per write at depth 32: bn254 {}, bls12-381 {}; fixed {}; per level {}",
        bn_two - bn_one,
        bls_two - bls_one,
        bn_one - (bn_two - bn_one),
        deeper - bn_one
    );
    assert_eq!(bn_two - bn_one, 18_233, "constraints per write slot at depth 32 (bn254)");
    assert_eq!(bls_two - bls_one, 18_089, "constraints per write slot at depth 32 (bls12-381)");
    assert_eq!(bn_one - (bn_two - bn_one), 244, "fixed constraints (the final absorb)");
    assert_eq!(deeper - bn_one, 499, "constraints per level of depth");
}

/// The nodes `witness_nodes` records are all a prover without the state needs:
/// the same witnesses, for another chunk size too; without them it fails.
#[test]
fn recorded_nodes_are_a_complete_state_witness() {
    let h = TreeHasher::new(Curve::Bn254);
    let (store, pre, writes, post) = scenario(&h, 300, 4);
    let nodes = infra_circuits::witness_nodes(&h, &store, pre, &writes).expect("record");
    assert!(nodes.len() < 300 * 2, "a witness, not the whole tree ({} nodes)", nodes.len());
    let mut partial = MemoryNodeStore::default();
    partial.apply(&nodes.iter().map(|(p, n)| (*p, Some(*n))).collect::<Vec<_>>());
    assert_eq!(SparseMerkleTree::new(&h).stored_root(&partial).expect("root"), pre);
    for shape in [Shape::new(5, 32), Shape::new(12, 40)] {
        let full =
            chunk_witnesses::<ark_bn254::Fr, _>(&h, &store, pre, &writes, shape).expect("full");
        let from_witness = chunk_witnesses::<ark_bn254::Fr, _>(&h, &partial, pre, &writes, shape)
            .expect("partial");
        assert_eq!(full, from_witness);
        assert_eq!(to_b256(from_witness.last().expect("chunk").post_root), post);
    }
    // Missing one recorded node, the witness cannot be built or differs.
    let mut short = MemoryNodeStore::default();
    short.apply(&nodes[1..].iter().map(|(p, n)| (*p, Some(*n))).collect::<Vec<_>>());
    let shape = Shape::new(5, 32);
    let full = chunk_witnesses::<ark_bn254::Fr, _>(&h, &store, pre, &writes, shape).expect("full");
    assert!(
        chunk_witnesses::<ark_bn254::Fr, _>(&h, &short, pre, &writes, shape)
            .map_or(true, |w| w != full)
    );
}
