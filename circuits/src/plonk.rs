//! The chunk circuit as a halo2 (PLONKish) circuit over BN254's scalar field,
//! for KZG proofs an EVM contract verifies: the same statement, the same public
//! inputs in the same order and the same witness as the R1CS circuit in
//! [`crate::chunk`], written gate for gate after it (the tests feed both circuits
//! the same witnesses, honest and tampered, and require the same verdicts).
//!
//! It is built with halo2-base's vertical gate `a + b * c = d` (one advice
//! column per 2^k cells of work, copy constraints between cells, constants in a
//! fixed column). Where an R1CS gadget relies on a canonical decomposition
//! (`to_bits_le` checks the bits are below the modulus), this does the same
//! check explicitly ([`canonical_bits`]), so the key bits that steer a path are
//! unique here too.

use crate::{
    Shape,
    chunk::ChunkPublic,
    witness::{ChunkWitness, Op},
};
use ark_ff::{BigInteger, PrimeField as _};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
    gates::{GateChip, GateInstructions, circuit::builder::BaseCircuitBuilder},
    halo2_proofs::halo2curves::ff::{Field, PrimeField},
};
use infra_state::{
    Poseidon,
    keys::{DOMAIN_DIFF, DOMAIN_LEAF, DOMAIN_NODE},
    poseidon_params::{FULL_ROUNDS, PARTIAL_ROUNDS},
};

pub use halo2_base;
/// BN254's scalar field as halo2 sees it (the same field as `ark_bn254::Fr`).
pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;

type Cell = AssignedValue<Fr>;

/// An arkworks BN254 scalar as halo2's.
pub fn to_halo2(x: &ark_bn254::Fr) -> Fr {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&x.into_bigint().to_bytes_le());
    Option::from(Fr::from_repr(repr)).unwrap_or_else(|| unreachable!("a canonical element"))
}

/// The node's Poseidon constants (t = 3, alpha = 5, 8 full and 57 partial
/// rounds), as halo2 field elements.
#[derive(Debug, Clone)]
pub struct PoseidonConstants {
    rounds: Vec<[Fr; 3]>,
    mds: [[Fr; 3]; 3],
}

impl PoseidonConstants {
    pub fn new(p: &Poseidon<ark_bn254::Fr>) -> Self {
        let (ark, mds) = p.constants();
        Self {
            rounds: ark.iter().map(|r| r.each_ref().map(to_halo2)).collect(),
            mds: mds.each_ref().map(|row| row.each_ref().map(to_halo2)),
        }
    }
}

impl Default for PoseidonConstants {
    fn default() -> Self {
        Self::new(&Poseidon::new())
    }
}

/// The circuit's building blocks on one context.
struct Chip<'a> {
    gate: &'a GateChip<Fr>,
    p: &'a PoseidonConstants,
}

