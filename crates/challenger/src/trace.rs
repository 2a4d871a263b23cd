//! The step machine of a batch (docs/fraud-proofs.md), computed from the node's
//! store: the state after every step and the witness L1 needs to decide it.

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256},
};
use infra_config::ChainConfig;
use infra_execution::{
    BlockContext, ExecConfig, Inclusion, SourceError, StateSource, base_fee_after,
    execute_block_with, next_base_fee, tree_updates,
};
use infra_l1::{GameTypes, StateProof};
use infra_primitives::{DepositTx, batch::BatchPayload};
use infra_state::{
    NodeStore, OverlayStore, SmtProof, SparseMerkleTree, StateError, TreeHasher, keys,
};
use infra_storage::{PastState, StateChanges, StorageError, Store};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Exec(#[from] infra_execution::ExecError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("block {0} is not stored")]
    MissingBlock(u64),
    #[error("batch: {0}")]
    Batch(String),
    /// The step machine and the block disagree: a bug, never a verdict.
    #[error("block {block}: the steps end at root {steps}, the block's header says {header}")]
    Diverged { block: u64, steps: B256, header: B256 },
}

/// The state after a step (see docs/fraud-proofs.md); `hash` is what the game
/// bisects over: `keccak256(abi.encode(StepState))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepState {
    pub state_root: B256,
    pub step: u64,
    pub block_index: u64,
    pub tx_index: u64,
    pub deposit_nonce: u64,
    pub base_fee: u64,
    pub gas_used: u64,
    pub base_fees: U256,
}

impl StepState {
    /// As the game's ABI has it.
    pub fn to_l1(&self) -> GameTypes::StepState {
        GameTypes::StepState {
            stateRoot: self.state_root,
            step: self.step,
            blockIndex: self.block_index,
            txIndex: self.tx_index,
            depositNonce: self.deposit_nonce,
            baseFee: self.base_fee,
            gasUsed: self.gas_used,
            baseFees: self.base_fees,
        }
    }

    pub fn hash(&self) -> B256 {
        let mut words = Vec::with_capacity(8 * 32);
        words.extend_from_slice(self.state_root.as_slice());
        for v in [
            self.step,
            self.block_index,
            self.tx_index,
            self.deposit_nonce,
            self.base_fee,
            self.gas_used,
        ] {
            words.extend_from_slice(&U256::from(v).to_be_bytes::<32>());
        }
        words.extend_from_slice(&self.base_fees.to_be_bytes::<32>());
        keccak256(words)
    }
}

/// An account as a step reads it, with its proof against the root at that point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWitness {
    pub address: Address,
    pub nonce: u64,
    pub balance: U256,
    /// 0 for an account without code (as its leaf commits).
    pub code_hash: B256,
    pub proof: SmtProof,
}

impl AccountWitness {
    /// As the game's ABI has it.
    pub fn to_l1(&self) -> GameTypes::Account {
        let leaf = self.proof.leaf;
        GameTypes::Account {
            addr: self.address,
            nonce: self.nonce,
            balance: self.balance,
            codeHash: self.code_hash,
            proof: StateProof::Proof {
                siblings: self.proof.siblings.clone(),
                hasLeaf: leaf.is_some(),
                leafKey: leaf.map(|(k, _)| U256::from_be_bytes(k.0)).unwrap_or_default(),
                leafValue: leaf.map(|(_, v)| U256::from_be_bytes(v.0)).unwrap_or_default(),
            },
        }
    }
}

/// What a step is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Deposit(DepositTx),
    /// A posted transaction (its EIP-2718 bytes).
    Tx(Bytes),
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub kind: StepKind,
    pub post: StepState,
    /// The accounts L1 reads to decide the step, in its order; `None` when L1
    /// does not decide it (it runs contract code: the arbiter does).
    pub witness: Option<Vec<AccountWitness>>,
}

impl TraceStep {
    /// The deposit argument of the one-step for this step (empty unless a deposit).
    pub fn l1_deposit(&self) -> GameTypes::Deposit {
        match &self.kind {
            StepKind::Deposit(d) => GameTypes::Deposit {
                from: d.from,
                to: d.to,
                value: d.value,
                gasLimit: d.gas_limit,
                data: d.data.clone(),
            },
            _ => GameTypes::Deposit {
                from: Address::ZERO,
                to: Address::ZERO,
                value: U256::ZERO,
                gasLimit: 0,
                data: Bytes::new(),
            },
        }
    }
}

/// Every step of a batch, from the state it starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTrace {
    pub start: StepState,
    pub steps: Vec<TraceStep>,
}

impl BatchTrace {
    /// The state after step `k` (0: the start).
    pub fn state(&self, k: u64) -> Option<&StepState> {
        match k {
            0 => Some(&self.start),
            k => self.steps.get(usize::try_from(k - 1).ok()?).map(|s| &s.post),
        }
    }

    pub fn last(&self) -> &StepState {
        self.steps.last().map_or(&self.start, |s| &s.post)
    }
}

fn leaf_code(code_hash: B256) -> B256 {
    if code_hash == KECCAK256_EMPTY { B256::ZERO } else { code_hash }
}

