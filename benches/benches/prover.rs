//! The headline bench: Groth16 proofs of the chunk circuit (the zk statement of a
//! batch's state diff), for two circuit sizes on each curve. Reports proving time,
//! state writes proven per second, constraints per write, and the floor measured
//! in the same run: the multi-scalar multiplications (with this proof's real
//! assignment) and the seven FFTs a Groth16 proof of that size performs, timed
//! alone. Proving time / floor shows what witness generation and synthesis add.
//! And the L1 gas to verify one chunk proof with the committed verifier contract
//! (revm, Osaka precompiles).
//!
//! PLONK rows (halo2, KZG over BN254) on the same batches in the same run:
//! proving time, writes/s, rows and advice cells per state write, and the L1 gas
//! of the generated verifier (compiled by the pinned solc: run `npm ci` in
//! `contracts/` first).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolCall,
};
use ark_ec::VariableBaseMSM;
use ark_ff::{FftField, PrimeField, UniformRand};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infra_circuits::{ChunkCircuit, ChunkPublic, Shape, chunk_witnesses, diff_eval, diff_hash};
use infra_l1::{BatchVerifierBn254, sim::SimL1, verifier_initcode};
use infra_prover::{ChunkProof, Groth16Prover, PlonkProver, Prover, evm::EvmPairing};
use infra_state::Curve;
use infra_state::{MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
use std::time::{Duration, Instant};

/// Leaves in the state tree the writes land in.
const LEAVES: u64 = 4_096;
/// The two circuit sizes: writes per proof at depth 32 (about 2^16 and 2^18
/// constraints).
const SHAPES: [Shape; 2] = [Shape::new(3, 32), Shape::new(14, 32)];

struct Scenario {
    store: MemoryNodeStore,
    root: B256,
    writes: Vec<(B256, Option<B256>)>,
}

/// A tree of `LEAVES` accounts and `n` writes against it: updates, inserts and
/// deletes in turn.
fn scenario(h: &TreeHasher, n: usize) -> Scenario {
    let tree = SparseMerkleTree::new(h);
    let mut store = MemoryNodeStore::default();
    let key = |i: u64| keys::account_key(h, Address::left_padding_from(&i.to_be_bytes()));
    let value = |i: u64| keys::account_value_hash(h, i, U256::from(i * 1_000), B256::ZERO);
    let u = tree
        .update(&store, B256::ZERO, (0..LEAVES).map(|i| (key(i), Some(value(i)))).collect())
        .expect("build");
    store.apply(&u.changes);
    let mut writes: Vec<_> = (0..n as u64)
        .map(|i| match i % 3 {
            0 => (key(i), Some(value(i + 7))),
            1 => (key(LEAVES + i), Some(value(i))),
            _ => (key(LEAVES - 1 - i), None),
        })
        .collect();
    writes.sort_by_key(|w| w.0);
    Scenario { store, root: u.root, writes }
}

fn msm<G: VariableBaseMSM>(
    bases: &[G::MulBase],
    scalars: &[<G::ScalarField as PrimeField>::BigInt],
) -> G {
    let n = bases.len().min(scalars.len());
    G::msm_bigint(&bases[..n], &scalars[..n])
}

/// Gas of an L1 transaction calling `verifyProof` on the verifier for `vk`:
/// (the whole transaction, its execution alone: less the 21,000 base and the
/// calldata's 4/16 gas per zero/non-zero byte).
fn l1_verify_gas(curve: Curve, vk: Vec<u8>, p: &ChunkProof) -> (u64, u64) {
    verify_gas(
        |l1, from| l1.deploy(from, verifier_initcode(curve == Curve::Bls12_381, Bytes::from(vk))),
        p,
    )
}

/// The same for a PLONK prover's generated verifier behind `BatchVerifierPlonk`.
fn plonk_verify_gas(prover: &PlonkProver, p: &ChunkProof) -> (u64, u64) {
    let code = infra_l1::solc::compile(&prover.solidity_verifier("PlonkVerifier"), "PlonkVerifier")
        .expect("the pinned solc (npm ci in contracts/)");
    verify_gas(
        |l1, from| {
            let plonk = l1.deploy(from, code);
            l1.deploy(from, infra_l1::plonk_verifier_initcode(plonk, prover.verifying_key_hash()))
        },
        p,
    )
}

fn verify_gas(deploy: impl FnOnce(&mut SimL1, Address) -> Address, p: &ChunkProof) -> (u64, u64) {
    let from = Address::repeat_byte(1);
    let mut l1 = SimL1::new(&[from], U256::from(10u128.pow(21)));
    let verifier = deploy(&mut l1, from);
    let call = BatchVerifierBn254::verifyProofCall {
        proof: p.proof.clone().into(),
        input: p.public.map(|w| U256::from_be_bytes(w.0)),
    };
    assert!(l1.view(verifier, &call), "the verifier accepts the proof");
    let total = l1.send(from, verifier, &call, U256::ZERO).expect("verify").gas;
    let data = call.abi_encode();
    let calldata: u64 = data.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum();
    (total, total - 21_000 - calldata)
}

/// Times `prover` on the scenario's one-chunk batch; returns the time per proof.
fn bench_prove(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    prover: &dyn Prover,
    h: &TreeHasher,
    s: &Scenario,
    binding: B256,
) -> Duration {
    let mut prove_time = Duration::ZERO;
    group.bench_function("prove", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let proofs =
                    prover.prove_batch(h, &s.store, s.root, &s.writes, binding).expect("prove");
                assert_eq!(proofs.len(), 1);
            }
            let d = t.elapsed();
            prove_time = d / iters as u32;
            d
        })
    });
    prove_time
}

