#![doc = include_str!("../README.md")]

mod chain;
mod genesis;

pub use chain::{
    BaseFeeConfig, BatchConfig, ChainConfig, ConfigError, ConfigFile, DEV_CHAIN_ID, DEV_SEQUENCER,
    MempoolFileConfig, ProofBackend, ProofConfig, ProofSystem, RpcFileConfig, SequencerFileConfig,
    Settlement, StateFileConfig, StateHistoryValue,
};
pub use genesis::{
    DEV_GENESIS_JSON, DEV_GENESIS_ROOTS_TOML, DEV_MNEMONIC, GenesisError, GenesisRoots, dev_signer,
    load_genesis, parse_genesis,
};
pub use infra_state::Curve;
