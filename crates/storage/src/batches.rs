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

/// The claim id on L1 of the batch kept at `index` (8 bytes; empty: unknown).
fn claim_at_key(index: u64) -> String {
    format!("batch-claim/{index:020}")
}

/// A batch record a rollback replaced, by its claim id.
fn replaced_key(claim_id: u64) -> String {
    format!("claim-batch/{claim_id:020}")
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
    /// Keeps `record`, posted on L1 as claim `claim_id` (`None`: not known);
    /// it is the newest: batches from its index on are forgotten as batches
    /// (an L1 rollback renumbers them). Those it replaces that were another
    /// claim's stay readable by claim ([`StateReader::claim_batch`]): a game
    /// on a claim rolled back behind an earlier invalid one is still played,
    /// and its honest side must rebuild the claim's inputs.
    pub fn put_batch(
        &self,
        record: &BatchRecord,
        claim_id: Option<u64>,
    ) -> Result<(), StorageError> {
        // (The claim ids are read first; the records are copied inside the
        // write, one at a time. One writer per store: the poster or the deriver.)
        let reader = self.reader()?;
        let mut replaced = Vec::new();
        for i in record.index..reader.batch_count()? {
            let Some(old) = reader.claim_at(i)? else { continue };
            if i == record.index && Some(old) == claim_id {
                continue; // the same claim's record again (derived again after a restart)
            }
            replaced.push((record_key(i), replaced_key(old)));
        }
        drop(reader);
        let raw = alloy_rlp::encode(record);
        let claim = claim_id.map(u64::to_be_bytes);
        let (record_at, claim_at) = (record_key(record.index), claim_at_key(record.index));
        let count = record.index.saturating_add(1).to_be_bytes();
        self.copy_and_put_metas(
            &replaced,
            &[
                (&record_at, &raw),
                (&claim_at, claim.as_ref().map_or(&[][..], |c| &c[..])),
                (COUNT_KEY, &count),
            ],
        )
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

    /// The claim id on L1 of the batch kept at `index`, if recorded.
    fn claim_at(&self, index: u64) -> Result<Option<u64>, StorageError> {
        Ok(self
            .meta(&claim_at_key(index))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// The record of claim `claim_id`, posted as batch `index`: the batch kept
    /// at `index` if it is that claim's, else the one a rollback replaced. A
    /// record kept without its claim id (by an older version) is returned as
    /// the batch at `index`: the caller compares it with the claim.
    pub fn claim_batch(
        &self,
        index: u64,
        claim_id: u64,
    ) -> Result<Option<BatchRecord>, StorageError> {
        let current = self.batch(index)?;
        let at = if current.is_some() { self.claim_at(index)? } else { None };
        if current.is_some() && at.is_none_or(|c| c == claim_id) {
            return Ok(current);
        }
        let Some(raw) = self.meta(&replaced_key(claim_id))? else { return Ok(None) };
        BatchRecord::decode(&mut raw.as_slice())
            .map(Some)
            .map_err(|e| StorageError::Corrupt(format!("record of claim {claim_id}: {e}")))
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
        store.put_batch(&rec, None).unwrap();
        store.put_batch(&record(1), None).unwrap();
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
            store.put_batch(&record(i), None).unwrap();
        }
        let r = store.reader().unwrap();
        assert_eq!(r.batch_count().unwrap(), 3);
        assert_eq!(r.batch(0).unwrap(), Some(record(0)));
        assert_eq!(r.batch(1).unwrap(), Some(record(1)));
        assert_eq!(r.batch(3).unwrap(), None);
        assert_eq!(r.batch_indexes().unwrap(), vec![0, 1, 2]);
        drop(r);
        store.put_batch(&record(1), None).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.batch_count().unwrap(), 2);
        assert_eq!(r.batch(2).unwrap(), None);
    }

    #[test]
    fn a_rollback_keeps_the_replaced_records_by_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Claims 1..=6 posted batches 0..=5; then batch 2 was found invalid,
        // and batches 2.. come again as claims 7, 8 (other blocks: a rollback
        // may cut them differently).
        for i in 0..6 {
            store.put_batch(&record(i), Some(i + 1)).unwrap();
        }
        let again = |i: u64| BatchRecord {
            last_block: i * 10 + 15,
            derived: vec![6; 160].into(),
            ..record(i)
        };
        store.put_batch(&again(2), Some(7)).unwrap();
        // Derived again after a restart: the same claim, nothing replaced.
        store.put_batch(&again(2), Some(7)).unwrap();
        store.put_batch(&again(3), Some(8)).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.batch_count().unwrap(), 4);
        // The batches kept are the new claims'.
        assert_eq!(r.batch(2).unwrap(), Some(again(2)));
        assert_eq!(r.claim_batch(2, 7).unwrap(), Some(again(2)));
        assert_eq!(r.claim_batch(3, 8).unwrap(), Some(again(3)));
        // The rolled-back claims' records are still there, whoever asks by index.
        for i in 2..6 {
            assert_eq!(r.claim_batch(i, i + 1).unwrap(), Some(record(i)), "claim {}", i + 1);
        }
        assert_eq!(r.claim_batch(1, 2).unwrap(), Some(record(1)));
        // A claim never recorded here has no record, even at a kept index.
        assert_eq!(r.claim_batch(2, 9).unwrap(), None);
        assert_eq!(r.claim_batch(7, 20).unwrap(), None);
        drop(r);
        // Records kept without claim ids (older versions) are the batch at the index.
        store.put_batch(&record(4), None).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.claim_batch(4, 5).unwrap(), Some(record(4)));
        assert_eq!(r.claim_batch(3, 8).unwrap(), Some(again(3)));
    }
}
