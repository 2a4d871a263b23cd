//! L1 bytes per transaction after compression, for the batch format: zstd (what
//! the format uses) and brotli (the alternative measured against it) on batches of ETH transfers and ERC-20 transfers, against the raw signed
//! (EIP-2718) size of the same transactions, plus what posting the batch costs in
//! L1 calldata gas or blob space.

use alloy::{
    consensus::Header,
    eips::{
        Encodable2718,
        eip4844::builder::{SidecarBuilder, SimpleCoder},
    },
    primitives::{Address, B256, Bytes, TxKind, U256},
    sol_types::SolCall,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infra_batcher::{BatchPayload, Codec};
use infra_benches::{Kind, Workload};
use infra_l1::{
    Rollup,
    sim::{SimL1, SimRollup},
};
use infra_primitives::SealedBlock;
use std::time::Duration;

/// A batch: this many blocks of `TXS_PER_BLOCK` transactions (one per sender).
const BLOCKS: u64 = 10;
const TXS_PER_BLOCK: usize = 100;
/// Usable bytes of one EIP-4844 blob (4096 field elements of 31 whole bytes).
const BLOB_BYTES: usize = 4096 * 31;
/// Blob gas of one blob (EIP-4844), priced by the blob base fee, not the base fee.
const GAS_PER_BLOB: u64 = 131_072;
/// Batch sizes (in blocks of `TXS_PER_BLOCK`) whose L1 gas is measured.
const GAS_SIZES: [u64; 4] = [1, 2, 5, 10];

fn batch(w: &Workload, kind: Kind, blocks: u64) -> Vec<SealedBlock> {
    (0..blocks)
        .map(|n| {
            let (txs, senders): (Vec<_>, Vec<_>) = w.round(kind, n).into_iter().unzip();
            let header = Header {
                number: n + 1,
                timestamp: 1_700_000_000 + n,
                parent_hash: B256::repeat_byte(n as u8),
                ..Default::default()
            };
            SealedBlock::new(header, txs, senders, vec![])
        })
        .collect()
}

/// Calldata gas of `data` under EIP-2028 and the EIP-7623 floor (which applies to
/// data-heavy transactions such as batch posts): max(standard, floor) + 21000.
fn calldata_gas(data: &[u8]) -> u64 {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let nonzero = data.len() as u64 - zeros;
    let standard = 4 * zeros + 16 * nonzero;
    let floor = 10 * (zeros + 4 * nonzero);
    21_000 + standard.max(floor)
}

const BATCHER: Address = Address::repeat_byte(0x02);

/// L1 gas of posting `blocks` as one batch through the committed `Rollup`
/// contract, executed in revm (Osaka): (calldata transaction gas, blob transaction
/// gas, blob count). The calldata transaction pays intrinsic and EIP-7623 floor
/// gas for its data; the blob transaction pays execution gas plus
/// `GAS_PER_BLOB` blob gas per blob (a separate fee market).
fn l1_gas(blocks: &[SealedBlock]) -> (u64, u64, usize) {
    let data = BatchPayload::from_blocks(blocks).expect("contiguous").encode(Codec::Zstd);
    let last = blocks.last().expect("a block");
    let output = Rollup::Output {
        stateRoot: B256::repeat_byte(0x11),
        l2BlockNumber: last.number(),
        l2BlockHash: last.hash,
        nextBaseFee: 1_000_000_000,
        nextDepositNonce: 0,
    };
    let fresh = || {
        let mut l1 = SimL1::new(&[BATCHER], U256::from(10u128.pow(21)));
        let setup = SimRollup::optimistic(BATCHER, BATCHER, 100);
        let rollup = l1.deploy_rollup_with_test_game(BATCHER, &setup, 50).rollup;
        (l1, rollup)
    };
    let (first, last_n) = (blocks[0].number(), last.number());
    let (mut l1, rollup) = fresh();
    let call = Rollup::submitBatchCall {
        firstBlock: first,
        lastBlock: last_n,
        data: Bytes::from(data.clone()),
        output: output.clone(),
    };
    let bond = U256::from(10u128.pow(18)); // SimRollup::optimistic's output bond
    let calldata = l1.send(BATCHER, rollup, &call, bond).expect("calldata batch").gas;
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(&data).build_4844().expect("sidecar");
    let hashes: Vec<B256> = sidecar.versioned_hashes().collect();
    let (mut l1, rollup) = fresh();
    let call = Rollup::submitBlobBatchCall {
        firstBlock: first,
        lastBlock: last_n,
        blobCount: hashes.len() as u8,
        output,
    };
    let blob = l1
        .exec(BATCHER, TxKind::Call(rollup), call.abi_encode().into(), bond, hashes.clone())
        .expect("blob batch")
        .gas;
    (calldata, blob, hashes.len())
}

fn benches(c: &mut Criterion) {
    let w = Workload::new(TXS_PER_BLOCK);
    for kind in [Kind::EthTransfer, Kind::Erc20Transfer] {
        let blocks = batch(&w, kind, BLOCKS);
        let txs: usize = blocks.iter().map(|b| b.transactions.len()).sum();
        let raw_tx_bytes: usize =
            blocks.iter().flat_map(|b| b.transactions.iter()).map(|t| t.encoded_2718().len()).sum();
        let payload = BatchPayload::from_blocks(&blocks).expect("contiguous");
        let mut group = c.benchmark_group(format!("batch/{}", kind.name()));
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(txs as u64));
        let mut sizes = Vec::new();
        for (name, codec) in [("none", Codec::None), ("zstd", Codec::Zstd)] {
            let bytes = payload.encode(codec);
            assert_eq!(BatchPayload::decode(&bytes).expect("round trip"), payload);
            sizes.push((name, bytes.len(), calldata_gas(&bytes)));
            group.bench_function(format!("encode_{name}"), |b| b.iter(|| payload.encode(codec)));
        }
        // The alternative the format does not use: brotli at its densest setting, on
        // the same payload with the same 2-byte header.
        let rlp = payload.rlp();
        let brotli_frame = || {
            let mut out = vec![1u8, 0xb0];
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
            std::io::Write::write_all(&mut w, &rlp).expect("write to a Vec");
            drop(w);
            out
        };
        let b = brotli_frame();
        sizes.push(("brotli", b.len(), calldata_gas(&b)));
        group.bench_function("encode_brotli", |bench| bench.iter(brotli_frame));
        let zstd = payload.encode(Codec::Zstd);
        group.bench_function("blob_sidecar_kzg", |bench| {
            bench.iter(|| SidecarBuilder::<SimpleCoder>::from_slice(&zstd).build_4844())
        });
        group.finish();
        println!(
            "\nSUMMARY batch/{}: {txs} tx in {BLOCKS} blocks; raw signed EIP-2718 {:.1} bytes/tx",
            kind.name(),
            raw_tx_bytes as f64 / txs as f64
        );
        for (name, len, gas) in sizes {
            println!(
                "  {name:>6}: {len:>7} bytes = {:>6.1} bytes/tx = {:>5.1}% of raw; calldata {gas} gas ({:.0} gas/tx); {:.2} blobs",
                len as f64 / txs as f64,
                100.0 * len as f64 / raw_tx_bytes as f64,
                gas as f64 / txs as f64,
                len as f64 / BLOB_BYTES as f64,
            );
        }
        println!(
            "SUMMARY l1-gas/{}: one Rollup batch transaction in revm (Osaka); blob gas is priced apart",
            kind.name()
        );
        for n in GAS_SIZES {
            let blocks = batch(&w, kind, n);
            let txs = blocks.iter().map(|b| b.transactions.len()).sum::<usize>() as u64;
            let (calldata, blob, blobs) = l1_gas(&blocks);
            println!(
                "  {txs:>5} tx: calldata tx {calldata:>8} gas ({:>5.0}/tx) | blob tx {blob:>6} gas ({:>4.0}/tx) + {blobs} blob(s) = {:>7} blob gas ({:>5.0}/tx)",
                calldata as f64 / txs as f64,
                blob as f64 / txs as f64,
                blobs as u64 * GAS_PER_BLOB,
                (blobs as u64 * GAS_PER_BLOB) as f64 / txs as f64,
            );
        }
    }
}

criterion_group!(batch_benches, benches);
criterion_main!(batch_benches);
