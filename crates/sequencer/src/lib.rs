#![doc = include_str!("../README.md")]

mod builder;

pub use builder::{BlockBuilder, SequencerActor, SequencerError, genesis_block};
