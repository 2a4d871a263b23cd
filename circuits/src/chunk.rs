//! The chunk circuit: a fixed number of sparse-Merkle writes (real ones first,
//! then padding), chained from `pre_root` to `post_root`, and bound to the diff
//! L1 holds by `diff_hash` and `y = diff(z)`.
//!
//! Public inputs, in order: `pre_root, post_root, diff_hash, z, y`.
//!
//! Each write slot proves one of: update (the key's leaf changes value), insert
//! (a leaf appears), delete (a leaf goes), or nothing (padding). It uses one path:
//! the siblings of the key's leaf in the tree that holds the key, at depth `m`.
//! * Path A hashes the leaf (key, value held) up through the `m` siblings: the
//!   root of the tree holding the key.
//! * Path B, for an update, hashes the leaf with the new value the same way; for
//!   an insert or a delete it computes the root of the tree *without* the key, as
//!   the node's tree does it: the leaf's place becomes empty, and when the node
//!   beside it is a leaf, that leaf moves up past every empty sibling (a subtree
//!   with one leaf is that leaf). Whether the node beside is a leaf is proven by
//!   its preimage (leaf and internal hashes have different domains), and a leaf
//!   moved down by an insert must share the key's path bits down to where they
//!   part.
//! * update: old root = A(old), new root = B(new); insert: old = B, new = A(new);
//!   delete: old = A(old), new = B.

use crate::{
    Shape,
    poseidon::{domain, hash2, permute},
    witness::{ChunkWitness, Op},
};
use ark_ff::PrimeField;
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    convert::ToBitsGadget,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use infra_state::{
    Poseidon,
    keys::{DOMAIN_DIFF, DOMAIN_LEAF, DOMAIN_NODE},
};
use std::sync::Arc;

/// Number of public inputs of a chunk proof.
pub const PUBLIC_INPUTS: usize = 5;

/// The public inputs of one chunk proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPublic<F> {
    pub pre_root: F,
    pub post_root: F,
    /// `diff_hash` of the chunk's writes.
    pub diff_hash: F,
    /// The challenge L1 derived from the posted diff and `diff_hash`.
    pub z: F,
    /// `diff_eval(z, writes)`, as L1 computed it over the posted diff.
    pub y: F,
}

impl<F: PrimeField> ChunkPublic<F> {
    /// In the order the verifier takes them.
    pub fn to_vec(&self) -> Vec<F> {
        vec![self.pre_root, self.post_root, self.diff_hash, self.z, self.y]
    }
}

/// One chunk: with `witness` and `public` for proving, without (None) for setup.
#[derive(Debug, Clone)]
pub struct ChunkCircuit<F: PrimeField> {
    pub shape: Shape,
    pub poseidon: Arc<Poseidon<F>>,
    pub public: Option<ChunkPublic<F>>,
    pub witness: Option<ChunkWitness<F>>,
}

impl<F: PrimeField> ChunkCircuit<F> {
    /// The circuit with no values, for generating keys.
    pub fn blank(shape: Shape, poseidon: Arc<Poseidon<F>>) -> Self {
        Self { shape, poseidon, public: None, witness: None }
    }
}

/// A slot's values, padding included (`op: None`).
#[derive(Debug, Clone)]
struct Padded<F> {
    op: Option<Op>,
    key: F,
    old: F,
    new: F,
    depth: usize,
    siblings: Vec<F>,
    sibling_is_leaf: bool,
    pre: (F, F),
}

fn witness<F: PrimeField>(
    cs: &ConstraintSystemRef<F>,
    v: Option<F>,
) -> Result<FpVar<F>, SynthesisError> {
    FpVar::new_witness(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))
}

fn flag<F: PrimeField>(
    cs: &ConstraintSystemRef<F>,
    v: Option<bool>,
) -> Result<FpVar<F>, SynthesisError> {
    Ok(Boolean::new_witness(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))?.into())
}

/// `c ? x : y` for a 0/1 value `c` (one constraint).
fn mux<F: PrimeField>(
    c: &FpVar<F>,
    x: &FpVar<F>,
    y: &FpVar<F>,
) -> Result<FpVar<F>, SynthesisError> {
    Ok(y + c * (x - y))
}

/// `a * b == 0` (one constraint): `a` must be zero where `b` holds.
fn zero_where<F: PrimeField>(a: &FpVar<F>, b: &FpVar<F>) -> Result<(), SynthesisError> {
    a.mul_equals(b, &FpVar::zero())
}

