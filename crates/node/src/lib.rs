#![doc = include_str!("../README.md")]

use alloy::genesis::Genesis;
use alloy::primitives::Address;
use eyre::{WrapErr, bail, eyre};
use infra_batcher::{BatchPoster, DataAvailability, PosterConfig};
use infra_bus::{Actor, ActorError, Bus, CancellationToken, DepositInbox, Supervisor};
use infra_config::{ChainConfig, GenesisRoots};
use infra_derivation::{ChainLock, Deriver, DeriverActor, DeriverConfig};
use infra_l1::{Deployment, DepositWatcher, SenderConfig, TxSender, WatcherConfig};
use infra_mempool::{Mempool, PoolConfig};
use infra_rpc::{RpcConfig, RpcContext, RpcServer};
use infra_sequencer::{BlockBuilder, InstantSeal, SequencerActor, genesis_block};
use infra_state::TreeHasher;
use infra_storage::Store;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

mod ops;

pub use infra_derivation::{BatchVerdict, DerivationStatus};
pub use infra_mempool::PoolLimits;
pub use infra_prover::service::{LocalState, ProverActor, ProverSettings, RemoteState};

/// The L1 this sequencer settles to.
#[derive(Debug, Clone)]
pub struct L1Settings {
    pub rpc_url: String,
    pub deployment: Deployment,
    /// The batcher's key (the deployment's `batcher` address).
    pub batcher_key: alloy::signers::local::PrivateKeySigner,
    /// The key this sequencer plays fault games on its outputs with, from its
    /// own sender, so its moves never wait behind a post (`--l1.game-key`);
    /// `None`: the batcher key (its moves then go before posts waiting for
    /// their turn, not before one already sent).
    pub game_key: Option<alloy::signers::local::PrivateKeySigner>,
    /// Deposits are read this many L1 blocks below the head.
    pub confirmations: u64,
    pub poll: Duration,
    pub da: DataAvailability,
    pub sender: SenderConfig,
    /// zk settlement: prove batches in this process (`--dev`).
    pub prover: Option<ProverSettings>,
    /// Tests only, dev chains only: claim a wrong state root for every batch
    /// whose index is a multiple of this (`--sequencer.test-faulty-root-every`).
    pub faulty_root_every: Option<u64>,
    /// Tests only (no flag), with `faulty_root_every`: at most this many wrong
    /// roots in all.
    pub faulty_root_limit: Option<u64>,
    /// Tests only, with `faulty_root_every`: every second wrong root records a
    /// forged withdrawal (`--sequencer.test-forge-withdrawals`).
    pub forge_withdrawals: bool,
    /// Tests only, with `faulty_root_every`: the sequencer defends its wrong
    /// roots in the fault game with a made-up trace
    /// (`--sequencer.test-lying-defence`).
    pub lying_defence: bool,
}

/// The node's libp2p network.
#[derive(Debug, Clone)]
pub struct P2pSettings {
    pub listen: infra_p2p::Multiaddr,
    pub bootnodes: Vec<infra_p2p::Multiaddr>,
    /// A sequencer's block-signing key (its address must be `chain.sequencer`).
    pub signer: Option<alloy::signers::local::PrivateKeySigner>,
}

/// A validator: derives the chain from the L1 the deployment lives on.
#[derive(Debug, Clone)]
pub struct ValidatorSettings {
    pub l1_rpc: String,
    pub deployment: Deployment,
    pub poll: Duration,
    /// With the deployment's dispute game: the key that bonds and disputes wrong
    /// outputs (`None`: report them only).
    pub challenger_key: Option<alloy::signers::local::PrivateKeySigner>,
}

/// Everything a sequencer process needs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub datadir: PathBuf,
    pub chain: ChainConfig,
    pub genesis: Genesis,
    /// The roots recorded for this genesis file, checked at first start.
    pub genesis_roots: Option<GenesisRoots>,
    pub rpc: RpcConfig,
    pub empty_blocks: bool,
    pub min_tip_wei: u64,
    /// The pool's limits (pending/queued, per sender and in all; queued lifetime).
    pub pool_limits: infra_mempool::PoolLimits,
    /// `None`: an L2 chain without an L1 (no deposits, no batches).
    pub l1: Option<L1Settings>,
    /// `Some`: this node is a validator (no sequencing; `l1` must be `None`).
    pub validator: Option<ValidatorSettings>,
    /// `Some`: join the chain's peer-to-peer network.
    pub p2p: Option<P2pSettings>,
    /// Accept EIP-4844 blob transactions and serve their blobs: the embedded dev
    /// L1 only.
    pub accept_blobs: bool,
    /// How much past state to keep for queries at past blocks.
    pub state_history: infra_storage::StateHistory,
    /// The fault-proof program's ELF (`None`: `$INFRA_PROGRAM_ELF`, else where
    /// scripts/build-program.sh leaves it). Needed to play the fault game.
    pub fault_program: Option<PathBuf>,
}

/// Where the fault-proof program is looked for when not given.
pub fn default_fault_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("INFRA_PROGRAM_ELF") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(
        ".cache/infra-node/program-target/riscv64imac-unknown-none-elf/program/infra-program",
    ))
}

