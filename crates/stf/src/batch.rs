//! A batch, from its bytes as posted on L1 to the output after its last block:
//! the rules every role applies the same way (derivation, the fault-proof
//! program, and through them the challenger).
//!
//! **Invalid batch.** A batch whose data does not decode (blobs not in the
//! simple blob encoding, empty, unknown version or codec, a zstd error or
//! bomb, bad RLP, bytes after the payload, no blocks; in blobs, the payload
//! ends at the first zero length word and what follows is ignored),
//! whose blocks are not the range L1 recorded for it, that spans more than
//! [`MAX_BATCH_BLOCKS`] blocks, that posts more transactions in a block than
//! its gas limit could hold ([`max_block_transactions`]), that posts more
//! transactions in all than its gas budget could hold (`batch_gas / 21,000`),
//! that does not name the pre-output's block as its parent, that opens a block
//! with a deposit L1 did not hold when the batch was posted (or a deposit count
//! that overflows) or with deposits whose gas limits add up to more than the
//! block's gas limit, or that starts a block when what its earlier blocks were
//! charged leaves less than that block's deposits' gas limits plus a full
//! block's gas limit in the budget ([`GasBudget`])
//! derives **no blocks**: its correct output is the pre-output. Any claim other
//! than that is wrong, so such a batch is always disputable and never stops
//! derivation.
//!
//! **Gas budget.** The budget bounds how much execution deciding one batch
//! takes (the fault game's clock must cover tracing it): each block is charged
//! [`BLOCK_GAS`] for itself, its gas used and its deposits' gas limits, at most
//! `batch_gas` in all (a block uses at most `gas_limit`, which the budget
//! leaves room for before every block it admits), and a batch lists at most
//! `batch_gas / 21,000` transactions. An honest batcher
//! ends a batch where the next block would not be admitted; an honest block
//! alone always fits (the node's config requires `batch_gas >= gas_limit +
//! max(gas_limit / 2, 5,000,000)`, the most deposit gas a sequencer puts in a
//! block).
//!
//! **Dropped transaction.** Inside a valid batch, a posted transaction that is
//! not one EIP-2718 transaction (undecodable, trailing bytes, a deposit type),
//! whose signature does not recover (EIP-2 high `s` included), or that the EVM
//! refuses (nonce, balance, chain id, gas) is dropped; the block is built from
//! the others.

use crate::{BuildError, BuiltBlock, ChainParams, Inclusion, RejectedTx, base_fee_after};
use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use alloy_consensus::{Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, keccak256};
use infra_primitives::{
    DepositTx, SourceError, StateSource,
    batch::{BatchError, BatchPayload},
};
use infra_state::{NodeStore, TreeHasher};

/// Most blocks one batch may span. It bounds the work of deciding a batch
/// (an empty block still costs a tree update and a header): a few kilobytes
/// of zstd could otherwise expand to millions of empty blocks. The batcher
/// never posts more (8,192 blocks are 34 minutes of 250 ms blocks).
pub const MAX_BATCH_BLOCKS: u64 = 8192;

/// Most transactions one posted block may list: each costs at least 21,000
/// gas, so no more can be included; more entries could only be dropped ones,
/// which an honest sequencer never posts.
pub fn max_block_transactions(chain: &ChainParams) -> u64 {
    chain.gas_limit / 21_000
}

/// What a batch commits to on L1 (`Rollup.Output`): the state after its last
/// block and what the next block starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Output {
    pub state_root: B256,
    pub block_number: u64,
    pub block_hash: B256,
    pub next_base_fee: u64,
    pub next_deposit_nonce: u64,
}

impl Output {
    /// The length of [`Output::encode`].
    pub const ENCODED_LEN: usize = 160;

    /// The output after `header`, with the deposits up to `next_deposit_nonce` applied.
    pub fn after(chain: &ChainParams, header: &Header, next_deposit_nonce: u64) -> Self {
        Self {
            state_root: header.state_root,
            block_number: header.number,
            block_hash: header.hash_slow(),
            next_base_fee: base_fee_after(chain, header),
            next_deposit_nonce,
        }
    }

