#![doc = include_str!("../README.md")]

mod store;

pub use store::{
    AccountState, DepositCursor, HistoricalTree, StateChanges, StateReader, StorageError, Store,
};
