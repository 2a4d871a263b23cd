#![doc = include_str!("../README.md")]

mod pool;

pub use pool::{Mempool, PoolConfig, PoolError, PoolStats};
