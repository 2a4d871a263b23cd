//! The fault-proof program on real batches: in the VM against the same
//! program run natively, in one run.
//!
//! A sequencer seals N transactions (ETH transfers, or ERC-20 transfers to
//! fresh holders; one block, or more when a block is full); the host records
//! the preimages of the claim that the batch of those blocks derives to the
//! sealed output; then the program (program/, built by
//! scripts/build-program.sh; INFRA_PROGRAM_ELF names the ELF) decides it in
//! the VM, and `infra_stf::claim::decide` (the
//! same program, compiled natively) decides it here. Reports instructions per
//! transaction (from the difference between N and 1 transactions), the VM's
//! instructions/s and the VM/native time ratio. Each row is one timed run
//! (a 1000-transfer batch takes minutes in the VM; criterion times only the
//! small ones).
//! Run: `INFRA_PROGRAM_ELF=$(scripts/build-program.sh) cargo bench -p infra-benches --bench fpvm`.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, U256};
use criterion::{Criterion, criterion_group, criterion_main};
use infra_benches::{Kind, Sealer, Workload};
use infra_config::ChainConfig;
use infra_derivation::witness::DatadirPreimages;
use infra_execution::chain_params;
use infra_fpvm::{Preimages, Vm};
use infra_primitives::{
    SealedBlock,
    batch::{BatchPayload, Codec},
};
use infra_state::Curve;
use infra_stf::{
    BatchData, BatchRef, Output,
    claim::{ClaimChain, decide, record_claim, reported_output},
};
use std::collections::BTreeMap;

fn chain() -> ChainConfig {
    ChainConfig { gas_limit: 100_000_000, batch_gas: 1_000_000_000, ..ChainConfig::dev() }
}

/// A claim about the batch of `n` transactions of `kind`: its preimages
/// and the output it must derive to.
fn claim(kind: Kind, n: usize) -> (BTreeMap<B256, Vec<u8>>, Output) {
    let w = Workload::new(n);
    let chain = chain();
    let sealer = Sealer::new(&w, &chain, n * 2);
    let base_fee = chain.base_fee.initial_wei;
    for (tx, sender) in w.round(kind, 0) {
        sealer.pool.add(tx, sender, 0, U256::MAX, base_fee).expect("pool");
    }
    // As many blocks as the sequencer needs for them (it caps a block's size).
    let mut blocks: Vec<SealedBlock> = Vec::new();
    while blocks.iter().map(|b| b.transactions.len()).sum::<usize>() < n {
        let block = sealer.builder.seal_next(1 + blocks.len() as u64).expect("seal");
        blocks.push(SealedBlock::clone(&block.expect("a block")));
    }
    claim_for(&sealer, &chain, &blocks)
}

/// The preimages of the claim that `blocks` (sealed by `sealer`, on top of
/// the block before the first) derive to their sealed output, and that output.
fn claim_for(
    sealer: &Sealer,
    chain: &ChainConfig,
    blocks: &[SealedBlock],
) -> (BTreeMap<B256, Vec<u8>>, Output) {
    let (first, last) = (blocks.first().expect("a block"), blocks.last().expect("a block"));
    let parent = first.number() - 1;
    let reader = sealer.builder.store.reader().expect("reader");
    let parent_header = reader.header(parent).expect("header").expect("the parent block");
    let params = chain_params(chain);
    let pre = Output::after(&params, &parent_header, 0);
    let want = Output::after(&params, &last.header, 0);
    let data = BatchPayload::from_blocks(blocks).expect("payload").encode(Codec::None);
    let batch = BatchRef {
        first_block: first.number(),
        last_block: last.number(),
        data: &BatchData::Calldata(data.clone().into()),
    };
    let state = reader.state_at(parent).expect("the parent's state");
    let claim_chain = ClaimChain { params, curve: Curve::Bn254 };
    let (applied, preimages) = record_claim(
        DatadirPreimages { state: &state },
        &claim_chain,
        &pre,
        &want,
        &batch,
        &infra_stf::claim::HeldDeposits::NONE,
    )
    .expect("host run");
    assert_eq!(applied.output, want, "the host derives the sealed output");
    (preimages, want)
}

alloy::sol! {
    function approve(address spender, uint256 value) returns (bool);
    function addLiquidity(uint256 amount0, uint256 amount1);
    function swap(bool zeroForOne, uint256 amountIn, uint256 minOut) returns (uint256);
}

