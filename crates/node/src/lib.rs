#![doc = include_str!("../README.md")]

use alloy::genesis::Genesis;
use eyre::{WrapErr, bail, eyre};
use infra_bus::{Actor, ActorError, Bus, CancellationToken, Supervisor};
use infra_config::{ChainConfig, GenesisRoots};
use infra_mempool::{Mempool, PoolConfig};
use infra_rpc::{RpcConfig, RpcContext, RpcServer};
use infra_sequencer::{BlockBuilder, SequencerActor, genesis_block};
use infra_state::TreeHasher;
use infra_storage::Store;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

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
    pub max_per_sender: usize,
    pub max_total: usize,
}

/// A started node.
#[derive(Debug)]
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub genesis_hash: alloy::primitives::B256,
    pub state_root: alloy::primitives::B256,
    pub head: u64,
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

/// Opens the datadir, initialises or checks the genesis, and starts the sequencer
/// and the RPC server.
pub async fn start_sequencer(cfg: NodeConfig) -> eyre::Result<RunningNode> {
    cfg.chain.validate()?;
    if cfg.genesis.config.chain_id != cfg.chain.chain_id {
        bail!(
            "config: chain.chain_id = {}, must equal the genesis file's config.chainId ({})",
            cfg.chain.chain_id,
            cfg.genesis.config.chain_id
        );
    }
    let hasher = TreeHasher::new(cfg.chain.state_curve());
    let store = Store::open(&cfg.datadir.join("db")).wrap_err("opening the database")?;
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

    let pool = Arc::new(Mempool::new(PoolConfig {
        chain_id: cfg.chain.chain_id,
        block_gas_limit: cfg.chain.gas_limit,
        min_tip_wei: u128::from(cfg.min_tip_wei),
        max_per_sender: cfg.max_per_sender,
        max_total: cfg.max_total,
    }));
    let bus = Bus::new(1024);
    let rpc = infra_rpc::start(
        cfg.rpc.clone(),
        RpcContext {
            store: store.clone(),
            pool: pool.clone(),
            chain: cfg.chain.clone(),
            bus: bus.clone(),
            client_version: format!("infra-node/v{}", env!("CARGO_PKG_VERSION")),
            hasher: hasher.clone(),
        },
    )
    .await
    .wrap_err_with(|| format!("starting JSON-RPC on {}", cfg.rpc.addr))?;
    let rpc_addr = rpc.local_addr;
    let mut supervisor = Supervisor::new();
    let cancel = supervisor.cancel_token();
    supervisor.spawn(RpcActor(rpc));
    supervisor.spawn(SequencerActor {
        builder: BlockBuilder {
            store,
            pool,
            chain: cfg.chain.clone(),
            hasher,
            bus,
            empty_blocks: cfg.empty_blocks,
            deposits: Default::default(),
        },
    });
    Ok(RunningNode { rpc_addr, genesis_hash: genesis.hash, state_root, head, supervisor, cancel })
}
