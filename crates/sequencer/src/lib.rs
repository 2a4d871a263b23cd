#![doc = include_str!("../README.md")]

mod builder;

pub use builder::{
    BlockBuilder, InstantSeal, SealTimings, SequencerActor, SequencerError, genesis_block,
};