/// The tree as the steps write it.
struct Tree<'t, S: NodeStore + ?Sized> {
    h: &'t TreeHasher,
    store: OverlayStore<'t, S>,
    root: B256,
}

impl<S: NodeStore + ?Sized> Tree<'_, S> {
    fn read(&self, past: &PastState<'_>, a: Address) -> Result<AccountWitness, TraceError> {
        let acc = past.get(a)?;
        let proof = SparseMerkleTree::new(self.h).proof(
            &self.store,
            self.root,
            keys::account_key(self.h, a),
        )?;
        Ok(AccountWitness {
            address: a,
            nonce: acc.nonce,
            balance: acc.balance,
            code_hash: leaf_code(acc.code_hash),
            proof,
        })
    }

    fn update(&mut self, updates: Vec<(B256, Option<B256>)>) -> Result<(), TraceError> {
        let up = SparseMerkleTree::new(self.h).update(&self.store, self.root, updates)?;
        self.store.apply(&up.changes);
        self.root = up.root;
        Ok(())
    }

    /// Writes account `a` as it is in `c` (if `c` changed it), one leaf.
    fn write(&mut self, c: &StateChanges, a: Address) -> Result<(), TraceError> {
        let Some((_, acc)) = c.accounts.iter().find(|(x, _)| *x == a) else { return Ok(()) };
        let key = keys::account_key(self.h, a);
        let value = acc
            .map(|s| keys::account_value_hash(self.h, s.nonce, s.balance, leaf_code(s.code_hash)));
        self.update(vec![(key, value)])
    }
}

/// Whether L1's one-step decides this transaction (docs/fraud-proofs.md): legacy
/// or EIP-1559, a call without data or access list to an account without code,
/// the fee recipient not taking part. Transactions that do not decode or whose
/// signature does not recover are decided too (they change nothing).
fn tx_decidable(tx: &TxEnvelope, sender: Address, to_code: B256, fee_recipient: Address) -> bool {
    let typed = matches!(tx, TxEnvelope::Legacy(_) | TxEnvelope::Eip1559(_));
    let Some(to) = tx.to() else { return false };
    typed
        && tx.input().is_empty()
        && tx.access_list().is_none_or(|l| l.is_empty())
        && (to == sender || to_code == B256::ZERO)
        && to != fee_recipient
        && sender != fee_recipient
}