/// The low `depth` bits of the canonical decomposition of `x`, as 0/1 values.
fn low_bits<F: PrimeField>(x: &FpVar<F>, depth: usize) -> Result<Vec<FpVar<F>>, SynthesisError> {
    Ok(x.to_bits_le()?.into_iter().take(depth).map(FpVar::from).collect())
}

/// `(left, right)` of a node whose child on the path is `acc`: the path goes right
/// where the key bit is 1.
fn order<F: PrimeField>(
    bit: &FpVar<F>,
    acc: &FpVar<F>,
    sibling: &FpVar<F>,
) -> Result<(FpVar<F>, FpVar<F>), SynthesisError> {
    let d = bit * (sibling - acc);
    Ok((acc + &d, sibling - &d))
}

impl<F: PrimeField> ConstraintSynthesizer<F> for ChunkCircuit<F> {
    fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
        let Shape { writes: n_slots, depth } = self.shape;
        let p = &*self.poseidon;
        let input = |v: Option<F>| {
            FpVar::new_input(cs.clone(), || v.ok_or(SynthesisError::AssignmentMissing))
        };
        let pre_root = input(self.public.map(|x| x.pre_root))?;
        let post_root = input(self.public.map(|x| x.post_root))?;
        let diff_hash = input(self.public.map(|x| x.diff_hash))?;
        let z = input(self.public.map(|x| x.z))?;
        let y = input(self.public.map(|x| x.y))?;

        let slots: Option<Vec<Padded<F>>> = match &self.witness {
            None => None,
            Some(w) => {
                if w.slots.len() > n_slots || w.slots.iter().any(|s| s.siblings.len() > depth) {
                    return Err(SynthesisError::Unsatisfiable);
                }
                let mut out: Vec<Padded<F>> = w
                    .slots
                    .iter()
                    .map(|s| {
                        let mut siblings = s.siblings.clone();
                        let m = siblings.len();
                        siblings.resize(depth, F::zero());
                        Padded {
                            op: Some(s.op),
                            key: s.key,
                            old: s.old_value,
                            new: s.new_value,
                            depth: m,
                            siblings,
                            sibling_is_leaf: s.sibling_is_leaf,
                            pre: s.sibling_preimage,
                        }
                    })
                    .collect();
                out.resize(
                    n_slots,
                    Padded {
                        op: None,
                        key: F::zero(),
                        old: F::zero(),
                        new: F::zero(),
                        depth: 0,
                        siblings: vec![F::zero(); depth],
                        sibling_is_leaf: false,
                        pre: (F::zero(), F::zero()),
                    },
                );
                Some(out)
            }
        };
        let count = witness(&cs, self.witness.as_ref().map(|w| F::from(w.slots.len() as u64)))?;

