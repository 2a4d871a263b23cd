#![doc = include_str!("../README.md")]

pub mod bindings;

pub use bindings::{
    Bridge, L2_WITHDRAWALS, L2Withdrawals, PoseidonBls12381, PoseidonBn254, Rollup, TestToken,
};
