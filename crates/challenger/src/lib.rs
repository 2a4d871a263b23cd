#![doc = include_str!("../README.md")]

pub mod trace;

pub use trace::{
    AccountWitness, BatchTrace, StepKind, StepState, TraceError, TraceStep, trace_batch,
};