fn bench_curve<E: EvmPairing>(c: &mut Criterion) {
    let h = TreeHasher::new(E::CURVE);
    for shape in SHAPES {
        let s = scenario(&h, shape.writes);
        let t = Instant::now();
        let prover = Groth16Prover::<E>::setup_from_seed(shape, "bench").expect("setup");
        let setup = t.elapsed();
        let binding = B256::repeat_byte(7);

        // The real assignment of this proof, for the floor.
        let witness = chunk_witnesses::<E::ScalarField, _>(&h, &s.store, s.root, &s.writes, shape)
            .expect("witness")
            .remove(0);
        let w = witness.writes();
        let z = E::ScalarField::from(99u64);
        let public = ChunkPublic {
            pre_root: witness.pre_root,
            post_root: witness.post_root,
            diff_hash: diff_hash(prover.poseidon(), &w),
            z,
            y: diff_eval(z, &w),
        };
        let cs = ConstraintSystem::<E::ScalarField>::new_ref();
        ChunkCircuit {
            shape,
            poseidon: prover.poseidon().clone(),
            public: Some(public),
            witness: Some(witness),
        }
        .generate_constraints(cs.clone())
        .expect("synthesis");
        assert!(cs.is_satisfied().expect("check"));
        let constraints = cs.num_constraints();
        let inner = cs.borrow().expect("cs");
        let instance = inner.assignments.instance_assignment.clone();
        let aux: Vec<_> =
            inner.assignments.witness_assignment.iter().map(|x| x.into_bigint()).collect();
        drop(inner);
        let full: Vec<_> =
            instance[1..].iter().map(|x| x.into_bigint()).chain(aux.iter().copied()).collect();
        let pk = prover.proving_key();
        let mut rng = ark_std::rand::thread_rng();
        let h_scalars: Vec<_> =
            (0..pk.h_query.len()).map(|_| E::ScalarField::rand(&mut rng).into_bigint()).collect();
        let domain = GeneralEvaluationDomain::<E::ScalarField>::new(constraints + instance.len())
            .expect("domain");
        let mut poly: Vec<E::ScalarField> =
            (0..domain.size()).map(|_| E::ScalarField::rand(&mut rng)).collect();

        let sample = prover.prove_batch(&h, &s.store, s.root, &s.writes, binding).expect("prove");
        let (gas_total, gas_exec) =
            l1_verify_gas(E::CURVE, prover.verifying_key_bytes(), &sample[0]);

        let name = format!("prover/{}/{}x{}", E::CURVE, shape.writes, shape.depth);
        let mut group = c.benchmark_group(&name);
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(shape.writes as u64));
        let prove_time = bench_prove(&mut group, &prover, &h, &s, binding);
        let mut floor_time = Duration::ZERO;
        group.bench_function("floor_msm_fft", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let _a: E::G1 = msm(&pk.a_query[1..], &full);
                    let _b1: E::G1 = msm(&pk.b_g1_query[1..], &full);
                    let _b2: E::G2 = msm(&pk.b_g2_query[1..], &full);
                    let _h: E::G1 = msm(&pk.h_query, &h_scalars);
                    let _l: E::G1 = msm(&pk.l_query, &aux);
                    // The witness map: 3 inverse FFTs, 3 coset FFTs, 1 coset inverse FFT.
                    for _ in 0..3 {
                        domain.ifft_in_place(&mut poly);
                    }
                    let coset = domain.get_coset(E::ScalarField::GENERATOR).expect("coset");
                    for _ in 0..3 {
                        coset.fft_in_place(&mut poly);
                    }
                    coset.ifft_in_place(&mut poly);
                }
                let d = t.elapsed();
                floor_time = d / iters as u32;
                d
            })
        });
        group.finish();
        println!(
            "\nSUMMARY {name}: {constraints} constraints ({:.0} per write), domain 2^{}, setup {:.1} s; \
             prove {:.3} s = {:.1} writes/s; floor (MSMs + FFTs) {:.3} s; prove/floor {:.2}; \
             L1 verifyProof gas {gas_total} (execution {gas_exec})",
            constraints as f64 / shape.writes as f64,
            domain.size().trailing_zeros(),
            setup.as_secs_f64(),
            prove_time.as_secs_f64(),
            shape.writes as f64 / prove_time.as_secs_f64(),
            floor_time.as_secs_f64(),
            prove_time.as_secs_f64() / floor_time.as_secs_f64(),
        );
    }
}

