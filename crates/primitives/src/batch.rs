//! The batch format, version 1.
//!
//! ```text
//! batch      = version (1 byte, 0x01) || codec (1 byte) || compressed(payload)
//! codec      = 0x00 none | 0x01 zstd (level 19)
//! payload    = rlp([first_block, parent_hash, [block, ...]])
//! block      = rlp([timestamp, deposit_count, [tx, ...]])
//! tx         = the transaction's EIP-2718 encoding (an RLP byte string)
//! ```
//!
//! Deposits are not repeated in the batch: L1 already holds them (the bridge's
//! `DepositInitiated` events). `deposit_count` says how many of the next deposits,
//! in bridge-nonce order, open the block.
//!
//! A batch carries a contiguous range of L2 blocks: block `first_block + i` is the
//! i-th entry, and `parent_hash` is the hash of block `first_block - 1`, so a
//! validator can check the batch extends the chain it already derived. Everything
//! else in a header (base fee, state root, receipts...) is recomputed by
//! re-execution, so it is not posted. The same bytes go to L1 as calldata or as
//! blob data; the rollup contract records `keccak256(batch)` (calldata) or the
//! blobs' versioned hashes.

use crate::SealedBlock;
use alloc::{
    string::{String, ToString},
    vec::Vec,
};
use alloy_consensus::TxEnvelope;
use alloy_eips::{Decodable2718, Encodable2718};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// The only version this node writes and reads.
pub const VERSION: u8 = 1;
/// Decompressed payloads larger than this are refused: a decompression bomb
/// cannot make a validator allocate more, and it bounds the work the
/// fault-proof program spends on a batch's bytes (decompressing and hashing
/// them). An honest batch is at most `batch.max_bytes` (<= 250,000) plus one
/// transaction (<= 128 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// How the payload is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None = 0,
    /// zstd at level 19: as dense as brotli at quality 11 on our batches and 8x
    /// faster to write (measured: `cargo bench -p infra-benches --bench batch`).
    Zstd = 1,
}

impl Codec {
    pub fn from_byte(b: u8) -> Result<Self, BatchError> {
        match b {
            0 => Ok(Self::None),
            1 => Ok(Self::Zstd),
            other => Err(BatchError::UnknownCodec(other)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("batch is empty")]
    Empty,
    #[error("batch version {0} is not supported (this node reads version {VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown batch codec {0} (allowed: 0 none, 1 zstd)")]
    UnknownCodec(u8),
    #[error("batch payload exceeds {MAX_PAYLOAD_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("batch decompression failed: {0}")]
    Decompress(String),
    #[error("batch payload is not valid RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    #[error("transaction {index} of block {block} is not a valid EIP-2718 transaction: {reason}")]
    Transaction { block: u64, index: usize, reason: String },
    #[error("batch has no blocks")]
    NoBlocks,
    #[error("blocks are not contiguous: expected block {expected}, got {got}")]
    NotContiguous { expected: u64, got: u64 },
}

/// One L2 block as posted.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchBlock {
    pub timestamp: u64,
    /// How many L1 deposits (the next ones in bridge-nonce order) open the block.
    pub deposit_count: u64,
    pub transactions: Vec<Bytes>,
}

/// The decoded content of a batch.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchPayload {
    pub first_block: u64,
    pub parent_hash: B256,
    pub blocks: Vec<BatchBlock>,
}

impl BatchPayload {
    /// The payload of contiguous sealed blocks.
    pub fn from_blocks(blocks: &[SealedBlock]) -> Result<Self, BatchError> {
        let first = blocks.first().ok_or(BatchError::NoBlocks)?;
        for (i, b) in blocks.iter().enumerate() {
            let expected = first.number().saturating_add(i as u64);
            if b.number() != expected {
                return Err(BatchError::NotContiguous { expected, got: b.number() });
            }
        }
        Ok(Self {
            first_block: first.number(),
            parent_hash: first.header.parent_hash,
            blocks: blocks
                .iter()
                .map(|b| BatchBlock {
                    timestamp: b.header.timestamp,
                    deposit_count: b.deposits.len() as u64,
                    transactions: b
                        .transactions
                        .iter()
                        .map(|tx| Bytes::from(tx.encoded_2718()))
                        .collect(),
                })
                .collect(),
        })
    }

