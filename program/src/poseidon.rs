//! The measuring workload's second part: a chain of `n` Poseidon 2-to-1
//! hashes over BN254 (the state tree's hash), `x = P(1; x, i)`.

use infra_state::{Curve, TreeHasher};
use revm::primitives::{B256, U256};

pub fn chain(n: u64) -> [u8; 32] {
    if n == 0 {
        return [0; 32];
    }
    let h = TreeHasher::new(Curve::Bn254);
    let mut x = B256::ZERO;
    for i in 0..n {
        x = h.hash(1, &x, &B256::from(U256::from(i)));
    }
    x.0
}
