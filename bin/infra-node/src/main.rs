//! `infra-node`: the one binary. `--dev` runs a whole dev chain in one process.

use clap::{Parser, Subcommand, ValueEnum};
use eyre::{WrapErr, eyre};
use infra_config::{
    ConfigFile, DEV_GENESIS_JSON, DEV_MNEMONIC, GenesisRoots, load_genesis, parse_genesis,
};
use infra_node_core::{NodeConfig, genesis_root, start_node};
use infra_rpc::RpcConfig;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

mod fpvm;

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
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    l1: L1Args,
    #[command(flatten)]
    prover: ProverArgs,
    #[command(flatten)]
    p2p: P2pArgs,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long = "log", env = "INFRA_LOG", default_value = "info")]
    log: String,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long = "log.format", env = "INFRA_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
    /// Require an API key on every JSON-RPC request (/v1/<key>, X-API-Key or
    /// Authorization: Bearer); create keys with `infra-node keys create`.
    #[arg(long = "rpc.api-keys", env = "INFRA_RPC_API_KEYS")]
    api_keys: bool,
    /// Origins browsers may call from, comma-separated, or * (default: * with
    /// --dev, none otherwise).
    #[arg(long = "rpc.cors", env = "INFRA_RPC_CORS", value_delimiter = ',')]
    cors: Vec<String>,
    /// Requests per second per client IP (0: no limit; default 0).
    #[arg(long = "rpc.ip-rps", env = "INFRA_RPC_IP_RPS")]
    ip_rps: Option<u32>,
    /// Burst per client IP (default: 2 x rps).
    #[arg(long = "rpc.ip-burst", env = "INFRA_RPC_IP_BURST")]
    ip_burst: Option<u32>,
    /// Requests per second per API key, unless the key has its own (default 100).
    #[arg(long = "rpc.key-rps", env = "INFRA_RPC_KEY_RPS")]
    key_rps: Option<u32>,
    /// Burst per API key (default: 2 x rps).
    #[arg(long = "rpc.key-burst", env = "INFRA_RPC_KEY_BURST")]
    key_burst: Option<u32>,
    /// Most calls in one batch request (default 100).
    #[arg(long = "rpc.max-batch", env = "INFRA_RPC_MAX_BATCH")]
    max_batch: Option<u32>,
    /// Largest response, in bytes (default 52428800).
    #[arg(long = "rpc.max-response-bytes", env = "INFRA_RPC_MAX_RESPONSE_BYTES")]
    max_response_bytes: Option<u32>,
    /// Most blocks one eth_getLogs may span (default 10000).
    #[arg(long = "rpc.max-logs-range", env = "INFRA_RPC_MAX_LOGS_RANGE")]
    max_logs_range: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct SequencerArgs {
    /// Block time in milliseconds (overrides chain.block_time_ms).
    #[arg(long = "sequencer.block-time-ms", env = "INFRA_SEQUENCER_BLOCK_TIME_MS")]
    block_time_ms: Option<u64>,
    /// Seal blocks even when there is no transaction.
    #[arg(long = "sequencer.empty-blocks", env = "INFRA_SEQUENCER_EMPTY_BLOCKS")]
    empty_blocks: bool,
    /// The key the sequencer signs gossiped blocks with (hex; its address must be
    /// chain.sequencer). Default with --dev: dev account 9. Prefer the variable.
    #[arg(
        id = "sequencer_key",
        long = "sequencer.key",
        env = "INFRA_SEQUENCER_KEY",
        hide_env_values = true
    )]
    key: Option<String>,
    /// TESTS ONLY: claim a wrong state root on L1 for every batch whose index is a
    /// multiple of N. Refused unless the chain id is the dev chain id.
    #[arg(long = "sequencer.test-faulty-root-every", value_name = "N")]
    test_faulty_root_every: Option<u64>,
    /// TESTS ONLY, with --sequencer.test-faulty-root-every: every second wrong
    /// root is the true state plus a forged withdrawal of 1 ETH to the batcher.
    #[arg(long = "sequencer.test-forge-withdrawals")]
    test_forge_withdrawals: bool,
    /// TESTS ONLY, with --sequencer.test-faulty-root-every: defend the wrong
    /// roots in the fault game with a made-up trace (true up to the program's
    /// first read of a contract's code), so each game is played move by move
    /// down to one instruction that L1 runs.
    #[arg(long = "sequencer.test-lying-defence")]
    test_lying_defence: bool,
}

/// The peer-to-peer network.
#[derive(Debug, clap::Args)]
struct P2pArgs {
    /// libp2p listen address, e.g. /ip4/0.0.0.0/tcp/30333. Default: that for a
    /// validator; with --dev, 127.0.0.1 on the RPC port + 2; a sequencer without
    /// --dev joins no network unless this or --p2p.bootnode is given.
    #[arg(long = "p2p.listen", env = "INFRA_P2P_LISTEN")]
    listen: Option<String>,
    /// A peer to dial at start (repeat or separate with commas), e.g.
    /// /ip4/127.0.0.1/tcp/8547/p2p/12D3Koo... (the sequencer prints its own).
    #[arg(long = "p2p.bootnode", env = "INFRA_P2P_BOOTNODES", value_delimiter = ',')]
    bootnodes: Vec<String>,
    /// Join no network (a validator then follows L1 only).
    #[arg(long = "p2p.disable", env = "INFRA_P2P_DISABLE")]
    disable: bool,
}

