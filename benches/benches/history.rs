//! Database size with a state-history window against an archive, on the same
//! chain in the same run: `BLOCKS` blocks of ERC-20 transfers (each a new
//! storage slot and balance changes) sealed by the sequencer's own builder.
//!
//!   cargo bench -p infra-benches --bench history [-- BLOCKS WINDOW]
//!
//! Not a timing bench: it prints the MDBX file size (and the history entries)
//! every tenth of the run, for `--state.history WINDOW` and for `archive`.

use alloy::primitives::U256;
use infra_benches::{Kind, Sealer, Workload};
use infra_config::ChainConfig;
use infra_storage::StateHistory;

const SENDERS: usize = 8;

fn run(blocks: u64, history: StateHistory) -> Vec<(u64, u64)> {
    let w = Workload::new(SENDERS);
    let chain =
        ChainConfig { gas_limit: 100_000_000, batch_gas: 1_000_000_000, ..ChainConfig::dev() };
    let Sealer { mut builder, pool, dir } = Sealer::new(&w, &chain, SENDERS * 4);
    builder.store = builder.store.clone().with_history(history);
    let file = dir.path().join("db").join("mdbx.dat");
    let mut sizes = Vec::new();
    for round in 0..blocks {
        for (tx, sender) in w.round(Kind::Erc20Transfer, round) {
            pool.add(tx, sender, round, U256::MAX, chain.base_fee.initial_wei)
                .expect("pool accepts the bench transaction");
        }
        builder.seal_next(round).expect("seal").expect("a non-empty block");
        if (round + 1) % (blocks / 10).max(1) == 0 {
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or_default();
            sizes.push((round + 1, size));
        }
    }
    let floor = builder.store.reader().and_then(|r| r.state_floor()).expect("floor");
    println!("{history}: state floor after {blocks} blocks: {floor}");
    sizes
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let blocks = args.first().copied().unwrap_or(20_000);
    let window = args.get(1).copied().unwrap_or(10_000);
    let started = std::time::Instant::now();
    let pruned = run(blocks, StateHistory::Window(window));
    let archive = run(blocks, StateHistory::Archive);
    println!(
        "\n{SENDERS} ERC-20 transfers per block; MDBX file size (MiB) after each tenth of the run"
    );
    println!("| blocks | window {window} | archive | window/archive |");
    println!("|---|---|---|---|");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for ((n, p), (_, a)) in pruned.iter().zip(&archive) {
        println!(
            "| {n} | {:.1} | {:.1} | {:.2} |",
            mib(*p),
            mib(*a),
            *p as f64 / (*a).max(1) as f64
        );
    }
    println!("(took {:.0} s)", started.elapsed().as_secs_f64());
}
