//! The chunk circuit: satisfied by witnesses built from real trees (updates,
//! inserts and deletes of every shape, both curves); unsatisfied by every kind of
//! tampering; its size asserted so a regression shows.

use alloy::primitives::{Address, B256, U256};
use ark_ff::PrimeField;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef};
use infra_circuits::{
    ChunkCircuit, ChunkPublic, ChunkWitness, Op, Shape, chunk_witnesses, diff_eval, diff_hash,
};
use infra_state::{
    Curve, MemoryNodeStore, Poseidon, SparseMerkleTree, TreeHasher, keys, to_b256, to_field as fe,
};
use std::sync::Arc;

fn key(h: &TreeHasher, i: u64) -> B256 {
    keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()))
}

fn value(h: &TreeHasher, i: u64) -> B256 {
    keys::storage_value_hash(h, U256::from(i + 1))
}

/// A tree of `n` leaves, and the writes of a batch against it: `changes` updates,
/// inserts and deletes each, sorted by key.
fn scenario(
    h: &TreeHasher,
    n: u64,
    changes: u64,
) -> (MemoryNodeStore, B256, Vec<(B256, Option<B256>)>, B256) {
    let tree = SparseMerkleTree::new(h);
    let mut store = MemoryNodeStore::default();
    let u = tree
        .update(&store, B256::ZERO, (0..n).map(|i| (key(h, i), Some(value(h, i)))).collect())
        .expect("build");
    store.apply(&u.changes);
    let mut writes = Vec::new();
    for c in 0..changes {
        writes.push((key(h, c), Some(value(h, 1_000 + c)))); // update
        writes.push((key(h, n + c), Some(value(h, 2_000 + c)))); // insert
        writes.push((key(h, n - 1 - c), None)); // delete
    }
    writes.sort_by_key(|w| w.0);
    let post = tree.update(&store, u.root, writes.clone()).expect("apply").root;
    (store, u.root, writes, post)
}

fn public<F: PrimeField>(p: &Poseidon<F>, w: &ChunkWitness<F>, z: F) -> ChunkPublic<F> {
    let writes = w.writes();
    ChunkPublic {
        pre_root: w.pre_root,
        post_root: w.post_root,
        diff_hash: diff_hash(p, &writes),
        z,
        y: diff_eval(z, &writes),
    }
}

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
    synthesize(shape, p, public, witness).is_satisfied().expect("satisfiability check")
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
        let cs = synthesize(shape, &p, public, c);
        assert!(
            cs.is_satisfied().expect("check"),
            "chunk {i}: {:?}",
            cs.which_is_unsatisfied().expect("check")
        );
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
    type F = ark_bn254::Fr;
    let h = TreeHasher::new(Curve::Bn254);
    let p = Arc::new(Poseidon::<F>::new());
    let shape = Shape::new(6, 20);
    let (store, pre, writes, _) = scenario(&h, 40, 2);
    let chunk =
        chunk_witnesses::<F, _>(&h, &store, pre, &writes, shape).expect("witness").remove(0);
    let z = F::from(11u64);
    let good = public(&p, &chunk, z);
    assert!(satisfied(shape, &p, good, chunk.clone()), "the untampered chunk");
    let find = |want: Op, leaf: Option<bool>| {
        chunk
            .slots
            .iter()
            .position(|s| s.op == want && leaf.is_none_or(|l| s.sibling_is_leaf == l))
            .unwrap_or_else(|| panic!("no {want:?} in the chunk"))
    };
    let mut cases: Vec<(&str, ChunkPublic<F>, ChunkWitness<F>)> = Vec::new();
    let mut tamper = |what: &'static str, f: &dyn Fn(&mut ChunkWitness<F>)| {
        let mut w = chunk.clone();
        f(&mut w);
        cases.push((what, good, w));
    };
    let upd = find(Op::Update, None);
    let ins = find(Op::Insert, None);
    let del = find(Op::Delete, None);
    tamper("wrong sibling", &|w| w.slots[upd].siblings[1] += F::from(1u64));
    tamper("wrong sibling of an insert", &|w| w.slots[ins].siblings[0] += F::from(1u64));
    tamper("wrong old value", &|w| w.slots[upd].old_value += F::from(1u64));
    tamper("wrong old value of a delete", &|w| w.slots[del].old_value += F::from(1u64));
    tamper("wrong new value", &|w| w.slots[ins].new_value += F::from(1u64));
    tamper("reordered writes", &|w| w.slots.swap(0, 1));
    tamper("a write left out", &|w| {
        w.slots.remove(upd);
    });
    tamper("update claimed as insert", &|w| w.slots[upd].op = Op::Insert);
    tamper("insert claimed as update", &|w| w.slots[ins].op = Op::Update);
    tamper("delete claimed as update", &|w| w.slots[del].op = Op::Update);
    tamper("leaf one level deeper", &|w| w.slots[upd].siblings.push(F::from(0u64)));
    tamper("leaf one level higher", &|w| {
        w.slots[upd].siblings.pop();
    });
    tamper("node beside misdescribed", &|w| w.slots[del].sibling_is_leaf ^= true);
    tamper("node beside with a wrong preimage", &|w| {
        w.slots[ins].sibling_preimage.1 += F::from(1u64)
    });
    let mut bad_public = |what: &'static str, f: &dyn Fn(&mut ChunkPublic<F>)| {
        let mut x = good;
        f(&mut x);
        cases.push((what, x, chunk.clone()));
    };
    bad_public("wrong pre root", &|x| x.pre_root += F::from(1u64));
    bad_public("wrong post root", &|x| x.post_root += F::from(1u64));
    bad_public("wrong diff hash", &|x| x.diff_hash += F::from(1u64));
    bad_public("another z", &|x| x.z += F::from(1u64));
    bad_public("wrong evaluation", &|x| x.y += F::from(1u64));
    let _ = find(Op::Insert, Some(true));
    for (what, public, witness) in cases {
        assert!(!satisfied(shape, &p, public, witness), "{what}: accepted");
    }
}

