//! A settled dev chain: an L2 node wired to an L1 (the embedded dev L1 or anvil)
//! with freshly deployed contracts, and the helpers the settlement tests share.

use crate::DevNode;
use alloy::{
    consensus::{Blob, SidecarCoder, SimpleCoder, Transaction as _},
    eips::BlockNumberOrTag,
    primitives::{B256, Bytes},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use infra_batcher::BatchPayload;
use infra_batcher::DataAvailability;
use infra_config::{BatchConfig, ChainConfig, DEV_GENESIS_JSON, parse_genesis};
use infra_l1::Rollup;
use infra_l1::{Deployment, SenderConfig};
use infra_node_core::{L1Settings, deploy_contracts, start_node};
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
    settled_chain(l1_url, da, confirmations, datadir, test_chain()).await
}

/// The dev key that sends proofs (as in `--dev`).
pub const PROVER_INDEX: u32 = 8;

/// [`test_chain`] with zk settlement over `curve`: 3 writes per chunk proof at
/// depth 32 (a 2^16-constraint circuit, about 2 s a proof here).
pub fn zk_test_chain(curve: infra_config::Curve) -> ChainConfig {
    let mut chain = test_chain();
    chain.settlement = infra_config::Settlement::Zk;
    chain.proof.curve = curve;
    chain.proof.chunk_writes = 3;
    chain.proof.depth = 32;
    chain
}

/// Deploys the contracts for `chain` to `l1_url` and starts an L2 sequencer
/// following it; with zk settlement, a prover (insecure dev keys) in the node.
pub async fn settled_chain(
    l1_url: &str,
    da: DataAvailability,
    confirmations: u64,
    datadir: Option<PathBuf>,
    chain: ChainConfig,
) -> eyre::Result<(DevNode, Deployment)> {
    crate::init_logs();
    let genesis = parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json")?;
    let batcher = infra_config::dev_signer(BATCHER_INDEX)?;
    let prover = if chain.settlement == infra_config::Settlement::Zk {
        let c = chain.clone();
        Some(
            tokio::task::spawn_blocking(move || infra_node_core::build_prover(&c, None, true))
                .await??,
        )
    } else {
        None
    };
    let vk = prover.as_ref().map(|p| p.l1_verifier()).transpose()?;
    let deployment =
        deploy_contracts(l1_url, batcher.clone(), &chain, &genesis, None, None, vk).await?;
    let prover = match prover {
        Some(prover) => Some(infra_node_core::ProverSettings {
            prover,
            key: infra_config::dev_signer(PROVER_INDEX)?,
            max_batches: 64,
            max_chunks: 16,
        }),
        None => None,
    };
    let node = start_l2_for(l1_url, &deployment, da, confirmations, datadir, chain, prover).await?;
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
    start_l2_for(l1_url, deployment, da, confirmations, datadir, test_chain(), None).await
}

/// [`start_l2`] for `chain`, with an in-process prover when given.
pub async fn start_l2_for(
    l1_url: &str,
    deployment: &Deployment,
    da: DataAvailability,
    confirmations: u64,
    datadir: Option<PathBuf>,
    chain: ChainConfig,
    prover: Option<infra_node_core::ProverSettings>,
) -> eyre::Result<DevNode> {
    let l1 = l1_settings(l1_url, deployment, da, confirmations, prover)?;
    start_l2_with(l1, datadir, chain).await
}

/// The L1 settings the tests' sequencers run with.
pub fn l1_settings(
    l1_url: &str,
    deployment: &Deployment,
    da: DataAvailability,
    confirmations: u64,
    prover: Option<infra_node_core::ProverSettings>,
) -> eyre::Result<L1Settings> {
    Ok(L1Settings {
        rpc_url: l1_url.to_string(),
        deployment: deployment.clone(),
        batcher_key: infra_config::dev_signer(BATCHER_INDEX)?,
        game_key: None,
        confirmations,
        poll: Duration::from_millis(200),
        da,
        sender: SenderConfig {
            resubmit_after: Duration::from_secs(6),
            poll: Duration::from_millis(200),
            ..Default::default()
        },
        prover,
        faulty_root_every: None,
        faulty_root_limit: None,
        forge_withdrawals: false,
        lying_defence: false,
    })
}

