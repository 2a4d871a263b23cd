//! Sparse Merkle tree batched updates against the Poseidon hash rate measured in
//! the same run: the tree can at best do (hashes/s) / (hashes per update) updates
//! per second; the report shows how close it gets.

use alloy::primitives::Address;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use infra_benches::word;
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Leaves in the tree before the measured batch.
const TREE_LEAVES: u64 = 20_000;
/// Updates per batch (half change existing leaves, half insert new ones).
const BATCH: u64 = 1_000;
/// Hashes per parallel hash-rate sample.
const PAR_HASHES: usize = 4_096;

fn measure_rate(mut f: impl FnMut(), per_call: usize) -> f64 {
    // A plain timing outside criterion, for the summary line only.
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed() < Duration::from_millis(500) {
        f();
        calls += 1;
    }
    (calls * per_call) as f64 / start.elapsed().as_secs_f64()
}

fn benches(c: &mut Criterion) {
    for curve in [Curve::Bn254, Curve::Bls12_381] {
        let h = TreeHasher::new(curve);
        let name = curve.as_str();
        let a = word(1, 0);
        let b = word(2, 0);
        let (a, b) = (
            keys::account_key(&h, Address::from_word(a)),
            keys::account_key(&h, Address::from_word(b)),
        );

        let mut group = c.benchmark_group(format!("poseidon/{name}"));
        group.sample_size(20).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(1));
        group.bench_function("hash2", |bench| {
            bench.iter(|| h.hash(keys::DOMAIN_NODE, black_box(&a), black_box(&b)))
        });
        let inputs: Vec<_> = (0..PAR_HASHES as u64)
            .map(|i| (keys::account_key(&h, Address::from_word(word(i, 1))), a))
            .collect();
        let par =
            || inputs.par_iter().map(|(x, y)| h.hash(keys::DOMAIN_NODE, x, y)).collect::<Vec<_>>();
        group.throughput(Throughput::Elements(PAR_HASHES as u64));
        group.bench_function(
            BenchmarkId::new("hash2_parallel", rayon::current_num_threads()),
            |bench| bench.iter(par),
        );
        group.finish();

        // The base tree and the batch: leaves are (key, value hash) pairs as the
        // node builds them; the batch changes half existing leaves and adds half new.
        let mut store = MemoryNodeStore::default();
        let tree = SparseMerkleTree::new(&h);
        let base: Vec<_> = (0..TREE_LEAVES)
            .into_par_iter()
            .map(|i| (keys::account_key(&h, Address::from_word(word(i, 2))), Some(word(i, 3))))
            .collect();
        let built = tree.update(&store, Default::default(), base).expect("base tree");
        store.apply(&built.changes);
        let root = built.root;
        let batch: Vec<_> = (0..BATCH)
            .into_par_iter()
            .map(|i| {
                let key = if i % 2 == 0 { i } else { TREE_LEAVES + i };
                (keys::account_key(&h, Address::from_word(word(key, 2))), Some(word(i, 4)))
            })
            .collect();
        let hashes_per_batch = tree.update(&store, root, batch.clone()).expect("batch").hashes;

        let mut group = c.benchmark_group(format!("smt/{name}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(BATCH));
        group.bench_function(format!("update_{BATCH}_of_{TREE_LEAVES}"), |bench| {
            bench.iter(|| tree.update(&store, root, batch.clone()).expect("update"))
        });
        group.finish();

        let hash_rate = measure_rate(
            || {
                black_box(h.hash(keys::DOMAIN_NODE, &a, &b));
            },
            1,
        );
        let par_rate = measure_rate(|| drop(par()), PAR_HASHES);
        let update_rate = measure_rate(
            || drop(tree.update(&store, root, batch.clone()).expect("update")),
            BATCH as usize,
        );
        let per_update = hashes_per_batch as f64 / BATCH as f64;
        let bound = par_rate / per_update;
        println!(
            "\nSUMMARY smt/{name}: Poseidon {:.0} hashes/s on one core, {:.0} hashes/s on {} threads\n  {per_update:.1} tree hashes per update (tree of {TREE_LEAVES}, batch of {BATCH}); bound {:.0} updates/s\n  measured {:.0} updates/s = {:.0}% of the bound\n  (an account leaf also needs 5 hashes for its key and value, a storage leaf 3: done in parallel before the tree update)",
            hash_rate,
            par_rate,
            rayon::current_num_threads(),
            bound,
            update_rate,
            100.0 * update_rate / bound,
        );
    }
}

criterion_group!(smt, benches);
criterion_main!(smt);
