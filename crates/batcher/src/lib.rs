#![doc = include_str!("../README.md")]

mod poster;

pub use infra_primitives::batch::{
    BatchBlock, BatchError, BatchPayload, Codec, MAX_PAYLOAD_BYTES, VERSION,
};
pub use poster::{
    BatchPoster, DataAvailability, ForgedWithdrawal, PostedBatch, PosterConfig, PosterError,
    calldata_floor_gas,
};
