#![doc = include_str!("../README.md")]

mod convert;
mod eth;
mod proofs;
mod server;

pub use eth::RpcContext;
pub use proofs::{ProofLeaf, StorageProof, WithdrawalProof};
pub use server::{RpcConfig, RpcServer, start};