/// A contract's creation code from its committed artifact.
fn creation_code(name: &str) -> Vec<u8> {
    let path = format!("{}/../contracts/artifacts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("artifact")).expect("JSON");
    let hex = artifact["bytecode"].as_str().expect("bytecode");
    alloy::primitives::hex::decode(hex).expect("hex")
}

/// One sender deploys two ERC-20s and a constant-product pool and adds
/// liquidity (block 1: the batch's pre-state), then swaps `n` times (at
/// most 10: the pool's per-sender room) in the batch.
fn swap_claim(n: usize) -> (BTreeMap<B256, Vec<u8>>, Output) {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        primitives::TxKind,
        signers::SignerSync,
        sol_types::{SolCall, SolValue},
    };
    let w = Workload::new(1);
    let chain = chain();
    let sealer = Sealer::new(&w, &chain, 32);
    let signer = &w.signers[0];
    let me = signer.address();
    let base_fee = chain.base_fee.initial_wei;
    let tx = |nonce: u64, to: TxKind, input: Vec<u8>| {
        let t = TxEip1559 {
            chain_id: infra_benches::CHAIN_ID,
            nonce,
            gas_limit: 3_000_000,
            max_fee_per_gas: infra_benches::MAX_FEE,
            max_priority_fee_per_gas: infra_benches::TIP,
            to,
            value: U256::ZERO,
            access_list: Default::default(),
            input: input.into(),
        };
        let sig = signer.sign_hash_sync(&t.signature_hash()).expect("signing");
        TxEnvelope::from(t.into_signed(sig))
    };
    let supply = U256::from(10u128.pow(24));
    let token = |name: &str| {
        [
            creation_code("TestToken"),
            (name.to_string(), name.to_string(), supply).abi_encode_params(),
        ]
        .concat()
    };
    let (a, b, pool) = (me.create(0), me.create(1), me.create(2));
    let setup = vec![
        tx(0, TxKind::Create, token("A")),
        tx(1, TxKind::Create, token("B")),
        tx(2, TxKind::Create, [creation_code("TestPool"), (a, b).abi_encode_params()].concat()),
        tx(3, TxKind::Call(a), approveCall { spender: pool, value: U256::MAX }.abi_encode()),
        tx(4, TxKind::Call(b), approveCall { spender: pool, value: U256::MAX }.abi_encode()),
        tx(
            5,
            TxKind::Call(pool),
            addLiquidityCall { amount0: supply / U256::from(2), amount1: supply / U256::from(2) }
                .abi_encode(),
        ),
    ];
    for t in setup {
        sealer.pool.add(t, me, 0, U256::MAX, base_fee).expect("pool");
    }
    let setup_block = sealer.builder.seal_next(1).expect("seal").expect("a block");
    assert_eq!(setup_block.transactions.len(), 6);
    let one = U256::from(10u128.pow(18));
    for i in 0..n as u64 {
        let call = swapCall { zeroForOne: i % 2 == 0, amountIn: one, minOut: U256::from(1) };
        let t = tx(6 + i, TxKind::Call(pool), call.abi_encode());
        sealer.pool.add(t, me, 6, U256::MAX, base_fee).expect("pool");
    }
    let block = sealer.builder.seal_next(2).expect("seal").expect("a block");
    assert_eq!(block.transactions.len(), n);
    claim_for(&sealer, &chain, &[SealedBlock::clone(&block)])
}

fn run_vm(elf: &[u8], preimages: &BTreeMap<B256, Vec<u8>>, want: &Output) -> (u64, Duration) {
    let mut p = Preimages::default();
    for (k, v) in preimages {
        p.insert(*k, v.clone());
    }
    let mut vm = Vm::from_elf(elf, p).expect("a RISC-V executable");
    vm.snapshot_every = 0;
    let start = Instant::now();
    let end = vm.run_to(u64::MAX).expect("inputs known");
    let took = start.elapsed();
    let out = String::from_utf8_lossy(&vm.output).to_string();
    assert_eq!(end.exit, Some(0), "the program refuses the honest claim: {out}");
    assert_eq!(reported_output(&out).as_ref(), Some(want));
    (end.steps, took)
}

fn native(preimages: &BTreeMap<B256, Vec<u8>>) -> Duration {
    let start = Instant::now();
    let d = decide(preimages).expect("decides");
    let took = start.elapsed();
    assert!(d.claim_holds());
    took
}

