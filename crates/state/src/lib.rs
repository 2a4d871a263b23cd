#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

extern crate alloc;

mod hasher;
pub mod keys;
mod poseidon;
pub mod solidity;
mod tree;

pub use hasher::{Curve, TreeHasher, to_b256, to_field};
pub use poseidon::Poseidon;

/// The Poseidon parameters, for circuit gadgets that must match the native hash.
pub mod poseidon_params {
    pub use crate::poseidon::{ALPHA, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};
}
#[cfg(feature = "std")]
pub use tree::RecordingStore;
pub use tree::{
    HashNodeStore, MemoryNodeStore, Node, NodeChange, NodeStore, OverlayStore, Position, SmtProof,
    SparseMerkleTree, StateError, TreeUpdate, diff_leaves,
};
