#![doc = include_str!("../README.md")]

mod chain;
mod genesis;

pub use chain::{
    BLOCK_GAS, BaseFeeConfig, BatchConfig, ChainConfig, ConfigError, ConfigFile,
    DEPOSIT_LINK_INSTRUCTIONS, DEV_CHAIN_ID, DEV_SEQUENCER, INSTRUCTIONS_PER_POSTED_TX,
    MAX_BATCH_BLOCKS, MAX_DEPOSIT_GAS, MempoolFileConfig, PAYLOAD_INSTRUCTIONS,
    PROGRAM_START_INSTRUCTIONS, PostingCapacity, ProofBackend, ProofConfig, ProofSystem,
    REFERENCE_TRACE_RATE, RpcFileConfig, SequencerFileConfig, Settlement, StateFileConfig,
    StateHistoryValue, TraceBound, WORST_INSTRUCTIONS_PER_GAS,
};
pub use genesis::{
    DEV_GENESIS_JSON, DEV_GENESIS_ROOTS_TOML, DEV_MNEMONIC, GenesisError, GenesisRoots, dev_signer,
    load_genesis, parse_genesis,
};
pub use infra_state::Curve;
