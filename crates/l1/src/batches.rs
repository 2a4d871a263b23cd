//! Reading batch data from L1: calldata from the submitting transaction, blobs
//! from the L1 node's blob API; both checked against the commitment the rollup
//! recorded.

use crate::Rollup;
use alloy::{
    consensus::{Blob, BlobTransactionSidecar, Transaction as _},
    primitives::{B256, Bytes},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use infra_stf::{BatchData, PostedBlob};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// The data L1 serves does not match what the rollup recorded (or cannot be
    /// found): the batch cannot be derived from this L1 source.
    #[error("batch {index}: {reason}")]
    Data { index: u64, reason: String },
}

/// A `BatchSubmitted` log, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedBatch {
    pub index: u64,
    pub first_block: u64,
    pub last_block: u64,
    pub data_commitment: B256,
    pub state_root: B256,
    pub block_hash: B256,
    pub next_base_fee: u64,
    pub next_deposit_nonce: u64,
    pub blob_count: u8,
    pub l1_block: u64,
    pub l1_tx: B256,
    /// Its claim id on the rollup (never reused).
    pub claim_id: u64,
    /// How many bridge deposits L1 held when it was posted (the batch may
    /// apply only those), and the bridge's hash chain over them.
    pub deposit_count: u64,
    pub deposit_accumulator: B256,
}

/// Fetches the posted data of `batch` (its calldata, or its blobs with their
/// versioned hashes) and checks it against its commitment. Decoding the data
/// is the state-transition function's part ([`BatchData::payload`]): data
/// that matches the commitment but does not decode is an invalid batch, not a
/// source error.
pub async fn batch_data(
    l1: &DynProvider,
    batch: &SubmittedBatch,
) -> Result<BatchData, SourceError> {
    let fail = |reason: String| SourceError::Data { index: batch.index, reason };
    let rpc = |e: alloy::transports::TransportError| SourceError::Rpc(e.to_string());
    if batch.blob_count == 0 {
        let tx = l1
            .get_transaction_by_hash(batch.l1_tx)
            .await
            .map_err(rpc)?
            .ok_or_else(|| fail(format!("transaction {} not found", batch.l1_tx)))?;
        let call = Rollup::submitBatchCall::abi_decode(tx.input()).map_err(|_| {
            fail(format!(
                "transaction {} is not a direct submitBatch call (batches sent through another contract are not read yet)",
                batch.l1_tx
            ))
        })?;
        let data = BatchData::Calldata(call.data);
        if data.commitment() != batch.data_commitment {
            return Err(fail("calldata does not hash to the recorded commitment".into()));
        }
        return Ok(data);
    }
    let raw: Vec<Bytes> = l1
        .raw_request("anvil_getBlobsByTransactionHash".into(), (batch.l1_tx,))
        .await
        .map_err(|e| {
            fail(format!(
                "the L1 node does not serve the blobs of {} (anvil_getBlobsByTransactionHash): {e}",
                batch.l1_tx
            ))
        })?;
    if raw.len() != usize::from(batch.blob_count) {
        return Err(fail(format!("{} blobs served, {} recorded", raw.len(), batch.blob_count)));
    }
    let (index, commitment) = (batch.index, batch.data_commitment);
    on_big_stack(move || check_blobs(raw, commitment))
        .await
        .map_err(|e| fail(format!("blob checking thread: {e}")))?
        .map_err(|reason| SourceError::Data { index, reason })
}

/// Computes the versioned hashes of `raw` blobs and checks them against the
/// recorded commitment (the hash of the hashes, as `Rollup` records it).
pub fn check_blobs(raw: Vec<Bytes>, commitment: B256) -> Result<BatchData, String> {
    let blobs: Vec<Blob> = raw
        .iter()
        .map(|b| {
            if b.len() == alloy::eips::eip4844::BYTES_PER_BLOB {
                Ok(Blob::from_slice(b))
            } else {
                Err(format!("a blob of {} bytes", b.len()))
            }
        })
        .collect::<Result<_, _>>()?;
    let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(
        blobs,
        alloy::consensus::EnvKzgSettings::Default.get(),
    )
    .map_err(|e| format!("blob commitment: {e}"))?;
    let data = BatchData::Blobs(
        sidecar
            .versioned_hashes()
            .zip(raw)
            .map(|(versioned_hash, data)| PostedBlob { versioned_hash, data })
            .collect(),
    );
    if data.commitment() != commitment {
        return Err("served blobs do not match the recorded versioned hashes".into());
    }
    Ok(data)
}

/// Runs `f` on its own thread with a large stack: blobs (128 KiB each) and the
/// KZG code move them by value, more than a runtime thread's 2 MiB holds in
/// debug builds.
async fn on_big_stack<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("blob-decode".into())
        .stack_size(64 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| e.to_string())?;
    rx.await.map_err(|e| e.to_string())
}

impl SubmittedBatch {
    /// Decodes a `BatchSubmitted` log of the rollup.
    pub fn from_log(log: &alloy::rpc::types::Log) -> Result<Self, String> {
        let ev = log.log_decode::<Rollup::BatchSubmitted>().map_err(|e| e.to_string())?.inner.data;
        Ok(Self {
            index: u64::try_from(ev.index).unwrap_or(u64::MAX),
            first_block: ev.firstBlock,
            last_block: ev.lastBlock,
            data_commitment: ev.dataCommitment,
            state_root: ev.output.stateRoot,
            block_hash: ev.output.l2BlockHash,
            next_base_fee: ev.output.nextBaseFee,
            next_deposit_nonce: ev.output.nextDepositNonce,
            blob_count: ev.blobCount,
            l1_block: log.block_number.unwrap_or_default(),
            l1_tx: log.transaction_hash.unwrap_or_default(),
            claim_id: u64::try_from(ev.claimId).unwrap_or(u64::MAX),
            deposit_count: ev.depositCount,
            deposit_accumulator: ev.depositAccumulator,
        })
    }

    /// Finds the `BatchSubmitted` log of batch `index` with data `commitment` on
    /// L1 (from `from_block` on): an index is reused after a rollback.
    pub async fn find(
        l1: &DynProvider,
        rollup: alloy::primitives::Address,
        index: u64,
        commitment: B256,
        from_block: u64,
    ) -> Result<Self, SourceError> {
        use alloy::sol_types::SolEvent;
        let filter = alloy::rpc::types::Filter::new()
            .address(rollup)
            .event_signature(Rollup::BatchSubmitted::SIGNATURE_HASH)
            .topic1(B256::from(alloy::primitives::U256::from(index)))
            .from_block(from_block);
        let logs = l1.get_logs(&filter).await.map_err(|e| SourceError::Rpc(e.to_string()))?;
        logs.iter()
            .rev()
            .filter(|l| !l.removed)
            .filter_map(|l| Self::from_log(l).ok())
            .find(|b| b.data_commitment == commitment)
            .ok_or_else(|| SourceError::Data {
                index,
                reason: format!("no BatchSubmitted log with commitment {commitment} on L1"),
            })
    }
}
