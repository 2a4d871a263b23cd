use alloc::vec::Vec;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::Typed2718;
use alloy_primitives::{Address, B256, U256};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::block::BlobExcessGasAndPrice,
    primitives::hardfork::SpecId,
};

/// The hardfork the chain executes at: the newest one revm ships as stable.
pub const SPEC: SpecId = SpecId::OSAKA;

/// Chain-level execution settings.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    pub chain_id: u64,
    pub fee_recipient: Address,
}

impl ExecConfig {
    pub fn cfg_env(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.chain_id;
        cfg
    }
}

/// The block being built or replayed.
#[derive(Debug, Clone)]
pub struct BlockContext {
    pub number: u64,
    pub timestamp: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub parent_hash: B256,
    /// `prevrandao` of the block: the sequencer sets keccak(parent hash). It is NOT
    /// randomness: anyone can predict it.
    pub prevrandao: B256,
}

impl BlockContext {
    pub fn block_env(&self, beneficiary: Address) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SPEC)),
            ..Default::default()
        }
    }
}

/// The revm transaction environment of a signed transaction from `sender`.
pub fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let mut env = tx_env_without_auth(tx, sender);
    if let Some(list) = tx.authorization_list() {
        env.set_signed_authorization(list.to_vec());
    }
    env
}

fn tx_env_without_auth(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let gas_price = if tx.is_legacy() || tx.ty() == 1 {
        tx.gas_price().unwrap_or_default()
    } else {
        tx.max_fee_per_gas()
    };
    TxEnv {
        tx_type: tx.ty(),
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price,
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas().filter(|_| !tx.is_legacy() && tx.ty() != 1),
        blob_hashes: tx.blob_versioned_hashes().map(|h| h.to_vec()).unwrap_or_default(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas().unwrap_or_default(),
        authorization_list: Vec::new(),
    }
}

/// The least gas `tx` can carry: intrinsic gas (EIP-2028/2930/3860/7702) and the
/// EIP-7623 calldata floor, at [`SPEC`].
pub fn intrinsic_gas(tx: &TxEnvelope, sender: Address) -> u64 {
    let env = tx_env(tx, sender);
    let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(&env, SPEC, None);
    gas.initial_regular_gas.saturating_add(gas.initial_state_gas).max(gas.floor_gas)
}

/// The blob gas price at `excess_blob_gas`, at [`SPEC`].
pub fn blob_gas_price(excess_blob_gas: u64) -> u128 {
    BlobExcessGasAndPrice::new_with_spec(excess_blob_gas, SPEC).blob_gasprice
}
