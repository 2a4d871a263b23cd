//! Batches as this node posted (sequencer) or derived (validator) them, kept
//! so that `infra-node fpvm run` can decide one in the fault-proof VM after
//! the node has stopped: everything the program's inputs are made of that the
//! state tables do not hold.

use crate::{StateReader, StorageError, Store};
use alloy::primitives::{B256, Bytes};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};
use infra_primitives::DepositTx;
use infra_stf::{BYTES_PER_BLOB, BatchData, PostedBlob};

const COUNT_KEY: &str = "batches";

fn record_key(index: u64) -> String {
    format!("batch/{index:020}")
}

/// One batch as L1 recorded it, with what this node made of it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct BatchRecord {
    /// Its index on L1 (0-based).
    pub index: u64,
    pub first_block: u64,
    pub last_block: u64,
    /// Its data, as L1 holds it: the calldata, or the blobs one after another
    /// (see [`BatchRecord::batch_data`]).
    pub data: Bytes,
    /// The output claimed for it on L1 (`abi.encode(Rollup.Output)`, 160 bytes).
    pub claimed: Bytes,
    /// The output this node derived (160 bytes; the pre-output when the batch
    /// is invalid).
    pub derived: Bytes,
    /// The chain as the state-transition function reads it (`infra_stf::claim::ClaimChain`).
    pub chain: Bytes,
    /// The deposits L1 held when it was posted, from the pre-output's next nonce on.
    pub deposits: Vec<DepositTx>,
    /// A blob batch's versioned hashes, one per blob of `data`.
    pub blob_hashes: Option<Vec<B256>>,
    /// `Bridge.depositAccumulators` at the pre-output's next nonce: where the
    /// claim's deposit chain starts (`infra_stf::claim::HeldDeposits`).
    pub deposit_base: Option<B256>,
}

impl BatchRecord {
    /// `data` and `blob_hashes` for `data` as L1 holds it.
    pub fn posted(data: &BatchData) -> (Bytes, Option<Vec<B256>>) {
        match data {
            BatchData::Calldata(d) => (d.clone(), None),
            BatchData::Blobs(blobs) => (
                blobs.iter().flat_map(|b| b.data.iter().copied()).collect(),
                Some(blobs.iter().map(|b| b.versioned_hash).collect()),
            ),
        }
    }

    /// The batch's data as L1 holds it.
    pub fn batch_data(&self) -> Result<BatchData, StorageError> {
        let Some(hashes) = &self.blob_hashes else {
            return Ok(BatchData::Calldata(self.data.clone()));
        };
        if self.data.len() != hashes.len() * BYTES_PER_BLOB {
            return Err(StorageError::Corrupt(format!(
                "batch record {}: {} bytes for {} blobs",
                self.index,
                self.data.len(),
                hashes.len()
            )));
        }
        Ok(BatchData::Blobs(
            hashes
                .iter()
                .zip(self.data.chunks(BYTES_PER_BLOB))
                .map(|(h, d)| PostedBlob { versioned_hash: *h, data: Bytes::copy_from_slice(d) })
                .collect(),
        ))
    }
}

impl Store {
    /// Keeps `record`; it is the newest: batches from its index on are forgotten
    /// (an L1 rollback renumbers them).
    pub fn put_batch(&self, record: &BatchRecord) -> Result<(), StorageError> {
        self.put_meta(&record_key(record.index), &alloy_rlp::encode(record))?;
        self.put_meta(COUNT_KEY, &record.index.saturating_add(1).to_be_bytes())
    }
}