    /// `abi.encode(Rollup.Output)`: five 32-byte words, the integers right-aligned.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..32].copy_from_slice(self.state_root.as_slice());
        out[56..64].copy_from_slice(&self.block_number.to_be_bytes());
        out[64..96].copy_from_slice(self.block_hash.as_slice());
        out[120..128].copy_from_slice(&self.next_base_fee.to_be_bytes());
        out[152..160].copy_from_slice(&self.next_deposit_nonce.to_be_bytes());
        out
    }

    /// The inverse of [`Output::encode`]; `None` for any other length or an
    /// integer word with bits above 64 (every output has one encoding).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let word = |i: usize| bytes.get(i * 32..(i + 1) * 32);
        let int = |i: usize| {
            let w = word(i)?;
            if w[..24].iter().any(|b| *b != 0) {
                return None;
            }
            Some(u64::from_be_bytes(w[24..].try_into().ok()?))
        };
        Some(Self {
            state_root: B256::from_slice(word(0)?),
            block_number: int(1)?,
            block_hash: B256::from_slice(word(2)?),
            next_base_fee: int(3)?,
            next_deposit_nonce: int(4)?,
        })
    }

    /// keccak256 of [`Output::encode`]: what the program compares with the claim.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}

/// A batch as L1 recorded it: the block range and its data.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    pub first_block: u64,
    pub last_block: u64,
    pub data: &'a BatchData,
}

/// Bytes per blob (EIP-4844): 4,096 field elements of 32 bytes.
pub const BYTES_PER_BLOB: usize = alloy_eips::eip4844::BYTES_PER_BLOB;
/// Field elements per blob.
pub const FIELD_ELEMENTS_PER_BLOB: u64 = alloy_eips::eip4844::FIELD_ELEMENTS_PER_BLOB;

/// One blob of a batch: its versioned hash (what L1's `blobhash` gives) and
/// its 131,072 bytes. Whoever hands it over has checked the two agree (the
/// node with the KZG commitment, the program through L1's oracle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedBlob {
    pub versioned_hash: B256,
    pub data: Bytes,
}

/// A batch's data as L1 holds it: the calldata of `Rollup.submitBatch`, or the
/// blobs of `Rollup.submitBlobBatch` (the batcher's payload in the simple blob
/// encoding, alloy's `SimpleCoder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchData {
    Calldata(Bytes),
    Blobs(Vec<PostedBlob>),
}

impl BatchData {
    /// What `Rollup` records as the batch's data commitment: keccak256 of the
    /// calldata, or of the blobs' versioned hashes concatenated.
    pub fn commitment(&self) -> B256 {
        match self {
            Self::Calldata(d) => keccak256(d),
            Self::Blobs(blobs) => keccak256(Self::versioned_hashes(blobs)),
        }
    }

    /// How many blobs (0 for calldata): `Rollup`'s `blobCount`.
    pub fn blob_count(&self) -> usize {
        match self {
            Self::Calldata(_) => 0,
            Self::Blobs(b) => b.len(),
        }
    }

    /// The versioned hashes, concatenated: the preimage of a blob batch's commitment.
    pub fn versioned_hashes(blobs: &[PostedBlob]) -> Vec<u8> {
        blobs.iter().flat_map(|b| b.versioned_hash.0).collect()
    }

    /// The batch payload these bytes carry. Blobs decode with alloy's
    /// `SimpleCoder` (every field element's first byte free, a length word
    /// before each piece); blobs that do not (a wrong size, a field element
    /// with either top bit set, a length past the data or over 2 MiB) make the
    /// batch invalid, like calldata that does not decode.
    pub fn payload(&self) -> Result<alloc::borrow::Cow<'_, [u8]>, InvalidBatch> {
        use alloy_eips::eip4844::{
            Blob,
            builder::{SidecarCoder, SimpleCoder},
        };
        let blobs = match self {
            Self::Calldata(d) => return Ok(alloc::borrow::Cow::Borrowed(d)),
            Self::Blobs(blobs) => blobs,
        };
        let mut owned = Vec::with_capacity(blobs.len());
        for (i, b) in blobs.iter().enumerate() {
            if b.data.len() != BYTES_PER_BLOB {
                return Err(InvalidBatch::Decode(format!(
                    "blob {i} has {} bytes, not {BYTES_PER_BLOB}",
                    b.data.len()
                )));
            }
            owned.push(Blob::from_slice(&b.data));
        }
        let parts = SimpleCoder::default().decode_all(&owned).ok_or_else(|| {
            InvalidBatch::Decode("its blobs are not in the simple blob encoding".into())
        })?;
        Ok(alloc::borrow::Cow::Owned(parts.concat()))
    }
}

