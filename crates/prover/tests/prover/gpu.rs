//! The GPU MSM kernels against arkworks, on every machine: the kernel source
//! compiled as C++ and run thread by thread on the CPU (`gpu::emulate_msm`),
//! then whole Groth16 proofs with those MSMs, bit for bit equal to arkworks'
//! proofs with the same randomness. The same comparisons on a real GPU are in
//! `cuda.rs` (feature `cuda`).

use ark_ec::{
    AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM,
    short_weierstrass::{Affine, Projective},
};
use ark_ff::{PrimeField, UniformRand, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_snark::SNARK;
use ark_std::rand::{SeedableRng, rngs::StdRng};
use infra_prover::gpu::{self, GpuCurve, Plan, Query};

/// Random bases and scalars, with the cases the formulae treat apart: the
/// identity among the bases, a zero scalar, the largest scalar, a base twice
/// with the same scalar (a doubling inside a bucket) and a base next to its
/// negation (a sum that cancels).
fn inputs<P: GpuCurve>(
    n: usize,
    seed: u64,
) -> (Vec<Affine<P>>, Vec<<P::ScalarField as PrimeField>::BigInt>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bases: Vec<Affine<P>> =
        (0..n).map(|_| Projective::<P>::rand(&mut rng).into_affine()).collect();
    let mut scalars: Vec<P::ScalarField> = (0..n).map(|_| P::ScalarField::rand(&mut rng)).collect();
    if n >= 8 {
        bases[0] = Affine::<P>::zero();
        scalars[1] = P::ScalarField::zero();
        scalars[2] = -P::ScalarField::from(1u64);
        bases[4] = bases[3];
        scalars[4] = scalars[3];
        bases[6] = -bases[5];
        scalars[6] = scalars[5];
    }
    (bases, scalars.iter().map(|s| s.into_bigint()).collect())
}

fn msm_matches<P: GpuCurve>() {
    for (n, seed, plan) in [
        (1, 1, Plan::new(1, P::ScalarField::MODULUS_BIT_SIZE)),
        (64, 2, Plan::with_window(4, P::ScalarField::MODULUS_BIT_SIZE)),
        (300, 3, Plan::new(300, P::ScalarField::MODULUS_BIT_SIZE)),
        (700, 4, Plan::with_window(7, P::ScalarField::MODULUS_BIT_SIZE)),
        (1000, 5, Plan::with_window(10, P::ScalarField::MODULUS_BIT_SIZE)),
    ] {
        let (bases, scalars) = inputs::<P>(n, seed);
        let expected = Projective::<P>::msm_bigint(&bases, &scalars);
        let got = gpu::emulate_msm(&bases, &scalars, plan).expect("emulation");
        assert_eq!(got.into_affine(), expected.into_affine(), "{} n = {n}, {plan:?}", P::NAME);
    }
    // Fewer scalars than bases: the first pairs, as arkworks does.
    let (bases, scalars) = inputs::<P>(100, 9);
    let plan = Plan::new(40, P::ScalarField::MODULUS_BIT_SIZE);
    let got = gpu::emulate_msm(&bases, &scalars[..40], plan).expect("emulation");
    assert_eq!(got, Projective::<P>::msm_bigint(&bases[..40], &scalars[..40]));
}

#[test]
fn emulated_kernels_match_arkworks_bn254() {
    msm_matches::<ark_bn254::g1::Config>();
}

#[test]
fn emulated_kernels_match_arkworks_bls12_381() {
    msm_matches::<ark_bls12_381::g1::Config>();
}

/// A kernel that gets one thing wrong is caught: the same inputs with one
/// scalar changed give another point.
#[test]
fn a_changed_scalar_changes_the_result() {
    type P = ark_bn254::g1::Config;
    let (bases, mut scalars) = inputs::<P>(50, 11);
    let plan = Plan::new(50, 254);
    let honest = gpu::emulate_msm(&bases, &scalars, plan).expect("emulation");
    scalars[20] = ark_bn254::Fr::from(12345u64).into_bigint();
    let other = gpu::emulate_msm(&bases, &scalars, plan).expect("emulation");
    assert_ne!(honest, other);
}

/// x_{i+1} = x_i^2 + x_i for `steps` steps, the last one public.
#[derive(Clone)]
struct Squares<F: PrimeField> {
    x0: F,
    steps: usize,
}

impl<F: PrimeField> Squares<F> {
    fn out(&self) -> F {
        (0..self.steps).fold(self.x0, |x, _| x * x + x)
    }
}

impl<F: PrimeField> ConstraintSynthesizer<F> for Squares<F> {
    fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
        use ark_relations::lc;
        let out = cs.new_input_variable(|| Ok(self.out()))?;
        let mut x = self.x0;
        let mut v = cs.new_witness_variable(|| Ok(x))?;
        for i in 0..self.steps {
            let sq = x * x;
            let s = cs.new_witness_variable(|| Ok(sq))?;
            cs.enforce_r1cs_constraint(|| lc!() + v, || lc!() + v, || lc!() + s)?;
            x = sq + x;
            let next = if i + 1 == self.steps { out } else { cs.new_witness_variable(|| Ok(x))? };
            cs.enforce_r1cs_constraint(
                || lc!() + s + v,
                || lc!() + ark_relations::gr1cs::Variable::One,
                || lc!() + next,
            )?;
            v = next;
        }
        Ok(())
    }
}

