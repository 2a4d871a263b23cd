#![doc = include_str!("../README.md")]

mod service;
pub mod wire;

pub use libp2p::{Multiaddr, PeerId};
pub use service::{
    ChainAccess, ImportOutcome, P2p, P2pActor, P2pConfig, P2pError, P2pStatus, load_or_create_key,
};
pub use wire::{SignedBlock, block_signer, sign_block};
