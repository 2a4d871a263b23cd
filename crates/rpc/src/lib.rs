#![doc = include_str!("../README.md")]

mod convert;
mod eth;
mod server;

pub use eth::RpcContext;
pub use server::{RpcConfig, RpcServer, start};
