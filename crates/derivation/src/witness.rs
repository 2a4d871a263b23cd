//! The fault-proof program's inputs from a node's database: the host side of
//! `infra_stf::claim`. The batch is applied over the database (the state as
//! its parent block left it) through the same [`OracleState`] the program
//! uses, and every preimage it reads is recorded, so the program in the VM
//! reads exactly those.

use alloy::{
    consensus::Header,
    primitives::{Address, B256, Bytes, U256},
};
use infra_primitives::{AccountState, SourceError};
use infra_state::{Node, NodeStore, Position};
use infra_stf::{
    Applied, BatchData, BatchRef, Output, Preimages, StfError,
    claim::{ClaimChain, HeldDeposits, record_claim},
};
use infra_storage::{BatchRecord, StateAt, StorageError, Store};
use std::collections::BTreeMap;

fn se(e: impl std::fmt::Display) -> SourceError {
    SourceError(e.to_string())
}

/// Preimages answered from the state a past block left (the hints say where).
pub struct DatadirPreimages<'a, 'r, 'db> {
    pub state: &'a StateAt<'r, 'db>,
}

impl Preimages for DatadirPreimages<'_, '_, '_> {
    fn node(&self, position: &Position, hash: &B256) -> Result<Node, SourceError> {
        self.state
            .tree()
            .node(position)
            .map_err(se)?
            .ok_or_else(|| SourceError(format!("no tree node {hash} at depth {}", position.depth)))
    }

    fn account(&self, address: Address, _: &B256) -> Result<AccountState, SourceError> {
        self.state
            .account(address)
            .map_err(se)?
            .ok_or_else(|| SourceError(format!("no account {address}")))
    }

    fn storage(&self, address: Address, slot: U256, _: &B256) -> Result<U256, SourceError> {
        self.state.storage(address, slot).map_err(se)
    }

    fn code(&self, hash: &B256) -> Result<Bytes, SourceError> {
        self.state.code(*hash).map_err(se)?.ok_or_else(|| SourceError(format!("no code {hash}")))
    }

    fn header(&self, hash: &B256) -> Result<Header, SourceError> {
        let reader = self.state.reader();
        let number = reader
            .block_number(*hash)
            .map_err(se)?
            .ok_or_else(|| SourceError(format!("no block {hash}")))?;
        reader.header(number).map_err(se)?.ok_or_else(|| SourceError(format!("no header {number}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("the datadir holds {} batches{}; batch {index} is not one of them{}", held.len(), span(held), if *index == 0 { " (batch 0 on L1 is the genesis output: it has no data)" } else { "" })]
    NoBatch { index: u64, held: Vec<u64> },
    #[error("batch {index}: its record is malformed ({what})")]
    Record { index: u64, what: &'static str },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("batch {index}: {source}")]
    Stf { index: u64, source: StfError },
}

/// ` (1..=7)`, or ` (1, 3, 4)` when not contiguous.
fn span(held: &[u64]) -> String {
    match (held.first(), held.last()) {
        (Some(a), Some(b)) if b - a + 1 == held.len() as u64 => format!(" ({a}..={b})"),
        (Some(_), Some(_)) => {
            format!(" ({})", held.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        }
        _ => String::new(),
    }
}

/// Everything to decide batch `index` of a datadir in the VM.
#[derive(Debug)]
pub struct Witness {
    pub index: u64,
    pub chain: ClaimChain,
    pub pre: Output,
    pub claimed: Output,
    /// What the node derived when it met the batch.
    pub derived: Output,
    /// The batch's data as L1 holds it.
    pub data: BatchData,
    /// The STF run over the database (the host's run).
    pub applied: Applied,
    /// Every preimage the program reads, by key.
    pub preimages: BTreeMap<B256, Vec<u8>>,
}

/// Prepares batch `index` of `store` for the program.
pub fn witness(store: &Store, index: u64) -> Result<Witness, WitnessError> {
    let reader = store.reader()?;
    let Some(record) = reader.batch(index)? else {
        return Err(WitnessError::NoBatch { index, held: reader.batch_indexes()? });
    };
    drop(reader);
    witness_of(store, &record)
}

/// Prepares the batch of `record` for the program: one kept at its index,
/// or one a rollback replaced (`StateReader::claim_batch`). The state is the
/// database's as the block before the batch's first left it.
pub fn witness_of(store: &Store, record: &BatchRecord) -> Result<Witness, WitnessError> {
    let reader = store.reader()?;
    let index = record.index;
    let bad = |what| WitnessError::Record { index, what };
    let chain = ClaimChain::decode(&record.chain).ok_or(bad("chain"))?;
    let claimed = Output::decode(&record.claimed).ok_or(bad("claimed output"))?;
    let derived = Output::decode(&record.derived).ok_or(bad("derived output"))?;
    let parent = record.first_block.checked_sub(1).ok_or(bad("first block 0"))?;
    let header = reader
        .header(parent)?
        .ok_or_else(|| StorageError::Corrupt(format!("block {parent} is missing")))?;
    let next_deposit = reader.deposit_cursor_at(parent)?.next_nonce;
    let pre = Output::after(&chain.params, &header, next_deposit);
    let state = reader.state_at(parent)?;
    let data = record.batch_data()?;
    let batch =
        BatchRef { first_block: record.first_block, last_block: record.last_block, data: &data };
    let base =
        record.deposit_base.ok_or(bad("no deposit chain base (written by an older version)"))?;
    let (applied, preimages) = record_claim(
        DatadirPreimages { state: &state },
        &chain,
        &pre,
        &claimed,
        &batch,
        &HeldDeposits { base, deposits: &record.deposits },
    )
    .map_err(|source| WitnessError::Stf { index, source })?;
    Ok(Witness { index, chain, pre, claimed, derived, data, applied, preimages })
}