/// The deposits L1 held when the batch was posted, by bridge nonce.
pub trait Deposits {
    /// `Ok(None)`: L1 did not hold deposit `nonce` (the batch may not apply it).
    fn deposit(&self, nonce: u64) -> Result<Option<DepositTx>, SourceError>;
}

impl Deposits for alloc::collections::BTreeMap<u64, DepositTx> {
    fn deposit(&self, nonce: u64) -> Result<Option<DepositTx>, SourceError> {
        Ok(self.get(&nonce).cloned())
    }
}

/// Why a batch derives no blocks (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatch {
    #[error("its data does not decode: {0}")]
    Decode(String),
    #[error("L1 recorded blocks {first}..={last}, which do not follow block {pre}")]
    NotNext { pre: u64, first: u64, last: u64 },
    #[error(
        "its data holds blocks {first}..={last}, L1 recorded {recorded_first}..={recorded_last}"
    )]
    Range { first: u64, last: u64, recorded_first: u64, recorded_last: u64 },
    #[error("it names parent {named}, but block {number} is {actual}")]
    Parent { number: u64, named: B256, actual: B256 },
    #[error("block {block} opens with deposit {nonce}, which L1 did not hold")]
    MissingDeposit { block: u64, nonce: u64 },
    #[error("L1 recorded blocks {first}..={last}: more than {MAX_BATCH_BLOCKS} blocks")]
    TooManyBlocks { first: u64, last: u64 },
    #[error("block {block} lists {count} transactions, more than its gas limit holds ({max})")]
    TooManyTransactions { block: u64, count: u64, max: u64 },
    #[error(
        "block {block} opens with deposits of {gas} gas in all, more than its gas limit ({gas_limit})"
    )]
    DepositGas { block: u64, gas: u64, gas_limit: u64 },
    #[error("it lists {count} transactions, more than its gas budget holds ({max})")]
    TooManyBatchTransactions { count: u64, max: u64 },
    #[error(
        "block {block} starts after {used} gas of the batch: its deposits ({deposit_gas}) and a full block ({gas_limit}) would pass the batch gas budget ({budget})"
    )]
    OverBudget { block: u64, used: u64, deposit_gas: u64, gas_limit: u64, budget: u64 },
}

/// The batch gas budget (see the module docs): the gas a batch's blocks have
/// used so far, and whether it admits one more block. Derivation, the
/// program and the batcher apply it the same way.
///
/// A block is charged [`BLOCK_GAS`], its gas used and its deposits' gas limits: a deposit
/// whose call does not run (its data needs more than its gas limit, say) uses
/// no gas, yet the program still credits it, bumps a nonce and updates the
/// tree. A block is admitted while the budget has room for its own charge,
/// its deposits' gas limits and a full block's gas limit, so a batch's charge
/// never exceeds the budget.
#[derive(Debug, Clone, Copy)]
pub struct GasBudget {
    used: u64,
    gas_limit: u64,
    budget: u64,
}

/// What the gas budget charges a block for itself, whatever it holds: its
/// header, base fee and tree root cost the program about 0.8 M instructions,
/// as much as ~700 gas of the costliest execution. So a batch of many empty
/// blocks is bounded by the budget too.
pub const BLOCK_GAS: u64 = 1_000;

/// The gas limits of `deposits`, added up (what a block's deposits may ask for).
pub fn deposit_gas(deposits: &[DepositTx]) -> u64 {
    deposits.iter().fold(0u64, |g, d| g.saturating_add(d.gas_limit))
}

impl GasBudget {
    pub fn new(chain: &ChainParams) -> Self {
        Self { used: 0, gas_limit: chain.gas_limit, budget: chain.batch_gas }
    }

