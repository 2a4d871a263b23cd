#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod hasher;
pub mod keys;
mod poseidon;
pub mod solidity;
mod tree;

pub use hasher::{Curve, TreeHasher};
pub use poseidon::Poseidon;
pub use tree::{
    MemoryNodeStore, Node, NodeChange, NodeStore, Position, SmtProof, SparseMerkleTree, StateError,
    TreeUpdate,
};
