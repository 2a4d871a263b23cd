//! The `cuda` backend on a real GPU against the CPU: MSMs on random inputs (both
//! curves, several sizes and window plans) and whole Groth16 chunk proofs, bit
//! for bit. On a machine without an NVIDIA GPU every test here prints
//! `SKIPPED (no GPU): ...` and returns; `scripts/test.sh` runs this module with
//! `--nocapture` and counts those lines in its summary, so a skip is never
//! mistaken for a pass. (The kernels' arithmetic is still checked everywhere:
//! `gpu.rs` runs them emulated on the CPU.)
#![cfg(feature = "cuda")]

use alloy::primitives::{Address, B256, U256};
use ark_ec::{CurveGroup, VariableBaseMSM, short_weierstrass::Projective};
use ark_ff::{PrimeField, UniformRand};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use infra_prover::{
    Groth16Prover, Prover, Shape,
    cuda::CudaDevice,
    evm::EvmPairing,
    gpu::{self, GpuCurve, Plan},
};
use infra_state::{MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
use std::sync::Arc;

/// The GPU, or `None` after saying visibly why the test is skipped.
fn device(test: &str) -> Option<Arc<CudaDevice>> {
    if !infra_prover::cuda_driver_present() {
        println!("SKIPPED (no GPU): {test}: no NVIDIA driver (libcuda.so.1) on this machine");
        return None;
    }
    match CudaDevice::open() {
        Ok(d) => {
            println!("{test}: on {}", d.name());
            Some(d)
        }
        // A driver without a usable GPU or NVRTC: say so, loudly.
        Err(e) => panic!("{test}: the NVIDIA driver is here but the GPU cannot be used: {e}"),
    }
}

fn msm_equal<P: GpuCurve>(d: &CudaDevice) {
    let bits = P::ScalarField::MODULUS_BIT_SIZE;
    for (n, plan) in [
        (1usize, None),
        (1000, Some(Plan::with_window(5, bits))),
        (1 << 12, None),
        (1 << 16, None),
        ((1 << 16) + 17, Some(Plan::with_window(13, bits))),
    ] {
        let (bases, scalars) = gpu::sample_inputs::<P>(n, n as u64);
        let on = d.upload(&bases).expect("upload");
        let plan = plan.unwrap_or_else(|| Plan::new(n, bits));
        let gpu = d.msm_with(&on, &scalars, plan).expect("gpu msm");
        let cpu = Projective::<P>::msm_bigint(&bases, &scalars);
        assert_eq!(gpu.into_affine(), cpu.into_affine(), "{} n = {n} {plan:?}", P::NAME);
        // And the emulation of the same kernels agrees (small sizes: it is slow).
        if n <= 1000 {
            assert_eq!(gpu::emulate_msm(&bases, &scalars, plan).expect("emulated"), cpu);
        }
    }
}

#[test]
fn gpu_msm_equals_cpu_bn254() {
    if let Some(d) = device("gpu_msm_equals_cpu_bn254") {
        msm_equal::<ark_bn254::g1::Config>(&d);
    }
}

#[test]
fn gpu_msm_equals_cpu_bls12_381() {
    if let Some(d) = device("gpu_msm_equals_cpu_bls12_381") {
        msm_equal::<ark_bls12_381::g1::Config>(&d);
    }
}

/// Whole chunk proofs: the GPU prover's proof for the same randomness is the
/// CPU's, byte for byte, and verifies.
fn proofs_equal<E: EvmPairing + 'static>(d: Arc<CudaDevice>) {
    let shape = Shape::new(2, 16);
    let cpu = Groth16Prover::<E>::setup_from_seed(shape, "cuda test").expect("setup");
    let on_gpu = Groth16Prover::<E>::setup_from_seed(shape, "cuda test")
        .expect("setup")
        .with_cuda(d.clone())
        .expect("upload");
    let h = TreeHasher::new(E::CURVE);
    let mut store = MemoryNodeStore::default();
    let key = |i: u64| keys::account_key(&h, Address::left_padding_from(&i.to_be_bytes()));
    let value = |i: u64| keys::storage_value_hash(&h, U256::from(i));
    let u = SparseMerkleTree::new(&h)
        .update(&store, B256::ZERO, (0..6).map(|i| (key(i), Some(value(i)))).collect())
        .expect("tree");
    store.apply(&u.changes);
    let mut writes = vec![(key(1), Some(value(9))), (key(30), Some(value(3)))];
    writes.sort_by_key(|w| w.0);
    let proofs =
        on_gpu.prove_batch(&h, &store, u.root, &writes, B256::repeat_byte(1)).expect("prove");
    for p in &proofs {
        assert!(cpu.verify(p).expect("verify"), "a GPU proof verifies with the CPU prover's key");
    }
    // Same randomness, same proof bytes.
    let chunks = infra_prover::chunk_inputs(
        E::CURVE,
        cpu.poseidon(),
        shape,
        &h,
        &store,
        u.root,
        &writes,
        B256::repeat_byte(1),
    )
    .expect("chunks");
    let mut rng = StdRng::seed_from_u64(7);
    for (public, witness, _) in chunks {
        let (r, s) = (E::ScalarField::rand(&mut rng), E::ScalarField::rand(&mut rng));
        let a = cpu.prove_chunk_with(public, witness.clone(), r, s).expect("cpu");
        let b = on_gpu.prove_chunk_with(public, witness, r, s).expect("gpu");
        assert_eq!(Groth16Prover::<E>::proof_bytes(&a), Groth16Prover::<E>::proof_bytes(&b));
    }
}

#[test]
fn gpu_proofs_equal_cpu_proofs_bn254() {
    if let Some(d) = device("gpu_proofs_equal_cpu_proofs_bn254") {
        proofs_equal::<ark_bn254::Bn254>(d);
    }
}

#[test]
fn gpu_proofs_equal_cpu_proofs_bls12_381() {
    if let Some(d) = device("gpu_proofs_equal_cpu_proofs_bls12_381") {
        proofs_equal::<ark_bls12_381::Bls12_381>(d);
    }
}

/// `proof.backend = "cuda"` from the config: a machine without a GPU is
/// refused at start with a clear error; one with a GPU gets a GPU prover.
#[test]
fn the_cuda_backend_from_config() {
    let cfg = infra_config::ProofConfig {
        backend: infra_config::ProofBackend::Cuda,
        ..Default::default()
    };
    match infra_prover::from_config(&cfg, Shape::new(1, 8), None) {
        Ok(p) => assert!(
            infra_prover::cuda_driver_present(),
            "a cuda prover without a GPU: {:?}",
            p.curve()
        ),
        Err(e) => {
            assert!(!infra_prover::cuda_driver_present(), "a GPU is here, yet: {e}");
            assert!(e.to_string().contains("no NVIDIA driver on this machine"), "{e}");
            println!("SKIPPED (no GPU): the_cuda_backend_from_config: refused as it must be: {e}");
        }
    }
}