    /// Whether the budget has room for one more block whose deposits ask for
    /// `deposit_gas`, and a full block of transactions.
    pub fn admits(&self, deposit_gas: u64) -> bool {
        self.used
            .saturating_add(BLOCK_GAS)
            .saturating_add(deposit_gas)
            .saturating_add(self.gas_limit)
            <= self.budget
    }

    /// `Ok` when block `block` (its deposits asking for `deposit_gas`) may
    /// start; else the batch is invalid.
    pub fn admit(&self, block: u64, deposit_gas: u64) -> Result<(), InvalidBatch> {
        if self.admits(deposit_gas) {
            return Ok(());
        }
        Err(InvalidBatch::OverBudget {
            block,
            used: self.used,
            deposit_gas,
            gas_limit: self.gas_limit,
            budget: self.budget,
        })
    }

    /// Charges a block: [`BLOCK_GAS`], its gas used and its deposits' gas limits.
    pub fn spend(&mut self, gas_used: u64, deposit_gas: u64) {
        self.used = self
            .used
            .saturating_add(BLOCK_GAS)
            .saturating_add(gas_used)
            .saturating_add(deposit_gas);
    }
}

impl From<BatchError> for InvalidBatch {
    fn from(e: BatchError) -> Self {
        Self::Decode(e.to_string())
    }
}

/// Why a batch could not be decided: its inputs could not be read (in the
/// program, a preimage the oracle does not hold). Never a verdict on the batch.
#[derive(Debug, thiserror::Error)]
pub enum StfError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the pre-output does not match block {number}'s header: {what}")]
    PreOutput { number: u64, what: &'static str },
}

/// One block of a valid batch, ready to build: its deposits fetched, its
/// transactions decoded with their senders, and the ones dropped before execution.
#[derive(Debug, Clone)]
pub struct PlannedBlock {
    pub number: u64,
    pub timestamp: u64,
    pub deposits: Vec<DepositTx>,
    pub transactions: Vec<(TxEnvelope, Address)>,
    pub dropped: Vec<RejectedTx>,
}

/// Decodes one posted transaction and recovers its sender.
pub fn recover_transaction(raw: &[u8]) -> Result<(TxEnvelope, Address), RejectedTx> {
    let reject =
        |reason: String| RejectedTx { hash: keccak256(raw), sender: Address::ZERO, reason };
    let mut slice = raw;
    let tx = TxEnvelope::decode_2718(&mut slice)
        .map_err(|e| reject(format!("not an EIP-2718 transaction: {e}")))?;
    if !slice.is_empty() {
        return Err(reject(format!("{} bytes after the transaction", slice.len())));
    }
    recover_sender(tx)
}

/// The transaction with its sender, or dropped when its signature does not
/// recover (EIP-2: an `s` in the upper half does not).
pub fn recover_sender(tx: TxEnvelope) -> Result<(TxEnvelope, Address), RejectedTx> {
    match tx.recover_signer() {
        Ok(sender) => Ok((tx, sender)),
        Err(_) => Err(RejectedTx {
            hash: *tx.tx_hash(),
            sender: Address::ZERO,
            reason: "signature does not recover".into(),
        }),
    }
}

/// [`recover_transaction`] for each, in order (in parallel with `std`).
fn recover_all(raw: &[alloy_primitives::Bytes]) -> Vec<Result<(TxEnvelope, Address), RejectedTx>> {
    #[cfg(feature = "std")]
    {
        use rayon::prelude::*;
        raw.par_iter().map(|r| recover_transaction(r)).collect()
    }
    #[cfg(not(feature = "std"))]
    {
        raw.iter().map(|r| recover_transaction(r)).collect()
    }
}

