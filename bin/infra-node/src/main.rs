//! `infra-node`: the one binary. `--dev` runs a whole dev chain in one process.

use clap::{Parser, Subcommand, ValueEnum};
use eyre::{WrapErr, eyre};
use infra_config::{
    ConfigFile, DEV_GENESIS_JSON, DEV_MNEMONIC, GenesisRoots, load_genesis, parse_genesis,
};
use infra_node_core::{NodeConfig, genesis_root, start_sequencer};
use infra_rpc::RpcConfig;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Sequencer,
    Validator,
    Prover,
}

#[derive(Debug, Parser)]
#[command(name = "infra-node", version, about = "A modular Ethereum L2 rollup node")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// What this process does.
    #[arg(long, value_enum, default_value = "sequencer", env = "INFRA_ROLE")]
    role: Role,
    /// Run a dev chain: dev genesis, prefunded well-known accounts, temporary datadir.
    #[arg(long, env = "INFRA_DEV")]
    dev: bool,
    /// Where the database lives (default with --dev: a new temporary directory).
    #[arg(long, env = "INFRA_DATADIR")]
    datadir: Option<PathBuf>,
    /// Chain and node configuration (TOML: [chain], [rpc], [sequencer], [mempool]).
    #[arg(long, env = "INFRA_CONFIG")]
    config: Option<PathBuf>,
    /// Genesis file in geth's JSON format (default with --dev: genesis/dev.json, built in).
    #[arg(long, env = "INFRA_GENESIS")]
    genesis: Option<PathBuf>,
    #[command(flatten)]
    rpc: RpcArgs,
    #[command(flatten)]
    sequencer: SequencerArgs,
    #[command(flatten)]
    mempool: MempoolArgs,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long = "log", env = "INFRA_LOG", default_value = "info")]
    log: String,
}

#[derive(Debug, clap::Args)]
struct RpcArgs {
    /// Address the JSON-RPC server (HTTP and WebSocket) binds to.
    #[arg(long = "rpc.addr", env = "INFRA_RPC_ADDR")]
    addr: Option<String>,
    /// Port of the JSON-RPC server (0: any free port).
    #[arg(long = "rpc.port", env = "INFRA_RPC_PORT")]
    port: Option<u16>,
    /// Largest accepted request body, in bytes.
    #[arg(long = "rpc.max-request-bytes", env = "INFRA_RPC_MAX_REQUEST_BYTES")]
    max_request_bytes: Option<u32>,
    /// Most simultaneous connections.
    #[arg(long = "rpc.max-connections", env = "INFRA_RPC_MAX_CONNECTIONS")]
    max_connections: Option<u32>,
}

#[derive(Debug, clap::Args)]
struct SequencerArgs {
    /// Block time in milliseconds (overrides chain.block_time_ms).
    #[arg(long = "sequencer.block-time-ms", env = "INFRA_SEQUENCER_BLOCK_TIME_MS")]
    block_time_ms: Option<u64>,
    /// Seal blocks even when there is no transaction.
    #[arg(long = "sequencer.empty-blocks", env = "INFRA_SEQUENCER_EMPTY_BLOCKS")]
    empty_blocks: bool,
}

