//! Building a block on top of the stored head: the one path the sequencer (from
//! its pool) and derivation (replaying posted transactions) share, so the same
//! inputs give the same header, byte for byte.

use crate::BaseFeeConfig;
use crate::{
    BlockContext, ExecConfig, ExecError, Inclusion, RejectedTx, execute_block_with, next_base_fee,
    tree_updates,
};
use alloc::vec::Vec;
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, Transaction as _, TxEnvelope,
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use infra_primitives::{DepositTx, SealedBlock};
use infra_primitives::{StateChanges, StateSource};
use infra_state::NodeStore;
use infra_state::{NodeChange, SparseMerkleTree, StateError, TreeHasher};

/// What of a chain's configuration the state-transition function reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    pub chain_id: u64,
    pub gas_limit: u64,
    pub fee_recipient: Address,
    pub base_fee: BaseFeeConfig,
    /// The batch gas budget: a batch may start a block only while the gas
    /// its earlier blocks used leaves room for a full one
    /// ([`crate::GasBudget`]). It bounds the work of deciding any batch, so
    /// a fault game's clock can cover tracing it. At least `gas_limit`.
    pub batch_gas: u64,
}

/// The two phases of building a block, for a caller that times them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// revm has executed the deposits and transactions.
    Executed,
    /// The state tree holds the block's writes.
    TreeUpdated,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The header fields every block of this chain shares; the caller fills in the
/// transaction-dependent roots, bloom, gas used and mix hash.
pub fn block_header(
    chain: &ChainParams,
    parent_hash: B256,
    number: u64,
    timestamp: u64,
    base_fee: u64,
    state_root: B256,
) -> Header {
    Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: chain.fee_recipient,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty: U256::ZERO,
        number,
        gas_limit: chain.gas_limit,
        timestamp,
        extra_data: Bytes::new(),
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// The next block's base fee after `parent`.
pub fn base_fee_after(chain: &ChainParams, parent: &Header) -> u64 {
    next_base_fee(
        &chain.base_fee,
        parent.gas_used,
        parent.gas_limit,
        parent.base_fee_per_gas.unwrap_or(chain.base_fee.initial_wei),
    )
}

/// A block built on the head, not yet committed.
#[derive(Debug)]
pub struct BuiltBlock {
    pub block: SealedBlock,
    pub changes: StateChanges,
    pub nodes: Vec<NodeChange>,
    /// Candidates left out (see [`Inclusion`]).
    pub rejected: Vec<RejectedTx>,
    /// Candidates deferred because the block was full ([`Inclusion::Pool`]).
    pub deferred: usize,
    /// Poseidon permutations the tree update spent.
    pub tree_hashes: usize,
}

/// Executes `deposits` then `candidates` on top of `parent`, whose state
/// `state` holds (flat state and tree nodes), at `timestamp` (raised to the
/// parent's if lower), and assembles the block. Reads nothing else.
#[allow(clippy::too_many_arguments)]
pub fn build_block<S: StateSource + NodeStore>(
    state: &S,
    parent: &Header,
    chain: &ChainParams,
    hasher: &TreeHasher,
    timestamp: u64,
    deposits: Vec<DepositTx>,
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
    inclusion: Inclusion,
    mut on_phase: impl FnMut(Phase),
) -> Result<BuiltBlock, BuildError> {
    let parent_hash = parent.hash_slow();
    let base_fee = base_fee_after(chain, parent);
    let ctx = BlockContext {
        number: parent.number.saturating_add(1),
        timestamp: timestamp.max(parent.timestamp),
        gas_limit: chain.gas_limit,
        base_fee,
        parent_hash,
        prevrandao: keccak256(parent_hash),
    };
    let cfg = ExecConfig { chain_id: chain.chain_id, fee_recipient: chain.fee_recipient };
    let exec = execute_block_with(state, &cfg, &ctx, &deposits, candidates, inclusion)?;
    on_phase(Phase::Executed);
    let updates = tree_updates(hasher, &exec.changes);
    let tree = SparseMerkleTree::new(hasher).update(state, parent.state_root, updates)?;
    on_phase(Phase::TreeUpdated);
    let txs: Vec<_> = exec.txs.iter().map(|t| t.tx.clone()).collect();
    let senders: Vec<_> = exec.txs.iter().map(|t| t.sender).collect();
    let receipts: Vec<_> = exec.txs.iter().map(|t| t.receipt.clone()).collect();
    let mut header =
        block_header(chain, parent_hash, ctx.number, ctx.timestamp, base_fee, tree.root);
    header.transactions_root = SealedBlock::compute_transactions_root(&deposits, &txs);
    header.receipts_root = SealedBlock::compute_receipts_root(&exec.deposit_receipts, &receipts);
    header.logs_bloom = exec.logs_bloom;
    // Blob transactions exist on the embedded dev L1 only.
    header.blob_gas_used = Some(txs.iter().filter_map(|t| t.blob_gas_used()).sum());
    header.gas_used = exec.gas_used;
    header.mix_hash = ctx.prevrandao;
    let block = SealedBlock::with_deposits(
        header,
        deposits,
        exec.deposit_receipts,
        exec.deposit_nonces,
        txs,
        senders,
        receipts,
    );
    Ok(BuiltBlock {
        block,
        changes: exec.changes,
        nodes: tree.changes,
        rejected: exec.rejected,
        deferred: exec.deferred,
        tree_hashes: tree.hashes,
    })
}