    pub fn last_block(&self) -> u64 {
        self.first_block.saturating_add(self.blocks.len().saturating_sub(1) as u64)
    }

    /// The transactions of every block, decoded (signatures are not checked here).
    pub fn decode_transactions(&self) -> Result<Vec<Vec<TxEnvelope>>, BatchError> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let block = self.first_block.saturating_add(i as u64);
                b.transactions
                    .iter()
                    .enumerate()
                    .map(|(index, raw)| {
                        TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| {
                            BatchError::Transaction { block, index, reason: e.to_string() }
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The uncompressed RLP payload.
    pub fn rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    /// The batch bytes: version, codec, compressed payload.
    #[cfg(feature = "std")]
    pub fn encode(&self, codec: Codec) -> Vec<u8> {
        let raw = self.rlp();
        let mut out = alloc::vec![VERSION, codec as u8];
        match codec {
            Codec::None => out.extend_from_slice(&raw),
            Codec::Zstd => {
                let compressed = zstd::bulk::compress(&raw, 19).unwrap_or_default();
                out.extend_from_slice(&compressed);
            }
        }
        out
    }

    /// Parses batch bytes, refusing unknown versions and codecs, oversize payloads,
    /// malformed RLP and trailing bytes.
    pub fn decode(batch: &[u8]) -> Result<Self, BatchError> {
        let (&version, rest) = batch.split_first().ok_or(BatchError::Empty)?;
        if version != VERSION {
            return Err(BatchError::UnsupportedVersion(version));
        }
        let (&codec, body) = rest.split_first().ok_or(BatchError::Empty)?;
        let raw = match Codec::from_byte(codec)? {
            Codec::None => {
                if body.len() > MAX_PAYLOAD_BYTES {
                    return Err(BatchError::TooLarge);
                }
                body.to_vec()
            }
            Codec::Zstd => unzstd(body)?,
        };
        let mut slice = raw.as_slice();
        let payload = <Self as alloy_rlp::Decodable>::decode(&mut slice)?;
        if !slice.is_empty() {
            return Err(BatchError::Rlp(alloy_rlp::Error::UnexpectedLength));
        }
        if payload.blocks.is_empty() {
            return Err(BatchError::NoBlocks);
        }
        Ok(payload)
    }
}

/// zstd, decoded the one way the node and the fault-proof program both decode
/// it (the pure-Rust decoder): exactly one frame, nothing after it, at most
/// [`MAX_PAYLOAD_BYTES`] out (checked as it is decoded, so a bomb is never
/// allocated).
fn unzstd(body: &[u8]) -> Result<Vec<u8>, BatchError> {
    use ruzstd::io::Read as _;
    let fail = |e: &dyn core::fmt::Debug| BatchError::Decompress(alloc::format!("{e:?}"));
    let mut src = body;
    let mut out = Vec::new();
    {
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src).map_err(|e| fail(&e))?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = dec.read(&mut buf).map_err(|e| fail(&e))?;
            if n == 0 {
                break;
            }
            if out.len() + n > MAX_PAYLOAD_BYTES {
                return Err(BatchError::TooLarge);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
    if !src.is_empty() {
        return Err(BatchError::Decompress(alloc::format!(
            "{} bytes after the zstd frame",
            src.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{Header, SignableTransaction, TxEip1559, TxLegacy},
        primitives::{Address, TxKind, U256},
        signers::{SignerSync, local::PrivateKeySigner},
    };

    fn tx(nonce: u64, legacy: bool) -> TxEnvelope {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).unwrap();
        if legacy {
            let t = TxLegacy {
                chain_id: Some(13370),
                nonce,
                gas_price: 2_000_000_000,
                gas_limit: 21_000,
                to: TxKind::Call(Address::repeat_byte(2)),
                value: U256::from(nonce),
                input: Bytes::new(),
            };
            let sig = signer.sign_hash_sync(&t.signature_hash()).unwrap();
            t.into_signed(sig).into()
        } else {
            let t = TxEip1559 {
                chain_id: 13370,
                nonce,
                gas_limit: 60_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000,
                to: TxKind::Call(Address::repeat_byte(3)),
                value: U256::ZERO,
                access_list: Default::default(),
                input: Bytes::from(vec![0xa9, 0x05, 0x9c, 0xbb, 0, 0, 0, 1]),
            };
            let sig = signer.sign_hash_sync(&t.signature_hash()).unwrap();
            t.into_signed(sig).into()
        }
    }

    fn blocks() -> Vec<SealedBlock> {
        (5..9u64)
            .map(|n| {
                let header = Header {
                    number: n,
                    timestamp: 1_700_000_000 + n,
                    parent_hash: B256::repeat_byte(n as u8),
                    ..Default::default()
                };
                let txs: Vec<_> = (0..n).map(|i| tx(i, i % 2 == 0)).collect();
                let senders = vec![Address::ZERO; txs.len()];
                SealedBlock::new(header, txs, senders, vec![])
            })
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let blocks = blocks();
        let payload = BatchPayload::from_blocks(&blocks).unwrap();
        assert_eq!((payload.first_block, payload.last_block()), (5, 8));
        assert_eq!(payload.parent_hash, blocks[0].header.parent_hash);
        for codec in [Codec::None, Codec::Zstd] {
            let bytes = payload.encode(codec);
            assert_eq!(&bytes[..2], &[VERSION, codec as u8]);
            let back = BatchPayload::decode(&bytes).unwrap();
            assert_eq!(back, payload);
            let txs = back.decode_transactions().unwrap();
            for (decoded, block) in txs.iter().zip(&blocks) {
                assert_eq!(decoded, &block.transactions);
            }
        }
    }

    #[test]
    fn bad_batches_are_refused_with_a_reason() {
        let payload = BatchPayload::from_blocks(&blocks()).unwrap();
        let good = payload.encode(Codec::Zstd);
        assert!(matches!(BatchPayload::decode(&[]), Err(BatchError::Empty)));
        assert!(matches!(BatchPayload::decode(&[2, 0]), Err(BatchError::UnsupportedVersion(2))));
        assert!(matches!(BatchPayload::decode(&[1, 9, 0]), Err(BatchError::UnknownCodec(9))));
        let mut truncated = good.clone();
        truncated.truncate(good.len() / 2);
        assert!(BatchPayload::decode(&truncated).is_err());
        let mut trailing = payload.encode(Codec::None);
        trailing.push(0);
        assert!(matches!(BatchPayload::decode(&trailing), Err(BatchError::Rlp(_))));
        // A gap between blocks is refused when building.
        let mut b = blocks();
        b.remove(1);
        assert!(matches!(BatchPayload::from_blocks(&b), Err(BatchError::NotContiguous { .. })));
        assert!(matches!(BatchPayload::from_blocks(&[]), Err(BatchError::NoBlocks)));
        // A zstd bomb beyond the limit is refused, not allocated.
        let bomb = zstd::bulk::compress(&vec![0u8; MAX_PAYLOAD_BYTES + 1], 1).unwrap();
        let mut framed = vec![VERSION, Codec::Zstd as u8];
        framed.extend_from_slice(&bomb);
        assert!(matches!(BatchPayload::decode(&framed), Err(BatchError::TooLarge)));
        // Exactly one frame: a second frame, a skippable frame or stray bytes
        // after the frame are refused (the program decodes the same way).
        let good = BatchPayload::from_blocks(&blocks()).unwrap().encode(Codec::Zstd);
        let frame = &good[2..];
        for extra in [frame.to_vec(), vec![0x50, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 7], vec![0]] {
            let mut twice = good.clone();
            twice.extend_from_slice(&extra);
            assert!(
                matches!(BatchPayload::decode(&twice), Err(BatchError::Decompress(_))),
                "{extra:?} after the frame"
            );
        }
        let mut skippable = vec![VERSION, Codec::Zstd as u8, 0x50, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 7];
        skippable.extend_from_slice(frame);
        assert!(BatchPayload::decode(&skippable).is_err(), "a skippable frame first");
    }

    proptest::proptest! {
        /// The pure-Rust decoder (the node's and the program's) reads whatever
        /// the C encoder (the batcher's) writes, at any level.
        #[test]
        fn ruzstd_decodes_what_zstd_encodes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096), level in 1i32..20) {
            let c = zstd::bulk::compress(&data, level).unwrap();
            proptest::prop_assert_eq!(super::unzstd(&c).unwrap(), data);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = BatchPayload::decode(&bytes);
            let mut framed = vec![VERSION, Codec::Zstd as u8];
            framed.extend_from_slice(&bytes);
            let _ = BatchPayload::decode(&framed);
        }
    }
}