/// Starts (or restarts) an L2 sequencer of `chain` with `l1`.
pub async fn start_l2_with(
    l1: L1Settings,
    datadir: Option<PathBuf>,
    chain: ChainConfig,
) -> eyre::Result<DevNode> {
    crate::init_logs();
    let tmp = tempfile::tempdir()?;
    let dir = datadir.unwrap_or_else(|| tmp.path().to_path_buf());
    let cfg = crate::node_config(dir, chain, Some(l1))?;
    Ok(DevNode::new(start_node(cfg).await?, tmp))
}

/// Starts a validator of `chain` deriving from the L1 at `l1_url` (no peers),
/// in `datadir` (a new temporary one when `None`).
pub async fn start_validator(
    l1_url: &str,
    deployment: &Deployment,
    datadir: Option<PathBuf>,
    chain: ChainConfig,
) -> eyre::Result<DevNode> {
    start_validator_with(l1_url, deployment, datadir, chain, None).await
}

/// [`start_validator`] disputing wrong outputs with `challenger_key`.
pub async fn start_validator_with(
    l1_url: &str,
    deployment: &Deployment,
    datadir: Option<PathBuf>,
    chain: ChainConfig,
    challenger_key: Option<alloy::signers::local::PrivateKeySigner>,
) -> eyre::Result<DevNode> {
    crate::init_logs();
    let tmp = tempfile::tempdir()?;
    let dir = datadir.unwrap_or_else(|| tmp.path().to_path_buf());
    let mut cfg = crate::node_config(dir, chain, None)?;
    cfg.validator = Some(infra_node_core::ValidatorSettings {
        l1_rpc: l1_url.to_string(),
        deployment: deployment.clone(),
        poll: Duration::from_millis(200),
        challenger_key,
    });
    Ok(DevNode::new(start_node(cfg).await?, tmp))
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

/// The root of the checkout under test, found at run time: a shared target
/// directory may hold test binaries built from another checkout, whose
/// compile-time paths point there.
pub fn repo_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|d| d.join("Cargo.lock").exists())
        .map(|d| d.to_path_buf())
        .unwrap_or(start)
}