        let one = FpVar::one();
        let mut root = pre_root;
        let mut sponge = [domain::<F>(DOMAIN_DIFF), FpVar::zero(), FpVar::zero()];
        let mut acc = count.clone();
        let mut counted = FpVar::zero();
        let mut prev_real = one.clone();
        for i in 0..n_slots {
            let s = slots.as_ref().map(|v| &v[i]);
            let op = |want: Op| s.map(|s| s.op == Some(want));
            let is_update = flag(&cs, op(Op::Update))?;
            let is_insert = flag(&cs, op(Op::Insert))?;
            let is_delete = flag(&cs, op(Op::Delete))?;
            let is_real = &is_update + &is_insert + &is_delete;
            // At most one kind, and real slots come first.
            zero_where(&is_real, &(&is_real - &one))?;
            zero_where(&is_real, &(&one - &prev_real))?;
            let without = &is_insert + &is_delete;

            let key = witness(&cs, s.map(|s| s.key))?;
            let old = witness(&cs, s.map(|s| s.old))?;
            let new = witness(&cs, s.map(|s| s.new))?;
            // A real write deletes exactly when its new value is 0.
            let new_is_zero: FpVar<F> = new.is_zero()?.into();
            is_real.mul_equals(&new_is_zero, &is_delete)?;

            let key_bits = low_bits(&key, depth)?;
            // level[j] = 1 for j < m (the leaf's depth), monotone.
            let level = (0..depth)
                .map(|j| flag(&cs, s.map(|s| j < s.depth)))
                .collect::<Result<Vec<_>, _>>()?;
            for j in 1..depth {
                zero_where(&level[j], &(&one - &level[j - 1]))?;
            }
            let next_level = |j: usize| level.get(j + 1).cloned().unwrap_or_else(FpVar::zero);
            // last[j] = 1 exactly at j = m - 1.
            let last: Vec<FpVar<F>> = (0..depth).map(|j| &level[j] - next_level(j)).collect();
            let siblings = (0..depth)
                .map(|j| witness(&cs, s.map(|s| s.siblings[j])))
                .collect::<Result<Vec<_>, _>>()?;
            let beside_is_leaf = flag(&cs, s.map(|s| s.sibling_is_leaf))?;
            let beside_a = witness(&cs, s.map(|s| s.pre.0))?;
            let beside_b = witness(&cs, s.map(|s| s.pre.1))?;

            // Path A: the tree holding the key, with the value it holds there.
            let held = mux(&is_insert, &new, &old)?;
            let mut a = hash2(p, domain(DOMAIN_LEAF), &key, &held)?;
            // Path B: the new value (update) or the tree without the key.
            let leaf_new = hash2(p, domain(DOMAIN_LEAF), &key, &new)?;
            let mut b = &is_update * &leaf_new;
            let mut lone = one.clone();
            let without_leaf = &without * &beside_is_leaf;
            for j in (0..depth).rev() {
                let (l, r) = order(&key_bits[j], &a, &siblings[j])?;
                let h = hash2(p, domain(DOMAIN_NODE), &l, &r)?;
                a = mux(&level[j], &h, &a)?;

                let (l, r) = order(&key_bits[j], &b, &siblings[j])?;
                let h = hash2(p, domain(DOMAIN_NODE), &l, &r)?;
                let sibling_zero: FpVar<F> = siblings[j].is_zero()?.into();
                let collapse = &(&(&without * &next_level(j)) * &lone) * &sibling_zero;
                let pass = &one - &level[j] + &collapse;
                let take = &without_leaf * &last[j];
                let kept = mux(&pass, &b, &h)?;
                b = mux(&take, &siblings[j], &kept)?;
                lone = &take + &(&pass * &lone);
            }

            // The node beside the leaf is what the witness says it is.
            let mut beside = FpVar::zero();
            for j in 0..depth {
                beside += &last[j] * &siblings[j];
            }
            let beside_domain =
                domain::<F>(DOMAIN_NODE) + &beside_is_leaf * F::from(DOMAIN_LEAF - DOMAIN_NODE);
            let beside_hash = hash2(p, beside_domain, &beside_a, &beside_b)?;
            let has_beside = &without * &level.first().cloned().unwrap_or_else(FpVar::zero);
            zero_where(&(&beside_hash - &beside), &has_beside)?;
            // A leaf beside shares the key's bits above the split and differs at it.
            let beside_bits = low_bits(&beside_a, depth)?;
            let leaf_beside = &has_beside * &beside_is_leaf;
            for j in 0..depth {
                let differ = &beside_bits[j] - &key_bits[j];
                zero_where(&differ, &(&leaf_beside * &next_level(j)))?;
                zero_where(&(&beside_bits[j] + &key_bits[j] - &one), &(&leaf_beside * &last[j]))?;
            }

            // Chain the roots.
            let before = mux(&is_insert, &b, &a)?;
            let after = &a + &b - &before;
            zero_where(&(&before - &root), &is_real)?;
            root = mux(&is_real, &after, &root)?;

            // Commitments to the diff: the sponge and the evaluation at z.
            let absorbed = permute(p, [sponge[0].clone(), &sponge[1] + &key, &sponge[2] + &new])?;
            for (st, ab) in sponge.iter_mut().zip(absorbed.iter()) {
                *st = mux(&is_real, ab, st)?;
            }
            let stepped = &(&(&acc * &z) + &key) * &z + &new;
            acc = mux(&is_real, &stepped, &acc)?;
            counted += &is_real;
            prev_real = is_real;
        }
        root.enforce_equal(&post_root)?;
        counted.enforce_equal(&count)?;
        let [_, h, _] = permute(p, [sponge[0].clone(), &sponge[1] + &count, sponge[2].clone()])?;
        h.enforce_equal(&diff_hash)?;
        acc.enforce_equal(&y)?;
        Ok(())
    }
}