#[derive(Debug, clap::Args)]
struct MempoolArgs {
    /// Smallest accepted priority fee, in wei.
    #[arg(long = "mempool.min-tip-wei", env = "INFRA_MEMPOOL_MIN_TIP_WEI")]
    min_tip_wei: Option<u64>,
    /// Most pooled transactions per sender.
    #[arg(long = "mempool.max-per-sender", env = "INFRA_MEMPOOL_MAX_PER_SENDER")]
    max_per_sender: Option<usize>,
    /// Most pooled transactions in all.
    #[arg(long = "mempool.max-total", env = "INFRA_MEMPOOL_MAX_TOTAL")]
    max_total: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the genesis state root of a genesis file (for its NAME.roots.toml).
    GenesisRoot {
        #[arg(long)]
        genesis: PathBuf,
        /// Chain config whose curve to use (default: bn254 and bls12-381 both).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// A configuration error: printed, exit code 2.
struct UsageError(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{},gr1cs=off", cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(UsageError(msg))) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(UsageError),
    Runtime(eyre::Report),
}

impl From<eyre::Report> for Failure {
    fn from(e: eyre::Report) -> Self {
        // Config validation errors are usage errors too.
        let text = format!("{e:#}");
        if text.starts_with("config:") || text.starts_with("genesis:") {
            Self::Usage(UsageError(text))
        } else {
            Self::Runtime(e)
        }
    }
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(UsageError(msg.into()))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(Command::GenesisRoot { genesis, config }) = &cli.command {
        let (g, _) = load_genesis(genesis).map_err(|e| usage(e.to_string()))?;
        let mut chain = match config {
            Some(p) => read_config(p)?.chain,
            None => infra_config::ChainConfig::dev(),
        };
        chain.chain_id = g.config.chain_id;
        for curve in [infra_config::Curve::Bn254, infra_config::Curve::Bls12_381] {
            chain.proof.curve = curve;
            println!("{} = \"{}\"", toml_key(curve), genesis_root(&chain, &g)?);
        }
        return Ok(());
    }
    match cli.role {
        Role::Sequencer => {}
        Role::Validator => {
            return Err(usage(
                "--role validator is not available yet: deriving the chain from L1 and following peers land with the validator/fraud-proof work; run --role sequencer",
            ));
        }
        Role::Prover => {
            return Err(usage(
                "--role prover is not available yet: the Groth16/PLONK provers land with the ZK settlement work; run --role sequencer",
            ));
        }
    }
    let file = match &cli.config {
        Some(p) => read_config(p)?,
        None => ConfigFile::default(),
    };
    let mut chain = file.chain.clone();
    if let Some(ms) = cli.sequencer.block_time_ms {
        chain.block_time_ms = ms;
    }
    let (genesis, roots, genesis_name) = match (&cli.genesis, cli.dev) {
        (Some(p), _) => {
            let (g, r) = load_genesis(p).map_err(|e| usage(e.to_string()))?;
            (g, r, p.display().to_string())
        }
        (None, true) => {
            let g = parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json")
                .map_err(|e| usage(e.to_string()))?;
            (
                g,
                Some(GenesisRoots::dev().map_err(|e| usage(e.to_string()))?),
                "genesis/dev.json (built in)".into(),
            )
        }
        (None, false) => {
            return Err(usage("--genesis FILE is required for --role sequencer (or use --dev)"));
        }
    };
    if cli.config.is_none() {
        // Without a config file the chain id comes from the genesis.
        chain.chain_id = genesis.config.chain_id;
    }
    chain.validate().map_err(|e| usage(e.to_string()))?;

    let (datadir, _tmp) = match (&cli.datadir, cli.dev) {
        (Some(d), _) => (d.clone(), None),
        (None, true) => {
            let tmp = tempfile::Builder::new()
                .prefix("infra-dev-")
                .tempdir()
                .wrap_err("creating a temporary datadir")?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
        (None, false) => {
            return Err(usage("--datadir PATH is required (or use --dev for a temporary one)"));
        }
    };
    let addr_str =
        cli.rpc.addr.clone().or(file.rpc.addr.clone()).unwrap_or_else(|| "127.0.0.1".into());
    let port = cli.rpc.port.or(file.rpc.port).unwrap_or(8545);
    let ip: std::net::IpAddr = addr_str.parse().map_err(|_| {
        usage(format!(
            "config: rpc.addr = {addr_str:?}, must be an IP address such as 127.0.0.1 or 0.0.0.0"
        ))
    })?;
    let max_request_bytes =
        cli.rpc.max_request_bytes.or(file.rpc.max_request_bytes).unwrap_or(5 * 1024 * 1024);
    if !(1024..=128 * 1024 * 1024).contains(&max_request_bytes) {
        return Err(usage(format!(
            "config: rpc.max_request_bytes = {max_request_bytes}, must be 1024..=134217728"
        )));
    }
    let cfg = NodeConfig {
        datadir: datadir.clone(),
        chain: chain.clone(),
        genesis,
        genesis_roots: roots,
        rpc: RpcConfig {
            addr: SocketAddr::new(ip, port),
            max_request_bytes,
            max_connections: cli.rpc.max_connections.or(file.rpc.max_connections).unwrap_or(1_000),
        },
        empty_blocks: cli.sequencer.empty_blocks || file.sequencer.empty_blocks.unwrap_or(false),
        min_tip_wei: cli.mempool.min_tip_wei.or(file.mempool.min_tip_wei).unwrap_or(0),
        max_per_sender: cli.mempool.max_per_sender.or(file.mempool.max_per_sender).unwrap_or(256),
        max_total: cli.mempool.max_total.or(file.mempool.max_total).unwrap_or(20_000),
    };
    let node = start_sequencer(cfg).await?;
    print_banner(&cli, &chain, &node, &datadir, &genesis_name)?;
    let cancel = node.cancel_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(target: "node", "shutting down");
        cancel.cancel();
    });
    node.wait().await?;
    Ok(())
}

fn toml_key(curve: infra_config::Curve) -> &'static str {
    match curve {
        infra_config::Curve::Bn254 => "bn254",
        infra_config::Curve::Bls12_381 => "\"bls12-381\"",
    }
}

fn read_config(path: &PathBuf) -> Result<ConfigFile, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("config: cannot read {}: {e}", path.display())))?;
    ConfigFile::from_toml_str(&text).map_err(|e| usage(format!("{} ({})", e, path.display())))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn print_banner(
    cli: &Cli,
    chain: &infra_config::ChainConfig,
    node: &infra_node_core::RunningNode,
    datadir: &std::path::Path,
    genesis: &str,
) -> eyre::Result<()> {
    let url = format!("http://{}", node.rpc_addr);
    let ws = format!("ws://{}", node.rpc_addr);
    let mut out = String::new();
    out.push_str(&format!(
        "\ninfra-node {} — {}\n",
        env!("CARGO_PKG_VERSION"),
        if cli.dev { "dev chain" } else { "sequencer" }
    ));
    out.push_str(&format!(
        "Chain id:     {}\nRPC URL:      {url}\nWebSocket:    {ws}\n",
        chain.chain_id
    ));
    out.push_str(&format!(
        "Block time:   {} ms\nDatadir:      {}\nGenesis:      {genesis} ({})\nHead:         {}\n",
        chain.block_time_ms,
        datadir.display(),
        node.genesis_hash,
        node.head
    ));
    if cli.dev {
        out.push_str("\nAvailable accounts (10000 ETH each)\n==================\n");
        let mut keys = String::from("\nPrivate keys\n==================\n");
        for i in 0..10u32 {
            let signer =
                infra_config::dev_signer(i).map_err(|e| eyre!("deriving dev key {i}: {e}"))?;
            out.push_str(&format!("({i}) {}\n", signer.address()));
            keys.push_str(&format!("({i}) 0x{}\n", alloy::hex::encode(signer.to_bytes())));
        }
        out.push_str(&keys);
        out.push_str(&format!(
            "\nMnemonic:     {DEV_MNEMONIC}\nDerivation:   m/44'/60'/0'/0/<index>\n"
        ));
    }
    out.push_str(&format!("\nListening on {url}\n"));
    println!("{out}");
    Ok(())
}
