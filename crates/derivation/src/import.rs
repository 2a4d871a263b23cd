//! Re-executing blocks on the stored head and committing them.

use alloy::{
    consensus::{TxEnvelope, transaction::SignerRecoverable},
    primitives::{Address, B256},
};
use infra_config::ChainConfig;
use infra_execution::{BuildError, Inclusion, RejectedTx, build_block};
use infra_primitives::{DepositTx, SealedBlock};
use infra_state::TreeHasher;
use infra_storage::{StorageError, Store};
use rayon::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the database has no head: it was not initialised with a genesis")]
    NoHead,
    #[error("block {number} does not extend the head (block {head})")]
    NotNext { number: u64, head: u64 },
    #[error("block {number} has parent {parent}, but the head's hash is {head_hash}")]
    WrongParent { number: u64, parent: B256, head_hash: B256 },
    #[error("block {number}: re-executing it gives hash {derived}, the block says {claimed}")]
    Mismatch { number: u64, claimed: B256, derived: B256 },
}

/// What a block is made of, as posted in a batch: everything else in its header
/// is computed by executing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInput {
    pub number: u64,
    pub timestamp: u64,
    pub deposits: Vec<DepositTx>,
    pub transactions: Vec<TxEnvelope>,
}

/// A committed block and the posted transactions it dropped.
#[derive(Debug)]
pub struct Imported {
    pub block: SealedBlock,
    pub dropped: Vec<RejectedTx>,
}

/// Recovers every sender (in parallel); a transaction whose signature does not
/// recover is dropped and reported.
fn senders(txs: &[TxEnvelope]) -> (Vec<(TxEnvelope, Address)>, Vec<RejectedTx>) {
    let recovered: Vec<_> = txs.par_iter().map(|tx| (tx, tx.recover_signer())).collect();
    let mut ok = Vec::with_capacity(txs.len());
    let mut dropped = Vec::new();
    for (tx, sender) in recovered {
        match sender {
            Ok(s) => ok.push((tx.clone(), s)),
            Err(_) => dropped.push(RejectedTx {
                hash: *tx.tx_hash(),
                sender: Address::ZERO,
                reason: "signature does not recover".into(),
            }),
        }
    }
    (ok, dropped)
}

/// Executes `input` on the head and commits the result. Posted transactions the
/// EVM refuses are dropped (and returned), as [`Inclusion::Replay`] says.
pub fn replay_block(
    store: &Store,
    chain: &ChainConfig,
    hasher: &TreeHasher,
    input: &BlockInput,
) -> Result<Imported, ImportError> {
    let (block, changes, nodes, dropped) = {
        let reader = store.reader()?;
        let head = reader.head()?.unwrap_or_default();
        if input.number != head.saturating_add(1) {
            return Err(ImportError::NotNext { number: input.number, head });
        }
        let parent = reader.header(head)?.ok_or(ImportError::NoHead)?;
        let (candidates, mut dropped) = senders(&input.transactions);
        let built = build_block(
            &reader,
            &parent,
            chain,
            hasher,
            input.timestamp,
            input.deposits.clone(),
            candidates,
            Inclusion::Replay,
        )?;
        dropped.extend(built.rejected);
        (built.block, built.changes, built.nodes, dropped)
    };
    store.commit_block(&block, &changes, &nodes)?;
    Ok(Imported { block, dropped })
}

/// Verifies a block from a peer by re-executing its content on the head, and
/// commits it only when that gives the same hash (every header field, the state
/// root included, is checked that way).
pub fn import_sealed(
    store: &Store,
    chain: &ChainConfig,
    hasher: &TreeHasher,
    block: &SealedBlock,
) -> Result<(), ImportError> {
    let (built, changes, nodes) = {
        let reader = store.reader()?;
        let head = reader.head()?.unwrap_or_default();
        if block.number() != head.saturating_add(1) {
            return Err(ImportError::NotNext { number: block.number(), head });
        }
        let parent = reader.header(head)?.ok_or(ImportError::NoHead)?;
        let head_hash = parent.hash_slow();
        if block.header.parent_hash != head_hash {
            return Err(ImportError::WrongParent {
                number: block.number(),
                parent: block.header.parent_hash,
                head_hash,
            });
        }
        let (candidates, _) = senders(&block.transactions);
        let built = build_block(
            &reader,
            &parent,
            chain,
            hasher,
            block.header.timestamp,
            block.deposits.clone(),
            candidates,
            Inclusion::Replay,
        )?;
        (built.block, built.changes, built.nodes)
    };
    if built.hash != block.hash {
        return Err(ImportError::Mismatch {
            number: block.number(),
            claimed: block.hash,
            derived: built.hash,
        });
    }
    store.commit_block(&built, &changes, &nodes)?;
    Ok(())
}

/// Whether the stored `block` is what `input` derives to, without executing:
/// a block's header is a function of its parent and its content (timestamp,
/// deposits, transactions), and every stored block was executed from its content.
pub fn same_content(block: &SealedBlock, input: &BlockInput) -> bool {
    block.header.timestamp == input.timestamp
        && block.deposits == input.deposits
        && block.transactions.len() == input.transactions.len()
        && block
            .transactions
            .iter()
            .zip(&input.transactions)
            .all(|(a, b)| a.tx_hash() == b.tx_hash())
}
