#![doc = include_str!("../README.md")]

mod store;

pub use store::{AccountState, StateChanges, StateReader, StorageError, Store};