/// Reads the fault-proof program and checks it is the committed build, and
/// that the deployed game runs it (its absolute prestate).
fn load_fault_program(
    path: Option<&std::path::Path>,
    game: &infra_l1::GameAddresses,
) -> Result<Arc<Vec<u8>>, String> {
    let path = path.map(PathBuf::from).or_else(default_fault_program).ok_or_else(|| {
        "no path for the fault-proof program (set INFRA_PROGRAM_ELF or --fpvm.elf)".to_string()
    })?;
    let elf = std::fs::read(&path).map_err(|e| {
        format!(
            "the fault-proof program {}: {e} (build it with scripts/build-program.sh, or pass --fpvm.elf)",
            path.display()
        )
    })?;
    let hash = alloy::primitives::keccak256(&elf);
    if Some(hash) != infra_challenger::committed_elf_hash() {
        return Err(format!(
            "the fault-proof program {} has keccak256 {hash}, not the committed build's (program/PRESTATE)",
            path.display()
        ));
    }
    if Some(game.absolute_prestate) != infra_challenger::committed_prestate() {
        return Err(format!(
            "the deployed fault game runs the program with prestate {}, not this node's (program/PRESTATE): another version deployed it",
            game.absolute_prestate
        ));
    }
    Ok(Arc::new(elf))
}

/// A started node.
#[derive(Debug)]
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub genesis_hash: alloy::primitives::B256,
    pub state_root: alloy::primitives::B256,
    pub head: u64,
    /// A validator's derivation progress.
    pub derivation: Option<Arc<std::sync::Mutex<infra_derivation::DerivationStatus>>>,
    /// The network, when joined.
    pub p2p: Option<Arc<std::sync::Mutex<infra_p2p::P2pStatus>>>,
    /// The dispute-game player (a validator's challenger, a sequencer's defence).
    pub disputes: Option<Arc<std::sync::Mutex<infra_challenger::PlayerStatus>>>,
    /// A sequencer's switch for sealing on each pooled transaction.
    pub instant_seal: Option<InstantSeal>,
    /// Tests only: the withdrawals a faulty sequencer forged
    /// (`--sequencer.test-forge-withdrawals`).
    pub forged_withdrawals: Option<Arc<std::sync::Mutex<Vec<infra_batcher::ForgedWithdrawal>>>>,
    /// The node's database (read by tests and tools in-process).
    pub store: Store,
    supervisor: Supervisor,
    cancel: CancellationToken,
}

impl RunningNode {
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until cancelled or an actor fails.
    pub async fn wait(self) -> eyre::Result<()> {
        self.supervisor.join().await.map_err(|e| eyre!(e))
    }
}

struct RpcActor(RpcServer);

impl Actor for RpcActor {
    const NAME: &'static str = "rpc";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        tokio::select! {
            _ = cancel.cancelled() => {
                let _ = self.0.handle.stop();
                // Connections end (and release the database) before the node
                // counts as stopped.
                let _ = tokio::time::timeout(Duration::from_secs(5), self.0.handle.clone().stopped()).await;
                Ok(())
            }
            _ = self.0.handle.clone().stopped() => Err(ActorError { actor: Self::NAME, message: "server stopped".into() }),
        }
    }
}

/// The genesis state root of `genesis` for `chain`'s curve.
pub fn genesis_root(
    chain: &ChainConfig,
    genesis: &Genesis,
) -> eyre::Result<alloy::primitives::B256> {
    let hasher = TreeHasher::new(chain.state_curve());
    Ok(genesis_block(chain, genesis, &hasher)?.0.header.state_root)
}

/// The genesis block hash and state root of `genesis` for `chain`.
pub fn genesis_info(
    chain: &ChainConfig,
    genesis: &Genesis,
) -> eyre::Result<(alloy::primitives::B256, alloy::primitives::B256)> {
    let hasher = TreeHasher::new(chain.state_curve());
    let block = genesis_block(chain, genesis, &hasher)?.0;
    Ok((block.hash, block.header.state_root))
}

/// Deploys the L1 contracts for `chain` (with `genesis`) through the L1 at
/// `rpc_url`, signed by `signer` (also owner and batcher unless given).
pub async fn deploy_contracts(
    rpc_url: &str,
    signer: alloy::signers::local::PrivateKeySigner,
    chain: &ChainConfig,
    genesis: &Genesis,
    owner: Option<alloy::primitives::Address>,
    batcher: Option<alloy::primitives::Address>,
    verifier: Option<infra_l1::ZkVerifier>,
) -> eyre::Result<Deployment> {
    let hasher = TreeHasher::new(chain.state_curve());
    let genesis_header = genesis_block(chain, genesis, &hasher)?.0.header;
    let (hash, root) = (genesis_header.hash_slow(), genesis_header.state_root);
    let next_base_fee = infra_execution::base_fee_after(chain, &genesis_header);
    let provider = infra_l1::connect(rpc_url).map_err(|e| eyre!("config: {e}"))?;
    let me = signer.address();
    let sender = TxSender::new(provider, signer, SenderConfig::default())
        .await
        .wrap_err_with(|| format!("connecting to the L1 at {rpc_url}"))?;
    let params = infra_l1::DeployParams {
        l2_chain_id: chain.chain_id,
        owner: owner.unwrap_or(me),
        batcher: batcher.unwrap_or(me),
        optimistic: chain.settlement == infra_config::Settlement::Optimistic,
        challenge_period_s: chain.challenge_period_s,
        bls12_381: chain.state_curve() == infra_config::Curve::Bls12_381,
        genesis_state_root: root,
        genesis_block_hash: hash,
        genesis_next_base_fee: next_base_fee,
        verifier,
        game: (chain.settlement == infra_config::Settlement::Optimistic)
            .then(|| {
                Ok::<_, eyre::Report>(infra_l1::FaultGameParams {
                    absolute_prestate: infra_challenger::committed_prestate()
                        .ok_or_else(|| eyre!("program/PRESTATE has no absolute_prestate"))?,
                    max_depth: chain.game_max_depth,
                    max_clock_s: chain.game_clock(),
                    clock_extension_s: chain.game_clock_extension(),
                    base_bond: chain.game_bond,
                    output_bond: chain.output_bond,
                })
            })
            .transpose()?,
        chain_input: infra_stf::claim::ClaimChain {
            params: infra_execution::chain_params(chain),
            curve: chain.state_curve(),
        }
        .encode()
        .into(),
    };
    Ok(infra_l1::deploy(&sender, &params).await?)
}