fn bench_plonk(c: &mut Criterion) {
    let h = TreeHasher::new(Curve::Bn254);
    for shape in SHAPES {
        let s = scenario(&h, shape.writes);
        let t = Instant::now();
        let prover = PlonkProver::setup_from_seed(shape, "bench").expect("setup");
        let setup = t.elapsed();
        let (k, columns) = prover.layout();
        let (k, columns) = (k, columns.to_vec());
        let cells = PlonkProver::cells(shape).expect("cells");
        let binding = B256::repeat_byte(7);
        let sample = prover.prove_batch(&h, &s.store, s.root, &s.writes, binding).expect("prove");
        let (gas_total, gas_exec) = plonk_verify_gas(&prover, &sample[0]);
        let name = format!("prover/plonk-bn254/{}x{}", shape.writes, shape.depth);
        let mut group = c.benchmark_group(&name);
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(shape.writes as u64));
        let prove_time = bench_prove(&mut group, &prover, &h, &s, binding);
        group.finish();
        println!(
            "\nSUMMARY {name}: k = {k} (2^{k} rows), advice columns {columns:?}, {cells} advice cells \
             ({:.0} per write, {:.0} rows per write), setup {:.1} s; prove {:.3} s = {:.1} writes/s; \
             proof {} bytes; L1 verifyProof gas {gas_total} (execution {gas_exec})",
            cells as f64 / shape.writes as f64,
            (1u64 << k) as f64 / shape.writes as f64,
            setup.as_secs_f64(),
            prove_time.as_secs_f64(),
            shape.writes as f64 / prove_time.as_secs_f64(),
            sample[0].proof.len(),
        );
    }
}

fn benches(c: &mut Criterion) {
    bench_curve::<ark_bn254::Bn254>(c);
    bench_plonk(c);
    bench_curve::<ark_bls12_381::Bls12_381>(c);
}

criterion_group!(prover_benches, benches);
criterion_main!(prover_benches);
