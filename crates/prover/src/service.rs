//! The zk prover loop: follows the rollup on L1, proves the pending batches in
//! order (several at once when they are waiting: one proof of their net state
//! diff), and submits the proof with `Rollup.proveBatches`.
//!
//! The state comes from a [`StateSource`]: the node's own database
//! ([`LocalState`], a prover inside the sequencer) or the sequencer's
//! `infra_getStateWitness` ([`RemoteState`], `--role prover`). Either way the
//! prover checks the witness against L1: its pre-state root must be the last
//! final root on L1, and the proof must end at the root the batch claims.
//!
//! Restart-safe without proving twice: a proof is written to a journal file before
//! it is sent, and after a restart the same range is sent again from there
//! instead of being proven again. L1 (`nextToFinalize`) is the truth on what is
//! done.

use crate::{Prover, l1_proof};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolCall,
};
use infra_bus::{Actor, ActorError, CancellationToken};
use infra_l1::{L1Tx, Rollup, SendError, TxSender, range_commitment};
use infra_state::{MemoryNodeStore, Node, Position, SparseMerkleTree, TreeHasher, diff_leaves};
use infra_storage::Store;
use std::{path::PathBuf, sync::Arc, time::Duration};

/// What proving a range of blocks needs: the state diff from block `pre` to
/// block `post` and the nodes of the tree at `pre` that applying it reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateWitness {
    pub pre_root: B256,
    pub post_root: B256,
    /// Sorted by key; `None` removes the leaf.
    pub writes: Vec<(B256, Option<B256>)>,
    /// Each node as `position (34 bytes) || node (65 bytes)`.
    pub nodes: Vec<Bytes>,
}

impl StateWitness {
    /// Builds it from a store that holds the history of the tree.
    pub fn from_store(
        store: &Store,
        hasher: &TreeHasher,
        pre: u64,
        post: u64,
    ) -> Result<Self, ProveError> {
        let reader = store.reader()?;
        let root = |n: u64| -> Result<B256, ProveError> {
            Ok(reader
                .header(n)?
                .ok_or_else(|| ProveError::Witness(format!("block {n} is not in this node")))?
                .state_root)
        };
        let (pre_root, post_root) = (root(pre)?, root(post)?);
        let before = reader.tree_at(pre);
        let writes = diff_leaves(&before, &reader.tree_at(post))?;
        let nodes = infra_circuits::witness_nodes(hasher, &before, pre_root, &writes)
            .map_err(crate::ProverError::from)?;
        let nodes = nodes
            .into_iter()
            .map(|(p, n)| Bytes::from([&p.to_bytes()[..], &n.to_bytes()[..]].concat()))
            .collect();
        Ok(Self { pre_root, post_root, writes, nodes })
    }

    /// The nodes as a store (checked: each entry is a position and a node).
    pub fn store(&self) -> Result<MemoryNodeStore, ProveError> {
        let mut changes = Vec::with_capacity(self.nodes.len());
        for raw in &self.nodes {
            let bad = || ProveError::Witness(format!("node entry of {} bytes", raw.len()));
            if raw.len() != 99 {
                return Err(bad());
            }
            let pos = Position::from_bytes(&raw[..34]).ok_or_else(bad)?;
            let node = Node::from_bytes(&raw[34..])?;
            changes.push((pos, Some(node)));
        }
        let mut store = MemoryNodeStore::default();
        store.apply(&changes);
        Ok(store)
    }
}

/// Where the prover reads L2 state.
pub trait StateSource: Send + Sync + 'static {
    /// The newest L2 block it has.
    fn head(&self) -> impl std::future::Future<Output = Result<u64, ProveError>> + Send;
    /// The state root after block `n`, if it has the block.
    fn state_root(
        &self,
        n: u64,
    ) -> impl std::future::Future<Output = Result<Option<B256>, ProveError>> + Send;
    /// The witness of blocks `pre + 1 ..= post`.
    fn witness(
        &self,
        pre: u64,
        post: u64,
    ) -> impl std::future::Future<Output = Result<StateWitness, ProveError>> + Send;
}

/// The node's own database (a prover inside the sequencer).
#[derive(Clone)]
pub struct LocalState {
    pub store: Store,
    pub hasher: TreeHasher,
}

