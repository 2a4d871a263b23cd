#![doc = include_str!("../README.md")]

mod format;

pub use format::{BatchBlock, BatchError, BatchPayload, Codec, MAX_PAYLOAD_BYTES, VERSION};