/// The pinned anvil binary.
pub fn anvil_path() -> PathBuf {
    repo_root().join("tests/wallets/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// Starts anvil on a free port of 127.0.0.1, mining a block every second (so L1
/// time and confirmations advance), with the dev mnemonic's accounts.
pub async fn start_anvil() -> eyre::Result<Anvil> {
    start_anvil_with(&["--block-time", "1"]).await
}

/// Starts anvil as [`start_anvil`] does, with `args` for its mining (for example
/// `--no-mining`: blocks only on `anvil_mine`). Anvil binds port 0 and prints
/// the port it got; it is ready once it answers `eth_chainId` with its chain id.
pub async fn start_anvil_with(args: &[&str]) -> eyre::Result<Anvil> {
    use std::io::BufRead;
    let path = anvil_path();
    if !path.exists() {
        eyre::bail!(
            "anvil is not installed at {}: run `npm ci` in tests/wallets (scripts/test.sh does)",
            path.display()
        );
    }
    let chain_id: u64 = match args.iter().position(|a| *a == "--chain-id") {
        Some(i) => {
            args.get(i + 1).ok_or_else(|| eyre::eyre!("--chain-id without a value"))?.parse()?
        }
        None => 31_337,
    };
    let mut child = Command::new(path)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .args(["--mnemonic", infra_config::DEV_MNEMONIC])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| eyre::eyre!("anvil's stdout"))?;
    // Reads anvil's output for as long as it runs (it logs each request): the
    // listening address goes to the test, the rest nowhere.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.trim().strip_prefix("Listening on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let mut anvil = Anvil { child, url: String::new() };
    let addr = tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .map_err(|_| eyre::eyre!("anvil printed no listening address within 60 s"))?
        .map_err(|_| eyre::eyre!("anvil exited before listening: {:?}", anvil.child.try_wait()))?;
    anvil.url = format!("http://{addr}");
    crate::process::ready(&anvil.url, chain_id).await?;
    Ok(anvil)
}

/// Reads every `BatchSubmitted`, decodes its data (calldata or blobs) and checks
/// it against the L2 chain: contiguous from block 1 through at least `through`,
/// each block's timestamp, parent and transactions as on L2. Returns how many of
/// the batches were in blobs.
pub async fn check_batches(
    l1: &DynProvider,
    l2: &DynProvider,
    d: &Deployment,
    through: u64,
) -> eyre::Result<usize> {
    let filter = Filter::new()
        .address(d.rollup)
        .event_signature(Rollup::BatchSubmitted::SIGNATURE_HASH)
        .from_block(d.deploy_block)
        .to_block(BlockNumberOrTag::Latest);
    let mut next = 1u64;
    let mut blob_batches = 0;
    for log in l1.get_logs(&filter).await? {
        let hash = log.transaction_hash.expect("tx hash");
        let tx = l1.get_transaction_by_hash(hash).await?.expect("batch tx");
        let input = tx.input();
        let data: Vec<u8> = if let Ok(call) = Rollup::submitBatchCall::abi_decode(input) {
            call.data.to_vec()
        } else {
            let call = Rollup::submitBlobBatchCall::abi_decode(input)?;
            blob_batches += 1;
            let blobs: Vec<Bytes> =
                l1.raw_request("anvil_getBlobsByTransactionHash".into(), (hash,)).await?;
            assert_eq!(blobs.len(), usize::from(call.blobCount));
            let blobs: Vec<Blob> = blobs.iter().map(|b| Blob::from_slice(b)).collect();
            SimpleCoder::default().decode_all(&blobs).expect("blob data").concat()
        };
        let payload = BatchPayload::decode(&data)?;
        let gas = l1.get_transaction_receipt(hash).await?.map(|r| r.gas_used).unwrap_or_default();
        let txs: usize = payload.blocks.iter().map(|b| b.transactions.len()).sum();
        eprintln!(
            "batch blocks {}..={}: {txs} txs, {} bytes, L1 gas {gas}",
            payload.first_block,
            payload.last_block(),
            data.len()
        );
        assert_eq!(payload.first_block, next, "batches are contiguous, each block once");
        for (i, block) in payload.blocks.iter().enumerate() {
            let number = payload.first_block + i as u64;
            let onchain = l2.get_block_by_number(number.into()).await?.expect("L2 block");
            assert_eq!(onchain.header.timestamp, block.timestamp);
            let hashes: Vec<B256> = onchain.transactions.hashes().collect();
            let deposits = usize::try_from(block.deposit_count)?;
            let posted: Vec<B256> =
                payload.decode_transactions()?[i].iter().map(|t| *t.tx_hash()).collect();
            assert_eq!(hashes[deposits..], posted[..], "block {number} transactions");
            if i == 0 {
                assert_eq!(onchain.header.parent_hash, payload.parent_hash);
            }
        }
        next = payload.last_block() + 1;
    }
    eyre::ensure!(next > through, "batches cover the chain through block {through}, not {next}");
    Ok(blob_batches)
}

/// Polls `f` every 200 ms until it returns a value, failing after `timeout`.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl AsyncFnMut() -> eyre::Result<Option<T>>,
) -> eyre::Result<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            eyre::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends 1000 wei from dev account (0) to a fresh address through the L2 at
/// `url` (alloy's wallet provider) and returns the L2 block it was mined in.
pub async fn l2_transfer(url: &str) -> eyre::Result<u64> {
    use alloy::{network::EthereumWallet, providers::ProviderBuilder};
    let l2 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(0)?))
        .connect_http(url.parse()?)
        .erased();
    let receipt = l2
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(alloy::signers::local::PrivateKeySigner::random().address())
                .value(alloy::primitives::U256::from(1_000)),
        )
        .await?
        .get_receipt()
        .await?;
    receipt.block_number.ok_or_else(|| eyre::eyre!("receipt without a block number"))
}
