#![doc = include_str!("../README.md")]

mod builder;

pub use builder::{BlockBuilder, SealTimings, SequencerActor, SequencerError, genesis_block};
