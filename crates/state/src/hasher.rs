use crate::poseidon::Poseidon;
use alloc::{format, string::String, sync::Arc};
use alloy_primitives::{B256, U256};
use ark_ff::{BigInteger, PrimeField};
use core::{fmt, str::FromStr};
use serde::{Deserialize, Serialize};

/// The curve whose scalar field the state tree hashes over (the chain's proving curve).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Curve {
    #[default]
    #[serde(rename = "bn254")]
    Bn254,
    #[serde(rename = "bls12-381")]
    Bls12_381,
}

impl Curve {
    pub const ALLOWED: &'static str = "\"bn254\" | \"bls12-381\"";

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Bn254 => "bn254",
            Self::Bls12_381 => "bls12-381",
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Curve {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bn254" => Ok(Self::Bn254),
            "bls12-381" => Ok(Self::Bls12_381),
            other => Err(format!("unknown curve {other:?}, allowed: {}", Self::ALLOWED)),
        }
    }
}

#[derive(Debug)]
enum Inner {
    Bn254(Poseidon<ark_bn254::Fr>),
    Bls12_381(Poseidon<ark_bls12_381::Fr>),
}

/// Poseidon over the chosen curve's scalar field, on 32-byte big-endian encodings
/// of field elements. Cheap to clone (the constants are shared).
#[derive(Debug, Clone)]
pub struct TreeHasher {
    curve: Curve,
    inner: Arc<Inner>,
}

impl TreeHasher {
    pub fn new(curve: Curve) -> Self {
        let inner = match curve {
            Curve::Bn254 => Inner::Bn254(Poseidon::new()),
            Curve::Bls12_381 => Inner::Bls12_381(Poseidon::new()),
        };
        Self { curve, inner: Arc::new(inner) }
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// `P(domain; a, b)`. Inputs are reduced modulo the field; every input this
    /// crate passes is already canonical (a hash output, an address or a 128-bit limb).
    #[inline]
    pub fn hash(&self, domain: u64, a: &B256, b: &B256) -> B256 {
        match &*self.inner {
            Inner::Bn254(p) => to_b256(p.hash2(domain.into(), to_field(a), to_field(b))),
            Inner::Bls12_381(p) => to_b256(p.hash2(domain.into(), to_field(a), to_field(b))),
        }
    }

    /// Hashes a 256-bit integer as its two 128-bit limbs: `P(domain; hi, lo)`.
    pub fn hash_u256(&self, domain: u64, value: U256) -> B256 {
        let (hi, lo) = limbs(value);
        self.hash(domain, &hi, &lo)
    }

    /// Whether `x` is a canonical field element (below the modulus). Hashing
    /// reduces its inputs, so `x` and `x + p` hash alike: a reader of nodes by
    /// hash (the fault-proof program) must refuse non-canonical words, or a
    /// second preimage of a node could name another key.
    pub fn is_canonical(&self, x: &B256) -> bool {
        let modulus = match self.curve {
            Curve::Bn254 => ark_bn254::Fr::MODULUS.to_bytes_be(),
            Curve::Bls12_381 => ark_bls12_381::Fr::MODULUS.to_bytes_be(),
        };
        x.as_slice() < modulus.as_slice()
    }
}

/// Splits a 256-bit integer into (high, low) 128-bit limbs, each as a 32-byte word.
pub(crate) fn limbs(value: U256) -> (B256, B256) {
    let bytes = value.to_be_bytes::<32>();
    let mut hi = [0u8; 32];
    let mut lo = [0u8; 32];
    hi[16..].copy_from_slice(&bytes[..16]);
    lo[16..].copy_from_slice(&bytes[16..]);
    (B256::from(hi), B256::from(lo))
}

/// A 32-byte big-endian word as a field element (reduced modulo the field).
pub fn to_field<F: PrimeField>(x: &B256) -> F {
    F::from_be_bytes_mod_order(x.as_slice())
}

/// A field element as its canonical 32-byte big-endian word.
pub fn to_b256<F: PrimeField>(x: F) -> B256 {
    let bytes = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    let start = 32usize.saturating_sub(bytes.len());
    out[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(32)..]);
    B256::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_round_trip_is_canonical() {
        let h = TreeHasher::new(Curve::Bn254);
        let out = h.hash(1, &B256::ZERO, &B256::ZERO);
        let back: ark_bn254::Fr = to_field(&out);
        assert_eq!(to_b256(back), out);
        assert_ne!(out, B256::ZERO);
    }

    #[test]
    fn curves_differ() {
        let a = TreeHasher::new(Curve::Bn254).hash(1, &B256::ZERO, &B256::ZERO);
        let b = TreeHasher::new(Curve::Bls12_381).hash(1, &B256::ZERO, &B256::ZERO);
        assert_ne!(a, b);
    }

    #[test]
    fn limbs_split() {
        let v = (U256::from(3u64) << 128) | U256::from(5u64);
        let (hi, lo) = limbs(v);
        assert_eq!(U256::from_be_bytes(hi.0), U256::from(3u64));
        assert_eq!(U256::from_be_bytes(lo.0), U256::from(5u64));
    }
}
