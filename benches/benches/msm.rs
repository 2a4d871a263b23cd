//! Multi-scalar multiplication, the CUDA backend against the CPU backend
//! (arkworks, rayon) in the same run: G1 MSMs of 2^16 .. 2^MAX points on BN254
//! and BLS12-381, then whole Groth16 chunk proofs (14 writes at depth 32, about
//! 2^18 constraints) with each backend.
//!
//! `cargo bench -p infra-benches --features cuda --bench msm` on a machine with
//! an NVIDIA GPU. Without the feature, or without a GPU, the CPU rows run and the
//! GPU rows are reported as skipped. `INFRA_MSM_MAX_LOG` (default 22 with a GPU,
//! 20 without) bounds the sizes.

#[cfg(feature = "cuda")]
use ark_ec::CurveGroup;
use ark_ec::{VariableBaseMSM, short_weierstrass::Projective};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infra_prover::gpu::GpuCurve;
use std::time::{Duration, Instant};

#[cfg(feature = "cuda")]
type Gpu = Option<std::sync::Arc<infra_prover::cuda::CudaDevice>>;
/// No GPU can be open without the feature.
#[cfg(not(feature = "cuda"))]
type Gpu = Option<std::convert::Infallible>;

#[cfg(feature = "cuda")]
fn open_gpu() -> Gpu {
    if !infra_prover::cuda_driver_present() {
        println!("GPU rows: SKIPPED (no NVIDIA driver on this machine)");
        return None;
    }
    match infra_prover::cuda::CudaDevice::open() {
        Ok(d) => {
            println!("GPU: {}", d.name());
            Some(d)
        }
        Err(e) => {
            println!("GPU rows: SKIPPED ({e})");
            None
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn open_gpu() -> Gpu {
    println!("GPU rows: SKIPPED (built without `--features cuda`)");
    None
}

fn has_gpu(gpu: &Gpu) -> bool {
    gpu.is_some()
}

fn time(c: &mut Criterion, group: &str, name: &str, n: usize, mut f: impl FnMut()) -> Duration {
    let mut g = c.benchmark_group(group);
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    let mut per = Duration::ZERO;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let d = t.elapsed();
            per = d / iters as u32;
            d
        })
    });
    g.finish();
    per
}

fn msm_rows<P: GpuCurve>(c: &mut Criterion, gpu: &Gpu, max_log: u32) {
    for log in (16..=max_log).step_by(2) {
        let n = 1usize << log;
        let (bases, scalars) = infra_prover::gpu::sample_inputs::<P>(n, n as u64);
        let group = format!("msm/{}/2^{log}", P::NAME);
        let cpu = time(c, &group, "cpu", n, || {
            let _ = std::hint::black_box(Projective::<P>::msm_bigint(&bases, &scalars));
        });
        let mut line = format!("SUMMARY {group}: cpu {:.2} ms", cpu.as_secs_f64() * 1e3);
        #[cfg(feature = "cuda")]
        if let Some(d) = gpu {
            let on = d.upload(&bases).expect("upload");
            let expected = Projective::<P>::msm_bigint(&bases, &scalars).into_affine();
            assert_eq!(d.msm(&on, &scalars).expect("gpu").into_affine(), expected);
            let t = time(c, &group, "gpu", n, || {
                let _ = std::hint::black_box(d.msm(&on, &scalars).expect("gpu"));
            });
            line += &format!(
                "; gpu {:.2} ms (bases resident, scalars uploaded each call); gpu/cpu speed-up {:.1}x",
                t.as_secs_f64() * 1e3,
                cpu.as_secs_f64() / t.as_secs_f64()
            );
        }
        if !has_gpu(gpu) {
            line += "; gpu SKIPPED";
        }
        println!("\n{line}");
    }
}

fn whole_proof<E: infra_prover::evm::EvmPairing + 'static>(c: &mut Criterion, gpu: &Gpu) {
    use alloy::primitives::{Address, B256, U256};
    use infra_prover::{Groth16Prover, Prover, Shape};
    use infra_state::{MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
    let shape = Shape::new(14, 32);
    let h = TreeHasher::new(E::CURVE);
    let key = |i: u64| keys::account_key(&h, Address::left_padding_from(&i.to_be_bytes()));
    let value = |i: u64| keys::storage_value_hash(&h, U256::from(i));
    let mut store = MemoryNodeStore::default();
    let u = SparseMerkleTree::new(&h)
        .update(&store, B256::ZERO, (0..1024).map(|i| (key(i), Some(value(i)))).collect())
        .expect("tree");
    store.apply(&u.changes);
    let mut writes: Vec<_> = (0..14).map(|i| (key(i * 3), Some(value(i + 5000)))).collect();
    writes.sort_by_key(|w| w.0);
    let cpu_prover = Groth16Prover::<E>::setup_from_seed(shape, "bench").expect("setup");
    let group = format!("msm/proof/{}/{}x{}", E::CURVE, shape.writes, shape.depth);
    let cpu = time(c, &group, "cpu", shape.writes, || {
        cpu_prover.prove_batch(&h, &store, u.root, &writes, B256::ZERO).expect("prove");
    });
    let mut line = format!("SUMMARY {group}: cpu prove {:.3} s", cpu.as_secs_f64());
    #[cfg(feature = "cuda")]
    if let Some(d) = gpu {
        let gpu_prover = Groth16Prover::<E>::setup_from_seed(shape, "bench")
            .expect("setup")
            .with_cuda(d.clone())
            .expect("upload");
        let proofs =
            gpu_prover.prove_batch(&h, &store, u.root, &writes, B256::ZERO).expect("prove");
        assert!(cpu_prover.verify(&proofs[0]).expect("verify"));
        let t = time(c, &group, "gpu", shape.writes, || {
            gpu_prover.prove_batch(&h, &store, u.root, &writes, B256::ZERO).expect("prove");
        });
        line += &format!(
            "; gpu prove {:.3} s; speed-up {:.2}x",
            t.as_secs_f64(),
            cpu.as_secs_f64() / t.as_secs_f64()
        );
    }
    if !has_gpu(gpu) {
        line += "; gpu SKIPPED";
    }
    println!("\n{line}");
}

fn benches(c: &mut Criterion) {
    let gpu = open_gpu();
    let default_max = if has_gpu(&gpu) { 22 } else { 20 };
    let max_log = std::env::var("INFRA_MSM_MAX_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_max)
        .clamp(16, 24);
    msm_rows::<ark_bn254::g1::Config>(c, &gpu, max_log);
    msm_rows::<ark_bls12_381::g1::Config>(c, &gpu, max_log);
    whole_proof::<ark_bn254::Bn254>(c, &gpu);
    whole_proof::<ark_bls12_381::Bls12_381>(c, &gpu);
}

criterion_group!(msm_benches, benches);
criterion_main!(msm_benches);