impl StateSource for LocalState {
    async fn head(&self) -> Result<u64, ProveError> {
        Ok(self.store.reader()?.head()?.unwrap_or_default())
    }

    async fn state_root(&self, n: u64) -> Result<Option<B256>, ProveError> {
        Ok(self.store.reader()?.header(n)?.map(|h| h.state_root))
    }

    async fn witness(&self, pre: u64, post: u64) -> Result<StateWitness, ProveError> {
        let (store, hasher) = (self.store.clone(), self.hasher.clone());
        tokio::task::spawn_blocking(move || StateWitness::from_store(&store, &hasher, pre, post))
            .await
            .map_err(|e| ProveError::Task(e.to_string()))?
    }
}

/// A sequencer's JSON-RPC (`--role prover`): blocks by `eth_` methods, witnesses by
/// `infra_getStateWitness`. Trusted for nothing but liveness: L1 checks the proof.
#[derive(Clone)]
pub struct RemoteState {
    pub rpc: alloy::providers::DynProvider,
}

impl StateSource for RemoteState {
    async fn head(&self) -> Result<u64, ProveError> {
        use alloy::providers::Provider;
        self.rpc.get_block_number().await.map_err(|e| ProveError::Witness(e.to_string()))
    }

    async fn state_root(&self, n: u64) -> Result<Option<B256>, ProveError> {
        use alloy::providers::Provider;
        let block = self
            .rpc
            .get_block_by_number(n.into())
            .await
            .map_err(|e| ProveError::Witness(e.to_string()))?;
        Ok(block.map(|b| b.header.state_root))
    }

    async fn witness(&self, pre: u64, post: u64) -> Result<StateWitness, ProveError> {
        use alloy::providers::Provider;
        self.rpc
            .raw_request(
                "infra_getStateWitness".into(),
                (alloy::primitives::U64::from(pre), alloy::primitives::U64::from(post)),
            )
            .await
            .map_err(|e| ProveError::Witness(format!("infra_getStateWitness({pre}, {post}): {e}")))
    }
}

/// How the prover works.
#[derive(Clone)]
pub struct ProverSettings {
    pub prover: Arc<dyn Prover>,
    /// The L1 key that sends `proveBatches` (any funded key: proving is
    /// permissionless).
    pub key: alloy::signers::local::PrivateKeySigner,
    /// Most batches proven by one proof.
    pub max_batches: u64,
    /// Most chunk proofs in one L1 transaction (about 230k gas each).
    pub max_chunks: usize,
}

impl std::fmt::Debug for ProverSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProverSettings")
            .field("curve", &self.prover.curve())
            .field("shape", &self.prover.shape())
            .field("key", &self.key.address())
            .field("max_batches", &self.max_batches)
            .field("max_chunks", &self.max_chunks)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error("L1 RPC: {0}")]
    Rpc(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Storage(#[from] infra_storage::StorageError),
    #[error(transparent)]
    State(#[from] infra_state::StateError),
    #[error(transparent)]
    Prover(#[from] crate::ProverError),
    #[error(
        "batch {index} claims state root {claimed} at L2 block {block}, but this node's block {block} has root {local}: it cannot be proven"
    )]
    NotOurRoot { index: u64, block: u64, claimed: B256, local: B256 },
    #[error("proving task: {0}")]
    Task(String),
    #[error("state witness: {0}")]
    Witness(String),
    #[error("proof journal {path}: {reason}")]
    Journal { path: String, reason: String },
}

fn rpc(e: impl std::fmt::Display) -> ProveError {
    ProveError::Rpc(e.to_string())
}

/// One proven range, as sent to L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenRange {
    pub first: u64,
    pub last: u64,
    pub commitment: B256,
    pub proof: Bytes,
}

impl ProvenRange {
    fn encode(&self) -> Vec<u8> {
        [
            &self.first.to_be_bytes()[..],
            &self.last.to_be_bytes()[..],
            self.commitment.as_slice(),
            &self.proof,
        ]
        .concat()
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        if raw.len() < 48 {
            return None;
        }
        Some(Self {
            first: u64::from_be_bytes(raw[..8].try_into().ok()?),
            last: u64::from_be_bytes(raw[8..16].try_into().ok()?),
            commitment: B256::from_slice(&raw[16..48]),
            proof: Bytes::copy_from_slice(&raw[48..]),
        })
    }
}

