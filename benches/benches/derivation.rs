//! Derivation speed: L2 blocks rebuilt from L1 batch data (zstd + RLP decoding,
//! signature recovery, re-execution with revm, SMT update, MDBX commit) against
//! the sequencer sealing the same blocks from its pool, in the same run.
//!
//! The sequencer's seal skips signature recovery (the pool recovered senders on
//! arrival); derivation cannot (the batch holds only signed transactions), so it
//! is included on its side. Every derived block's hash is checked against the
//! sealed one.

use alloy::primitives::U256;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infra_benches::{Kind, Sealer, Workload};
use infra_config::ChainConfig;
use infra_derivation::replay_block;
use infra_execution::chain_params;
use infra_mempool::Mempool;
use infra_primitives::{
    SealedBlock,
    batch::{BatchPayload, Codec},
};
use infra_sequencer::{BlockBuilder, genesis_block};
use infra_state::{Curve, TreeHasher};
use infra_stf::{BatchData, BatchRef, Output, plan_batch};
use infra_storage::Store;
use std::collections::BTreeMap;
use std::{
    cell::RefCell,
    sync::Arc,
    time::{Duration, Instant},
};

/// Transactions per block.
const BLOCK_TXS: usize = 200;

fn chain() -> ChainConfig {
    ChainConfig { gas_limit: 100_000_000, batch_gas: 1_000_000_000, ..ChainConfig::dev() }
}

fn store_with_genesis(w: &Workload, chain: &ChainConfig) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db")).expect("open MDBX");
    let (genesis, changes, nodes) =
        genesis_block(chain, &w.genesis(), &TreeHasher::new(Curve::Bn254)).expect("genesis");
    store.commit_block(&genesis, &changes, &nodes).expect("commit genesis");
    (dir, store)
}

struct Sequencer {
    builder: BlockBuilder,
    pool: Arc<Mempool>,
    round: u64,
    _dir: tempfile::TempDir,
}

impl Sequencer {
    fn new(w: &Workload) -> Self {
        let Sealer { builder, pool, dir } = Sealer::new(w, &chain(), BLOCK_TXS * 2);
        Self { builder, pool, round: 0, _dir: dir }
    }

    /// Seals the next block; returns it and the time the seal took.
    fn seal(&mut self, w: &Workload) -> (SealedBlock, Duration) {
        let base_fee = self.builder.chain.base_fee.initial_wei;
        for (tx, sender) in w.round(Kind::EthTransfer, self.round) {
            self.pool.add(tx, sender, self.round, U256::MAX, base_fee).expect("pool");
        }
        self.round += 1;
        let start = Instant::now();
        let block = self.builder.seal_next(self.round).expect("seal").expect("a block");
        let took = start.elapsed();
        assert_eq!(block.transactions.len(), BLOCK_TXS);
        (SealedBlock::clone(&block), took)
    }
}

#[derive(Default)]
struct Totals {
    time: Duration,
    blocks: u64,
    txs: u64,
}

impl Totals {
    fn blocks_per_s(&self) -> f64 {
        self.blocks as f64 / self.time.as_secs_f64()
    }
    fn txs_per_s(&self) -> f64 {
        self.txs as f64 / self.time.as_secs_f64()
    }
}

fn benches(c: &mut Criterion) {
    let w = Workload::new(BLOCK_TXS);
    let chain = chain();
    let hasher = TreeHasher::new(Curve::Bn254);
    let seq = RefCell::new(Sequencer::new(&w));
    // Every sealed block, in order, as the batcher would post them.
    let sealed: RefCell<Vec<SealedBlock>> = RefCell::new(Vec::new());
    let mut seal_totals = Totals::default();
    let mut group = c.benchmark_group("derivation/eth_transfer");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.bench_function("sequencer_seal", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let (block, took) = seq.borrow_mut().seal(&w);
                elapsed += took;
                seal_totals.time += took;
                seal_totals.blocks += 1;
                seal_totals.txs += block.transactions.len() as u64;
                sealed.borrow_mut().push(block);
            }
            elapsed
        })
    });

    let (_dir, store) = store_with_genesis(&w, &chain);
    let mut next = 0usize;
    let mut derive_totals = Totals::default();
    let mut batch_bytes = 0usize;
    group.bench_function("derive_from_batch", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // More blocks than the seal bench made: seal them untimed.
                while sealed.borrow().len() <= next {
                    let (block, _) = seq.borrow_mut().seal(&w);
                    sealed.borrow_mut().push(block);
                }
                let block = sealed.borrow()[next].clone();
                next += 1;
                // What L1 holds for it: the batch bytes (one block per batch here).
                let data = BatchPayload::from_blocks(std::slice::from_ref(&block))
                    .expect("payload")
                    .encode(Codec::Zstd);
                batch_bytes = data.len();
                let parent = store.reader().expect("reader").header(block.number() - 1);
                let parent = parent.expect("header").expect("parent stored");
                let pre = Output::after(&chain_params(&chain), &parent, 0);
                let batch = BatchRef {
                    first_block: block.number(),
                    last_block: block.number(),
                    data: &BatchData::Calldata(data.clone().into()),
                };
                let start = Instant::now();
                let input = plan_batch(&chain_params(&chain), &pre, &batch, &BTreeMap::new())
                    .expect("deposits")
                    .expect("a valid batch")
                    .remove(0);
                let derived = replay_block(&store, &chain, &hasher, input).expect("replay");
                let took = start.elapsed();
                assert_eq!(
                    derived.block.hash,
                    block.hash,
                    "derived block {} differs",
                    block.number()
                );
                elapsed += took;
                derive_totals.time += took;
                derive_totals.blocks += 1;
                derive_totals.txs += block.transactions.len() as u64;
            }
            elapsed
        })
    });
    group.finish();
    println!(
        "\nSUMMARY derivation/eth_transfer: {BLOCK_TXS} tx/block, {batch_bytes} batch bytes/block (zstd)\n  sequencer seal (revm+SMT+MDBX, senders known): {:>7.1} blocks/s {:>8.0} tx/s\n  derive from batch (decode+recover+revm+SMT+MDBX): {:>4.1} blocks/s {:>8.0} tx/s = {:.2}x the sealing throughput",
        seal_totals.blocks_per_s(),
        seal_totals.txs_per_s(),
        derive_totals.blocks_per_s(),
        derive_totals.txs_per_s(),
        derive_totals.txs_per_s() / seal_totals.txs_per_s(),
    );
}

criterion_group!(derivation, benches);
criterion_main!(derivation);
