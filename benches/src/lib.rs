#![doc = include_str!("../README.md")]

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    genesis::{Genesis, GenesisAccount},
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use rayon::prelude::*;
use revm::{
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};
use std::collections::BTreeMap;

sol! {
    function transfer(address to, uint256 value) returns (bool);
}

/// The chain id of the bench chain.
pub const CHAIN_ID: u64 = 13370;
/// Where the bench genesis places the `TestToken` runtime code.
pub const TOKEN: Address = Address::repeat_byte(0x70);
/// `balanceOf` is the fourth storage variable of `TestToken` (after name, symbol,
/// totalSupply; `decimals` is a constant).
pub const BALANCE_OF_SLOT: u64 = 3;
/// Every sender's ETH and token balance at genesis.
pub const START_BALANCE: u128 = 1_000_000_000_000_000_000_000_000;
/// Fee caps of every bench transaction: far above any base fee the chain reaches.
pub const MAX_FEE: u128 = 1_000_000_000_000;
pub const TIP: u128 = 1_000_000_000;

/// What a round of transactions does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain ETH transfer to a fresh address (21,000 gas).
    EthTransfer,
    /// `TestToken.transfer` to a fresh holder (a new storage slot, ~51,000 gas).
    Erc20Transfer,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::EthTransfer => "eth_transfer",
            Kind::Erc20Transfer => "erc20_transfer",
        }
    }

    fn gas_limit(self) -> u64 {
        match self {
            Kind::EthTransfer => 21_000,
            Kind::Erc20Transfer => 90_000,
        }
    }
}

/// The `TestToken` runtime code from the committed artifact.
pub fn token_runtime() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../contracts/artifacts/TestToken.json"))
            .expect("contracts/artifacts/TestToken.json is valid JSON");
    let hex = artifact["deployedBytecode"].as_str().expect("artifact has deployedBytecode");
    hex.parse().expect("deployedBytecode is hex")
}

/// The storage slot of `balanceOf[holder]`.
pub fn balance_slot(holder: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    preimage[32..].copy_from_slice(&U256::from(BALANCE_OF_SLOT).to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// A fixed set of funded senders.
#[derive(Debug, Clone)]
pub struct Workload {
    pub signers: Vec<PrivateKeySigner>,
}

impl Workload {
    /// `senders` deterministic keys (the same in every run).
    pub fn new(senders: usize) -> Self {
        let signers = (0..senders as u64)
            .map(|i| {
                let seed = keccak256([b"infra-bench-sender".as_slice(), &i.to_be_bytes()].concat());
                PrivateKeySigner::from_bytes(&seed).expect("a keccak output is a valid key")
            })
            .collect();
        Self { signers }
    }

    pub fn senders(&self) -> impl Iterator<Item = Address> + '_ {
        self.signers.iter().map(|s| s.address())
    }

    /// A geth-style genesis: every sender holds ETH and tokens; the token lives at
    /// [`TOKEN`].
    pub fn genesis(&self) -> Genesis {
        let mut genesis = Genesis::default();
        genesis.config.chain_id = CHAIN_ID;
        genesis.gas_limit = 100_000_000;
        genesis.base_fee_per_gas = Some(1_000_000_000);
        let mut token_storage = BTreeMap::new();
        for sender in self.senders() {
            genesis
                .alloc
                .insert(sender, GenesisAccount::default().with_balance(U256::from(START_BALANCE)));
            token_storage.insert(balance_slot(sender).into(), U256::from(START_BALANCE).into());
        }
        genesis.alloc.insert(
            TOKEN,
            GenesisAccount::default()
                .with_code(Some(token_runtime()))
                .with_storage(Some(token_storage)),
        );
        genesis
    }

    /// The same state as [`Self::genesis`], in revm's in-memory database.
    pub fn memory_db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        for sender in self.senders() {
            db.insert_account_info(
                sender,
                AccountInfo { balance: U256::from(START_BALANCE), ..Default::default() },
            );
            db.insert_account_storage(TOKEN, balance_slot(sender), U256::from(START_BALANCE))
                .expect("in-memory insert");
        }
        let code = Bytecode::new_raw(token_runtime());
        db.insert_account_info(
            TOKEN,
            AccountInfo { code_hash: code.hash_slow(), code: Some(code), ..Default::default() },
        );
        db
    }

    /// Round `round`: every sender sends one transaction with nonce `round` to a
    /// recipient never seen before. Signed in parallel; returns `(tx, sender)`.
    pub fn round(&self, kind: Kind, round: u64) -> Vec<(TxEnvelope, Address)> {
        self.signers
            .par_iter()
            .enumerate()
            .map(|(i, signer)| {
                let recipient = Address::from_word(keccak256(
                    [round.to_be_bytes(), (i as u64).to_be_bytes()].concat(),
                ));
                let (to, value, input) = match kind {
                    Kind::EthTransfer => (recipient, U256::from(1_000u64), Bytes::new()),
                    Kind::Erc20Transfer => (
                        TOKEN,
                        U256::ZERO,
                        transferCall { to: recipient, value: U256::from(1_000u64) }
                            .abi_encode()
                            .into(),
                    ),
                };
                let tx = TxEip1559 {
                    chain_id: CHAIN_ID,
                    nonce: round,
                    gas_limit: kind.gas_limit(),
                    max_fee_per_gas: MAX_FEE,
                    max_priority_fee_per_gas: TIP,
                    to: TxKind::Call(to),
                    value,
                    access_list: Default::default(),
                    input,
                };
                let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("signing");
                (TxEnvelope::from(tx.into_signed(sig)), signer.address())
            })
            .collect()
    }
}

