#![doc = include_str!("../README.md")]

pub mod fault;
pub mod game;
pub mod trace;

pub use game::{ChallengerActor, DefenderActor, GameError, GameNode, GameSettings, PlayerStatus};
pub use trace::{
    AccountWitness, BatchTrace, StepKind, StepState, TraceError, TraceStep, trace_batch,
};
