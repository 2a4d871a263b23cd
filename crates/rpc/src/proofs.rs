//! `infra_` methods serving sparse-Merkle proofs of the state tree at any sealed
//! block: what the L1 bridge checks for withdrawals.

use crate::eth::{RpcContext, RpcResult, err, internal};
use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U64, U256},
};
use infra_primitives::{L2_WITHDRAWALS, withdrawal_slot};
use infra_state::{SparseMerkleTree, StateError, keys};
use serde::Serialize;

/// A storage slot's proof in the state tree of one block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProof {
    pub block_number: U64,
    pub state_root: B256,
    pub address: Address,
    pub slot: U256,
    /// The slot's tree key: P(4; address, P(5; hi(slot), lo(slot))).
    pub key: B256,
    /// The value hash stored under `key`, null when the slot is zero (absent).
    pub value_hash: Option<B256>,
    /// Sibling hashes from the root down to the leaf (or empty subtree).
    pub siblings: Vec<B256>,
    /// The leaf the path ends in, when it is another key's (exclusion proof).
    pub leaf: Option<ProofLeaf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofLeaf {
    pub key: B256,
    pub value_hash: B256,
}

/// An account's proof in the state tree of one block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProof {
    pub block_number: U64,
    pub state_root: B256,
    pub address: Address,
    pub key: B256,
    /// The account's leaf value hash, null when the account does not exist.
    pub value_hash: Option<B256>,
    pub siblings: Vec<B256>,
    pub leaf: Option<ProofLeaf>,
    /// The account's fields at that block (none: no account there).
    pub account: Option<AccountLeaf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLeaf {
    pub nonce: U64,
    pub balance: U256,
    pub code_hash: B256,
}

/// A proof's leaf: the key's own value hash, or another key's leaf (exclusion).
fn split_leaf(key: B256, leaf: Option<(B256, B256)>) -> (Option<B256>, Option<ProofLeaf>) {
    match leaf {
        Some((k, v)) if k == key => (Some(v), None),
        Some((k, v)) => (None, Some(ProofLeaf { key: k, value_hash: v })),
        None => (None, None),
    }
}

/// What `Bridge.finalizeWithdrawal` needs besides the withdrawal itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalProof {
    pub withdrawal_hash: B256,
    /// The L2 block whose state root the proof is against: it must be the last
    /// block of a final batch on L1 (`Rollup.latestFinalized()`).
    pub block_number: U64,
    pub state_root: B256,
    pub slot: U256,
    pub siblings: Vec<B256>,
}

impl RpcContext {
    /// The tree proof of `key` at block `block` (latest when none).
    fn proof_at(
        &self,
        r: &infra_storage::StateReader<'_>,
        key: B256,
        block: Option<BlockId>,
    ) -> RpcResult<(u64, B256, infra_state::SmtProof)> {
        let (number, _) = self.state_block(r, block)?;
        let header = r
            .header(number)
            .map_err(internal)?
            .ok_or_else(|| err(-32001, format!("block {number} not found")))?;
        let state = crate::eth::state_at(r, number)?;
        let proof = SparseMerkleTree::new(&self.hasher)
            .proof(&state.tree(), header.state_root, key)
            .map_err(|e| match e {
                StateError::Corrupt(_) => err(
                    -32000,
                    format!("no state history for block {number}: it was sealed before this node kept tree history"),
                ),
                other => internal(other),
            })?;
        Ok((number, header.state_root, proof))
    }

    pub fn storage_proof(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<StorageProof> {
        let key = keys::storage_key(&self.hasher, address, slot);
        let (number, state_root, proof) = self.proof_at(&self.reader()?, key, block)?;
        let (value_hash, leaf) = split_leaf(key, proof.leaf);
        Ok(StorageProof {
            block_number: U64::from(number),
            state_root,
            address,
            slot,
            key,
            value_hash,
            siblings: proof.siblings,
            leaf,
        })
    }

    /// `infra_getAccountProof`: the account's leaf (nonce, balance, code hash)
    /// in the state tree of a block, with its siblings.
    pub fn account_proof(
        &self,
        address: Address,
        block: Option<BlockId>,
    ) -> RpcResult<AccountProof> {
        let key = keys::account_key(&self.hasher, address);
        let r = self.reader()?;
        let (number, state_root, proof) = self.proof_at(&r, key, block)?;
        let (value_hash, leaf) = split_leaf(key, proof.leaf);
        // The fields from the same snapshot and block as the proof.
        let account = crate::eth::state_at(&r, number)?.account(address).map_err(internal)?;
        Ok(AccountProof {
            block_number: U64::from(number),
            state_root,
            address,
            key,
            value_hash,
            siblings: proof.siblings,
            leaf,
            account: account.map(|a| AccountLeaf {
                nonce: U64::from(a.nonce),
                balance: a.balance,
                code_hash: a.code_hash,
            }),
        })
    }

    pub fn withdrawal_proof(
        &self,
        withdrawal_hash: B256,
        block: Option<BlockId>,
    ) -> RpcResult<WithdrawalProof> {
        let slot = withdrawal_slot(withdrawal_hash);
        let p = self.storage_proof(L2_WITHDRAWALS, slot, block)?;
        let recorded = keys::storage_value_hash(&self.hasher, U256::ONE);
        if p.value_hash != Some(recorded) {
            return Err(err(
                -32000,
                format!(
                    "withdrawal {withdrawal_hash} is not recorded in L2Withdrawals ({L2_WITHDRAWALS}) at block {}",
                    p.block_number
                ),
            ));
        }
        Ok(WithdrawalProof {
            withdrawal_hash,
            block_number: p.block_number,
            state_root: p.state_root,
            slot,
            siblings: p.siblings,
        })
    }
}

/// Most blocks one `infra_getStateWitness` covers.
pub const MAX_WITNESS_BLOCKS: u64 = 10_000;

impl RpcContext {
    /// The state witness of blocks `pre + 1 ..= post` for a prover without state:
    /// the net state diff and the tree nodes at `pre` that applying it reads.
    pub fn state_witness(
        &self,
        pre: U64,
        post: U64,
    ) -> RpcResult<infra_prover::service::StateWitness> {
        let (pre, post) = (pre.to::<u64>(), post.to::<u64>());
        if post <= pre || post - pre > MAX_WITNESS_BLOCKS {
            return Err(err(
                -32602,
                format!(
                    "infra_getStateWitness({pre}, {post}): need pre < post and at most {MAX_WITNESS_BLOCKS} blocks"
                ),
            ));
        }
        infra_prover::service::StateWitness::from_store(&self.store, &self.hasher, pre, post)
            .map_err(|e| err(-32000, e.to_string()))
    }
}
