//! Block execution throughput: the sequencer's whole seal path (revm on the MDBX
//! state, Poseidon SMT update, durable MDBX commit) against raw revm executing the
//! same signed transactions on an in-memory database, in the same run.
//!
//! Both sides skip signature recovery (the mempool recovers senders when a
//! transaction arrives, before sealing) and both run the same rounds: in round `n`
//! every sender sends its nonce-`n` transaction to a fresh recipient.

use alloy::primitives::U256;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infra_benches::{Kind, Sealer, Workload};
use infra_config::ChainConfig;
use infra_execution::{BlockContext, ExecConfig, tx_env};
use infra_sequencer::{BlockBuilder, SealTimings};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use std::time::{Duration, Instant};

/// Transactions per block (one per sender).
const BLOCK_TXS: usize = 1_000;

#[derive(Debug, Default)]
struct Totals {
    time: Duration,
    gas: u64,
    txs: u64,
    blocks: u64,
    phases: SealTimings,
    hashes: usize,
}

impl Totals {
    fn mgas_per_s(&self) -> f64 {
        self.gas as f64 / self.time.as_secs_f64() / 1e6
    }
    fn tx_per_s(&self) -> f64 {
        self.txs as f64 / self.time.as_secs_f64()
    }
    fn per_block_ms(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e3 / self.blocks.max(1) as f64
    }
}

fn chain() -> ChainConfig {
    ChainConfig { gas_limit: 100_000_000, batch_gas: 1_000_000_000, ..ChainConfig::dev() }
}

fn raw_revm(c: &mut Criterion, w: &Workload, kind: Kind) -> Totals {
    let chain = chain();
    let cfg = ExecConfig { chain_id: chain.chain_id, fee_recipient: chain.fee_recipient };
    let mut db = w.memory_db();
    let mut round = 0u64;
    let mut totals = Totals::default();
    let mut group = c.benchmark_group(format!("execution/{}", kind.name()));
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.bench_function("raw_revm", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let txs = w.round(kind, round);
                round += 1;
                let ctx = BlockContext {
                    number: round,
                    timestamp: round,
                    gas_limit: chain.gas_limit,
                    base_fee: chain.base_fee.initial_wei,
                    parent_hash: Default::default(),
                    prevrandao: Default::default(),
                };
                let start = Instant::now();
                let mut evm = Context::mainnet()
                    .with_db(&mut db)
                    .with_cfg(cfg.cfg_env())
                    .with_block(ctx.block_env(cfg.fee_recipient))
                    .build_mainnet();
                let mut gas = 0u64;
                for (tx, sender) in &txs {
                    let res = evm.transact_commit(tx_env(tx, *sender)).expect("raw revm tx");
                    assert!(res.is_success(), "bench transaction reverted: {res:?}");
                    gas += res.tx_gas_used();
                }
                drop(evm);
                let took = start.elapsed();
                elapsed += took;
                totals.time += took;
                totals.gas += gas;
                totals.txs += txs.len() as u64;
                totals.blocks += 1;
            }
            elapsed
        })
    });
    group.finish();
    totals
}

fn seal_path(c: &mut Criterion, w: &Workload, kind: Kind) -> Totals {
    let chain = chain();
    let Sealer { builder, pool, dir: _dir } = Sealer::new(w, &chain, BLOCK_TXS * 2);
    let mut round = 0u64;
    let mut totals = Totals::default();
    let mut group = c.benchmark_group(format!("execution/{}", kind.name()));
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.bench_function("seal_path", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                for (tx, sender) in w.round(kind, round) {
                    pool.add(tx, sender, round, U256::MAX, chain.base_fee.initial_wei)
                        .expect("pool accepts the bench transaction");
                }
                round += 1;
                let start = Instant::now();
                let (block, t) =
                    builder.seal_next_timed(round).expect("seal").expect("a non-empty block");
                let took = start.elapsed();
                assert_eq!(block.transactions.len(), BLOCK_TXS, "every transaction sealed");
                assert!(block.receipts.iter().all(|r| r.status()), "no bench transaction reverted");
                elapsed += took;
                totals.time += took;
                totals.gas += block.header.gas_used;
                totals.txs += block.transactions.len() as u64;
                totals.blocks += 1;
                totals.phases.execute += t.execute;
                totals.phases.state_root += t.state_root;
                totals.phases.commit += t.commit;
            }
            elapsed
        })
    });
    group.finish();
    // The hashes a block needs, for the report: one more block outside the timing.
    for (tx, sender) in w.round(kind, round) {
        pool.add(tx, sender, round, U256::MAX, chain.base_fee.initial_wei).expect("pool");
    }
    totals.hashes = last_block_hashes(&builder, round + 1);
    totals
}

/// Poseidon permutations of one more sealed block (tree nodes only).
fn last_block_hashes(builder: &BlockBuilder, now: u64) -> usize {
    builder.seal_next_timed(now).ok().flatten().map(|(_, t)| t.tree_hashes).unwrap_or_default()
}

fn report(kind: Kind, raw: &Totals, seal: &Totals) {
    let gas_per_block = seal.gas / seal.blocks.max(1);
    println!(
        "\nSUMMARY execution/{}: {BLOCK_TXS} tx/block, {:.1} Mgas/block\n  raw revm (in-memory):   {:>8.1} Mgas/s {:>10.0} tx/s\n  seal path (revm+SMT+MDBX): {:>5.1} Mgas/s {:>10.0} tx/s  = {:.1}% of raw revm\n  seal path per block: execute {:.1} ms, SMT {:.1} ms ({} tree hashes), MDBX commit {:.1} ms\n  execute phase alone (revm on MDBX state): {:.1}% of raw revm",
        kind.name(),
        gas_per_block as f64 / 1e6,
        raw.mgas_per_s(),
        raw.tx_per_s(),
        seal.mgas_per_s(),
        seal.tx_per_s(),
        100.0 * seal.tx_per_s() / raw.tx_per_s(),
        seal.per_block_ms(seal.phases.execute),
        seal.per_block_ms(seal.phases.state_root),
        seal.hashes,
        seal.per_block_ms(seal.phases.commit),
        100.0 * raw.per_block_ms(raw.time) / seal.per_block_ms(seal.phases.execute),
    );
}

fn benches(c: &mut Criterion) {
    let w = Workload::new(BLOCK_TXS);
    for kind in [Kind::EthTransfer, Kind::Erc20Transfer] {
        let raw = raw_revm(c, &w, kind);
        let seal = seal_path(c, &w, kind);
        report(kind, &raw, &seal);
    }
}

criterion_group!(execution, benches);
criterion_main!(execution);
