//! Blob sidecars of an L1 dev chain: checked on arrival, kept apart from the
//! transactions (which are stored and executed without them), served by
//! transaction hash once mined, as anvil serves them.

use alloy::{
    consensus::{BlobTransactionSidecarVariant, EnvKzgSettings, Transaction as _, TxEnvelope},
    primitives::{B256, Bytes},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
};

/// How many transactions' blobs are kept (the oldest go first): 512 single-blob
/// transactions are 64 MiB. A real L1 prunes blobs too (after about 18 days).
pub const KEEP_BLOB_TXS: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct BlobStore(Arc<Mutex<Inner>>);

#[derive(Debug, Default)]
struct Inner {
    by_tx: HashMap<B256, Vec<Bytes>>,
    order: VecDeque<B256>,
}

impl BlobStore {
    /// Checks a blob transaction's sidecar against its versioned hashes (KZG
    /// proofs included), keeps the blobs, and returns the transaction without
    /// its sidecar. Other transactions pass through.
    pub fn accept(&self, tx: TxEnvelope) -> Result<TxEnvelope, String> {
        let TxEnvelope::Eip4844(signed) = &tx else { return Ok(tx) };
        let hashes = tx.blob_versioned_hashes().unwrap_or_default().to_vec();
        let sidecar = signed
            .tx()
            .sidecar()
            .ok_or("blob transaction without its sidecar (send the network form)")?;
        sidecar
            .validate(&hashes, EnvKzgSettings::Default.get())
            .map_err(|e| format!("invalid blob sidecar: {e}"))?;
        let blobs: Vec<Bytes> = match sidecar {
            BlobTransactionSidecarVariant::Eip4844(s) => {
                s.blobs.iter().map(|b| Bytes::copy_from_slice(b.as_slice())).collect()
            }
            BlobTransactionSidecarVariant::Eip7594(s) => {
                s.blobs.iter().map(|b| Bytes::copy_from_slice(b.as_slice())).collect()
            }
        };
        let hash = *tx.tx_hash();
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.by_tx.insert(hash, blobs).is_none() {
            inner.order.push_back(hash);
        }
        while inner.order.len() > KEEP_BLOB_TXS {
            if let Some(old) = inner.order.pop_front() {
                inner.by_tx.remove(&old);
            }
        }
        drop(inner);
        Ok(tx.map_eip4844(|v| v.drop_sidecar()))
    }

    pub fn blobs(&self, tx_hash: &B256) -> Option<Vec<Bytes>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).by_tx.get(tx_hash).cloned()
    }
}