fn whole_proof<E, P>()
where
    E: ark_ec::pairing::Pairing<G1Affine = Affine<P>, G1 = Projective<P>>,
    P: GpuCurve<ScalarField = E::ScalarField>,
{
    let mut rng = StdRng::seed_from_u64(42);
    let circuit = Squares { x0: E::ScalarField::from(3u64), steps: 40 };
    let (pk, vk) = Groth16::<E>::circuit_specific_setup(circuit.clone(), &mut rng).expect("setup");
    let (r, s) = (E::ScalarField::rand(&mut rng), E::ScalarField::rand(&mut rng));
    let reference =
        Groth16::<E>::create_proof_with_reduction(circuit.clone(), &pk, r, s).expect("arkworks");
    // The prover with pluggable MSMs, arkworks' MSM plugged in: the same proof.
    let cpu = gpu::prove_with_msm(&pk, circuit.clone(), r, s, &|q, sc| gpu::cpu_msm(&pk, q, sc))
        .expect("cpu");
    assert_eq!(cpu, reference, "prove_with_msm is arkworks' prover");
    // The kernels' MSMs (emulated): the same proof, and it verifies.
    let emulated = gpu::prove_with_msm(&pk, circuit.clone(), r, s, &|q: Query, sc: &[_]| {
        let bases = q.bases(&pk);
        gpu::emulate_msm(bases, sc, Plan::new(bases.len(), P::ScalarField::MODULUS_BIT_SIZE))
    })
    .expect("emulated");
    assert_eq!(emulated, reference, "{}: the emulated kernels' proof is arkworks' proof", P::NAME);
    let public = [circuit.out()];
    assert!(Groth16::<E>::verify(&vk, &public, &emulated).expect("verify"));
    // A wrong MSM gives a proof that does not verify.
    let wrong = gpu::prove_with_msm(&pk, circuit, r, s, &|q, sc| {
        let mut p = gpu::cpu_msm(&pk, q, sc)?;
        if q == Query::H {
            p += Projective::<P>::generator();
        }
        Ok(p)
    })
    .expect("wrong");
    assert!(!Groth16::<E>::verify(&vk, &public, &wrong).expect("verify"));
}

#[test]
fn whole_proofs_with_the_emulated_kernels_are_arkworks_proofs() {
    whole_proof::<ark_bn254::Bn254, ark_bn254::g1::Config>();
    whole_proof::<ark_bls12_381::Bls12_381, ark_bls12_381::g1::Config>();
}
