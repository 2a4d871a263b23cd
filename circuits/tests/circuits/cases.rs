//! Chunk witnesses for the circuit tests, shared by the R1CS and the halo2
//! circuits: real batches (updates, inserts and deletes of every shape) and
//! every kind of tampering with them.
#![allow(dead_code)]

use alloy::primitives::{Address, B256, U256};
use ark_ff::{BigInteger, PrimeField};
use infra_circuits::{
    ChunkPublic, ChunkWitness, Op, Shape, SlotWitness, chunk_witnesses, diff_eval, diff_hash,
};
use infra_state::{
    MemoryNodeStore, Poseidon, SparseMerkleTree, TreeHasher, keys, to_b256, to_field as fe,
};

pub fn key(h: &TreeHasher, i: u64) -> B256 {
    keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()))
}

pub fn value(h: &TreeHasher, i: u64) -> B256 {
    keys::storage_value_hash(h, U256::from(i + 1))
}

/// A tree of `n` leaves, and the writes of a batch against it: `changes` updates,
/// inserts and deletes each, sorted by key.
pub fn scenario(
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

/// The public inputs that go with a witness, for the challenge `z`.
pub fn public<F: PrimeField>(p: &Poseidon<F>, w: &ChunkWitness<F>, z: F) -> ChunkPublic<F> {
    let writes = w.writes();
    ChunkPublic {
        pre_root: w.pre_root,
        post_root: w.post_root,
        diff_hash: diff_hash(p, &writes),
        z,
        y: diff_eval(z, &writes),
    }
}

/// A named pair of public inputs and witness.
pub type Case<F> = (&'static str, ChunkPublic<F>, ChunkWitness<F>);

/// The untampered first chunk of a batch over a 40-leaf tree, and every kind of
/// tampering with its witness or its public inputs (each must be rejected).
pub fn tampered(shape: Shape) -> (Case<ark_bn254::Fr>, Vec<Case<ark_bn254::Fr>>) {
    type F = ark_bn254::Fr;
    let h = TreeHasher::new(infra_state::Curve::Bn254);
    let p = Poseidon::<F>::new();
    let (store, pre, writes, _) = scenario(&h, 40, 2);
    let chunk =
        chunk_witnesses::<F, _>(&h, &store, pre, &writes, shape).expect("witness").remove(0);
    let good = public(&p, &chunk, F::from(11u64));
    let find = |want: Op| {
        chunk
            .slots
            .iter()
            .position(|s| s.op == want)
            .unwrap_or_else(|| panic!("no {want:?} in the chunk"))
    };
    let mut cases: Vec<Case<F>> = Vec::new();
    let mut tamper = |what: &'static str, f: &dyn Fn(&mut ChunkWitness<F>)| {
        let mut w = chunk.clone();
        f(&mut w);
        cases.push((what, good, w));
    };
    let upd = find(Op::Update);
    let ins = find(Op::Insert);
    let del = find(Op::Delete);
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
    (("untampered", good, chunk.clone()), cases)
}

/// The roots a slot's witness implies (the tree holding the key with its new
/// value, and the tree without it), computed natively as the circuit does.
pub fn implied_roots<F: PrimeField>(p: &Poseidon<F>, slot: &SlotWitness<F>) -> (F, F) {
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

/// An insert beside a leaf, alone in a chunk with the roots it implies (the
/// control, which must be accepted), and the same insert where the leaf beside
/// is claimed to be another one whose key leaves the path above the split, with
/// consistent roots (which must be rejected: only the check that the leaf beside
/// lies on its own key's path stands between it and a tree where a key is
/// unreachable). For `Shape::new(1, 20)`.
pub fn leaf_off_its_path() -> (Case<ark_bn254::Fr>, Case<ark_bn254::Fr>) {
    type F = ark_bn254::Fr;
    let h = TreeHasher::new(infra_state::Curve::Bn254);
    let p = Poseidon::<F>::new();
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
    let alone = |slot: SlotWitness<F>| {
        let (with, without) = implied_roots(&p, &slot);
        let w = ChunkWitness { pre_root: without, post_root: with, slots: vec![slot] };
        (public(&p, &w, F::from(4u64)), w)
    };
    let (good_public, good) = alone(slot.clone());
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
    (("control", good_public, good), ("a leaf off its path", bad_public, bad))
}

/// Runs `f` (which builds a constraint system and checks it) on a one-thread
/// rayon pool. With arkworks' `parallel` feature, `is_satisfied` sums each
/// constraint's few terms with a rayon iterator; from a thread outside a pool
/// every such sum is a hand-off to a pool thread and back (millions of futex
/// calls and yields: two thirds of these tests' CPU time, in the kernel). Inside
/// a pool they run inline. (The constraint system is not `Send`: `f` makes it.)
pub fn in_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a rayon pool").install(f)
}
