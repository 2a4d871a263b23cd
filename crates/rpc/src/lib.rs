#![doc = include_str!("../README.md")]

mod blobs;
mod convert;
mod eth;
mod proofs;
mod server;

pub use blobs::{BlobStore, KEEP_BLOB_TXS};
pub use eth::RpcContext;
pub use proofs::{ProofLeaf, StorageProof, WithdrawalProof};
pub use server::{RpcConfig, RpcServer, start};
