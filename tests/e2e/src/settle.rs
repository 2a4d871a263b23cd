//! A settled dev chain: an L2 node wired to an L1 (the embedded dev L1 or anvil)
//! with freshly deployed contracts, and the helpers the settlement tests share.

use crate::DevNode;
use infra_batcher::DataAvailability;
use infra_config::{BatchConfig, ChainConfig, DEV_GENESIS_JSON, parse_genesis};
use infra_l1::{Deployment, SenderConfig};
use infra_node_core::{L1Settings, deploy_contracts, start_sequencer};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The dev key that deploys and posts batches (as in `--dev`).
pub const BATCHER_INDEX: u32 = 9;

/// The chain the settlement tests run: fast blocks, batches at least every
/// second, a 3 s challenge period.
pub fn test_chain() -> ChainConfig {
    ChainConfig {
        block_time_ms: 250,
        challenge_period_s: 3,
        batch: BatchConfig { max_latency_ms: 1_000, ..BatchConfig::default() },
        ..ChainConfig::dev()
    }
}

/// Deploys the contracts to `l1_url` and starts an L2 sequencer following it.
pub async fn settled_node(
    l1_url: &str,
    da: DataAvailability,
    confirmations: u64,
    datadir: Option<PathBuf>,
) -> eyre::Result<(DevNode, Deployment)> {
    let chain = test_chain();
    let genesis = parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json")?;
    let batcher = infra_config::dev_signer(BATCHER_INDEX)?;
    let deployment =
        deploy_contracts(l1_url, batcher.clone(), &chain, &genesis, None, None).await?;
    let node = start_l2(l1_url, &deployment, da, confirmations, datadir).await?;
    Ok((node, deployment))
}

/// Starts (or restarts, with the same `datadir`) the L2 for an existing deployment.
pub async fn start_l2(
    l1_url: &str,
    deployment: &Deployment,
    da: DataAvailability,
    confirmations: u64,
    datadir: Option<PathBuf>,
) -> eyre::Result<DevNode> {
    let tmp = tempfile::tempdir()?;
    let dir = datadir.unwrap_or_else(|| tmp.path().to_path_buf());
    let l1 = L1Settings {
        rpc_url: l1_url.to_string(),
        deployment: deployment.clone(),
        batcher_key: infra_config::dev_signer(BATCHER_INDEX)?,
        confirmations,
        poll: Duration::from_millis(200),
        da,
        sender: SenderConfig {
            resubmit_after: Duration::from_secs(6),
            poll: Duration::from_millis(200),
            ..Default::default()
        },
    };
    let cfg = crate::node_config(dir, test_chain(), Some(l1))?;
    let node = start_sequencer(cfg).await?;
    let addr = node.rpc_addr;
    Ok(DevNode {
        node,
        http_url: format!("http://{addr}"),
        ws_url: format!("ws://{addr}"),
        datadir: tmp,
    })
}

/// anvil from the pinned npm package (`tests/wallets`, installed by the test
/// command), killed on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    pub url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pinned anvil binary.
pub fn anvil_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../wallets/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// Starts anvil on a free port of 127.0.0.1, mining a block every second (so L1
/// time and confirmations advance), with the dev mnemonic's accounts.
pub async fn start_anvil() -> eyre::Result<Anvil> {
    let path = anvil_path();
    if !path.exists() {
        eyre::bail!(
            "anvil is not installed at {}: run `npm ci` in tests/wallets (scripts/test.sh does)",
            path.display()
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(path)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--block-time", "1"])
        .args(["--mnemonic", infra_config::DEV_MNEMONIC, "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let anvil = Anvil { child, url };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(anvil);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eyre::bail!("anvil did not start listening on {}", anvil.url)
}