pub struct ProverActor<S: StateSource> {
    pub state: S,
    /// Where the proof being sent is kept across restarts (a file, replaced
    /// atomically).
    pub journal: PathBuf,
    pub rollup: Address,
    pub sender: Arc<TxSender>,
    pub settings: ProverSettings,
    pub poll: Duration,
}

struct Range {
    first: u64,
    pre_block: u64,
    pre_root: B256,
    batches: Vec<Rollup::Batch>,
}

impl<S: StateSource> ProverActor<S> {
    fn rollup(&self) -> Rollup::RollupInstance<&alloy::providers::DynProvider> {
        Rollup::new(self.rollup, self.sender.provider())
    }

    /// The batches waiting for a proof whose blocks this node has.
    async fn pending(&self) -> Result<Option<Range>, ProveError> {
        let r = self.rollup();
        let next = r.nextToFinalize().call().await.map_err(rpc)?;
        let count = r.batchCount().call().await.map_err(rpc)?;
        if next >= count {
            return Ok(None);
        }
        let head = self.state.head().await?;
        let prev = r.getBatch(next - U256::ONE).call().await.map_err(rpc)?;
        let first = u64::try_from(next).unwrap_or(u64::MAX);
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        let mut batches = Vec::new();
        for i in first..count.min(first.saturating_add(self.settings.max_batches)) {
            let b = r.getBatch(U256::from(i)).call().await.map_err(rpc)?;
            if b.lastBlock > head {
                break;
            }
            let local = self.state.state_root(b.lastBlock).await?.unwrap_or_default();
            if local != b.stateRoot {
                return Err(ProveError::NotOurRoot {
                    index: i,
                    block: b.lastBlock,
                    claimed: b.stateRoot,
                    local,
                });
            }
            batches.push(b);
        }
        if batches.is_empty() {
            return Ok(None);
        }
        Ok(Some(Range { first, pre_block: prev.lastBlock, pre_root: prev.stateRoot, batches }))
    }

    /// The witness of a range's net state diff, the range shrunk until it fits
    /// `max_chunks`.
    async fn fit(&self, range: &mut Range) -> Result<StateWitness, ProveError> {
        let per_chunk = self.settings.prover.shape().writes.max(1);
        loop {
            let last_block = range.batches.last().map(|b| b.lastBlock).unwrap_or_default();
            let w = self.state.witness(range.pre_block, last_block).await?;
            let chunks = w.writes.len().div_ceil(per_chunk).max(1);
            if chunks <= self.settings.max_chunks || range.batches.len() == 1 {
                return Ok(w);
            }
            let keep = range.batches.len() / 2;
            range.batches.truncate(keep);
        }
    }

    fn saved(&self) -> Result<Option<ProvenRange>, ProveError> {
        match std::fs::read(&self.journal) {
            Ok(raw) => Ok(ProvenRange::decode(&raw)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.journal_error(e)),
        }
    }

    fn journal_error(&self, e: impl std::fmt::Display) -> ProveError {
        ProveError::Journal { path: self.journal.display().to_string(), reason: e.to_string() }
    }

