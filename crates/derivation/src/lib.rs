#![doc = include_str!("../README.md")]

mod deriver;
mod import;
pub mod witness;
pub use infra_l1::batches as source;

pub use deriver::{
    ChainLock, DerivationStatus, DeriveError, DerivePoll, Deriver, DeriverActor, DeriverConfig,
    RECORD_KEY, SAFE_HEAD_KEY,
};
pub use import::{ImportError, Imported, import_sealed, replay_block, same_content};
pub use infra_bus::BatchVerdict;