/// The roots a slot's witness implies (the tree holding the key with its new
/// value, and the tree without it), computed natively as the circuit does.
fn implied_roots<F: PrimeField>(p: &Poseidon<F>, slot: &infra_circuits::SlotWitness<F>) -> (F, F) {
    use ark_ff::BigInteger;
    let bits = slot.key.into_bigint().to_bits_le();
    let node = |acc: F, sibling: F, j: usize| {
        let (l, r) = if bits[j] { (sibling, acc) } else { (acc, sibling) };
        p.hash2(F::from(keys::DOMAIN_NODE), l, r)
    };
    let m = slot.siblings.len();
    let mut with = p.hash2(F::from(keys::DOMAIN_LEAF), slot.key, slot.new_value);
    let (mut without, mut lone) = (F::zero(), true);
    for j in (0..m).rev() {
        let s = slot.siblings[j];
        with = node(with, s, j);
        if j + 1 == m && slot.sibling_is_leaf {
            without = s;
        } else if lone && j + 1 < m && s.is_zero() {
        } else {
            without = node(without, s, j);
            lone = false;
        }
    }
    (with, without)
}

/// An insert beside a leaf, where the leaf beside is claimed to be another one,
/// with consistent roots: only the check that the leaf beside lies on its own
/// key's path (sharing the key's bits above the split, differing at it) stands
/// between this and a tree where a key is unreachable.
#[test]
fn a_leaf_beside_must_be_on_its_own_path() {
    type F = ark_bn254::Fr;
    use ark_ff::BigInteger;
    let h = TreeHasher::new(Curve::Bn254);
    let p = Arc::new(Poseidon::<F>::new());
    let shape = Shape::new(1, 20);
    let (store, pre, writes, _) = scenario(&h, 40, 2);
    let chunk = chunk_witnesses::<F, _>(&h, &store, pre, &writes, Shape::new(64, 20))
        .expect("witness")
        .remove(0);
    let slot = chunk
        .slots
        .iter()
        .find(|s| s.op == Op::Insert && s.sibling_is_leaf && s.siblings.len() >= 3)
        .expect("an insert beside a leaf")
        .clone();
    let alone = |slot: infra_circuits::SlotWitness<F>| {
        let (with, without) = implied_roots(&p, &slot);
        let w = ChunkWitness { pre_root: without, post_root: with, slots: vec![slot] };
        (public(&p, &w, F::from(4u64)), w)
    };
    // Control: the real slot, alone, with the roots it implies, is satisfied.
    let (good_public, good) = alone(slot.clone());
    assert!(satisfied(shape, &p, good_public, good), "control");
    // The leaf beside replaced by a leaf whose key leaves the path above the split.
    let m = slot.siblings.len();
    let key_bits = slot.key.into_bigint().to_bits_le();
    let fake_key = (1_000..)
        .map(|i| fe::<F>(&key(&h, i)))
        .find(|k| {
            let b = k.into_bigint().to_bits_le();
            b[m - 1] != key_bits[m - 1] && (0..m - 1).any(|j| b[j] != key_bits[j])
        })
        .expect("a key off the path");
    let fake_value = F::from(1u64);
    let mut bad = slot.clone();
    bad.siblings[m - 1] = fe(&keys::leaf_hash(&h, &to_b256(fake_key), &to_b256(fake_value)));
    bad.sibling_preimage = (fake_key, fake_value);
    let (bad_public, bad) = alone(bad);
    assert!(!satisfied(shape, &p, bad_public, bad), "a leaf off its path was accepted");
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