#[derive(Debug, clap::Args)]
struct MempoolArgs {
    /// Smallest accepted priority fee, in wei.
    #[arg(long = "mempool.min-tip-wei", env = "INFRA_MEMPOOL_MIN_TIP_WEI")]
    min_tip_wei: Option<u64>,
    /// Most pending (executable) transactions in the pool [default: 10000].
    #[arg(long = "mempool.max-pending", env = "INFRA_MEMPOOL_MAX_PENDING")]
    max_pending: Option<usize>,
    /// Most queued transactions (behind a nonce gap) in the pool [default: 1024].
    #[arg(long = "mempool.max-queued", env = "INFRA_MEMPOOL_MAX_QUEUED")]
    max_queued: Option<usize>,
    /// Most pending transactions of one sender [default: 256].
    #[arg(long = "mempool.max-pending-per-sender", env = "INFRA_MEMPOOL_MAX_PENDING_PER_SENDER")]
    max_pending_per_sender: Option<usize>,
    /// Most queued transactions of one sender [default: 64].
    #[arg(long = "mempool.max-queued-per-sender", env = "INFRA_MEMPOOL_MAX_QUEUED_PER_SENDER")]
    max_queued_per_sender: Option<usize>,
    /// How long a queued transaction stays: seconds, or with a unit (90s, 30m, 3h) [default: 3h].
    #[arg(long = "mempool.queued-lifetime", env = "INFRA_MEMPOOL_QUEUED_LIFETIME")]
    queued_lifetime: Option<String>,
}

#[derive(Debug, clap::Args)]
struct StateArgs {
    /// Past state kept for queries at past blocks (eth_getBalance, eth_call, ...
    /// at a block number or hash): `archive` (every block) or the newest N blocks
    /// [default: 10000]. Older history is pruned as new blocks are sealed.
    #[arg(long = "state.history", env = "INFRA_STATE_HISTORY", value_name = "archive|N")]
    history: Option<String>,
    /// The fault-proof program's ELF, which a node needs to play the fault game
    /// (a validator with --l1.key, an optimistic sequencer's defence)
    /// [default: $INFRA_PROGRAM_ELF, else where scripts/build-program.sh builds it].
    #[arg(long = "fpvm.elf", value_name = "PATH")]
    fault_program: Option<PathBuf>,
}

/// The L1 this sequencer settles to.
#[derive(Debug, clap::Args)]
struct L1Args {
    /// L1 JSON-RPC URL (http). With --deployment, the sequencer reads deposits from
    /// and posts batches to this L1.
    #[arg(long = "l1.rpc", env = "INFRA_L1_RPC")]
    rpc: Option<String>,
    /// The batcher's L1 private key (hex). Prefer the INFRA_L1_KEY variable: a
    /// command line is visible to other users of the machine.
    #[arg(long = "l1.key", env = "INFRA_L1_KEY", hide_env_values = true)]
    key: Option<String>,
    /// A sequencer's key for fault games on its outputs (hex; its own nonces,
    /// so its moves never wait behind a batch post) [default: the batcher's
    /// key]. Prefer the INFRA_L1_GAME_KEY variable.
    #[arg(long = "l1.game-key", env = "INFRA_L1_GAME_KEY", hide_env_values = true)]
    game_key: Option<String>,
    /// The deployment file `infra-node deploy` wrote.
    #[arg(long = "deployment", env = "INFRA_DEPLOYMENT")]
    deployment: Option<PathBuf>,
    /// Read deposits this many L1 blocks below the L1 head (default 6; --dev: 1).
    #[arg(long = "l1.confirmations", env = "INFRA_L1_CONFIRMATIONS")]
    confirmations: Option<u64>,
    /// How often to poll the L1, in milliseconds (default 2000; --dev: 500).
    #[arg(long = "l1.poll-ms", env = "INFRA_L1_POLL_MS")]
    poll_ms: Option<u64>,
    /// The most the batcher pays per L1 gas, in gwei (maxFeePerGas, fee bumps
    /// included). Default: no cap.
    #[arg(long = "l1.max-fee-gwei", env = "INFRA_L1_MAX_FEE_GWEI")]
    max_fee_gwei: Option<f64>,
    /// The most the batcher pays per blob gas, in gwei. Default: no cap.
    #[arg(long = "l1.max-blob-fee-gwei", env = "INFRA_L1_MAX_BLOB_FEE_GWEI")]
    max_blob_fee_gwei: Option<f64>,
    /// Where batch data goes: calldata, blob, or auto (the cheaper one now).
    #[arg(long = "batch.da", env = "INFRA_BATCH_DA", value_enum)]
    da: Option<DaArg>,
}

