#![doc = include_str!("../README.md")]

mod batches;
mod store;
mod views;

pub use batches::BatchRecord;
pub use infra_primitives::{AccountState, StateChanges};
pub use store::{
    DepositCursor, HistoricalTree, MAX_PRUNED_PER_BLOCK, StateAt, StateHistory, StateReader,
    StorageError, Store,
};
pub use views::PastState;

/// The `Meta` record (see [`Store::put_meta`]) holding a validator's safe head:
/// the newest L2 block derived from L1, 8 bytes big-endian. Derivation writes
/// it; the RPC serves it as the `safe` block tag.
pub const SAFE_HEAD_KEY: &str = "safe_head";