/// What the honest player of a fault game spends on a claim: the program's
/// trace with snapshots (`ProgramTrace::new`), then the states it claims
/// along one bisection of a depth-62 game (its side answers every other
/// level; here all 62 midpoints, towards an index a third into the trace) and
/// the step proof at the end.
fn honest_player(elf: &[u8], preimages: &BTreeMap<B256, Vec<u8>>) -> (Duration, Duration) {
    let mut p = Preimages::default();
    for (k, v) in preimages {
        p.insert(*k, v.clone());
    }
    let start = Instant::now();
    let mut trace = infra_challenger::fault::ProgramTrace::new(elf, p).expect("the trace");
    let traced = start.elapsed();
    let start = Instant::now();
    let target = trace.end / 3;
    let (mut lo, mut hi) = (0u64, 1u64 << 62);
    for _ in 0..62 {
        let mid = lo + (hi - lo) / 2;
        trace.after(mid).expect("a state");
        if mid <= target { lo = mid } else { hi = mid }
    }
    trace.proof_from(target).expect("a step proof");
    (traced, start.elapsed())
}

fn benches(c: &mut Criterion) {
    let path = std::env::var("INFRA_PROGRAM_ELF")
        .expect("INFRA_PROGRAM_ELF: build the program with scripts/build-program.sh");
    let elf = std::fs::read(&path).expect("the program's ELF");
    let mut group = c.benchmark_group("fpvm");
    group.sample_size(10);
    let mut rows = Vec::new();
    let mut player = None;
    let sizes: &[(Kind, usize)] = &[
        (Kind::EthTransfer, 1),
        (Kind::EthTransfer, 100),
        (Kind::EthTransfer, 1000),
        (Kind::Erc20Transfer, 1),
        (Kind::Erc20Transfer, 100),
    ];
    // Swaps: (None, n).
    let sizes: Vec<(Option<Kind>, usize)> =
        sizes.iter().map(|&(k, n)| (Some(k), n)).chain([(None, 1), (None, 10)]).collect();
    for (kind, n) in sizes {
        let (preimages, want) = match kind {
            Some(kind) => claim(kind, n),
            None => swap_claim(n),
        };
        let name_of = |k: Option<Kind>| k.map_or("swap", Kind::name);
        if n == 1 {
            let name = format!("{}_1", name_of(kind));
            group.bench_function(format!("native/{name}"), |b| b.iter(|| native(&preimages)));
            group.bench_function(format!("vm/{name}"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run_vm(&elf, &preimages, &want).1).sum())
            });
        }
        let native_time = (0..3).map(|_| native(&preimages)).min().unwrap_or_default();
        let (steps, vm) = run_vm(&elf, &preimages, &want);
        if kind == Some(Kind::EthTransfer) && n == 1000 {
            player = Some(honest_player(&elf, &preimages));
        }
        rows.push((kind, n, steps, vm, native_time, preimages.len()));
    }
    group.finish();
    println!("\nSUMMARY fpvm (program ELF {} bytes), one batch each:", elf.len());
    for (kind, n, steps, vm, native, count) in &rows {
        println!(
            "  {:>14} x {n:>4}: {steps:>12} instructions, VM {:>9.1} ms = {:>5.1} M instructions/s; native {:>8.1} ms; VM/native {:>4.0}x; {count} preimages",
            (*kind).map_or("swap", Kind::name),
            vm.as_secs_f64() * 1e3,
            *steps as f64 / vm.as_secs_f64() / 1e6,
            native.as_secs_f64() * 1e3,
            vm.as_secs_f64() / native.as_secs_f64(),
        );
    }
    if let Some((trace, bisect)) = player {
        println!(
            "  honest fault-game player, 1000 ETH transfers: trace with snapshots {:.1} s, 62 bisection states and the step proof {:.2} s",
            trace.as_secs_f64(),
            bisect.as_secs_f64()
        );
    }
    let per = |kind: Option<Kind>, n: usize| {
        let one = rows.iter().find(|r| r.0 == kind && r.1 == 1)?.2;
        let many = rows.iter().find(|r| r.0 == kind && r.1 == n)?.2;
        Some((many - one) as f64 / (n - 1) as f64)
    };
    for (kind, n) in [(Some(Kind::EthTransfer), 1000), (Some(Kind::Erc20Transfer), 100), (None, 10)]
    {
        if let Some(p) = per(kind, n) {
            let name = kind.map_or("swap", Kind::name);
            println!("  instructions per {name} (from 1 and {n} per batch): {p:.0}");
        }
    }
}

criterion_group!(fpvm, benches);
criterion_main!(fpvm);
