//! Reading batch data from L1: calldata from the submitting transaction, blobs
//! from the L1 node's blob API; both checked against the commitment the rollup
//! recorded.

use alloy::{
    consensus::{Blob, BlobTransactionSidecar, SidecarCoder, SimpleCoder, Transaction as _},
    primitives::{B256, Bytes, keccak256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use infra_l1::Rollup;

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
}

/// Fetches the posted bytes of `batch` and checks them against its commitment.
pub async fn batch_data(l1: &DynProvider, batch: &SubmittedBatch) -> Result<Vec<u8>, SourceError> {
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
        let data = call.data.to_vec();
        if keccak256(&data) != batch.data_commitment {
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
    on_big_stack(move || decode_blobs(&raw, commitment))
        .await
        .map_err(|e| fail(format!("blob decoding thread: {e}")))?
        .map_err(|reason| SourceError::Data { index, reason })
}

/// Checks `raw` blobs against the recorded commitment (the hash of their
/// versioned hashes) and decodes their data.
fn decode_blobs(raw: &[Bytes], commitment: B256) -> Result<Vec<u8>, String> {
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
        blobs.clone(),
        alloy::consensus::EnvKzgSettings::Default.get(),
    )
    .map_err(|e| format!("blob commitment: {e}"))?;
    let hashes: Vec<u8> = sidecar.versioned_hashes().flat_map(|h| h.0).collect();
    if keccak256(&hashes) != commitment {
        return Err("served blobs do not match the recorded versioned hashes".into());
    }
    let parts = SimpleCoder::default()
        .decode_all(&blobs)
        .ok_or_else(|| "blob data is not in the simple blob encoding".to_string())?;
    Ok(parts.concat())
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
