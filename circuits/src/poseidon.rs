//! The node's Poseidon permutation (t = 3, alpha = 5, 8 full + 57 partial rounds,
//! the constants of `infra_state::Poseidon`) as R1CS: 3 constraints per S-box,
//! 8 * 3 + 57 = 81 S-boxes, 243 constraints per permutation. Round constants and
//! the MDS matrix are linear, so they cost nothing.

use ark_ff::PrimeField;
use ark_r1cs_std::fields::{FieldVar, fp::FpVar};
use ark_relations::gr1cs::SynthesisError;
use infra_state::Poseidon;

/// Constraints of one permutation (asserted by the tests).
pub const PERMUTATION_CONSTRAINTS: usize = 243;

fn sbox<F: PrimeField>(x: &FpVar<F>) -> Result<FpVar<F>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// The permutation of `state`, exactly as `Poseidon::permute` computes it natively.
pub fn permute<F: PrimeField>(
    p: &Poseidon<F>,
    state: [FpVar<F>; 3],
) -> Result<[FpVar<F>; 3], SynthesisError> {
    let (ark, mds) = p.constants();
    let half = infra_state::poseidon_params::FULL_ROUNDS / 2;
    let partial = infra_state::poseidon_params::PARTIAL_ROUNDS;
    let mut s = state;
    for (round, constants) in ark.iter().enumerate() {
        for (x, c) in s.iter_mut().zip(constants.iter()) {
            *x = &*x + *c;
        }
        if round < half || round >= half + partial {
            for x in s.iter_mut() {
                *x = sbox(x)?;
            }
        } else {
            s[0] = sbox(&s[0])?;
        }
        let mixed: [FpVar<F>; 3] =
            std::array::from_fn(|i| &s[0] * mds[i][0] + &s[1] * mds[i][1] + &s[2] * mds[i][2]);
        s = mixed;
    }
    Ok(s)
}

/// `P(domain; a, b)`: element 1 of the permutation of `[domain, a, b]`, as
/// `TreeHasher::hash` (the domain may be a variable: a selected domain).
pub fn hash2<F: PrimeField>(
    p: &Poseidon<F>,
    domain: FpVar<F>,
    a: &FpVar<F>,
    b: &FpVar<F>,
) -> Result<FpVar<F>, SynthesisError> {
    let [_, out, _] = permute(p, [domain, a.clone(), b.clone()])?;
    Ok(out)
}

/// A constant domain tag.
pub fn domain<F: PrimeField>(d: u64) -> FpVar<F> {
    FpVar::constant(F::from(d))
}
