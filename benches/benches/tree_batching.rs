//! Issue 18's choice: a state root per block, or the tree updated once per
//! batch. Same workload both ways: a batch of 1,000 ETH transfers (1,000
//! senders, receivers among 10,000 accounts, the fee recipient in every block)
//! on a tree of 10,000 accounts, cut into 1, 10 or 100 blocks. Counts Poseidon
//! permutations (leaf keys and values, 5 per account leaf, plus the tree's
//! inner nodes) and times the tree work natively; the fpvm bench gives the
//! instructions one permutation costs in the VM.

use alloy::primitives::{Address, B256, U256};
use criterion::{Criterion, criterion_group, criterion_main};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
use std::collections::BTreeMap;
use std::time::Instant;

const ACCOUNTS: u64 = 10_000;
const TRANSFERS: u64 = 1_000;
/// Poseidon permutations for an account leaf's key (1) and value (4).
const LEAF_HASHES: usize = 5;

fn addr(i: u64) -> Address {
    Address::from_word(B256::from(U256::from(i + 1)))
}

/// splitmix64, so the workload is the same every run.
fn rng(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The accounts each block touches, with their values after it: (nonce, balance).
fn blocks(per_block: u64) -> Vec<BTreeMap<u64, (u64, u64)>> {
    let mut seed = 7;
    let mut state: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let fee = ACCOUNTS; // the fee recipient
    let mut out = Vec::new();
    let mut block = BTreeMap::new();
    for i in 0..TRANSFERS {
        let from = i % 1000;
        let to = rng(&mut seed) % ACCOUNTS;
        for (a, dn, db) in [(from, 1, 0u64), (to, 0, 1), (fee, 0, 1)] {
            let v = state.entry(a).or_insert((0, 1_000_000));
            v.0 += dn;
            v.1 += db;
            block.insert(a, *v);
        }
        if (i + 1) % per_block == 0 {
            out.push(std::mem::take(&mut block));
        }
    }
    out
}

struct Outcome {
    root: B256,
    leaf_hashes: usize,
    tree_hashes: usize,
    secs: f64,
}

fn run(
    h: &TreeHasher,
    base: &MemoryNodeStore,
    root: B256,
    per_block: u64,
    per_batch: bool,
) -> Outcome {
    let tree = SparseMerkleTree::new(h);
    let mut store = base.clone();
    let mut root = root;
    let blocks = blocks(per_block);
    let groups: Vec<BTreeMap<u64, (u64, u64)>> = if per_batch {
        let mut all = BTreeMap::new();
        for b in &blocks {
            all.extend(b.iter().map(|(k, v)| (*k, *v)));
        }
        vec![all]
    } else {
        blocks
    };
    let (mut leaf_hashes, mut tree_hashes) = (0, 0);
    let start = Instant::now();
    for g in &groups {
        let updates: Vec<_> = g
            .iter()
            .map(|(a, (nonce, balance))| {
                let key = keys::account_key(h, addr(*a));
                let value = keys::account_value_hash(h, *nonce, U256::from(*balance), B256::ZERO);
                (key, Some(value))
            })
            .collect();
        leaf_hashes += LEAF_HASHES * updates.len();
        let u = tree.update(&store, root, updates).expect("tree update");
        tree_hashes += u.hashes;
        store.apply(&u.changes);
        root = u.root;
    }
    Outcome { root, leaf_hashes, tree_hashes, secs: start.elapsed().as_secs_f64() }
}

fn benches(c: &mut Criterion) {
    let h = TreeHasher::new(Curve::Bn254);
    let tree = SparseMerkleTree::new(&h);
    let mut base = MemoryNodeStore::default();
    let genesis: Vec<_> = (0..=ACCOUNTS)
        .map(|a| {
            let key = keys::account_key(&h, addr(a));
            (key, Some(keys::account_value_hash(&h, 0, U256::from(1_000_000u64), B256::ZERO)))
        })
        .collect();
    let g = tree.update(&base, B256::ZERO, genesis).expect("genesis");
    base.apply(&g.changes);
    let mut group = c.benchmark_group("tree_batching");
    group.sample_size(10);
    let mut rows = Vec::new();
    for per_block in [1000u64, 100, 10] {
        let blocks = TRANSFERS / per_block;
        group.bench_function(format!("per_block/{blocks}_blocks"), |b| {
            b.iter(|| run(&h, &base, g.root, per_block, false))
        });
        let each = run(&h, &base, g.root, per_block, false);
        let once = run(&h, &base, g.root, per_block, true);
        assert_eq!(each.root, once.root, "both ways reach the same root");
        rows.push((blocks, each, once));
    }
    group.bench_function("per_batch", |b| b.iter(|| run(&h, &base, g.root, 1000, true)));
    group.finish();
    println!(
        "\nSUMMARY tree_batching: {TRANSFERS} ETH transfers on a tree of {ACCOUNTS} accounts (BN254 Poseidon, this machine's threads)"
    );
    for (blocks, each, once) in &rows {
        println!(
            "  {blocks:>3} blocks: a root per block {:>7} permutations ({:>6} leaf + {:>6} tree) {:>7.1} ms | once per batch {:>7} ({:>6} + {:>6}) {:>7.1} ms | ratio {:.2}x",
            each.leaf_hashes + each.tree_hashes,
            each.leaf_hashes,
            each.tree_hashes,
            each.secs * 1e3,
            once.leaf_hashes + once.tree_hashes,
            once.leaf_hashes,
            once.tree_hashes,
            once.secs * 1e3,
            (each.leaf_hashes + each.tree_hashes) as f64
                / (once.leaf_hashes + once.tree_hashes) as f64,
        );
    }
}

criterion_group!(tree_batching, benches);
criterion_main!(tree_batching);