/// Opens the datadir, initialises or checks the genesis, and starts the node: the
/// sequencer (or, with `cfg.validator`, derivation from L1) and the RPC server.
pub async fn start_node(cfg: NodeConfig) -> eyre::Result<RunningNode> {
    cfg.chain.validate()?;
    if cfg.validator.is_some() && cfg.l1.is_some() {
        bail!("config: a validator does not sequence: it takes no batcher L1 settings");
    }
    if cfg.genesis.config.chain_id != cfg.chain.chain_id {
        bail!(
            "config: chain.chain_id = {}, must equal the genesis file's config.chainId ({})",
            cfg.chain.chain_id,
            cfg.genesis.config.chain_id
        );
    }
    let hasher = TreeHasher::new(cfg.chain.state_curve());
    let store = Store::open(&cfg.datadir.join("db"))
        .wrap_err("opening the database")?
        .with_history(cfg.state_history);
    // A node that will play fault games prunes no state before its player's
    // first round has pinned what its claims are rebuilt from (a block
    // committed before that could otherwise prune it, after a restart).
    let plays = cfg.l1.as_ref().is_some_and(|l| l.deployment.fault_game.is_some())
        || cfg
            .validator
            .as_ref()
            .is_some_and(|v| v.challenger_key.is_some() && v.deployment.fault_game.is_some());
    if plays {
        store.keep_state_from(0);
    }
    let (genesis, changes, nodes) = genesis_block(&cfg.chain, &cfg.genesis, &hasher)?;
    if let Some(expected) = cfg.genesis_roots.as_ref().and_then(|r| r.get(cfg.chain.state_curve()))
        && expected != genesis.header.state_root
    {
        bail!(
            "genesis: state root {} (curve {}) differs from the root recorded for this genesis file ({expected})",
            genesis.header.state_root,
            cfg.chain.state_curve()
        );
    }
    let stored = store.reader()?.genesis_hash()?;
    match stored {
        None => {
            store.commit_block(&genesis, &changes, &nodes).wrap_err("writing the genesis block")?;
            tracing::info!(target: "node", hash = %genesis.hash, state_root = %genesis.header.state_root, "initialised genesis");
        }
        Some(h) if h != genesis.hash => bail!(
            "datadir {} holds a chain with genesis {h}, but this config and genesis give {}: use another --datadir",
            cfg.datadir.display(),
            genesis.hash
        ),
        Some(_) => {}
    }
    let (head, state_root) = {
        let r = store.reader()?;
        let head = r.head()?.ok_or_else(|| eyre!("database has no head"))?;
        let header = r.header(head)?.ok_or_else(|| eyre!("missing head header"))?;
        let root = infra_state::SparseMerkleTree::new(&hasher).stored_root(&r)?;
        if root != header.state_root {
            bail!(
                "database is inconsistent: state tree root {root} != head block state root {}",
                header.state_root
            );
        }
        (head, header.state_root)
    };
    tracing::info!(target: "node", head, %state_root, "database open");

    let deposits = DepositInbox::new();
    let mut l1_actors = None;
    if let Some(l1) = &cfg.l1 {
        l1_actors = Some(connect_l1(&cfg, l1, &store, &genesis, deposits.clone()).await?);
    }

    let pool_cfg = PoolConfig {
        chain_id: cfg.chain.chain_id,
        block_gas_limit: cfg.chain.gas_limit,
        min_tip_wei: u128::from(cfg.min_tip_wei),
        limits: cfg.pool_limits.clone(),
        accept_blobs: cfg.accept_blobs,
    };
    let pool = Arc::new(if cfg.validator.is_none() && !cfg.accept_blobs {
        // A sequencer's accepted transactions survive a restart or a crash.
        let path = cfg.datadir.join("txpool.journal");
        let journal = infra_mempool::Journal::open(&path)
            .wrap_err_with(|| format!("opening the pool journal {}", path.display()))?;
        let pool = Mempool::with_journal(pool_cfg, journal);
        let r = store.reader()?;
        let head_header =
            r.header(head)?.ok_or_else(|| eyre!("no header for the head block {head}"))?;
        let base_fee = infra_execution::base_fee_after(&cfg.chain, &head_header);
        let (kept, dropped) = pool.reload(
            |a| r.account(a).ok().flatten().map(|acc| (acc.nonce, acc.balance)).unwrap_or_default(),
            base_fee,
        );
        drop(r);
        if kept + dropped > 0 {
            tracing::info!(target: "node", kept, dropped, path = %path.display(), "pool journal reloaded");
        }
        pool
    } else {
        Mempool::new(pool_cfg)
    });
    let bus = Bus::new(1024);
    let mut rpc_ctx = RpcContext::new(
        store.clone(),
        pool.clone(),
        cfg.chain.clone(),
        bus.clone(),
        hasher.clone(),
    );
    rpc_ctx.blobs = cfg.accept_blobs.then(infra_rpc::BlobStore::default);
    rpc_ctx.max_logs_range = cfg.rpc.max_logs_range;
    let ops = rpc_ctx.ops.clone();
    ops.update(|v| {
        v.role = if cfg.validator.is_some() { "validator" } else { "sequencer" }.into();
        v.settlement = (cfg.l1.is_some() || cfg.validator.is_some()).then(|| {
            match cfg.chain.settlement {
                infra_config::Settlement::Zk => "zk",
                infra_config::Settlement::Optimistic => "optimistic",
            }
            .to_string()
        });
    });
    let rpc = infra_rpc::start(cfg.rpc.clone(), rpc_ctx.clone())
        .await
        .wrap_err_with(|| format!("starting JSON-RPC on {}", cfg.rpc.addr))?;
    let lock = ChainLock::default();
    let p2p = match &cfg.p2p {
        Some(settings) => Some(
            start_p2p(
                &cfg,
                settings,
                NodeChain {
                    store: store.clone(),
                    chain: cfg.chain.clone(),
                    hasher: hasher.clone(),
                    lock: lock.clone(),
                    bus: bus.clone(),
                    rpc: rpc_ctx,
                },
                bus.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let rpc_addr = rpc.local_addr;
    let mut supervisor = Supervisor::new();
    let cancel = supervisor.cancel_token();
    supervisor.spawn(RpcActor(rpc));
    let mut derivation = None;
    let mut disputes = None;
    let mut instant_seal = None;
    if let Some(v) = &cfg.validator {
        check_deployment(&cfg, &v.deployment, &genesis)?;
        let provider = infra_l1::connect(&v.l1_rpc).map_err(|e| eyre!("config: {e}"))?;
        check_chain_input(&provider, v.deployment.rollup, &cfg.chain).await?;
        let deriver = Deriver::new(
            provider,
            DeriverConfig {
                rollup: v.deployment.rollup,
                bridge: v.deployment.bridge,
                deploy_block: v.deployment.deploy_block,
                poll: v.poll,
                max_range: 1_000,
            },
            store.clone(),
            cfg.chain.clone(),
            hasher.clone(),
            bus.clone(),
            lock.clone(),
        )?;
        derivation = Some(deriver.status());
        tracing::info!(target: "node", l1 = %v.l1_rpc, rollup = %v.deployment.rollup, "validator: deriving the chain from L1");
        supervisor.spawn(DeriverActor(deriver));
        if let (Some(key), Some(game)) = (&v.challenger_key, &v.deployment.fault_game) {
            let elf = load_fault_program(cfg.fault_program.as_deref(), game).map_err(|e| {
                eyre!("config: --l1.key makes this validator a challenger, which needs {e}")
            })?;
            let provider = infra_l1::connect(&v.l1_rpc).map_err(|e| eyre!("config: {e}"))?;
            let sender = TxSender::new(provider, key.clone(), SenderConfig::default())
                .await
                .wrap_err_with(|| format!("connecting the challenger to the L1 at {}", v.l1_rpc))?;
            let settings =
                player_settings(&cfg.chain, &v.deployment, game, v.poll, elf, true, false);
            let actor =
                infra_challenger::FaultPlayer::new(store.clone(), Arc::new(sender), settings);
            disputes = Some(actor.status());
            tracing::info!(target: "node", game = %game.game, challenger = %key.address(), "disputing wrong outputs on L1 (fault game)");
            supervisor.spawn(actor);
        }
        supervisor.spawn(PoolPruner { pool, bus: bus.clone() });
    } else {
        let seal = InstantSeal::default();
        instant_seal = Some(seal.clone());
        supervisor.spawn(SequencerActor {
            instant: seal,
            builder: BlockBuilder {
                store: store.clone(),
                pool,
                chain: cfg.chain.clone(),
                hasher,
                bus,
                empty_blocks: cfg.empty_blocks,
                deposits,
            },
        });
    }
    let p2p_status = p2p.as_ref().map(infra_p2p::P2p::status);
    if let Some(p2p) = p2p {
        supervisor.spawn(infra_p2p::P2pActor(p2p));
    }
    let mut forged_withdrawals = None;
    if let Some(l1) = cfg.l1.as_ref().filter(|l| l.game_key.is_some())
        && l1.deployment.fault_game.is_none()
    {
        tracing::warn!(target: "node", "--l1.game-key is unused: this deployment settles by proofs, with no fault game");
    }
    if let Some((watcher, poster, prover)) = l1_actors {
        if poster.0.config.forge_withdrawals {
            forged_withdrawals = Some(poster.0.forged.clone());
        }
        if let Some((l1, game)) =
            cfg.l1.as_ref().and_then(|l| Some((l, l.deployment.fault_game.as_ref()?)))
        {
            match load_fault_program(cfg.fault_program.as_deref(), game) {
                Ok(elf) => {
                    let batcher = poster.0.sender.clone();
                    // (A game key equal to the batcher's: one sender, one nonce sequence.)
                    let (sender, proposer) = match &l1.game_key {
                        Some(key) if key.address() != batcher.address() => {
                            let provider =
                                infra_l1::connect(&l1.rpc_url).map_err(|e| eyre!("config: {e}"))?;
                            let own = TxSender::new(provider, key.clone(), l1.sender.clone())
                                .await
                                .wrap_err_with(|| {
                                    format!("connecting the game key to the L1 at {}", l1.rpc_url)
                                })?;
                            (Arc::new(own), Some(batcher))
                        }
                        _ => (batcher, None),
                    };
                    let funds = alloy::providers::Provider::get_balance(
                        sender.provider(),
                        sender.address(),
                    )
                    .await;
                    if funds.as_ref().is_ok_and(|b| b.is_zero()) {
                        tracing::warn!(target: "node", key = %sender.address(), "the fault-game key holds no ETH on L1: it cannot bond a move");
                    }
                    tracing::info!(target: "node", game = %game.game, key = %sender.address(), "defending this sequencer's outputs on L1 (fault game)");
                    let settings = player_settings(
                        &cfg.chain,
                        &l1.deployment,
                        game,
                        l1.poll,
                        elf,
                        false,
                        l1.lying_defence,
                    );
                    let mut actor = infra_challenger::FaultPlayer::new(
                        poster.0.store.clone(),
                        sender,
                        settings,
                    );
                    if let Some(batcher) = proposer {
                        actor = actor.with_proposer(batcher);
                    }
                    disputes = Some(actor.status());
                    supervisor.spawn(actor);
                }
                Err(e) => {
                    poster.0.store.keep_state_from(u64::MAX); // (no player: the window alone)
                    tracing::warn!(target: "node", "NOT DEFENDING this sequencer's outputs on L1: {e}. A false challenge against them is not answered by this node.")
                }
            }
        }
        supervisor.spawn(watcher);
        supervisor.spawn(poster);
        if let Some(prover) = prover {
            supervisor.spawn(prover);
        }
    }
    let l1_view = match (&cfg.l1, &cfg.validator) {
        (Some(l1), _) => Some((l1.rpc_url.clone(), l1.deployment.clone(), l1.poll)),
        (None, Some(v)) => Some((v.l1_rpc.clone(), v.deployment.clone(), v.poll)),
        _ => None,
    };
    let poll = l1_view.as_ref().map(|v| v.2).unwrap_or(Duration::from_secs(1));
    let l1 = match l1_view {
        Some((url, d, _)) => Some((infra_l1::connect(&url).map_err(|e| eyre!("config: {e}"))?, d)),
        None => None,
    };
    supervisor.spawn(ops::OpsMonitor {
        ops: ops.clone(),
        poll: poll.max(Duration::from_millis(250)),
        l1,
        p2p: p2p_status.clone(),
        derivation: derivation.clone(),
        disputes: disputes.clone(),
    });
    ops.set_ready();
    Ok(RunningNode {
        rpc_addr,
        genesis_hash: genesis.hash,
        state_root,
        head,
        derivation,
        p2p: p2p_status,
        disputes,
        instant_seal,
        forged_withdrawals,
        store,
        supervisor,
        cancel,
    })
}

/// Checks the network settings against the chain and starts listening.
async fn start_p2p(
    cfg: &NodeConfig,
    settings: &P2pSettings,
    chain: NodeChain,
    bus: Bus,
) -> eyre::Result<infra_p2p::P2p> {
    if cfg.chain.sequencer == Address::ZERO {
        bail!(
            "config: chain.sequencer = 0x0, must be the sequencer's block-signing address to join the network"
        );
    }
    if cfg.chain.sequencer == infra_config::DEV_SEQUENCER
        && cfg.chain.chain_id != infra_config::DEV_CHAIN_ID
    {
        bail!(
            "config: chain.sequencer = {} is the well-known dev key's address (anyone can sign with it): set the sequencer's own address for chain {}",
            cfg.chain.sequencer,
            cfg.chain.chain_id
        );
    }
    if let Some(signer) = &settings.signer
        && signer.address() != cfg.chain.sequencer
    {
        bail!(
            "config: --sequencer.key is for {}, but chain.sequencer is {}",
            signer.address(),
            cfg.chain.sequencer
        );
    }
    let p2p = infra_p2p::P2p::start(
        infra_p2p::P2pConfig {
            listen: settings.listen.clone(),
            bootnodes: settings.bootnodes.clone(),
            key_file: cfg.datadir.join("p2p").join("node-key"),
            chain_id: cfg.chain.chain_id,
            sequencer: cfg.chain.sequencer,
            signer: settings.signer.clone(),
            forward_txs: cfg.validator.is_some(),
        },
        Arc::new(chain),
        bus,
    )
    .await
    .wrap_err("starting p2p")?;
    Ok(p2p)
}

/// The chain as the network sees it.
struct NodeChain {
    store: Store,
    chain: ChainConfig,
    hasher: TreeHasher,
    lock: ChainLock,
    bus: Bus,
    rpc: RpcContext,
}

impl NodeChain {
    fn try_head(&self) -> Result<u64, infra_storage::StorageError> {
        Ok(self.store.reader()?.head()?.unwrap_or_default())
    }
}

impl infra_p2p::ChainAccess for NodeChain {
    fn head(&self) -> u64 {
        self.try_head().unwrap_or_default()
    }

    fn import(&self, signed: &infra_p2p::SignedBlock) -> infra_p2p::ImportOutcome {
        use infra_p2p::ImportOutcome;
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let block = &signed.block;
        let head = match self.try_head() {
            Ok(h) => h,
            Err(e) => return ImportOutcome::Invalid(format!("storage: {e}")),
        };
        if block.number() <= head {
            return ImportOutcome::Known;
        }
        if block.number() > head.saturating_add(1) {
            return ImportOutcome::Gap { head };
        }
        if let Err(e) =
            infra_derivation::import_sealed(&self.store, &self.chain, &self.hasher, block)
        {
            return ImportOutcome::Invalid(e.to_string());
        }
        if let Err(e) =
            self.store.put_block_signature(block.number(), block.hash, &signed.signature)
        {
            tracing::warn!(target: "p2p", "keeping a block signature: {e}");
        }
        tracing::info!(target: "p2p", number = block.number(), hash = %block.hash, txs = block.tx_count(), "imported block from the network");
        self.bus.publish(infra_bus::Event::BlockSealed(Arc::new(block.clone())));
        ImportOutcome::Imported
    }

    fn signed_block(&self, number: u64) -> Option<infra_p2p::SignedBlock> {
        let r = self.store.reader().ok()?;
        let block = r.block(number).ok()??;
        let signature = r.block_signature(number).ok()??;
        Some(infra_p2p::SignedBlock { block, signature })
    }

    fn keep_signature(&self, block: &infra_primitives::SealedBlock, signature: &[u8; 65]) {
        if let Err(e) = self.store.put_block_signature(block.number(), block.hash, signature) {
            tracing::warn!(target: "p2p", "keeping a block signature: {e}");
        }
    }

    fn submit_tx(&self, raw: alloy::primitives::Bytes) -> Result<(), String> {
        self.rpc.send_raw(raw).map(|_| ()).map_err(|e| e.message().to_string())
    }
}

/// How this node plays the fault game. Says loudly when the deployed game's
/// clock may be too short to trace the heaviest batch the chain admits.
fn player_settings(
    chain: &ChainConfig,
    d: &Deployment,
    game: &infra_l1::GameAddresses,
    poll: Duration,
    elf: Arc<Vec<u8>>,
    challenge: bool,
    lying_defence: bool,
) -> infra_challenger::PlayerSettings {
    let bound = infra_config::TraceBound { clock_s: game.max_clock_s, ..chain.trace_bound() };
    if bound.fits_clock() {
        tracing::info!(target: "node", worst_trace_instructions = bound.instructions, worst_trace_s = bound.seconds, clock_s = bound.clock_s, "fault game: the heaviest batch the gas budget admits is traced within half a clock");
    } else {
        tracing::warn!(target: "node", worst_trace_instructions = bound.instructions, worst_trace_s = bound.seconds, clock_s = bound.clock_s, batch_gas = chain.batch_gas, "fault game: tracing the heaviest batch the gas budget (batch_gas) admits takes about {} s on a 2-core machine, more than half of each side's {} s clock: an honest player may lose a game against adversarial heavy batches (raise challenge_period_s or lower batch_gas)", bound.seconds, bound.clock_s);
    }
    infra_challenger::PlayerSettings {
        rollup: d.rollup,
        game: game.clone(),
        poll,
        elf,
        challenge,
        lying_defence,
    }
}

/// Says loudly when full L2 blocks make more gas a second than the batcher
/// can post (one batch of at most `batch_gas` per L1 block, the L1's block
/// time read off its last 10 blocks): the safe head would fall further behind
/// the longer blocks stay full.
async fn check_posting_capacity(provider: &alloy::providers::DynProvider, chain: &ChainConfig) {
    use alloy::providers::Provider as _;
    let l1_block_ms = async {
        let latest = provider.get_block_number().await.ok()?;
        let back = latest.checked_sub(10)?;
        let at = async |n: u64| {
            provider.get_block_by_number(n.into()).await.ok().flatten().map(|b| b.header.timestamp)
        };
        let (t0, t1) = (at(back).await?, at(latest).await?);
        Some(t1.saturating_sub(t0).saturating_mul(100)) // ms per block over 10 blocks
    };
    let Some(l1_block_ms) = l1_block_ms.await.filter(|ms| *ms > 0) else {
        tracing::info!(target: "node", "batch posting throughput not checked: the L1 has fewer than 10 blocks, or no time passed over its last 10");
        return;
    };
    let c = chain.posting_capacity(l1_block_ms);
    if c.keeps_up() {
        tracing::info!(target: "node", l2_gas_per_s = c.l2_gas_per_s, posted_gas_per_s = c.posted_gas_per_s, l1_block_ms, "batch posting keeps up with full L2 blocks");
    } else {
        tracing::warn!(target: "node", l2_gas_per_s = c.l2_gas_per_s, posted_gas_per_s = c.posted_gas_per_s, l1_block_ms, batch_gas = chain.batch_gas, "full L2 blocks make {} gas/s, but the batcher posts at most {} gas/s (one batch per L1 block of about {} ms, each admitting the full blocks batch_gas has room for): under sustained full blocks the safe head falls behind; raise batch_gas (longer fault-proof traces: see the fault-game clock check) or lower gas_limit", c.l2_gas_per_s, c.posted_gas_per_s, l1_block_ms);
    }
}

/// The chain parameters the deployed rollup hands every fault game
/// (`Rollup.chainInput`) must be this node's, or the program would decide
/// claims by other rules (the gas budget, the gas limit, fees) than this node
/// derives and posts by. An L1 that does not answer is only warned about
/// (derivation retries it anyway).
async fn check_chain_input(
    provider: &alloy::providers::DynProvider,
    rollup: alloy::primitives::Address,
    chain: &ChainConfig,
) -> eyre::Result<()> {
    let ours = infra_stf::claim::ClaimChain {
        params: infra_execution::chain_params(chain),
        curve: chain.state_curve(),
    }
    .encode();
    match infra_l1::Rollup::new(rollup, provider).chainInput().call().await {
        Ok(theirs) if theirs.as_ref() == ours.as_slice() => Ok(()),
        Ok(theirs) => bail!(
            "deployment: the rollup's chainInput {theirs} is not this chain's {}: the contracts were deployed for other chain parameters (chain_id, gas_limit, batch_gas, base_fee, fee_recipient or the curve)",
            alloy::primitives::Bytes::from(ours)
        ),
        Err(e) => {
            tracing::warn!(target: "node", "could not read the rollup's chainInput from L1 to check it: {e}");
            Ok(())
        }
    }
}

/// Checks that the deployment is this chain's.
fn check_deployment(
    cfg: &NodeConfig,
    d: &Deployment,
    genesis: &infra_primitives::SealedBlock,
) -> eyre::Result<()> {
    if d.l2_chain_id != cfg.chain.chain_id {
        bail!(
            "deployment: l2ChainId = {}, but this chain's id is {}: the deployment file belongs to another chain",
            d.l2_chain_id,
            cfg.chain.chain_id
        );
    }
    if d.genesis_block_hash != genesis.hash || d.genesis_state_root != genesis.header.state_root {
        bail!(
            "deployment: the contracts were deployed for genesis {} (state root {}), but this genesis is {} (state root {})",
            d.genesis_block_hash,
            d.genesis_state_root,
            genesis.hash,
            genesis.header.state_root
        );
    }
    Ok(())
}

/// A validator's pool: drops what blocks from elsewhere included.
struct PoolPruner {
    pool: Arc<Mempool>,
    bus: Bus,
}

impl Actor for PoolPruner {
    const NAME: &'static str = "pool-pruner";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let mut events = self.bus.subscribe();
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                e = events.recv() => e,
            };
            match event {
                Ok(infra_bus::Event::BlockSealed(block)) => {
                    use alloy::consensus::Transaction as _;
                    let nonces: Vec<_> = block
                        .transactions
                        .iter()
                        .zip(&block.senders)
                        .map(|(tx, s)| (*s, tx.nonce().saturating_add(1), None))
                        .collect();
                    let mined: Vec<_> = block.transactions.iter().map(|t| *t.tx_hash()).collect();
                    self.pool.on_block(nonces, &[], &mined);
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return Ok(()),
            }
        }
    }
}

/// Checks the deployment against this chain and L1, and builds the L1 actors.
async fn connect_l1(
    cfg: &NodeConfig,
    l1: &L1Settings,
    store: &Store,
    genesis: &infra_primitives::SealedBlock,
    inbox: DepositInbox,
) -> eyre::Result<(WatcherActor, PosterActor, Option<ProverActor<LocalState>>)> {
    let d = &l1.deployment;
    check_deployment(cfg, d, genesis)?;
    if l1.faulty_root_every.is_some() && cfg.chain.chain_id != infra_config::DEV_CHAIN_ID {
        bail!(
            "config: sequencer.test-faulty-root-every makes the sequencer claim wrong roots: tests only, refused unless chain_id is the dev chain id {} (this chain: {})",
            infra_config::DEV_CHAIN_ID,
            cfg.chain.chain_id
        );
    }
    if l1.faulty_root_every == Some(0) {
        bail!("config: sequencer.test-faulty-root-every = 0, must be >= 1");
    }
    if l1.forge_withdrawals && l1.faulty_root_every.is_none() {
        bail!(
            "config: sequencer.test-forge-withdrawals needs sequencer.test-faulty-root-every (it picks which wrong roots forge a withdrawal)"
        );
    }
    if l1.lying_defence && l1.faulty_root_every.is_none() {
        bail!(
            "config: sequencer.test-lying-defence needs sequencer.test-faulty-root-every (it defends the wrong roots that option makes)"
        );
    }
    let provider = infra_l1::connect(&l1.rpc_url).map_err(|e| eyre!("config: {e}"))?;
    check_chain_input(&provider, d.rollup, &cfg.chain).await?;
    check_posting_capacity(&provider, &cfg.chain).await;
    let sender = TxSender::new(provider.clone(), l1.batcher_key.clone(), l1.sender.clone())
        .await
        .wrap_err_with(|| format!("connecting to the L1 at {}", l1.rpc_url))?;
    if sender.chain_id() != d.l1_chain_id {
        bail!(
            "deployment: l1ChainId = {}, but the L1 at {} has chain id {}",
            d.l1_chain_id,
            l1.rpc_url,
            sender.chain_id()
        );
    }
    if sender.address() != d.batcher {
        bail!(
            "config: the L1 key is for {}, but the deployment's batcher is {}",
            sender.address(),
            d.batcher
        );
    }
    let cursor = store.reader()?.deposit_cursor()?;
    let from_block = cursor.l1_block.unwrap_or(d.deploy_block);
    let watcher = DepositWatcher::new(
        provider.clone(),
        WatcherConfig {
            bridge: d.bridge,
            confirmations: l1.confirmations,
            poll: l1.poll,
            max_range: 1_000,
        },
        inbox,
        from_block,
    );
    let poster = BatchPoster {
        store: store.clone(),
        sender: Arc::new(sender),
        config: PosterConfig {
            rollup: d.rollup,
            bridge: d.bridge,
            deploy_block: d.deploy_block,
            max_txs: cfg.chain.batch.max_txs,
            max_bytes: cfg.chain.batch.max_bytes,
            max_latency: Duration::from_millis(cfg.chain.batch.max_latency_ms),
            da: l1.da,
            poll: l1.poll,
            finalize: d.settlement == "optimistic",
            faulty_root_every: l1.faulty_root_every,
            faulty_root_limit: l1.faulty_root_limit,
            forge_withdrawals: l1.forge_withdrawals,
            chain: infra_stf::claim::ClaimChain {
                params: infra_execution::chain_params(&cfg.chain),
                curve: cfg.chain.state_curve(),
            },
        },
        faulted: Arc::default(),
        forged: Arc::default(),
    };
    let prover = match &l1.prover {
        Some(settings) => {
            if d.settlement != "zk" {
                bail!(
                    "config: an in-process prover needs settlement = \"zk\"; the deployment is {}",
                    d.settlement
                );
            }
            let key_hash = settings.prover.verifying_key_hash();
            if d.vk_hash != Some(key_hash) {
                bail!(
                    "deployment: the rollup pins verifying key {:?}, but this prover's key is {key_hash} (another proof.curve, proof.chunk_writes, proof.depth or key file?)",
                    d.vk_hash
                );
            }
            let sender = TxSender::new(provider.clone(), settings.key.clone(), l1.sender.clone())
                .await
                .wrap_err_with(|| format!("connecting the prover to the L1 at {}", l1.rpc_url))?;
            Some(ProverActor {
                state: LocalState {
                    store: store.clone(),
                    hasher: TreeHasher::new(cfg.chain.state_curve()),
                },
                journal: cfg.datadir.join("prover-journal.bin"),
                rollup: d.rollup,
                sender: Arc::new(sender),
                settings: settings.clone(),
                poll: l1.poll,
            })
        }
        None => None,
    };
    tracing::info!(target: "node", l1 = %l1.rpc_url, rollup = %d.rollup, bridge = %d.bridge, from_block, next_deposit = cursor.next_nonce, "following L1");
    Ok((WatcherActor { watcher, store: store.clone() }, PosterActor(poster), prover))
}

struct WatcherActor {
    watcher: DepositWatcher,
    store: Store,
}

impl Actor for WatcherActor {
    const NAME: &'static str = "l1-watcher";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let store = self.store;
        let applied_next = move || {
            // On a read error, 0: no deposit counts as applied, so a deep reorg
            // is not reported falsely (deposits are re-read instead).
            store.reader().and_then(|r| r.deposit_cursor()).map(|c| c.next_nonce).unwrap_or(0)
        };
        self.watcher
            .run(cancel, applied_next)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}

struct PosterActor(BatchPoster);

impl Actor for PosterActor {
    const NAME: &'static str = "batcher";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        self.0
            .run(cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}

/// The prover `chain.proof` asks for. `key_file`: a proving key written by
/// `infra-node prover-setup`; without one, keys from a public seed (anyone can
/// forge proofs with them), allowed only when `allow_insecure` (dev chains).
/// Takes seconds (key generation or loading): call it off the async runtime.
pub fn build_prover(
    chain: &ChainConfig,
    key_file: Option<&std::path::Path>,
    allow_insecure: bool,
) -> eyre::Result<Arc<dyn infra_prover::Prover>> {
    if key_file.is_none() && !allow_insecure {
        bail!(
            "config: --prover.key is required: a zk chain other than a dev chain needs a proving key file (infra-node prover-setup writes one); keys from the public dev seed would let anyone forge proofs"
        );
    }
    let shape =
        infra_prover::Shape::new(chain.proof.chunk_writes as usize, chain.proof.depth as usize);
    let prover = infra_prover::from_config(&chain.proof, shape, key_file)
        .map_err(|e| eyre!("config: {e}"))?;
    Ok(Arc::from(prover))
}
