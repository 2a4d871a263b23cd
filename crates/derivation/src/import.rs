//! Re-executing blocks on the stored head and committing them.

use alloy::primitives::B256;
use infra_config::ChainConfig;
use infra_execution::{BuildError, Inclusion, RejectedTx, chain_params};
use infra_primitives::SealedBlock;
use infra_state::TreeHasher;
use infra_stf::{PlannedBlock, apply_block, recover_sender};
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

/// A committed block and the posted transactions it dropped.
#[derive(Debug)]
pub struct Imported {
    pub block: SealedBlock,
    pub dropped: Vec<RejectedTx>,
}

/// Executes a planned block of a batch on the head ([`infra_stf::apply_block`],
/// the program's own path) and commits the result. Posted transactions dropped
/// before or by execution are returned.
pub fn replay_block(
    store: &Store,
    chain: &ChainConfig,
    hasher: &TreeHasher,
    input: PlannedBlock,
) -> Result<Imported, ImportError> {
    let built = {
        let reader = store.reader()?;
        let head = reader.head()?.unwrap_or_default();
        if input.number != head.saturating_add(1) {
            return Err(ImportError::NotNext { number: input.number, head });
        }
        let parent = reader.header(head)?.ok_or(ImportError::NoHead)?;
        apply_block(&reader, &parent, &chain_params(chain), hasher, input, |_| {})?
    };
    store.commit_block(&built.block, &built.changes, &built.nodes)?;
    Ok(Imported { block: built.block, dropped: built.rejected })
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
        let candidates: Vec<_> = block
            .transactions
            .par_iter()
            .filter_map(|tx| recover_sender(tx.clone()).ok())
            .collect();
        let built = infra_stf::build_block(
            &reader,
            &parent,
            &chain_params(chain),
            hasher,
            block.header.timestamp,
            block.deposits.clone(),
            candidates,
            Inclusion::Replay,
            |_| {},
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
pub fn same_content(block: &SealedBlock, input: &PlannedBlock) -> bool {
    block.header.timestamp == input.timestamp
        && block.deposits == input.deposits
        && input.dropped.is_empty()
        && block.transactions.len() == input.transactions.len()
        && block
            .transactions
            .iter()
            .zip(&input.transactions)
            .all(|(a, (b, _))| a.tx_hash() == b.tx_hash())
}
