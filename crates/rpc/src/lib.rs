#![doc = include_str!("../README.md")]

mod blobs;
mod convert;
mod eth;
mod filters;
pub mod gateway;
mod jsonrpc;
mod metrics;
pub mod ops;
mod params;
mod proofs;
mod server;
mod trace;
mod ws;

pub use blobs::{BlobStore, KEEP_BLOB_TXS};
pub use eth::RpcContext;
pub use gateway::{GatewayConfig, KeyRecord, NewKey, Rate, create_key, list_keys, revoke_key};
pub use metrics::Metrics;
pub use ops::{BatchView, DerivationView, DisputesView, L1View, Ops, OpsView, P2pView};
pub use proofs::{ProofLeaf, StorageProof, WithdrawalProof};
pub use server::{RpcConfig, RpcServer, start};