/// Traces the batch whose posted payload is `payload` (blocks `first..=last`
/// stored in `store`, the deposits as the stored blocks applied them).
pub fn trace_batch(
    store: &Store,
    chain: &ChainConfig,
    hasher: &TreeHasher,
    payload: &BatchPayload,
) -> Result<BatchTrace, TraceError> {
    let first = payload.first_block;
    let before =
        first.checked_sub(1).ok_or_else(|| TraceError::Batch("batch starts at block 0".into()))?;
    let reader = store.reader()?;
    let parent = reader.header(before)?.ok_or(TraceError::MissingBlock(before))?;
    let mut past = PastState::after(&reader, before)?;
    let history = reader.tree_at(before);
    let mut tree = Tree { h: hasher, store: OverlayStore::new(&history), root: parent.state_root };
    let start = StepState {
        state_root: parent.state_root,
        deposit_nonce: reader.deposit_cursor_at(before)?.next_nonce,
        base_fee: base_fee_after(chain, &parent),
        ..StepState::default()
    };
    let cfg = ExecConfig { chain_id: chain.chain_id, fee_recipient: chain.fee_recipient };
    let mut s = start;
    let mut steps = Vec::new();
    let decoded: Vec<Vec<Bytes>> = payload.blocks.iter().map(|b| b.transactions.clone()).collect();
    for (i, posted) in payload.blocks.iter().enumerate() {
        let number = first + i as u64;
        let block = reader.block(number)?.ok_or(TraceError::MissingBlock(number))?;
        if block.deposits.len() as u64 != posted.deposit_count {
            return Err(TraceError::Batch(format!(
                "block {number}: {} deposits posted, {} stored",
                posted.deposit_count,
                block.deposits.len()
            )));
        }
        let ctx = |gas_used: u64| BlockContext {
            number,
            timestamp: block.header.timestamp,
            gas_limit: chain.gas_limit.saturating_sub(gas_used),
            base_fee: s.base_fee,
            parent_hash: block.header.parent_hash,
            prevrandao: block.header.mix_hash,
        };
        for d in &block.deposits {
            let from = tree.read(&past, d.from)?;
            let exec = execute_block_with(
                &past,
                &cfg,
                &ctx(s.gas_used),
                std::slice::from_ref(d),
                Vec::new(),
                Inclusion::Replay,
            )?;
            let to_code = leaf_code(past.get(d.to)?.code_hash);
            let decidable = from.code_hash != B256::ZERO
                || d.gas_limit < 21_000
                || (d.data.is_empty() && (d.to == d.from || to_code == B256::ZERO));
            let witness = if decidable {
                tree.write(&exec.changes, d.from)?;
                let to = tree.read(&past_with(&past, &exec.changes, &[d.from]), d.to)?;
                if d.to != d.from {
                    tree.write(&exec.changes, d.to)?;
                }
                Some(vec![from, to])
            } else {
                tree.update(tree_updates(hasher, &exec.changes))?;
                None
            };
            past.apply(&exec.changes);
            s.gas_used = s.gas_used.saturating_add(exec.gas_used);
            s.deposit_nonce = d.nonce.saturating_add(1);
            s.step += 1;
            s.tx_index += 1;
            s.state_root = tree.root;
            steps.push(TraceStep { kind: StepKind::Deposit(d.clone()), post: s, witness });
        }
        for raw in &decoded[i] {
            // The STF's rule for a posted transaction (one EIP-2718 encoding, nothing
            // after it, a signature that recovers): what the node derived.
            let Ok((tx, sender)) = infra_stf::recover_transaction(raw) else {
                // The L2 drops it; L1 finds it undecodable too.
                s.step += 1;
                s.tx_index += 1;
                steps.push(TraceStep {
                    kind: StepKind::Tx(raw.clone()),
                    post: s,
                    witness: Some(vec![]),
                });
                continue;
            };
            let to = tx.to().unwrap_or_default();
            let to_code = leaf_code(past.get(to)?.code_hash);
            let decidable = tx_decidable(&tx, sender, to_code, chain.fee_recipient);
            let exec = execute_block_with(
                &past,
                &cfg,
                &ctx(s.gas_used),
                &[],
                vec![(tx.clone(), sender)],
                Inclusion::Replay,
            )?;
            // The executor credits the base fee at the end of its block; the step
            // machine does that at the block's end step.
            let mut changes = exec.changes.clone();
            if !exec.base_fees.is_zero()
                && let Some((_, Some(acc))) =
                    changes.accounts.iter_mut().find(|(a, _)| *a == chain.fee_recipient)
            {
                acc.balance -= exec.base_fees;
            }
            let fee_to = chain.fee_recipient;
            if changes.accounts.iter().any(|(a, acc)| {
                *a == fee_to
                    && acc.is_some_and(|x| {
                        x.nonce == 0 && x.balance.is_zero() && x.code_hash == KECCAK256_EMPTY
                    })
            }) {
                // Tip-less: the fee recipient stays as it was before the step.
                let before = past.account(fee_to)?;
                for (a, acc) in changes.accounts.iter_mut() {
                    if *a == fee_to {
                        *acc = before;
                    }
                }
            }
            let witness = if decidable {
                let mut w = vec![tree.read(&past, sender)?];
                tree.write(&changes, sender)?;
                w.push(tree.read(&past_with(&past, &changes, &[sender]), to)?);
                if to != sender {
                    tree.write(&changes, to)?;
                }
                w.push(tree.read(&past_with(&past, &changes, &[sender, to]), fee_to)?);
                tree.write(&changes, fee_to)?;
                Some(w)
            } else {
                tree.update(tree_updates(hasher, &changes))?;
                None
            };
            past.apply(&changes);
            s.gas_used = s.gas_used.saturating_add(exec.gas_used);
            s.base_fees = s.base_fees.saturating_add(exec.base_fees);
            s.step += 1;
            s.tx_index += 1;
            s.state_root = tree.root;
            steps.push(TraceStep { kind: StepKind::Tx(raw.clone()), post: s, witness });
        }
        // The block's end: the base fees to the fee recipient, the next base fee.
        let mut witness = Vec::new();
        if !s.base_fees.is_zero() {
            let fee_to = chain.fee_recipient;
            let w = tree.read(&past, fee_to)?;
            let mut acc = past.get(fee_to)?;
            acc.balance += s.base_fees;
            if acc.code_hash == B256::ZERO {
                acc.code_hash = KECCAK256_EMPTY;
            }
            let changes =
                StateChanges { accounts: vec![(fee_to, Some(acc))], ..Default::default() };
            tree.write(&changes, fee_to)?;
            past.apply(&changes);
            witness.push(w);
        }
        if tree.root != block.header.state_root {
            return Err(TraceError::Diverged {
                block: number,
                steps: tree.root,
                header: block.header.state_root,
            });
        }
        s.base_fee = next_base_fee(&chain.base_fee, s.gas_used, chain.gas_limit, s.base_fee);
        s.block_index += 1;
        s.tx_index = 0;
        s.gas_used = 0;
        s.base_fees = U256::ZERO;
        s.step += 1;
        s.state_root = tree.root;
        steps.push(TraceStep { kind: StepKind::End, post: s, witness: Some(witness) });
    }
    Ok(BatchTrace { start, steps })
}

/// `past` with `changes` applied to the accounts in `only` (the writes a step made
/// before reading the next account).
fn past_with<'r>(past: &PastState<'r>, changes: &StateChanges, only: &[Address]) -> PastState<'r> {
    let mut view = PastState {
        reader: past.reader,
        accounts: past.accounts.clone(),
        slots: HashMap::new(),
        code: HashMap::new(),
    };
    for (a, acc) in &changes.accounts {
        if only.contains(a) {
            view.accounts.insert(*a, *acc);
        }
    }
    view
}