/// Deterministic pseudo-random 32-byte words (for tree benches).
pub fn word(i: u64, salt: u64) -> B256 {
    keccak256([i.to_be_bytes(), salt.to_be_bytes()].concat())
}

/// A sequencer's block builder on a fresh MDBX store holding `w`'s genesis, with
/// its pool (room for `max_total` transactions). The store's directory lives as
/// long as the value.
pub struct Sealer {
    pub builder: infra_sequencer::BlockBuilder,
    pub pool: std::sync::Arc<infra_mempool::Mempool>,
    pub dir: tempfile::TempDir,
}

impl Sealer {
    pub fn new(w: &Workload, chain: &infra_config::ChainConfig, max_total: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = infra_storage::Store::open(&dir.path().join("db")).expect("open MDBX");
        let hasher = infra_state::TreeHasher::new(infra_state::Curve::Bn254);
        let (genesis, changes, nodes) =
            infra_sequencer::genesis_block(chain, &w.genesis(), &hasher).expect("genesis block");
        store.commit_block(&genesis, &changes, &nodes).expect("commit genesis");
        let pool = std::sync::Arc::new(infra_mempool::Mempool::new(infra_mempool::PoolConfig {
            chain_id: chain.chain_id,
            block_gas_limit: chain.gas_limit,
            min_tip_wei: 0,
            limits: infra_mempool::PoolLimits {
                max_pending: max_total,
                max_queued: max_total,
                max_pending_per_sender: 16,
                max_queued_per_sender: 16,
                ..Default::default()
            },
            accept_blobs: false,
        }));
        let builder = infra_sequencer::BlockBuilder {
            store,
            pool: pool.clone(),
            chain: chain.clone(),
            hasher,
            bus: infra_bus::Bus::new(16),
            empty_blocks: false,
            deposits: Default::default(),
        };
        Self { builder, pool, dir }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_and_memory_db_hold_the_same_senders() {
        let w = Workload::new(3);
        let g = w.genesis();
        assert_eq!(g.alloc.len(), 4);
        let db = w.memory_db();
        for s in w.senders() {
            assert!(g.alloc.contains_key(&s));
            assert!(db.cache.accounts.contains_key(&s));
        }
        assert!(!token_runtime().is_empty());
    }

    #[test]
    fn rounds_use_the_round_as_nonce() {
        use alloy::consensus::{Transaction as _, transaction::SignerRecoverable as _};
        let w = Workload::new(2);
        let txs = w.round(Kind::Erc20Transfer, 7);
        assert_eq!(txs.len(), 2);
        for (tx, sender) in &txs {
            assert_eq!(tx.nonce(), 7);
            assert_eq!(tx.recover_signer().unwrap(), *sender);
            assert_eq!(tx.to(), Some(TOKEN));
        }
    }
}