impl StateReader<'_> {
    /// How many batches are kept (indexes `0..count`).
    pub fn batch_count(&self) -> Result<u64, StorageError> {
        Ok(self
            .meta(COUNT_KEY)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// The indexes of the batches kept, in order.
    pub fn batch_indexes(&self) -> Result<Vec<u64>, StorageError> {
        let mut out = Vec::new();
        for i in 0..self.batch_count()? {
            if self.meta(&record_key(i))?.is_some() {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Batch `index`, if kept.
    pub fn batch(&self, index: u64) -> Result<Option<BatchRecord>, StorageError> {
        if index >= self.batch_count()? {
            return Ok(None);
        }
        let Some(raw) = self.meta(&record_key(index))? else { return Ok(None) };
        BatchRecord::decode(&mut raw.as_slice())
            .map(Some)
            .map_err(|e| StorageError::Corrupt(format!("batch record {index}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64) -> BatchRecord {
        BatchRecord {
            index,
            first_block: index * 10 + 1,
            last_block: index * 10 + 10,
            data: vec![1, 0, 0xc0].into(),
            claimed: vec![7; 160].into(),
            derived: vec![8; 160].into(),
            chain: vec![9; 69].into(),
            deposits: vec![],
            blob_hashes: None,
            deposit_base: None,
        }
    }

    #[test]
    fn a_deposit_base_reads_back_with_or_without_blob_hashes() {
        for blob_hashes in [None, Some(vec![B256::repeat_byte(3)])] {
            let r =
                BatchRecord { blob_hashes, deposit_base: Some(B256::repeat_byte(5)), ..record(2) };
            let raw = alloy_rlp::encode(&r);
            assert_eq!(BatchRecord::decode(&mut raw.as_slice()).unwrap(), r);
        }
    }

    #[test]
    fn a_blob_batch_keeps_its_blobs_and_their_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let blobs = BatchData::Blobs(
            (0..2u8)
                .map(|i| PostedBlob {
                    versioned_hash: B256::repeat_byte(i + 1),
                    data: vec![i; BYTES_PER_BLOB].into(),
                })
                .collect(),
        );
        let (data, blob_hashes) = BatchRecord::posted(&blobs);
        let rec = BatchRecord { data, blob_hashes, ..record(0) };
        store.put_batch(&rec).unwrap();
        store.put_batch(&record(1)).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.batch(0).unwrap().unwrap().batch_data().unwrap(), blobs);
        assert_eq!(
            r.batch(1).unwrap().unwrap().batch_data().unwrap(),
            BatchData::Calldata(vec![1, 0, 0xc0].into())
        );
        // A record cut short is reported, not read as other blobs.
        let short = BatchRecord { data: vec![0; BYTES_PER_BLOB].into(), ..rec };
        assert!(short.batch_data().is_err());
    }

    #[test]
    fn a_record_written_before_blob_batches_were_kept_still_reads() {
        // The same fields without the trailing blob hashes.
        #[derive(RlpEncodable)]
        struct Old {
            index: u64,
            first_block: u64,
            last_block: u64,
            data: Bytes,
            claimed: Bytes,
            derived: Bytes,
            chain: Bytes,
            deposits: Vec<DepositTx>,
        }
        let r = record(4);
        let old = Old {
            index: r.index,
            first_block: r.first_block,
            last_block: r.last_block,
            data: r.data.clone(),
            claimed: r.claimed.clone(),
            derived: r.derived.clone(),
            chain: r.chain.clone(),
            deposits: vec![],
        };
        let raw = alloy_rlp::encode(&old);
        assert_eq!(BatchRecord::decode(&mut raw.as_slice()).unwrap(), r);
    }

    #[test]
    fn batches_are_kept_and_a_rollback_forgets_the_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reader().unwrap().batch_count().unwrap(), 0);
        for i in 0..3 {
            store.put_batch(&record(i)).unwrap();
        }
        let r = store.reader().unwrap();
        assert_eq!(r.batch_count().unwrap(), 3);
        assert_eq!(r.batch(0).unwrap(), Some(record(0)));
        assert_eq!(r.batch(1).unwrap(), Some(record(1)));
        assert_eq!(r.batch(3).unwrap(), None);
        assert_eq!(r.batch_indexes().unwrap(), vec![0, 1, 2]);
        drop(r);
        store.put_batch(&record(1)).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.batch_count().unwrap(), 2);
        assert_eq!(r.batch(2).unwrap(), None);
    }
}
