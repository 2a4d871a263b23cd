#![doc = include_str!("../README.md")]

use infra_config::{ChainConfig, dev_signer, parse_genesis};
use infra_node_core::{NodeConfig, RunningNode, start_node};
use infra_rpc::RpcConfig;
use std::{net::SocketAddr, path::PathBuf};

/// The dev L1's chain id.
pub const DEV_L1_CHAIN_ID: u64 = 900;
/// The dev account (of `infra_config::DEV_MNEMONIC`) that deploys the contracts and posts
/// batches in `--dev`: the last one, so wallets using account 0 never race its
/// nonces.
pub const DEV_BATCHER_INDEX: u32 = 9;
/// The dev account that sends proofs in `--dev` with zk settlement (its own
/// nonces, apart from the batcher's).
pub const DEV_PROVER_INDEX: u32 = 8;

/// A started dev L1.
#[derive(Debug)]
pub struct DevL1 {
    pub node: RunningNode,
    pub http_url: String,
}

impl DevL1 {
    /// Seals a block on each pooled transaction (on), or every block time only
    /// (off, the default).
    pub fn set_instant_seal(&self, on: bool) {
        if let Some(seal) = &self.node.instant_seal {
            seal.set(on);
        }
    }
}

/// The dev L1's genesis: the ten dev accounts with 10000 ETH each.
pub fn genesis_json() -> eyre::Result<String> {
    let mut alloc = serde_json::Map::new();
    for i in 0..10u32 {
        let signer = dev_signer(i).map_err(|e| eyre::eyre!("dev key {i}: {e}"))?;
        alloc.insert(
            format!("{:?}", signer.address()),
            serde_json::json!({ "balance": "0x21e19e0c9bab2400000" }),
        );
    }
    let genesis = serde_json::json!({
        "config": { "chainId": DEV_L1_CHAIN_ID },
        "nonce": "0x0",
        "timestamp": "0x0",
        "extraData": "0x",
        "gasLimit": "0x1c9c380",
        "difficulty": "0x0",
        "mixHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": alloc,
    });
    Ok(serde_json::to_string_pretty(&genesis)?)
}

/// The dev L1's chain settings.
pub fn chain() -> ChainConfig {
    ChainConfig {
        chain_id: DEV_L1_CHAIN_ID,
        name: "infra-dev-l1".into(),
        block_time_ms: 1_000,
        gas_limit: 30_000_000,
        batch_gas: 60_000_000,
        ..ChainConfig::dev()
    }
}

/// Starts the dev L1 on 127.0.0.1:`port` (0 or `None`: any free port), keeping
/// its database in `datadir`.
pub async fn start_l1(datadir: PathBuf, port: Option<u16>) -> eyre::Result<DevL1> {
    let genesis = parse_genesis(&genesis_json()?, "dev L1 genesis")?;
    let cfg = NodeConfig {
        datadir,
        chain: chain(),
        genesis,
        genesis_roots: None,
        rpc: RpcConfig {
            max_request_bytes: 16 * 1024 * 1024,
            ..RpcConfig::new(SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))))
        },
        empty_blocks: true,
        min_tip_wei: 0,
        pool_limits: infra_node_core::PoolLimits {
            max_pending: 20_000,
            max_pending_per_sender: 1_024,
            ..Default::default()
        },
        l1: None,
        validator: None,
        p2p: None,
        accept_blobs: true,
        state_history: Default::default(),
        fault_program: None,
    };
    let node = start_node(cfg).await?;
    let http_url = format!("http://{}", node.rpc_addr);
    Ok(DevL1 { node, http_url })
}