impl Chip<'_> {
    /// `x^5 + c` (three gates).
    fn sbox(&self, ctx: &mut Context<Fr>, x: Cell, c: Fr) -> Cell {
        let x2 = self.gate.mul(ctx, x, x);
        let x4 = self.gate.mul(ctx, x2, x2);
        self.gate.mul_add(ctx, x, x4, Constant(c))
    }

    /// `c + sum_j m_j * s_j` (one chained region of three gates).
    fn affine(&self, ctx: &mut Context<Fr>, s: &[Cell; 3], m: &[Fr; 3], c: Fr) -> Cell {
        let mut acc = c;
        let mut cells = vec![Constant(c)];
        for (x, k) in s.iter().zip(m) {
            acc += *x.value() * k;
            cells.extend([Existing(*x), Constant(*k), Witness(acc)]);
        }
        ctx.assign_region_last(cells, [0, 3, 6])
    }

    /// The permutation of `state`, exactly as `Poseidon::permute` computes it:
    /// each round adds its constants, applies the S-box (to every element in a
    /// full round, to the first in a partial one) and mixes with the MDS matrix.
    /// A round's constants are added by the previous round's mixing (or by the
    /// S-box when only the first element is raised).
    fn permute(&self, ctx: &mut Context<Fr>, state: [Cell; 3]) -> [Cell; 3] {
        let half = FULL_ROUNDS / 2;
        let rounds = self.p.rounds.len();
        let full = |r: usize| r < half || r >= half + PARTIAL_ROUNDS;
        let first = self.p.rounds[0];
        let mut s: [Cell; 3] =
            std::array::from_fn(|i| self.gate.add(ctx, state[i], Constant(first[i])));
        for r in 0..rounds {
            // The constants of round r are in `s` already.
            if full(r) {
                s = s.map(|x| self.sbox(ctx, x, Fr::ZERO));
            } else {
                s[0] = self.sbox(ctx, s[0], Fr::ZERO);
            }
            let next = self.p.rounds.get(r + 1).copied().unwrap_or([Fr::ZERO; 3]);
            let mixed: [Cell; 3] =
                std::array::from_fn(|i| self.affine(ctx, &s, &self.p.mds[i], next[i]));
            s = mixed;
        }
        s
    }

    /// `P(domain; a, b)`: element 1 of the permutation of `[domain, a, b]`.
    fn hash2(&self, ctx: &mut Context<Fr>, domain: Cell, a: Cell, b: Cell) -> Cell {
        self.permute(ctx, [domain, a, b])[1]
    }

    /// `c ? x : y` for a 0/1 value `c`.
    fn mux(&self, ctx: &mut Context<Fr>, c: Cell, x: Cell, y: Cell) -> Cell {
        self.gate.select(ctx, x, y, c)
    }

    /// `a * b == 0`.
    fn zero_where(&self, ctx: &mut Context<Fr>, a: Cell, b: Cell) {
        ctx.assign_region([Constant(Fr::ZERO), Existing(a), Existing(b), Constant(Fr::ZERO)], [0]);
    }

    /// `a * b == c`.
    fn mul_equals(&self, ctx: &mut Context<Fr>, a: Cell, b: Cell, c: Cell) {
        ctx.assign_region([Constant(Fr::ZERO), Existing(a), Existing(b), Existing(c)], [0]);
    }

    /// A 0/1 witness.
    fn flag(&self, ctx: &mut Context<Fr>, v: bool) -> Cell {
        let x = ctx.load_witness(Fr::from(u64::from(v)));
        self.gate.assert_bit(ctx, x);
        x
    }

    fn mul(&self, ctx: &mut Context<Fr>, a: Cell, b: Cell) -> Cell {
        self.gate.mul(ctx, a, b)
    }

    fn add(&self, ctx: &mut Context<Fr>, a: Cell, b: Cell) -> Cell {
        self.gate.add(ctx, a, b)
    }

    fn sub(&self, ctx: &mut Context<Fr>, a: Cell, b: Cell) -> Cell {
        self.gate.sub(ctx, a, b)
    }

    /// `(left, right)` of a node whose child on the path is `acc`: the path goes
    /// right where the key bit is 1.
    fn order(&self, ctx: &mut Context<Fr>, bit: Cell, acc: Cell, sibling: Cell) -> (Cell, Cell) {
        let diff = self.sub(ctx, sibling, acc);
        let left = self.gate.mul_add(ctx, bit, diff, acc);
        // right = acc + sibling - left
        let right = self.sub(ctx, sibling, left);
        let right = self.add(ctx, right, acc);
        (left, right)
    }
}

/// The canonical little-endian bits of `x`: bits whose weighted sum is `x` and
/// whose integer is below the modulus (the bits are then unique), as R1CS's
/// `to_bits_le` does.
fn canonical_bits(chip: &Chip<'_>, ctx: &mut Context<Fr>, x: Cell) -> Vec<Cell> {
    let n = Fr::NUM_BITS as usize;
    let bits = chip.gate.num_to_bits(ctx, x, n);
    // Compare with r - 1 from the top: `eq` stays 1 while the bits equal those
    // of r - 1; where r - 1 has a 0, a 1 bit is refused while `eq` holds.
    let max = (-Fr::ONE).to_repr();
    let max_bit = |i: usize| (max[i / 8] >> (i % 8)) & 1 == 1;
    let mut eq = ctx.load_constant(Fr::ONE);
    for i in (0..n).rev() {
        if max_bit(i) {
            eq = chip.mul(ctx, eq, bits[i]);
        } else {
            chip.zero_where(ctx, eq, bits[i]);
        }
    }
    bits
}

/// A slot's values, padding included (`op: None`).
struct Padded {
    op: Option<Op>,
    key: Fr,
    old: Fr,
    new: Fr,
    depth: usize,
    siblings: Vec<Fr>,
    sibling_is_leaf: bool,
    pre: (Fr, Fr),
}

/// Why a witness does not fit the circuit's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("{found} writes in one chunk; the circuit holds {max}")]
    TooManyWrites { found: usize, max: usize },
    #[error("a write at depth {found}; the circuit proves depths up to {max}")]
    TooDeep { found: usize, max: usize },
}

