//! The halo2 chunk circuit against the R1CS one: the same witnesses, honest and
//! tampered, get the same verdict from both (MockProver for halo2, the
//! constraint system's satisfiability for R1CS); its size, so a change shows.

use crate::cases::{Case, leaf_off_its_path, public, scenario, tampered};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use infra_circuits::{
    ChunkCircuit, ChunkPublic, ChunkWitness, Op, Shape, chunk_witnesses,
    plonk::{
        Fr, PoseidonConstants, ShapeError,
        halo2_base::{
            gates::circuit::{CircuitBuilderStage, builder::BaseCircuitBuilder},
            halo2_proofs::dev::MockProver,
        },
        synthesize, to_halo2,
    },
};
use infra_state::{Curve, MemoryNodeStore, Poseidon, TreeHasher};
use std::sync::Arc;

type F = ark_bn254::Fr;

/// Rows of the mock circuits (the layout takes as many columns as it needs).
const K: u32 = 15;

fn r1cs(shape: Shape, public: ChunkPublic<F>, witness: ChunkWitness<F>) -> bool {
    crate::cases::in_pool(|| {
        let cs = ConstraintSystem::<F>::new_ref();
        let circuit = ChunkCircuit {
            shape,
            poseidon: Arc::new(Poseidon::new()),
            public: Some(public),
            witness: Some(witness),
        };
        circuit.generate_constraints(cs.clone()).expect("synthesis");
        cs.is_satisfied().expect("satisfiability check")
    })
}

fn halo2(shape: Shape, public: &ChunkPublic<F>, witness: &ChunkWitness<F>) -> bool {
    let mut builder = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K as usize)
        .use_instance_columns(1);
    synthesize(&mut builder, shape, &PoseidonConstants::default(), Some((public, witness)))
        .expect("the witness fits the shape");
    builder.calculate_params(Some(20));
    let instances = public.to_vec().iter().map(to_halo2).collect();
    // (`verify_par` reports assigned cells as unassigned in halo2-axiom 0.5.3.)
    MockProver::run(K, &builder, vec![instances]).expect("mock prover").verify().is_ok()
}

/// Both circuits give `expected` for every case.
fn same_verdicts(shape: Shape, cases: Vec<Case<F>>, expected: bool) {
    for (what, public, witness) in cases {
        let a = r1cs(shape, public, witness.clone());
        let b = halo2(shape, &public, &witness);
        assert_eq!((a, b), (expected, expected), "{what}: (R1CS, halo2) verdicts");
    }
}

#[test]
fn honest_chunks_are_accepted_by_both() {
    let h = TreeHasher::new(Curve::Bn254);
    let p = Poseidon::<F>::new();
    let shape = Shape::new(4, 24);
    let (store, pre, writes, _) = scenario(&h, 48, 6);
    let chunks: Vec<ChunkWitness<F>> =
        chunk_witnesses(&h, &store, pre, &writes, shape).expect("witness");
    let slots: Vec<_> = chunks.iter().flat_map(|c| c.slots.iter()).collect();
    for op in [Op::Insert, Op::Delete] {
        for leaf in [true, false] {
            assert!(slots.iter().any(|s| s.op == op && s.sibling_is_leaf == leaf), "{op:?} {leaf}");
        }
    }
    let mut cases: Vec<Case<F>> = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| ("a real chunk", public(&p, &c, F::from(7 + i as u64)), c))
        .collect();
    // Padding only (an empty diff), and the first leaf of an empty tree.
    let empty = chunk_witnesses::<F, _>(&h, &store, pre, &[], shape).expect("witness").remove(0);
    cases.push(("an empty diff", public(&p, &empty, F::from(9u64)), empty));
    let first = vec![(crate::cases::key(&h, 1), Some(crate::cases::value(&h, 1)))];
    let c =
        chunk_witnesses::<F, _>(&h, &MemoryNodeStore::default(), Default::default(), &first, shape)
            .expect("witness")
            .remove(0);
    assert_eq!(c.slots[0].siblings.len(), 0, "the leaf is the root");
    cases.push(("the first leaf", public(&p, &c, F::from(3u64)), c));
    same_verdicts(shape, cases, true);
}

#[test]
fn every_kind_of_tampering_is_rejected_by_both() {
    let shape = Shape::new(6, 16);
    let (good, bad) = tampered(shape);
    same_verdicts(shape, vec![good], true);
    same_verdicts(shape, bad, false);
}

#[test]
fn a_leaf_beside_off_its_path_is_rejected_by_both() {
    let shape = Shape::new(1, 20);
    let (control, bad) = leaf_off_its_path();
    same_verdicts(shape, vec![control], true);
    same_verdicts(shape, vec![bad], false);
}

#[test]
fn witnesses_that_do_not_fit_are_refused() {
    let (_, good, chunk) = tampered(Shape::new(6, 16)).0;
    let mut builder = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K as usize)
        .use_instance_columns(1);
    let c = PoseidonConstants::default();
    assert_eq!(
        synthesize(&mut builder, Shape::new(2, 16), &c, Some((&good, &chunk))),
        Err(ShapeError::TooManyWrites { found: chunk.slots.len(), max: 2 })
    );
    let deepest = chunk.slots.iter().map(|s| s.siblings.len()).max().expect("a slot");
    assert_eq!(
        synthesize(&mut builder, Shape::new(6, deepest - 1), &c, Some((&good, &chunk))),
        Err(ShapeError::TooDeep { found: deepest, max: deepest - 1 })
    );
}

/// Advice cells per write slot and per level, so a change that grows the circuit
/// is noticed (the R1CS counts are in chunk.rs).
#[test]
fn cell_counts() {
    fn cells(shape: Shape) -> usize {
        let mut builder = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
            .use_k(K as usize)
            .use_instance_columns(1);
        synthesize(&mut builder, shape, &PoseidonConstants::default(), None).expect("layout");
        builder.statistics().gate.total_advice_per_phase.iter().sum()
    }
    let one = cells(Shape::new(1, 32));
    let two = cells(Shape::new(2, 32));
    let deeper = cells(Shape::new(1, 33));
    println!(
        "advice cells: per write at depth 32 {}, fixed {}, per level {}",
        two - one,
        2 * one - two,
        deeper - one
    );
    assert_eq!(two - one, 209_787, "advice cells per write slot at depth 32");
    assert_eq!(2 * one - two, 2_949, "fixed advice cells (the final absorb)");
    assert_eq!(deeper - one, 6_009, "advice cells per level of depth");
}
