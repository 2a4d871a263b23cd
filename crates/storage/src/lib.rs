#![doc = include_str!("../README.md")]

mod store;

pub use store::{AccountState, HistoricalTree, StateChanges, StateReader, StorageError, Store};