/// Lays the chunk circuit out on `builder` (main context of phase 0) and exposes
/// the public inputs `pre_root, post_root, diff_hash, z, y` on instance column 0.
/// `public` and `witness` give the values; `None` lays out the circuit with
/// zeros, for key generation (the layout never depends on the values).
pub fn synthesize(
    builder: &mut BaseCircuitBuilder<Fr>,
    shape: Shape,
    constants: &PoseidonConstants,
    values: Option<(&ChunkPublic<ark_bn254::Fr>, &ChunkWitness<ark_bn254::Fr>)>,
) -> Result<(), ShapeError> {
    let Shape { writes: n_slots, depth } = shape;
    let zero = Fr::ZERO;
    let pad = || Padded {
        op: None,
        key: zero,
        old: zero,
        new: zero,
        depth: 0,
        siblings: vec![zero; depth],
        sibling_is_leaf: false,
        pre: (zero, zero),
    };
    let (public, slots, count) = match values {
        None => ([zero; 5], (0..n_slots).map(|_| pad()).collect::<Vec<_>>(), zero),
        Some((p, w)) => {
            if w.slots.len() > n_slots {
                return Err(ShapeError::TooManyWrites { found: w.slots.len(), max: n_slots });
            }
            if let Some(s) = w.slots.iter().find(|s| s.siblings.len() > depth) {
                return Err(ShapeError::TooDeep { found: s.siblings.len(), max: depth });
            }
            let mut slots: Vec<Padded> = w
                .slots
                .iter()
                .map(|s| {
                    let mut siblings: Vec<Fr> = s.siblings.iter().map(to_halo2).collect();
                    let m = siblings.len();
                    siblings.resize(depth, zero);
                    Padded {
                        op: Some(s.op),
                        key: to_halo2(&s.key),
                        old: to_halo2(&s.old_value),
                        new: to_halo2(&s.new_value),
                        depth: m,
                        siblings,
                        sibling_is_leaf: s.sibling_is_leaf,
                        pre: (to_halo2(&s.sibling_preimage.0), to_halo2(&s.sibling_preimage.1)),
                    }
                })
                .collect();
            slots.resize_with(n_slots, pad);
            let public = [p.pre_root, p.post_root, p.diff_hash, p.z, p.y].map(|x| to_halo2(&x));
            (public, slots, Fr::from(w.slots.len() as u64))
        }
    };

    let gate = GateChip::<Fr>::default();
    let chip = Chip { gate: &gate, p: constants };
    let ctx = builder.main(0);
    let inputs = public.map(|v| ctx.load_witness(v));
    let [pre_root, post_root, diff_hash, z, y] = inputs;
    let count = ctx.load_witness(count);
    let one = ctx.load_constant(Fr::ONE);
    let zero_cell = ctx.load_constant(Fr::ZERO);
    let node_domain = ctx.load_constant(Fr::from(DOMAIN_NODE));
    let leaf_domain = ctx.load_constant(Fr::from(DOMAIN_LEAF));

    let mut root = pre_root;
    let mut sponge = [ctx.load_constant(Fr::from(DOMAIN_DIFF)), zero_cell, zero_cell];
    let mut acc = count;
    let mut counted = zero_cell;
    let mut prev_real = one;
    for s in &slots {
        let is_update = chip.flag(ctx, s.op == Some(Op::Update));
        let is_insert = chip.flag(ctx, s.op == Some(Op::Insert));
        let is_delete = chip.flag(ctx, s.op == Some(Op::Delete));
        let is_real = gate.sum(ctx, [is_update, is_insert, is_delete]);
        // At most one kind, and real slots come first.
        let real_minus_one = chip.sub(ctx, is_real, one);
        chip.zero_where(ctx, is_real, real_minus_one);
        let not_prev = chip.sub(ctx, one, prev_real);
        chip.zero_where(ctx, is_real, not_prev);
        let without = chip.add(ctx, is_insert, is_delete);

        let key = ctx.load_witness(s.key);
        let old = ctx.load_witness(s.old);
        let new = ctx.load_witness(s.new);
        // A real write deletes exactly when its new value is 0.
        let new_is_zero = gate.is_zero(ctx, new);
        chip.mul_equals(ctx, is_real, new_is_zero, is_delete);

        let key_bits = canonical_bits(&chip, ctx, key);
        // level[j] = 1 for j < m (the leaf's depth), monotone.
        let level: Vec<Cell> = (0..depth).map(|j| chip.flag(ctx, j < s.depth)).collect();
        for j in 1..depth {
            let above = chip.sub(ctx, one, level[j - 1]);
            chip.zero_where(ctx, level[j], above);
        }
        let next_level = |j: usize| level.get(j + 1).copied().unwrap_or(zero_cell);
        // last[j] = 1 exactly at j = m - 1.
        let last: Vec<Cell> = (0..depth).map(|j| chip.sub(ctx, level[j], next_level(j))).collect();
        let siblings: Vec<Cell> = s.siblings.iter().map(|v| ctx.load_witness(*v)).collect();
        let beside_is_leaf = chip.flag(ctx, s.sibling_is_leaf);
        let beside_a = ctx.load_witness(s.pre.0);
        let beside_b = ctx.load_witness(s.pre.1);

        // Path A: the tree holding the key, with the value it holds there.
        let held = chip.mux(ctx, is_insert, new, old);
        let mut a = chip.hash2(ctx, leaf_domain, key, held);
        // Path B: the new value (update) or the tree without the key.
        let leaf_new = chip.hash2(ctx, leaf_domain, key, new);
        let mut b = chip.mul(ctx, is_update, leaf_new);
        let mut lone = one;
        let without_leaf = chip.mul(ctx, without, beside_is_leaf);
        for j in (0..depth).rev() {
            let (l, r) = chip.order(ctx, key_bits[j], a, siblings[j]);
            let h = chip.hash2(ctx, node_domain, l, r);
            a = chip.mux(ctx, level[j], h, a);

            let (l, r) = chip.order(ctx, key_bits[j], b, siblings[j]);
            let h = chip.hash2(ctx, node_domain, l, r);
            let sibling_zero = gate.is_zero(ctx, siblings[j]);
            let nl = next_level(j);
            let collapse = chip.mul(ctx, without, nl);
            let collapse = chip.mul(ctx, collapse, lone);
            let collapse = chip.mul(ctx, collapse, sibling_zero);
            // pass = 1 - level[j] + collapse
            let pass = chip.sub(ctx, one, level[j]);
            let pass = chip.add(ctx, pass, collapse);
            let take = chip.mul(ctx, without_leaf, last[j]);
            let kept = chip.mux(ctx, pass, b, h);
            b = chip.mux(ctx, take, siblings[j], kept);
            lone = gate.mul_add(ctx, pass, lone, take);
        }

        // The node beside the leaf is what the witness says it is.
        let beside =
            gate.inner_product(ctx, last.iter().copied(), siblings.iter().map(|x| Existing(*x)));
        let beside_domain = gate.mul_add(
            ctx,
            beside_is_leaf,
            Constant(Fr::from(DOMAIN_LEAF) - Fr::from(DOMAIN_NODE)),
            Constant(Fr::from(DOMAIN_NODE)),
        );
        let beside_hash = chip.hash2(ctx, beside_domain, beside_a, beside_b);
        let has_beside = chip.mul(ctx, without, level.first().copied().unwrap_or(zero_cell));
        let beside_diff = chip.sub(ctx, beside_hash, beside);
        chip.zero_where(ctx, beside_diff, has_beside);
        // A leaf beside shares the key's bits above the split and differs at it.
        let beside_bits = canonical_bits(&chip, ctx, beside_a);
        let leaf_beside = chip.mul(ctx, has_beside, beside_is_leaf);
        for j in 0..depth {
            let differ = chip.sub(ctx, beside_bits[j], key_bits[j]);
            let above = chip.mul(ctx, leaf_beside, next_level(j));
            chip.zero_where(ctx, differ, above);
            let both = chip.add(ctx, beside_bits[j], key_bits[j]);
            let both = chip.sub(ctx, both, one);
            let at = chip.mul(ctx, leaf_beside, last[j]);
            chip.zero_where(ctx, both, at);
        }

        // Chain the roots.
        let before = chip.mux(ctx, is_insert, b, a);
        let after = chip.add(ctx, a, b);
        let after = chip.sub(ctx, after, before);
        let before_diff = chip.sub(ctx, before, root);
        chip.zero_where(ctx, before_diff, is_real);
        root = chip.mux(ctx, is_real, after, root);

        // Commitments to the diff: the sponge and the evaluation at z.
        let s1 = chip.add(ctx, sponge[1], key);
        let s2 = chip.add(ctx, sponge[2], new);
        let absorbed = chip.permute(ctx, [sponge[0], s1, s2]);
        for (st, ab) in sponge.iter_mut().zip(absorbed) {
            *st = chip.mux(ctx, is_real, ab, *st);
        }
        let stepped = gate.mul_add(ctx, acc, z, key);
        let stepped = gate.mul_add(ctx, stepped, z, new);
        acc = chip.mux(ctx, is_real, stepped, acc);
        counted = chip.add(ctx, counted, is_real);
        prev_real = is_real;
    }
    ctx.constrain_equal(&root, &post_root);
    ctx.constrain_equal(&counted, &count);
    let s1 = chip.add(ctx, sponge[1], count);
    let [_, h, _] = chip.permute(ctx, [sponge[0], s1, sponge[2]]);
    ctx.constrain_equal(&h, &diff_hash);
    ctx.constrain_equal(&acc, &y);
    if builder.assigned_instances.is_empty() {
        builder.assigned_instances.push(Vec::new());
    }
    builder.assigned_instances[0] = inputs.to_vec();
    Ok(())
}
