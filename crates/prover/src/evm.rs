//! Points as the EVM precompiles take them, so a proof and a verifying key can go
//! to L1 as bytes: BN254 per EIP-196/197 (32-byte big-endian coordinates, an `Fp2`
//! element imaginary part first) and BLS12-381 per EIP-2537 (64-byte coordinates,
//! 16 zero bytes then 48, an `Fp2` element `c0` first). The point at infinity is
//! all zeros in both.

use ark_ec::{AffineRepr, pairing::Pairing, short_weierstrass::Affine};
use ark_ff::{BigInteger, PrimeField};
use infra_state::Curve;

fn put<F: PrimeField>(out: &mut Vec<u8>, x: &F, width: usize) {
    let bytes = x.into_bigint().to_bytes_be();
    out.extend(std::iter::repeat_n(0u8, width - bytes.len()));
    out.extend_from_slice(&bytes);
}

fn take<F: PrimeField>(bytes: &[u8], width: usize) -> Option<F> {
    let raw = bytes.get(..width)?;
    let pad = width - F::MODULUS_BIT_SIZE.div_ceil(8) as usize;
    if raw[..pad].iter().any(|b| *b != 0) {
        return None;
    }
    let x = F::from_be_bytes_mod_order(&raw[pad..]);
    // Canonical only: the bytes must be the encoding of the element they reduce to.
    let mut back = Vec::new();
    put(&mut back, &x, width);
    (back == raw).then_some(x)
}

/// A pairing-friendly curve whose points have an EVM encoding.
pub trait EvmPairing: Pairing {
    const CURVE: Curve;
    /// Bytes per base-field coordinate.
    const WIDTH: usize;
    fn g1_bytes(p: &Self::G1Affine) -> Vec<u8>;
    fn g2_bytes(p: &Self::G2Affine) -> Vec<u8>;
    fn g1_from(bytes: &[u8]) -> Option<Self::G1Affine>;
    fn g2_from(bytes: &[u8]) -> Option<Self::G2Affine>;
    /// G1's curve, as the GPU MSM takes it ([`crate::gpu::GpuCurve`]).
    type G1Curve: crate::gpu::GpuCurve<ScalarField = Self::ScalarField>;
    /// G1 points as the GPU MSM takes them (the same type: `E::G1Affine` is
    /// `Affine<E::G1Curve>`; the compiler needs it said per curve).
    fn g1_for_gpu(p: &[Self::G1Affine]) -> &[Affine<Self::G1Curve>];
    /// A G1 sum from the GPU MSM (the same type as `E::G1`).
    fn g1_from_gpu(p: ark_ec::short_weierstrass::Projective<Self::G1Curve>) -> Self::G1;
}

fn checked<P: ark_ec::short_weierstrass::SWCurveConfig>(p: Affine<P>) -> Option<Affine<P>> {
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

macro_rules! evm_pairing {
    ($engine:ty, $curve:expr, $width:expr, $g1:ty, $g2:ty, $fq:ty, $imag_first:expr, $g1curve:ty) => {
        impl EvmPairing for $engine {
            const CURVE: Curve = $curve;
            const WIDTH: usize = $width;
            type G1Curve = $g1curve;

            fn g1_for_gpu(p: &[Self::G1Affine]) -> &[Affine<Self::G1Curve>] {
                p
            }

            fn g1_from_gpu(p: ark_ec::short_weierstrass::Projective<Self::G1Curve>) -> Self::G1 {
                p
            }

            fn g1_bytes(p: &Self::G1Affine) -> Vec<u8> {
                let mut out = Vec::with_capacity(2 * $width);
                match p.xy() {
                    None => out.resize(2 * $width, 0),
                    Some((x, y)) => {
                        put(&mut out, &x, $width);
                        put(&mut out, &y, $width);
                    }
                }
                out
            }

            fn g2_bytes(p: &Self::G2Affine) -> Vec<u8> {
                let mut out = Vec::with_capacity(4 * $width);
                match p.xy() {
                    None => out.resize(4 * $width, 0),
                    Some((x, y)) => {
                        for c in [x, y] {
                            let (first, second) =
                                if $imag_first { (c.c1, c.c0) } else { (c.c0, c.c1) };
                            put(&mut out, &first, $width);
                            put(&mut out, &second, $width);
                        }
                    }
                }
                out
            }

            fn g1_from(bytes: &[u8]) -> Option<Self::G1Affine> {
                if bytes.len() != 2 * $width {
                    return None;
                }
                if bytes.iter().all(|b| *b == 0) {
                    return Some(<$g1>::zero());
                }
                let x: $fq = take(bytes, $width)?;
                let y: $fq = take(&bytes[$width..], $width)?;
                checked(<$g1>::new_unchecked(x, y))
            }

            fn g2_from(bytes: &[u8]) -> Option<Self::G2Affine> {
                if bytes.len() != 4 * $width {
                    return None;
                }
                if bytes.iter().all(|b| *b == 0) {
                    return Some(<$g2>::zero());
                }
                let mut parts = [<$fq>::from(0u64); 4];
                for (i, part) in parts.iter_mut().enumerate() {
                    *part = take(&bytes[i * $width..], $width)?;
                }
                let fp2 = |a: $fq, b: $fq| {
                    if $imag_first {
                        ark_ff::QuadExtField::new(b, a)
                    } else {
                        ark_ff::QuadExtField::new(a, b)
                    }
                };
                checked(<$g2>::new_unchecked(fp2(parts[0], parts[1]), fp2(parts[2], parts[3])))
            }
        }
    };
}

evm_pairing!(
    ark_bn254::Bn254,
    Curve::Bn254,
    32,
    ark_bn254::G1Affine,
    ark_bn254::G2Affine,
    ark_bn254::Fq,
    true,
    ark_bn254::g1::Config
);
evm_pairing!(
    ark_bls12_381::Bls12_381,
    Curve::Bls12_381,
    64,
    ark_bls12_381::G1Affine,
    ark_bls12_381::G2Affine,
    ark_bls12_381::Fq,
    false,
    ark_bls12_381::g1::Config
);