    /// Writes (or, with `None`, clears) the journal durably: a temporary file,
    /// synced, renamed over it.
    fn save(&self, proven: Option<&ProvenRange>) -> Result<(), ProveError> {
        let tmp = self.journal.with_extension("tmp");
        let bytes = proven.map(ProvenRange::encode).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.journal)
        };
        write().map_err(|e| self.journal_error(e))
    }

    /// One round: prove (or re-send) the next pending range. Returns it once
    /// L1 accepted it.
    pub async fn prove_next(&self) -> Result<Option<ProvenRange>, ProveError> {
        let Some(mut range) = self.pending().await? else { return Ok(None) };
        let saved = self.saved()?.filter(|p| p.first == range.first);
        let proven = match saved {
            // Proven before a restart: the same range, the same data on L1.
            Some(p)
                if p.last.checked_sub(p.first).is_some_and(|d| range.batches.len() as u64 > d) =>
            {
                let n = usize::try_from(p.last - p.first + 1).unwrap_or(usize::MAX);
                let commitments: Vec<B256> =
                    range.batches[..n].iter().map(|b| b.dataCommitment).collect();
                if range_commitment(p.first, p.last, &commitments) == p.commitment {
                    tracing::info!(target: "prover", first = p.first, last = p.last, "re-sending the proof made before the restart");
                    Some(p)
                } else {
                    None
                }
            }
            _ => None,
        };
        let proven = match proven {
            Some(p) => p,
            None => self.prove(&mut range).await?,
        };
        let call =
            Rollup::proveBatchesCall { last: U256::from(proven.last), proof: proven.proof.clone() };
        let tx = L1Tx::call(self.rollup, call.abi_encode().into());
        match self.sender.send(tx).await {
            Ok(receipt) => {
                tracing::info!(
                    target: "prover",
                    first = proven.first, last = proven.last,
                    l1_tx = %receipt.transaction_hash,
                    gas = receipt.gas_used,
                    "batches proven on L1: outputs final"
                );
                Ok(Some(proven))
            }
            Err(SendError::WouldRevert(reason)) => {
                // Someone else proved it, or the proof does not verify: either way
                // this proof is spent.
                self.save(None)?;
                let now = self.rollup().nextToFinalize().call().await.map_err(rpc)?;
                if now > U256::from(proven.first) {
                    tracing::info!(target: "prover", first = proven.first, "already proven on L1");
                    Ok(None)
                } else {
                    Err(SendError::WouldRevert(reason).into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn prove(&self, range: &mut Range) -> Result<ProvenRange, ProveError> {
        let witness = self.fit(range).await?;
        let last = range.first + range.batches.len() as u64 - 1;
        let claimed = range.batches.last().map(|b| b.stateRoot).unwrap_or_default();
        if witness.pre_root != range.pre_root || witness.post_root != claimed {
            return Err(ProveError::Witness(format!(
                "the witness goes from root {} to {}, L1 from {} to {claimed}",
                witness.pre_root, witness.post_root, range.pre_root
            )));
        }
        let commitments: Vec<B256> = range.batches.iter().map(|b| b.dataCommitment).collect();
        let commitment = range_commitment(range.first, last, &commitments);
        let prover = self.settings.prover.clone();
        let pre_root = range.pre_root;
        let n_writes = witness.writes.len();
        let started = std::time::Instant::now();
        let chunks = tokio::task::spawn_blocking(move || -> Result<_, ProveError> {
            // The tree hashes over the curve the prover proves on.
            let hasher = TreeHasher::new(prover.curve());
            let nodes = witness.store()?;
            if SparseMerkleTree::new(&hasher).stored_root(&nodes)? != pre_root {
                return Err(ProveError::Witness(format!(
                    "the witness's nodes do not make the tree with root {pre_root}"
                )));
            }
            Ok(prover.prove_batch(&hasher, &nodes, pre_root, &witness.writes, commitment)?)
        })
        .await
        .map_err(|e| ProveError::Task(e.to_string()))??;
        if chunks.last().map(|c| c.public[1]) != Some(claimed) {
            return Err(ProveError::Witness(format!(
                "the proven diff does not reach the root batch {last} claims ({claimed})"
            )));
        }
        tracing::info!(
            target: "prover",
            first = range.first, last,
            writes = n_writes,
            chunks = chunks.len(),
            prove_ms = started.elapsed().as_millis() as u64,
            "proved"
        );
        let proven = ProvenRange { first: range.first, last, commitment, proof: l1_proof(&chunks) };
        self.save(Some(&proven))?;
        Ok(proven)
    }

    pub async fn run(self, cancel: CancellationToken) -> Result<(), ProveError> {
        if !self.sender.wait_idle(Duration::from_secs(120)).await? {
            tracing::warn!(target: "prover", "an earlier L1 transaction is still pending; continuing");
        }
        loop {
            let round = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.prove_next() => r,
            };
            let idle = match round {
                Ok(Some(_)) => false,
                Ok(None) => true,
                Err(e) => {
                    tracing::error!(target: "prover", error = %e, "proving round failed; retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(self.poll) => {}
                }
            }
        }
    }
}

impl<S: StateSource> Actor for ProverActor<S> {
    const NAME: &'static str = "prover";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        ProverActor::run(self, cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}