/// The zk prover (settlement = "zk").
#[derive(Debug, clap::Args)]
struct ProverArgs {
    /// Groth16 proving key file (infra-node prover-setup writes one). Without it
    /// only a dev chain runs, with keys from a public seed that anyone can forge
    /// proofs with.
    #[arg(id = "prover_key", long = "prover.key", env = "INFRA_PROVER_KEY")]
    key: Option<PathBuf>,
    /// --role prover: the sequencer's JSON-RPC URL (blocks and state witnesses).
    #[arg(long = "prover.sequencer-rpc", env = "INFRA_PROVER_SEQUENCER_RPC")]
    sequencer_rpc: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DaArg {
    Calldata,
    Blob,
    Auto,
}

impl From<DaArg> for infra_batcher::DataAvailability {
    fn from(d: DaArg) -> Self {
        match d {
            DaArg::Calldata => Self::Calldata,
            DaArg::Blob => Self::Blob,
            DaArg::Auto => Self::Auto,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deploys the L1 contracts (Poseidon, Rollup, Bridge) for a chain and writes
    /// the deployment file the sequencer reads.
    Deploy {
        #[arg(long = "l1.rpc", env = "INFRA_L1_RPC")]
        rpc: String,
        /// The deployer's key (hex); also the owner and batcher unless given.
        #[arg(long = "l1.key", env = "INFRA_L1_KEY", hide_env_values = true)]
        key: String,
        #[arg(long)]
        genesis: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the deployment file.
        #[arg(long, default_value = "deployment.json")]
        out: PathBuf,
        /// The batcher address (default: the deployer).
        #[arg(long)]
        batcher: Option<alloy::primitives::Address>,
        /// The owner address (default: the deployer).
        #[arg(long)]
        owner: Option<alloy::primitives::Address>,
        /// settlement = "zk": the proving key whose verifying key the rollup pins
        /// (a dev chain id may go without: public dev keys).
        #[arg(long = "prover.key", env = "INFRA_PROVER_KEY")]
        prover_key: Option<PathBuf>,
    },
    /// Generates Groth16 keys for the chain config's proof settings from this
    /// machine's randomness and writes the proving key file. A setup by one party:
    /// whoever runs it must be trusted to have kept no copy of its randomness.
    ProverSetup {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the proving key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Manages the API keys of a node's RPC gateway (stored hashed in its
    /// database; works while the node runs).
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// The fault-proof VM: runs the fault-proof program (program/) on a batch.
    Fpvm {
        #[command(subcommand)]
        action: FpvmCommand,
    },
    /// Print the genesis state root of a genesis file (for its NAME.roots.toml).
    GenesisRoot {
        #[arg(long)]
        genesis: PathBuf,
        /// Chain config whose curve to use (default: bn254 and bls12-381 both).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum FpvmCommand {
    /// Runs the program for one batch of a stopped node's datadir in the VM and
    /// prints the output it computes, the instruction count and the time, then
    /// `output matches the node: yes` (exit 0) or `... no` (exit 1). Bad
    /// arguments and batches the datadir does not hold exit 2; a batch that
    /// cannot be decided (pruned history, a VM or oracle failure) exits 3.
    Run {
        /// The node's datadir (stopped, or at least not writing).
        #[arg(long)]
        datadir: PathBuf,
        /// The batch, 0-based, as numbered on L1.
        #[arg(long)]
        batch: u64,
        /// Print the VM's state at step K and the proof of step K as JSON instead.
        #[arg(long)]
        step: Option<u64>,
        /// The program's ELF (default: scripts/build-program.sh's output).
        #[arg(long, env = "INFRA_PROGRAM_ELF")]
        elf: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Creates a key and prints its secret (shown this once only).
    Create {
        /// The node's datadir.
        #[arg(long)]
        datadir: PathBuf,
        /// The project the key belongs to.
        #[arg(long)]
        project: String,
        /// A label for the key.
        #[arg(long, default_value = "")]
        name: String,
        /// Allowed methods, comma-separated; `eth_*` allows a prefix (default: all).
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
        /// The key may not send transactions.
        #[arg(long = "read-only")]
        read_only: bool,
        /// Its own requests per second (default: the node's --rpc.key-rps).
        #[arg(long)]
        rps: Option<u32>,
        /// Its own burst (default: 2 x rps).
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Lists the keys (ids, projects, limits; never secrets).
    List {
        #[arg(long)]
        datadir: PathBuf,
    },
    /// Revokes a key by id (k_...): requests with it are refused from then on.
    Revoke {
        #[arg(long)]
        datadir: PathBuf,
        id: String,
    },
}

fn keys_command(action: &KeysCommand) -> Result<(), Failure> {
    let open = |datadir: &std::path::Path| -> Result<infra_storage::Store, Failure> {
        let db = datadir.join("db");
        if !db.join("mdbx.dat").exists() {
            return Err(usage(format!(
                "--datadir {}: no node database there (start the node with this datadir first)",
                datadir.display()
            )));
        }
        infra_storage::Store::open(&db).map_err(|e| eyre!("opening {}: {e}", db.display()).into())
    };
    let key_err = |e: infra_rpc::gateway::KeyError| match e {
        infra_rpc::gateway::KeyError::Invalid(m) => usage(format!("config: {m}")),
        infra_rpc::gateway::KeyError::Unknown(id) => {
            usage(format!("no API key with id {id:?} (infra-node keys list)"))
        }
        other => Failure::Runtime(eyre!(other)),
    };
    match action {
        KeysCommand::Create { datadir, project, name, methods, read_only, rps, burst } => {
            let store = open(datadir)?;
            let rate = match (rps, burst) {
                (None, None) => None,
                (Some(r), b) => Some(infra_rpc::Rate {
                    per_second: *r,
                    burst: b.unwrap_or(r.saturating_mul(2)),
                }),
                (None, Some(_)) => return Err(usage("--burst needs --rps")),
            };
            let new = infra_rpc::NewKey {
                project: project.clone(),
                name: name.clone(),
                methods: (!methods.is_empty()).then(|| methods.clone()),
                read_only: *read_only,
                rate,
            };
            let (secret, record) = infra_rpc::create_key(&store, new).map_err(key_err)?;
            println!(
                "id:      {}
project: {}
key:     {secret}

The key is shown this once only (the node stores its hash).
Use it as http://<node>/v1/{secret} or with the header X-API-Key: {secret}",
                record.id, record.project
            );
        }
        KeysCommand::List { datadir } => {
            let store = open(datadir)?;
            let keys = infra_rpc::list_keys(&store).map_err(key_err)?;
            println!(
                "{:<12} {:<16} {:<16} {:<8} {:<10} methods",
                "id", "project", "name", "status", "rate"
            );
            for k in keys {
                println!(
                    "{:<12} {:<16} {:<16} {:<8} {:<10} {}{}",
                    k.id,
                    k.project,
                    k.name,
                    if k.revoked { "revoked" } else { "active" },
                    k.rate
                        .map(|r| format!("{}/{}", r.per_second, r.burst))
                        .unwrap_or_else(|| "default".into()),
                    k.methods.map(|m| m.join(",")).unwrap_or_else(|| "all".into()),
                    if k.read_only { " (read-only)" } else { "" },
                );
            }
        }
        KeysCommand::Revoke { datadir, id } => {
            let store = open(datadir)?;
            let k = infra_rpc::revoke_key(&store, id).map_err(key_err)?;
            println!("revoked {} (project {})", k.id, k.project);
        }
    }
    Ok(())
}

/// The gateway settings from flags and `[rpc]`, checked.
fn gateway_config(
    cli: &Cli,
    file: &infra_config::RpcFileConfig,
) -> Result<infra_rpc::GatewayConfig, Failure> {
    let rate = |field: &str,
                rps: Option<u32>,
                burst: Option<u32>|
     -> Result<Option<infra_rpc::Rate>, Failure> {
        match rps {
            None | Some(0) => Ok(None),
            Some(r) => {
                let b = burst.unwrap_or(r.saturating_mul(2));
                if b == 0 {
                    return Err(usage(format!(
                        "config: rpc.{field}_burst = 0, must be at least 1"
                    )));
                }
                Ok(Some(infra_rpc::Rate { per_second: r, burst: b }))
            }
        }
    };
    let ip_rate = rate("ip", cli.rpc.ip_rps.or(file.ip_rps), cli.rpc.ip_burst.or(file.ip_burst))?;
    let key_rps = cli.rpc.key_rps.or(file.key_rps).unwrap_or(100);
    if key_rps == 0 {
        return Err(usage(
            "config: rpc.key_rps = 0, must be at least 1 (per-key limits always apply)",
        ));
    }
    let key_rate = rate("key", Some(key_rps), cli.rpc.key_burst.or(file.key_burst))?
        .unwrap_or(infra_rpc::Rate { per_second: key_rps, burst: key_rps.saturating_mul(2) });
    let cors = if !cli.rpc.cors.is_empty() {
        cli.rpc.cors.clone()
    } else if let Some(c) = &file.cors {
        c.clone()
    } else if cli.dev {
        vec!["*".to_string()]
    } else {
        vec![]
    };
    for o in &cors {
        let valid = o == "*"
            || ((o.starts_with("http://") || o.starts_with("https://"))
                && !o.trim_start_matches("http://").trim_start_matches("https://").contains('/'));
        if !valid {
            return Err(usage(format!(
                "config: rpc.cors = {o:?}, must be * or an origin such as https://app.example.com (scheme and host, no path)"
            )));
        }
    }
    Ok(infra_rpc::GatewayConfig {
        require_keys: cli.rpc.api_keys || file.api_keys.unwrap_or(false),
        cors,
        ip_rate,
        key_rate,
    })
}

/// A configuration error: printed, exit code 2.
struct UsageError(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("{},gr1cs=off,libmdbx=warn", cli.log))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().with_current_span(true).init(),
        LogFormat::Text => {
            logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init()
        }
    }
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
        Err(Failure::Code(code)) => ExitCode::from(code),
    }
}

enum Failure {
    Usage(UsageError),
    /// Exit with this code; the command has said why.
    Code(u8),
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

fn positive<T: PartialEq + Default + std::fmt::Display>(field: &str, v: T) -> Result<T, Failure> {
    if v == T::default() {
        return Err(usage(format!("config: {field} = 0, must be at least 1")));
    }
    Ok(v)
}

/// `mempool.queued-lifetime`: seconds, or a number with `s`, `m` or `h`.
fn lifetime(field: &str, v: &str) -> Result<std::time::Duration, Failure> {
    let v = v.trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 && scale > 0 => Ok(std::time::Duration::from_secs(n.saturating_mul(scale))),
        _ => Err(usage(format!(
            "config: {field} = {v:?}: a positive number of seconds, or one with a unit: 90s, 30m, 3h"
        ))),
    }
}

fn pool_limits(
    cli: &MempoolArgs,
    file: &infra_config::MempoolFileConfig,
) -> Result<infra_node_core::PoolLimits, Failure> {
    let d = infra_node_core::PoolLimits::default();
    Ok(infra_node_core::PoolLimits {
        max_pending: positive(
            "mempool.max_pending",
            cli.max_pending.or(file.max_pending).unwrap_or(d.max_pending),
        )?,
        max_queued: positive(
            "mempool.max_queued",
            cli.max_queued.or(file.max_queued).unwrap_or(d.max_queued),
        )?,
        max_pending_per_sender: positive(
            "mempool.max_pending_per_sender",
            cli.max_pending_per_sender
                .or(file.max_pending_per_sender)
                .unwrap_or(d.max_pending_per_sender),
        )?,
        max_queued_per_sender: positive(
            "mempool.max_queued_per_sender",
            cli.max_queued_per_sender
                .or(file.max_queued_per_sender)
                .unwrap_or(d.max_queued_per_sender),
        )?,
        queued_lifetime: match cli.queued_lifetime.as_ref().or(file.queued_lifetime.as_ref()) {
            Some(v) => lifetime("mempool.queued_lifetime", v)?,
            None => d.queued_lifetime,
        },
    })
}

fn parse_key(field: &str, key: &str) -> Result<alloy::signers::local::PrivateKeySigner, Failure> {
    key.trim().parse().map_err(|_| {
        usage(format!(
            "config: {field} is not a private key (64 hex digits, optionally 0x-prefixed)"
        ))
    })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(Command::Keys { action }) = &cli.command {
        return keys_command(action);
    }
    if let Some(Command::Fpvm { action: FpvmCommand::Run { datadir, batch, step, elf } }) =
        &cli.command
    {
        // 0 and 1: the output matches the node's or not; 2: bad arguments;
        // 3: the batch could not be decided (database, VM or oracle failure).
        let code =
            match tokio::task::block_in_place(|| fpvm::run(datadir, *batch, *step, elf.as_deref()))
            {
                Ok(code) => code,
                Err(Failure::Runtime(e)) => {
                    eprintln!("error: {e:#}");
                    3
                }
                Err(other) => return Err(other),
            };
        return if code == 0 { Ok(()) } else { Err(Failure::Code(code)) };
    }
    if let Some(Command::ProverSetup { config, out }) = &cli.command {
        let chain = match config {
            Some(p) => read_config(p)?.chain,
            None => infra_config::ChainConfig::default(),
        };
        chain.validate().map_err(|e| usage(e.to_string()))?;
        if chain.proof.system == infra_config::ProofSystem::Plonk {
            return Err(usage(
                "config: proof.system = \"plonk\": prover-setup makes Groth16 keys only; a PLONK chain takes KZG parameters from a powers-of-tau ceremony (a halo2 raw-format file, --prover.key on deploy and on the prover)",
            ));
        }
        let shape =
            infra_prover::Shape::new(chain.proof.chunk_writes as usize, chain.proof.depth as usize);
        let out = out.clone();
        let curve = chain.proof.curve;
        let hash = tokio::task::spawn_blocking(move || {
            infra_prover::setup_random_to_file(curve, shape, &out)
        })
        .await
        .map_err(|e| eyre!(e))?
        .map_err(|e| eyre!(e))?;
        println!("verifying key hash {hash}");
        return Ok(());
    }
    if let Some(Command::Deploy { rpc, key, genesis, config, out, batcher, owner, prover_key }) =
        &cli.command
    {
        let (g, _) = load_genesis(genesis).map_err(|e| usage(e.to_string()))?;
        let chain = match config {
            Some(p) => read_config(p)?.chain,
            None => infra_config::ChainConfig { chain_id: g.config.chain_id, ..Default::default() },
        };
        chain.validate().map_err(|e| usage(e.to_string()))?;
        let signer = parse_key("--l1.key", key)?;
        let vk =
            zk_prover(&chain, prover_key.clone(), chain.chain_id == infra_config::DEV_CHAIN_ID)
                .await?
                .map(|p| p.l1_verifier())
                .transpose()
                .map_err(|e| usage(format!("config: {e}")))?;
        let deployment =
            infra_node_core::deploy_contracts(rpc, signer, &chain, &g, *owner, *batcher, vk)
                .await?;
        deployment.write(out).map_err(|e| eyre!(e))?;
        println!("{}", serde_json::to_string_pretty(&deployment).map_err(|e| eyre!(e))?);
        eprintln!("wrote {}", out.display());
        return Ok(());
    }
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
    let validator = match cli.role {
        Role::Sequencer => false,
        Role::Validator => {
            if cli.dev {
                return Err(usage(
                    "--dev runs a sequencer (with its own L1); start a validator of it with --role validator --genesis genesis/dev.json --l1.rpc <its L1 RPC URL> --deployment <its datadir>/l1/deployment.json --p2p.bootnode <its p2p address>",
                ));
            }
            true
        }
        Role::Prover => return run_prover(&cli).await,
    };
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
            return Err(usage(format!(
                "--genesis FILE is required for --role {} (or use --dev)",
                if validator { "validator" } else { "sequencer" }
            )));
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
    let mut cfg = NodeConfig {
        datadir: datadir.clone(),
        chain: chain.clone(),
        genesis,
        genesis_roots: roots,
        rpc: RpcConfig {
            max_request_bytes,
            max_connections: cli.rpc.max_connections.or(file.rpc.max_connections).unwrap_or(1_000),
            max_batch: positive(
                "rpc.max_batch",
                cli.rpc.max_batch.or(file.rpc.max_batch).unwrap_or(100),
            )?,
            max_response_bytes: positive(
                "rpc.max_response_bytes",
                cli.rpc
                    .max_response_bytes
                    .or(file.rpc.max_response_bytes)
                    .unwrap_or(50 * 1024 * 1024),
            )?,
            max_logs_range: positive(
                "rpc.max_logs_range",
                cli.rpc.max_logs_range.or(file.rpc.max_logs_range).unwrap_or(10_000),
            )?,
            gateway: gateway_config(&cli, &file.rpc)?,
            ..RpcConfig::new(SocketAddr::new(ip, port))
        },
        empty_blocks: cli.sequencer.empty_blocks || file.sequencer.empty_blocks.unwrap_or(false),
        min_tip_wei: cli.mempool.min_tip_wei.or(file.mempool.min_tip_wei).unwrap_or(0),
        pool_limits: pool_limits(&cli.mempool, &file.mempool)?,
        l1: None,
        validator: None,
        p2p: None,
        accept_blobs: false,
        state_history: match (&cli.state.history, &file.state.history) {
            (Some(v), _) => v.parse(),
            (None, Some(v)) => v.to_string().parse(),
            (None, None) => Ok(infra_storage::StateHistory::DEFAULT),
        }
        .map_err(|e| usage(format!("config: {e}")))?,
        fault_program: cli.state.fault_program.clone(),
    };
    let tuning = l1_tuning(&cli, cli.dev && cli.l1.rpc.is_none())?;
    if cli.sequencer.test_faulty_root_every.is_some() && validator {
        return Err(usage("--sequencer.test-faulty-root-every is a sequencer flag"));
    }
    if cli.sequencer.test_forge_withdrawals && cli.sequencer.test_faulty_root_every.is_none() {
        return Err(usage(
            "config: --sequencer.test-forge-withdrawals needs --sequencer.test-faulty-root-every (it picks which wrong roots forge a withdrawal)",
        ));
    }
    if cli.sequencer.test_lying_defence && cli.sequencer.test_faulty_root_every.is_none() {
        return Err(usage(
            "config: --sequencer.test-lying-defence needs --sequencer.test-faulty-root-every (it defends the wrong roots that flag makes)",
        ));
    }
    if let Some(n) = cli.sequencer.test_faulty_root_every {
        if chain.chain_id != infra_config::DEV_CHAIN_ID {
            return Err(usage(format!(
                "config: --sequencer.test-faulty-root-every makes the sequencer claim wrong state roots: tests only, refused unless the chain id is the dev chain id {} (this chain: {})",
                infra_config::DEV_CHAIN_ID,
                chain.chain_id
            )));
        }
        if n == 0 {
            return Err(usage("config: --sequencer.test-faulty-root-every = 0, must be >= 1"));
        }
    }
    cfg.p2p = p2p_settings(&cli, validator, port)?;
    let game_key = match &cli.l1.game_key {
        Some(_) if validator || (cli.l1.rpc.is_none() && !cli.dev) => {
            return Err(usage(
                "--l1.game-key is a sequencer's key for fault games on its outputs: with --l1.rpc or --dev (a validator plays with --l1.key)",
            ));
        }
        Some(k) => Some(parse_key("--l1.game-key", k)?),
        None => None,
    };
    let mut dev_l1 = None;
    if validator {
        let need = |what: &str| usage(format!("{what} is required for --role validator"));
        let rpc =
            cli.l1.rpc.clone().ok_or_else(|| need("--l1.rpc (the L1 the chain settles to)"))?;
        let path =
            cli.l1.deployment.as_ref().ok_or_else(|| need("--deployment (the deployment file)"))?;
        let deployment =
            infra_l1::Deployment::read(path).map_err(|e| usage(format!("config: {e}")))?;
        // A validator's L1 key bonds and disputes wrong outputs.
        let challenger_key = match &cli.l1.key {
            Some(k) => Some(parse_key("--l1.key", k)?),
            None => None,
        };
        cfg.validator = Some(infra_node_core::ValidatorSettings {
            l1_rpc: rpc,
            deployment,
            poll: tuning.poll,
            challenger_key,
        });
    }
    cfg.l1 = match (&cli.l1.rpc, &cli.l1.deployment, cli.dev) {
        _ if validator => None,
        (Some(rpc), Some(path), _) => {
            let key = cli.l1.key.as_deref().ok_or_else(|| {
                usage("--l1.key (or INFRA_L1_KEY) is required with --l1.rpc: the batcher signs L1 transactions")
            })?;
            let deployment =
                infra_l1::Deployment::read(path).map_err(|e| usage(format!("config: {e}")))?;
            Some(tuning.settings(rpc.clone(), deployment, parse_key("--l1.key", key)?))
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err(usage(
                "--l1.rpc and --deployment go together (deploy first: infra-node deploy --help)",
            ));
        }
        (None, None, true) => {
            let l1 = infra_devnet::start_l1(
                datadir.join("l1"),
                // The L2's RPC port + 1 (8546 by default), as the README says;
                // any free port when the L2's is 0.
                Some(if port == 0 { 0 } else { port.saturating_add(1) }),
            )
            .await
            .wrap_err("starting the embedded dev L1")?;
            let deployer = infra_config::dev_signer(infra_devnet::DEV_BATCHER_INDEX)
                .map_err(|e| eyre!("dev key: {e}"))?;
            let prover = zk_prover(&cfg.chain, cli.prover.key.clone(), true).await?;
            // A kept --datadir keeps its L1 and its contracts.
            let file = datadir.join("l1").join("deployment.json");
            let deployment = if file.exists() {
                infra_l1::Deployment::read(&file).map_err(|e| eyre!(e))?
            } else {
                // Each deployment transaction is sealed as it arrives, not on
                // the next 1-second L1 block.
                l1.set_instant_seal(true);
                let d = infra_node_core::deploy_contracts(
                    &l1.http_url,
                    deployer.clone(),
                    &cfg.chain,
                    &cfg.genesis,
                    None,
                    None,
                    prover
                        .as_ref()
                        .map(|p| p.l1_verifier())
                        .transpose()
                        .map_err(|e| usage(format!("config: {e}")))?,
                )
                .await
                .wrap_err("deploying the contracts to the dev L1")?;
                l1.set_instant_seal(false);
                d.write(&file).map_err(|e| eyre!(e))?;
                d
            };
            let mut settings = tuning.settings(l1.http_url.clone(), deployment, deployer);
            settings.prover = match prover {
                Some(prover) => Some(infra_node_core::ProverSettings {
                    prover,
                    key: infra_config::dev_signer(infra_devnet::DEV_PROVER_INDEX)
                        .map_err(|e| eyre!("dev key: {e}"))?,
                    max_batches: 64,
                    max_chunks: 16,
                }),
                None => None,
            };
            dev_l1 = Some(l1);
            Some(settings)
        }
        (None, None, false) => None,
    };
    if let Some(l1) = cfg.l1.as_mut() {
        l1.game_key = game_key;
        l1.faulty_root_every = cli.sequencer.test_faulty_root_every;
        l1.forge_withdrawals = cli.sequencer.test_forge_withdrawals;
        l1.lying_defence = cli.sequencer.test_lying_defence;
    }
    let l1_info = cfg
        .l1
        .as_ref()
        .map(|l| (l.rpc_url.clone(), l.deployment.clone()))
        .or_else(|| cfg.validator.as_ref().map(|v| (v.l1_rpc.clone(), v.deployment.clone())));
    let node = start_node(cfg).await?;
    print_banner(&cli, &chain, &node, &datadir, &genesis_name, l1_info.as_ref())?;
    let cancel = node.cancel_token();
    let l1_cancel = dev_l1.as_ref().map(|l| l.node.cancel_token());
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(target: "node", "shutting down");
        cancel.cancel();
        if let Some(c) = l1_cancel {
            c.cancel();
        }
    });
    node.wait().await?;
    if let Some(l1) = dev_l1 {
        l1.node.cancel_token().cancel();
        l1.node.wait().await?;
    }
    Ok(())
}

/// The network settings the flags ask for (`None`: no network).
fn p2p_settings(
    cli: &Cli,
    validator: bool,
    rpc_port: u16,
) -> Result<Option<infra_node_core::P2pSettings>, Failure> {
    if cli.p2p.disable {
        return Ok(None);
    }
    let listen = match (&cli.p2p.listen, cli.dev, validator) {
        (Some(l), _, _) => l.clone(),
        (None, true, _) => {
            format!(
                "/ip4/127.0.0.1/tcp/{}",
                if rpc_port == 0 { 0 } else { rpc_port.saturating_add(2) }
            )
        }
        (None, false, true) => "/ip4/0.0.0.0/tcp/30333".into(),
        (None, false, false) if !cli.p2p.bootnodes.is_empty() => "/ip4/0.0.0.0/tcp/30333".into(),
        (None, false, false) => return Ok(None),
    };
    let listen = listen.parse().map_err(|e| {
        usage(format!(
            "config: p2p.listen = {listen:?} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/30333): {e}"
        ))
    })?;
    let bootnodes = cli
        .p2p
        .bootnodes
        .iter()
        .map(|b| {
            b.trim().parse().map_err(|e| {
                usage(format!(
                    "config: p2p.bootnode = {b:?} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3Koo...): {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signer = match (&cli.sequencer.key, validator, cli.dev) {
        (_, true, _) => None,
        (Some(k), false, _) => Some(parse_key("--sequencer.key", k)?),
        (None, false, true) => Some(
            infra_config::dev_signer(infra_devnet::DEV_BATCHER_INDEX)
                .map_err(|e| eyre!("dev key: {e}"))?,
        ),
        (None, false, false) => {
            return Err(usage(
                "--sequencer.key (or INFRA_SEQUENCER_KEY) is required for a sequencer on the network: it signs the blocks peers accept (its address must be chain.sequencer)",
            ));
        }
    };
    Ok(Some(infra_node_core::P2pSettings { listen, bootnodes, signer }))
}

/// The L1 options of the command line, checked before anything starts.
struct L1Tuning {
    confirmations: u64,
    poll: std::time::Duration,
    da: infra_batcher::DataAvailability,
    sender: infra_l1::SenderConfig,
}

impl L1Tuning {
    fn settings(
        self,
        rpc_url: String,
        deployment: infra_l1::Deployment,
        batcher_key: alloy::signers::local::PrivateKeySigner,
    ) -> infra_node_core::L1Settings {
        infra_node_core::L1Settings {
            rpc_url,
            deployment,
            batcher_key,
            game_key: None,
            confirmations: self.confirmations,
            poll: self.poll,
            da: self.da,
            sender: self.sender,
            prover: None,
            faulty_root_every: None,
            faulty_root_limit: None,
            forge_withdrawals: false,
            lying_defence: false,
        }
    }
}

/// `--role prover`: follows the rollup on L1 and the sequencer's RPC for state,
/// proves the pending batches and sends the proofs with `--l1.key`.
async fn run_prover(cli: &Cli) -> Result<(), Failure> {
    let need = |what: &str| usage(format!("{what} is required for --role prover"));
    let chain = match &cli.config {
        Some(p) => read_config(p)?.chain,
        None => infra_config::ChainConfig::default(),
    };
    chain.validate().map_err(|e| usage(e.to_string()))?;
    let rpc = cli.l1.rpc.as_deref().ok_or_else(|| need("--l1.rpc (the L1)"))?;
    let path = cli.l1.deployment.as_ref().ok_or_else(|| need("--deployment FILE"))?;
    let key = cli
        .l1
        .key
        .as_deref()
        .ok_or_else(|| need("--l1.key (or INFRA_L1_KEY: the prover's L1 key)"))?;
    let seq = cli
        .prover
        .sequencer_rpc
        .as_deref()
        .ok_or_else(|| need("--prover.sequencer-rpc URL (the sequencer's JSON-RPC)"))?;
    let datadir = cli.datadir.as_ref().ok_or_else(|| need("--datadir PATH (the proof journal)"))?;
    let d = infra_l1::Deployment::read(path).map_err(|e| usage(format!("config: {e}")))?;
    if d.settlement != "zk" {
        return Err(usage(format!(
            "deployment: settlement = {:?}; --role prover needs a zk deployment",
            d.settlement
        )));
    }
    if d.l2_chain_id != chain.chain_id {
        return Err(usage(format!(
            "deployment: l2ChainId = {}, but the config's chain.chain_id is {}",
            d.l2_chain_id, chain.chain_id
        )));
    }
    let signer = parse_key("--l1.key", key)?;
    let tuning = l1_tuning(cli, false)?;
    let dev_chain = chain.chain_id == infra_config::DEV_CHAIN_ID;
    let prover = zk_prover(&chain, cli.prover.key.clone(), dev_chain)
        .await?
        .ok_or_else(|| usage("config: settlement = \"optimistic\"; --role prover needs \"zk\""))?;
    if d.vk_hash != Some(prover.verifying_key_hash()) {
        return Err(usage(format!(
            "deployment: the rollup pins verifying key {:?}, this prover's is {} (another key file, proof.curve, proof.chunk_writes or proof.depth?)",
            d.vk_hash,
            prover.verifying_key_hash()
        )));
    }
    std::fs::create_dir_all(datadir).wrap_err_with(|| format!("creating {}", datadir.display()))?;
    let provider = infra_l1::connect(rpc).map_err(|e| usage(format!("config: {e}")))?;
    let sender = infra_l1::TxSender::new(provider, signer, tuning.sender.clone())
        .await
        .wrap_err_with(|| format!("connecting to the L1 at {rpc}"))?;
    if sender.chain_id() != d.l1_chain_id {
        return Err(usage(format!(
            "deployment: l1ChainId = {}, but the L1 at {rpc} has chain id {}",
            d.l1_chain_id,
            sender.chain_id()
        )));
    }
    let seq_rpc = infra_l1::connect(seq)
        .map_err(|e| usage(format!("config: --prover.sequencer-rpc: {e}")))?;
    let actor = infra_node_core::ProverActor {
        state: infra_node_core::RemoteState { rpc: seq_rpc },
        journal: datadir.join("prover-journal.bin"),
        rollup: d.rollup,
        sender: std::sync::Arc::new(sender),
        settings: infra_node_core::ProverSettings {
            prover,
            key: parse_key("--l1.key", key)?,
            max_batches: 64,
            max_chunks: 16,
        },
        poll: tuning.poll,
    };
    println!(
        "infra-node {} — prover\nL1:           {rpc}\nRollup:       {}\nVerifier:     {:?} (key {:?})\nSequencer:    {seq}\nProof system: groth16 over {} ({} writes per chunk, depth {})\nProver key:   {}\n",
        env!("CARGO_PKG_VERSION"),
        d.rollup,
        d.verifier,
        d.vk_hash,
        chain.proof.curve,
        chain.proof.chunk_writes,
        chain.proof.depth,
        actor.sender.address(),
    );
    let mut supervisor = infra_bus::Supervisor::new();
    let cancel = supervisor.cancel_token();
    supervisor.spawn(actor);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(target: "node", "shutting down");
        cancel.cancel();
    });
    supervisor.join().await.map_err(|e| eyre!(e))?;
    Ok(())
}

/// zk settlement: the prover (its verifying key goes to the verifier on L1).
/// `None` for an optimistic chain.
async fn zk_prover(
    chain: &infra_config::ChainConfig,
    key_file: Option<PathBuf>,
    allow_insecure: bool,
) -> Result<Option<std::sync::Arc<dyn infra_prover::Prover>>, Failure> {
    if chain.settlement != infra_config::Settlement::Zk {
        return Ok(None);
    }
    let chain = chain.clone();
    let prover = tokio::task::spawn_blocking(move || {
        infra_node_core::build_prover(&chain, key_file.as_deref(), allow_insecure)
    })
    .await
    .map_err(|e| eyre!(e))??;
    Ok(Some(prover))
}

fn l1_tuning(cli: &Cli, dev: bool) -> Result<L1Tuning, Failure> {
    let poll_ms = cli.l1.poll_ms.unwrap_or(if dev { 500 } else { 2_000 });
    if !(50..=60_000).contains(&poll_ms) {
        return Err(usage(format!("config: l1.poll_ms = {poll_ms}, must be 50..=60000")));
    }
    let confirmations = cli.l1.confirmations.unwrap_or(if dev { 1 } else { 6 });
    if confirmations > 1_000 {
        return Err(usage(format!("config: l1.confirmations = {confirmations}, must be 0..=1000")));
    }
    let gwei = |field: &str, v: Option<f64>| -> Result<Option<u128>, Failure> {
        match v {
            None => Ok(None),
            Some(g) if g.is_finite() && g > 0.0 && g <= 1e9 => Ok(Some((g * 1e9).round() as u128)),
            Some(g) => {
                Err(usage(format!("config: {field} = {g}, must be a number of gwei in (0, 1e9]")))
            }
        }
    };
    let max_fee_per_gas = gwei("l1.max_fee_gwei", cli.l1.max_fee_gwei)?;
    let max_fee_per_blob_gas = gwei("l1.max_blob_fee_gwei", cli.l1.max_blob_fee_gwei)?;
    Ok(L1Tuning {
        confirmations,
        poll: std::time::Duration::from_millis(poll_ms),
        da: cli.l1.da.unwrap_or(DaArg::Auto).into(),
        sender: infra_l1::SenderConfig {
            resubmit_after: std::time::Duration::from_millis(if dev { 6_000 } else { 36_000 }),
            poll: std::time::Duration::from_millis(poll_ms.min(1_000)),
            max_fee_per_gas,
            max_fee_per_blob_gas,
            ..Default::default()
        },
    })
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
    l1: Option<&(String, infra_l1::Deployment)>,
) -> eyre::Result<()> {
    let url = format!("http://{}", node.rpc_addr);
    let ws = format!("ws://{}", node.rpc_addr);
    let mut out = String::new();
    out.push_str(&format!(
        "\ninfra-node {} — {}\n",
        env!("CARGO_PKG_VERSION"),
        if cli.dev {
            "dev chain"
        } else if node.derivation.is_some() {
            "validator"
        } else {
            "sequencer"
        }
    ));
    out.push_str(&format!(
        "Chain id:     {}\nRPC URL:      {url}\nWebSocket:    {ws}\nDashboard:    {url}/dashboard\nMetrics:      {url}/metrics  (health: /health, readiness: /ready)\n",
        chain.chain_id
    ));
    if cli.rpc.api_keys {
        out.push_str("API keys:     required (use /v1/<key>; create one with: infra-node keys create --datadir <datadir> --project <name>)\n");
    }
    out.push_str(&format!(
        "Block time:   {} ms\nDatadir:      {}\nGenesis:      {genesis} ({})\nHead:         {}\n",
        chain.block_time_ms,
        datadir.display(),
        node.genesis_hash,
        node.head
    ));
    if let Some((url, d)) = l1 {
        out.push_str(&format!(
            "\nL1 RPC URL:   {url}{}\nL1 chain id:  {}\nRollup:       {}\nBridge:       {}  (send ETH to it, or call depositETH, to deposit to L2)\nPoseidon:     {}\nSettlement:   {}\nBatcher:      {}\n",
            if cli.dev { " (embedded dev L1)" } else { "" },
            d.l1_chain_id,
            d.rollup,
            d.bridge,
            d.poseidon,
            if d.settlement == "zk" {
                "zk (an output is final when L1 verifies its proof)".to_string()
            } else {
                match &d.fault_game {
                    Some(g) => format!(
                        "{} (challenge period {} s; fault game: each side's clock {} s, {} s extension after a late move, {} levels)",
                        d.settlement, d.challenge_period_s, g.max_clock_s, g.clock_extension_s, g.max_depth
                    ),
                    None => format!("{} (challenge period {} s)", d.settlement, d.challenge_period_s),
                }
            },
            d.batcher,
        ));
        if let (Some(verifier), Some(key)) = (d.verifier, d.vk_hash) {
            out.push_str(&format!(
                "Verifier:     {verifier}  ({} over {}, {} writes per chunk at depth {}, key hash {key}; prover backend {})\n",
                match chain.proof.system {
                    infra_config::ProofSystem::Groth16 => "Groth16",
                    infra_config::ProofSystem::Plonk => "PLONK (halo2, KZG)",
                },
                chain.proof.curve,
                chain.proof.chunk_writes,
                chain.proof.depth,
                match chain.proof.backend {
                    infra_config::ProofBackend::Cpu => "cpu",
                    infra_config::ProofBackend::Cuda => "cuda (GPU)",
                }
            ));
            if cli.dev {
                out.push_str(&format!(
                    "Prover:       in this process, sending from dev account ({}); keys from a PUBLIC seed: not a production setup\n",
                    infra_devnet::DEV_PROVER_INDEX
                ));
            }
        }
    }
    if let Some(p2p) = &node.p2p {
        let s = p2p.lock().map_err(|_| eyre!("p2p status"))?.clone();
        for addr in &s.listen_addrs {
            out.push_str(&format!("P2P address:  {addr}/p2p/{}\n", s.peer_id));
        }
    }
    if cli.dev {
        out.push_str(
            "\nAvailable accounts (10000 ETH each on L2 and on the dev L1)\n==================\n",
        );
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
