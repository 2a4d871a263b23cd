//! The two commitments to a chunk's state diff that its proof is bound by: the
//! prover's Poseidon sponge over the writes (`diff_hash`, fixed before the
//! challenge `z` is drawn) and the evaluation at `z` of the polynomial whose
//! coefficients are the diff as L1 holds it (`diff_eval`, which L1 computes with
//! `mulmod`/`addmod` over the posted bytes).

use ark_ff::PrimeField;
use infra_state::{Poseidon, keys::DOMAIN_DIFF};

/// The field elements of a diff, in the order both commitments read them:
/// `key_0, value_0, key_1, value_1, ...` (a deleted leaf's value is 0).
pub fn diff_elements<F: PrimeField>(writes: &[(F, F)]) -> Vec<F> {
    writes.iter().flat_map(|(k, v)| [*k, *v]).collect()
}

/// Sponge over the writes: state `[DOMAIN_DIFF, 0, 0]`; each write `(k, v)` is
/// added to the two rate elements and the state permuted; finally the count `n`
/// is absorbed the same way. The hash is rate element 0 of the last state.
pub fn diff_hash<F: PrimeField>(p: &Poseidon<F>, writes: &[(F, F)]) -> F {
    let mut s = [F::from(DOMAIN_DIFF), F::zero(), F::zero()];
    for (k, v) in writes {
        s = p.permute([s[0], s[1] + k, s[2] + v]);
    }
    s = p.permute([s[0], s[1] + F::from(writes.len() as u64), s[2]]);
    s[1]
}

/// Horner evaluation at `z` of `[n, key_0, value_0, key_1, value_1, ...]`
/// (the count first, so the leading coefficient is never zero).
pub fn diff_eval<F: PrimeField>(z: F, writes: &[(F, F)]) -> F {
    let mut acc = F::from(writes.len() as u64);
    for e in diff_elements(writes) {
        acc = acc * z + e;
    }
    acc
}