/// Decodes `batch` on top of `pre` and checks it is valid (see the module docs):
/// `Ok(Err(_))` is an invalid batch, `Err(_)` a deposit that could not be read.
pub fn plan_batch(
    chain: &ChainParams,
    pre: &Output,
    batch: &BatchRef<'_>,
    deposits: &impl Deposits,
) -> Result<Result<Vec<PlannedBlock>, InvalidBatch>, SourceError> {
    if batch.first_block != pre.block_number.wrapping_add(1) || batch.last_block < batch.first_block
    {
        return Ok(Err(InvalidBatch::NotNext {
            pre: pre.block_number,
            first: batch.first_block,
            last: batch.last_block,
        }));
    }
    if batch.last_block - batch.first_block >= MAX_BATCH_BLOCKS {
        return Ok(Err(InvalidBatch::TooManyBlocks {
            first: batch.first_block,
            last: batch.last_block,
        }));
    }
    let payload = match batch.data.payload() {
        Ok(bytes) => match BatchPayload::decode(&bytes) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.into())),
        },
        Err(invalid) => return Ok(Err(invalid)),
    };
    // The range check bounds the number of blocks by what L1 recorded.
    let last = payload.first_block.checked_add(payload.blocks.len() as u64 - 1);
    if payload.first_block != batch.first_block || last != Some(batch.last_block) {
        return Ok(Err(InvalidBatch::Range {
            first: payload.first_block,
            last: last.unwrap_or(u64::MAX),
            recorded_first: batch.first_block,
            recorded_last: batch.last_block,
        }));
    }
    if payload.parent_hash != pre.block_hash {
        return Ok(Err(InvalidBatch::Parent {
            number: pre.block_number,
            named: payload.parent_hash,
            actual: pre.block_hash,
        }));
    }
    let max_txs = max_block_transactions(chain);
    let mut total = 0u64;
    for (i, block) in payload.blocks.iter().enumerate() {
        let count = block.transactions.len() as u64;
        if count > max_txs {
            let block = batch.first_block + i as u64;
            return Ok(Err(InvalidBatch::TooManyTransactions { block, count, max: max_txs }));
        }
        total = total.saturating_add(count);
    }
    // Every included transaction uses at least 21,000 gas, so a batch within
    // its budget lists at most this many; more could only be dropped ones,
    // each still a signature to recover.
    let max_batch_txs = chain.batch_gas / 21_000;
    if total > max_batch_txs {
        return Ok(Err(InvalidBatch::TooManyBatchTransactions {
            count: total,
            max: max_batch_txs,
        }));
    }
    let mut next_deposit = pre.next_deposit_nonce;
    let mut planned = Vec::with_capacity(payload.blocks.len());
    // The budget's charges known before execution (each block's own and its
    // deposits'): a batch whose deposits alone pass it is refused before more
    // of them are read. Execution charges at least as much, so this never
    // refuses a batch the budget would admit.
    let mut planned_charge = GasBudget::new(chain);
    for (i, block) in payload.blocks.iter().enumerate() {
        let number = batch.first_block + i as u64;
        let Some(end) = next_deposit.checked_add(block.deposit_count) else {
            return Ok(Err(InvalidBatch::MissingDeposit { block: number, nonce: u64::MAX }));
        };
        let mut block_deposits = Vec::new();
        let mut deposit_gas = 0u64;
        for nonce in next_deposit..end {
            match deposits.deposit(nonce)? {
                Some(d) if d.nonce == nonce => {
                    deposit_gas = deposit_gas.saturating_add(d.gas_limit);
                    block_deposits.push(d);
                }
                _ => return Ok(Err(InvalidBatch::MissingDeposit { block: number, nonce })),
            }
            // Deposits run before the transactions: their gas counts against
            // the block's gas limit too, so a block never uses more than its
            // limit (checked as they are read: no more are read past it).
            if deposit_gas > chain.gas_limit {
                return Ok(Err(InvalidBatch::DepositGas {
                    block: number,
                    gas: deposit_gas,
                    gas_limit: chain.gas_limit,
                }));
            }
        }
        next_deposit = end;
        if let Err(over) = planned_charge.admit(number, deposit_gas) {
            return Ok(Err(over));
        }
        planned_charge.spend(0, deposit_gas);
        let mut transactions = Vec::with_capacity(block.transactions.len());
        let mut dropped = Vec::new();
        for r in recover_all(&block.transactions) {
            match r {
                Ok(t) => transactions.push(t),
                Err(d) => dropped.push(d),
            }
        }
        planned.push(PlannedBlock {
            number,
            timestamp: block.timestamp,
            deposits: block_deposits,
            transactions,
            dropped,
        });
    }
    Ok(Ok(planned))
}

