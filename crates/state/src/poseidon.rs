//! The Poseidon permutation with width 3 (rate 2, capacity 1), alpha = 5, 8 full
//! and 57 partial rounds. Round constants and the MDS matrix come from
//! `ark_crypto_primitives::sponge::poseidon::find_poseidon_ark_and_mds` (the
//! Grain LFSR of the Poseidon paper), so this permutation is exactly the one of
//! arkworks' `PoseidonSponge` (and its R1CS gadget) with the same parameters;
//! the tests check that. This copy works on fixed-size arrays to avoid the
//! sponge's per-call allocations on the hot path.

use alloc::vec::Vec;
use ark_crypto_primitives::sponge::poseidon::find_poseidon_ark_and_mds;
use ark_ff::PrimeField;

pub const FULL_ROUNDS: usize = 8;
pub const PARTIAL_ROUNDS: usize = 57;
pub const ALPHA: u64 = 5;
pub const WIDTH: usize = 3;

#[derive(Clone, Debug)]
pub struct Poseidon<F: PrimeField> {
    ark: Vec<[F; WIDTH]>,
    mds: [[F; WIDTH]; WIDTH],
}

impl<F: PrimeField> Default for Poseidon<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: PrimeField> Poseidon<F> {
    pub fn new() -> Self {
        let (ark, mds) = find_poseidon_ark_and_mds::<F>(
            u64::from(F::MODULUS_BIT_SIZE),
            WIDTH - 1,
            FULL_ROUNDS as u64,
            PARTIAL_ROUNDS as u64,
            0,
        );
        let ark = ark.into_iter().map(|row| to_array(&row)).collect();
        let mut m = [[F::zero(); WIDTH]; WIDTH];
        for (dst, src) in m.iter_mut().zip(mds.iter()) {
            *dst = to_array(src);
        }
        Self { ark, mds: m }
    }

    /// The arkworks sponge configuration these constants correspond to.
    pub fn sponge_config(&self) -> ark_crypto_primitives::sponge::poseidon::PoseidonConfig<F> {
        ark_crypto_primitives::sponge::poseidon::PoseidonConfig::new(
            FULL_ROUNDS,
            PARTIAL_ROUNDS,
            ALPHA,
            self.mds.iter().map(|r| r.to_vec()).collect(),
            self.ark.iter().map(|r| r.to_vec()).collect(),
            WIDTH - 1,
            1,
        )
    }

    #[inline]
    pub fn permute(&self, mut state: [F; WIDTH]) -> [F; WIDTH] {
        let half = FULL_ROUNDS / 2;
        for (round, constants) in self.ark.iter().enumerate() {
            for (s, c) in state.iter_mut().zip(constants.iter()) {
                *s += c;
            }
            let full = round < half || round >= half + PARTIAL_ROUNDS;
            if full {
                for s in state.iter_mut() {
                    *s = sbox(*s);
                }
            } else {
                state[0] = sbox(state[0]);
            }
            state = self.apply_mds(&state);
        }
        state
    }

    /// Round constants (one row of `WIDTH` per round) and the MDS matrix.
    pub fn constants(&self) -> (&[[F; WIDTH]], &[[F; WIDTH]; WIDTH]) {
        (&self.ark, &self.mds)
    }

    #[inline]
    fn apply_mds(&self, state: &[F; WIDTH]) -> [F; WIDTH] {
        let mut out = [F::zero(); WIDTH];
        for (o, row) in out.iter_mut().zip(self.mds.iter()) {
            *o = row[0] * state[0] + row[1] * state[1] + row[2] * state[2];
        }
        out
    }

    /// `P(domain; a, b)`: permutation of `[domain, a, b]`, element 1 of the output
    /// (the first rate element, what the arkworks sponge squeezes).
    #[inline]
    pub fn hash2(&self, domain: F, a: F, b: F) -> F {
        self.permute([domain, a, b])[1]
    }
}

#[inline]
fn sbox<F: PrimeField>(x: F) -> F {
    let x2 = x.square();
    let x4 = x2.square();
    x4 * x
}

fn to_array<F: PrimeField>(v: &[F]) -> [F; WIDTH] {
    let mut out = [F::zero(); WIDTH];
    for (o, x) in out.iter_mut().zip(v.iter()) {
        *o = *x;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_crypto_primitives::sponge::{CryptographicSponge, poseidon::PoseidonSponge};

    fn check_against_arkworks<F: PrimeField + ark_crypto_primitives::sponge::Absorb>() {
        let p = Poseidon::<F>::new();
        let config = p.sponge_config();
        for i in 0..5u64 {
            let a = F::from(i * 7 + 1);
            let b = F::from(i * 13 + 2);
            let mut sponge = PoseidonSponge::<F>::new(&config);
            sponge.absorb(&vec![a, b]);
            let expected: Vec<F> = sponge.squeeze_field_elements(1);
            assert_eq!(p.hash2(F::zero(), a, b), expected[0]);
        }
    }

    #[test]
    fn matches_arkworks_sponge_bn254() {
        check_against_arkworks::<ark_bn254::Fr>();
    }

    #[test]
    fn matches_arkworks_sponge_bls12_381() {
        check_against_arkworks::<ark_bls12_381::Fr>();
    }

    #[test]
    fn domain_separates() {
        let p = Poseidon::<ark_bn254::Fr>::new();
        let a = ark_bn254::Fr::from(1u64);
        assert_ne!(p.hash2(0u64.into(), a, a), p.hash2(1u64.into(), a, a));
    }
}
