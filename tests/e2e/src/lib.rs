#![doc = include_str!("../README.md")]

use infra_config::{ChainConfig, DEV_GENESIS_JSON, GenesisRoots, parse_genesis};
use infra_node_core::{NodeConfig, RunningNode, start_node};
use infra_rpc::RpcConfig;
use std::net::SocketAddr;

pub mod process;
pub mod settle;

/// A dev chain started in-process on a temporary datadir and a free port.
#[derive(Debug)]
pub struct DevNode {
    pub node: RunningNode,
    pub http_url: String,
    pub ws_url: String,
    /// Removed when the node is dropped.
    pub datadir: tempfile::TempDir,
}

impl DevNode {
    /// A started node, with its URLs.
    pub fn new(node: RunningNode, datadir: tempfile::TempDir) -> Self {
        let addr = node.rpc_addr;
        Self { node, http_url: format!("http://{addr}"), ws_url: format!("ws://{addr}"), datadir }
    }
}

/// Logs of the node under test on the test's output, filtered by `RUST_LOG`
/// (nothing when it is unset). Safe to call from every test.
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The dev genesis on `chain`, RPC on a free port of 127.0.0.1, settling to `l1`.
pub fn node_config(
    datadir: std::path::PathBuf,
    chain: ChainConfig,
    l1: Option<infra_node_core::L1Settings>,
) -> eyre::Result<NodeConfig> {
    Ok(NodeConfig {
        datadir,
        chain,
        genesis: parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json")?,
        genesis_roots: Some(GenesisRoots::dev()?),
        rpc: RpcConfig {
            max_request_bytes: 10 * 1024 * 1024,
            max_connections: 100,
            ..RpcConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)))
        },
        empty_blocks: false,
        min_tip_wei: 0,
        pool_limits: Default::default(),
        l1,
        validator: None,
        p2p: None,
        accept_blobs: false,
        state_history: Default::default(),
        fault_program: None,
    })
}

/// Starts the `--dev` chain with `block_time_ms` blocks.
pub async fn dev_node(block_time_ms: u64) -> eyre::Result<DevNode> {
    let datadir = tempfile::tempdir()?;
    let cfg = node_config(
        datadir.path().to_path_buf(),
        ChainConfig { block_time_ms, ..ChainConfig::dev() },
        None,
    )?;
    Ok(DevNode::new(start_node(cfg).await?, datadir))
}

/// Bindings of the test contracts the workloads deploy on L2 (from their
/// committed artifacts).
pub mod contracts {
    alloy::sol!(
        #[sol(rpc)]
        TestToken,
        "../../contracts/artifacts/TestToken.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        TestPool,
        "../../contracts/artifacts/TestPool.json"
    );
}