/// Builds one planned block on `parent`, whose state `state` holds: posted
/// transactions the EVM refuses are dropped ([`Inclusion::Replay`]) and added
/// to `rejected`.
pub fn apply_block<S: StateSource + NodeStore>(
    state: &S,
    parent: &Header,
    chain: &ChainParams,
    hasher: &TreeHasher,
    block: PlannedBlock,
    on_phase: impl FnMut(crate::Phase),
) -> Result<BuiltBlock, BuildError> {
    let PlannedBlock { timestamp, deposits, transactions, dropped, .. } = block;
    let mut built = crate::build_block(
        state,
        parent,
        chain,
        hasher,
        timestamp,
        deposits,
        transactions,
        Inclusion::Replay,
        on_phase,
    )?;
    let mut rejected = dropped;
    rejected.append(&mut built.rejected);
    built.rejected = rejected;
    Ok(built)
}

/// A state a batch is applied to block after block: it reads as the state
/// after the last block [`BatchState::commit`] was given.
pub trait BatchState: StateSource + NodeStore {
    fn commit(&mut self, block: &BuiltBlock);
}

/// What applying a batch gave.
#[derive(Debug)]
pub struct Applied {
    pub output: Output,
    /// `Some`: the batch is invalid and derived no blocks (`output` is the pre-output).
    pub invalid: Option<InvalidBatch>,
    pub headers: Vec<Header>,
    /// Posted transactions dropped, per block.
    pub dropped: Vec<Vec<RejectedTx>>,
}

/// The state-transition function: the output after `batch`, applied on top of
/// `pre`, whose block is `parent` and whose state `state` holds.
pub fn apply_batch<S: BatchState>(
    state: &mut S,
    chain: &ChainParams,
    hasher: &TreeHasher,
    pre: &Output,
    parent: &Header,
    batch: &BatchRef<'_>,
    deposits: &impl Deposits,
) -> Result<Applied, StfError> {
    check_pre(chain, pre, parent)?;
    let planned = match plan_batch(chain, pre, batch, deposits)? {
        Ok(p) => p,
        Err(invalid) => {
            return Ok(Applied {
                output: *pre,
                invalid: Some(invalid),
                headers: Vec::new(),
                dropped: Vec::new(),
            });
        }
    };
    let mut parent = parent.clone();
    let mut next_deposit = pre.next_deposit_nonce;
    let mut headers = Vec::with_capacity(planned.len());
    let mut dropped = Vec::with_capacity(planned.len());
    let mut budget = GasBudget::new(chain);
    for block in planned {
        let deposit_gas = deposit_gas(&block.deposits);
        if let Err(invalid) = budget.admit(block.number, deposit_gas) {
            return Ok(Applied {
                output: *pre,
                invalid: Some(invalid),
                headers: Vec::new(),
                dropped: Vec::new(),
            });
        }
        next_deposit += block.deposits.len() as u64;
        let built = apply_block(state, &parent, chain, hasher, block, |_| {})?;
        state.commit(&built);
        budget.spend(built.block.header.gas_used, deposit_gas);
        parent = built.block.header.clone();
        headers.push(built.block.header.clone());
        dropped.push(built.rejected);
    }
    Ok(Applied {
        output: Output::after(chain, &parent, next_deposit),
        invalid: None,
        headers,
        dropped,
    })
}

/// The pre-output must describe `parent` (the block its hash names).
fn check_pre(chain: &ChainParams, pre: &Output, parent: &Header) -> Result<(), StfError> {
    let err = |what| Err(StfError::PreOutput { number: pre.block_number, what });
    if parent.number != pre.block_number {
        return err("block number");
    }
    if parent.state_root != pre.state_root {
        return err("state root");
    }
    if base_fee_after(chain, parent) != pre.next_base_fee {
        return err("next base fee");
    }
    if parent.hash_slow() != pre.block_hash {
        return err("block hash");
    }
    Ok(())
}
