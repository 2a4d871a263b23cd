//! The libp2p swarm: gossip of blocks and transactions, block sync, scoring.

use crate::wire::{MAX_SYNC_BLOCKS, SignedBlock, SyncRequest, SyncResponse, sign_block};
use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use futures::StreamExt;
use infra_bus::{Actor, ActorError, Bus, CancellationToken, Event};
use infra_primitives::{Bytes, SealedBlock};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, gossipsub, identify, identity,
    noise, request_response,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// What the network needs from the node's chain. Implemented by the node crate
/// (storage, execution and the pool stay out of this crate).
pub trait ChainAccess: Send + Sync + 'static {
    /// The newest stored block number.
    fn head(&self) -> u64;
    /// Verifies (by re-executing it) and stores a block whose signature was
    /// checked. Blocking: called off the async workers.
    fn import(&self, block: &SignedBlock) -> ImportOutcome;
    /// Block `number` with the sequencer's signature, if this node has both.
    fn signed_block(&self, number: u64) -> Option<SignedBlock>;
    /// Keeps the sequencer's signature of a block this node sealed.
    fn keep_signature(&self, block: &SealedBlock, signature: &[u8; 65]);
    /// A transaction from a peer: the sequencer pools it; `Err` says why not.
    fn submit_tx(&self, raw: Bytes) -> Result<(), String>;
}

/// What importing a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// At or below the head already.
    Known,
    /// Above head + 1: the blocks in between are missing.
    Gap {
        head: u64,
    },
    /// Signed by the sequencer, but re-executing it does not give it (or it
    /// does not extend the head).
    Invalid(String),
}

/// Network settings.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// e.g. `/ip4/0.0.0.0/tcp/30333`.
    pub listen: Multiaddr,
    pub bootnodes: Vec<Multiaddr>,
    /// The node key (ed25519, protobuf encoding): created on first start, so the
    /// peer id is stable across restarts.
    pub key_file: PathBuf,
    pub chain_id: u64,
    /// The address whose signature makes a block the sequencer's (chain config).
    pub sequencer: Address,
    /// The sequencer's own key: sign and gossip every sealed block.
    pub signer: Option<PrivateKeySigner>,
    /// Gossip transactions this node's RPC accepted (validators forward them).
    pub forward_txs: bool,
}

/// Where the network stands.
#[derive(Debug, Clone, Default)]
pub struct P2pStatus {
    pub peer_id: String,
    pub listen_addrs: Vec<Multiaddr>,
    pub peers: HashSet<PeerId>,
    pub banned: HashSet<PeerId>,
    pub blocks_gossiped: u64,
    pub blocks_imported: u64,
    pub blocks_synced: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    #[error("p2p key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("p2p: {0}")]
    Swarm(String),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
}

/// Loads the node key, or creates it (mode 0600).
pub fn load_or_create_key(path: &std::path::Path) -> Result<identity::Keypair, P2pError> {
    let err = |reason: String| P2pError::Key { path: path.display().to_string(), reason };
    if path.exists() {
        let raw = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        return identity::Keypair::from_protobuf_encoding(&raw).map_err(|e| err(e.to_string()));
    }
    let key = identity::Keypair::generate_ed25519();
    let raw = key.to_protobuf_encoding().map_err(|e| err(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| err(e.to_string()))?;
        f.write_all(&raw).and_then(|()| f.sync_all()).map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    Ok(key)
}

/// Scores below this get a peer banned and disconnected.
const BAN_SCORE: i32 = -100;
/// A block not signed by the sequencer: banned at once.
const BAD_SIGNATURE: i32 = -100;
/// Undecodable or off-protocol data.
const BAD_DATA: i32 = -40;
/// Sync requests per peer per [`RATE_WINDOW`] before they are refused.
const MAX_REQUESTS: u32 = 50;
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Blocks ahead of the head kept while the gap is synced.
const MAX_PENDING: usize = 1_024;

/// The running network service (an actor).
pub struct P2p {
    swarm: Swarm<Behaviour>,
    config: P2pConfig,
    chain: Arc<dyn ChainAccess>,
    bus: Bus,
    status: Arc<Mutex<P2pStatus>>,
    blocks: gossipsub::IdentTopic,
    txs: gossipsub::IdentTopic,
    scores: HashMap<PeerId, i32>,
    requests: HashMap<PeerId, (Instant, u32)>,
    /// Signed blocks above head + 1, by number, waiting for the gap to fill.
    pending: BTreeMap<u64, SignedBlock>,
    /// A sync request in flight (one at a time).
    syncing: Option<(PeerId, Instant)>,
    imports: mpsc::UnboundedSender<Vec<SignedBlock>>,
    imported: mpsc::UnboundedReceiver<u64>,
    import_rx: Option<mpsc::UnboundedReceiver<Vec<SignedBlock>>>,
    imported_tx: mpsc::UnboundedSender<u64>,
}

impl std::fmt::Debug for P2p {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2p").field("peer_id", self.swarm.local_peer_id()).finish_non_exhaustive()
    }
}

impl P2p {
    /// Builds the swarm and starts listening; returns once the listen address is
    /// known (see [`P2p::status`]).
    pub async fn start(
        config: P2pConfig,
        chain: Arc<dyn ChainAccess>,
        bus: Bus,
    ) -> Result<Self, P2pError> {
        let key = load_or_create_key(&config.key_file)?;
        let swarm_err = |e: String| P2pError::Swarm(e);
        let gossip_config = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(500))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .validate_messages()
            .max_transmit_size(8 * 1024 * 1024)
            .build()
            .map_err(|e| swarm_err(e.to_string()))?;
        let protocol = StreamProtocol::try_from_owned(format!("/infra/{}/sync/1", config.chain_id))
            .map_err(|e| swarm_err(e.to_string()))?;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| swarm_err(e.to_string()))?
            .with_behaviour(|key| {
                let gossipsub = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    gossip_config,
                )?;
                Ok(Behaviour {
                    blocked: allow_block_list::Behaviour::default(),
                    gossipsub,
                    identify: identify::Behaviour::new(identify::Config::new(
                        format!("/infra/{}/1", config.chain_id),
                        key.public(),
                    )),
                    sync: request_response::cbor::Behaviour::new(
                        [(protocol, request_response::ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(10)),
                    ),
                })
            })
            .map_err(|e| swarm_err(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
        let blocks = gossipsub::IdentTopic::new(format!("/infra/{}/blocks/1", config.chain_id));
        let txs = gossipsub::IdentTopic::new(format!("/infra/{}/txs/1", config.chain_id));
        for topic in [&blocks, &txs] {
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(topic)
                .map_err(|e| swarm_err(e.to_string()))?;
        }
        swarm.listen_on(config.listen.clone()).map_err(|e| swarm_err(e.to_string()))?;
        let mut listen_addrs = Vec::new();
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        while listen_addrs.is_empty() {
            tokio::select! {
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::NewListenAddr { address, .. } => listen_addrs.push(address),
                    SwarmEvent::ListenerError { error, .. } => return Err(swarm_err(error.to_string())),
                    SwarmEvent::ListenerClosed { reason: Err(e), .. } => return Err(swarm_err(e.to_string())),
                    _ => {}
                },
                _ = &mut deadline => return Err(swarm_err(format!("could not listen on {}", config.listen))),
            }
        }
        for addr in &config.bootnodes {
            if let Err(e) = swarm.dial(addr.clone()) {
                tracing::warn!(target: "p2p", %addr, "bootnode: {e}");
            }
        }
        let peer_id = *swarm.local_peer_id();
        let status = Arc::new(Mutex::new(P2pStatus {
            peer_id: peer_id.to_string(),
            listen_addrs: listen_addrs.clone(),
            ..Default::default()
        }));
        tracing::info!(target: "p2p", %peer_id, listen = ?listen_addrs, "p2p listening");
        let (imports, import_rx) = mpsc::unbounded_channel();
        let (imported_tx, imported) = mpsc::unbounded_channel();
        Ok(Self {
            swarm,
            config,
            chain,
            bus,
            status,
            blocks,
            txs,
            scores: HashMap::new(),
            requests: HashMap::new(),
            pending: BTreeMap::new(),
            syncing: None,
            imports,
            imported,
            import_rx: Some(import_rx),
            imported_tx,
        })
    }

    pub fn status(&self) -> Arc<Mutex<P2pStatus>> {
        self.status.clone()
    }

    fn update(&self, f: impl FnOnce(&mut P2pStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Lowers a peer's score; at [`BAN_SCORE`] it is banned and disconnected.
    fn penalize(&mut self, peer: PeerId, by: i32, why: &str) {
        let score = self.scores.entry(peer).or_default();
        *score = score.saturating_add(by);
        tracing::warn!(target: "p2p", %peer, score = *score, "peer penalized: {why}");
        if *score <= BAN_SCORE {
            let b = self.swarm.behaviour_mut();
            b.blocked.block_peer(peer);
            b.gossipsub.blacklist_peer(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
            tracing::warn!(target: "p2p", %peer, "peer banned: {why}");
            self.update(|s| {
                s.banned.insert(peer);
                s.peers.remove(&peer);
            });
        }
    }

    fn publish(&mut self, topic: gossipsub::IdentTopic, data: Vec<u8>) {
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
            tracing::debug!(target: "p2p", "gossip not sent: {e}");
        }
    }

    /// Asks `peer` for the blocks after the head (one request at a time).
    fn request_sync(&mut self, peer: PeerId, up_to: u64) {
        if self.syncing.is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(15)) {
            return;
        }
        let from = self.chain.head().saturating_add(1);
        if up_to < from {
            return;
        }
        let count = u32::try_from(up_to - from + 1).unwrap_or(u32::MAX).min(MAX_SYNC_BLOCKS);
        self.swarm.behaviour_mut().sync.send_request(&peer, SyncRequest::Blocks { from, count });
        self.syncing = Some((peer, Instant::now()));
        tracing::debug!(target: "p2p", %peer, from, count, "sync request");
    }

    /// Queues the pending blocks that now extend the head.
    fn drain_pending(&mut self, head: u64) {
        self.pending = self.pending.split_off(&head.saturating_add(1));
        let mut run = Vec::new();
        let mut next = head.saturating_add(1);
        while let Some(b) = self.pending.remove(&next) {
            run.push(b);
            next = next.saturating_add(1);
        }
        self.pending = self.pending.split_off(&next);
        if !run.is_empty() {
            let _ = self.imports.send(run);
        }
    }

    fn on_gossip_block(&mut self, source: PeerId, id: gossipsub::MessageId, data: &[u8]) {
        let acceptance = match SignedBlock::decode(data) {
            Err(e) => {
                self.penalize(source, BAD_DATA, &format!("undecodable block: {e}"));
                gossipsub::MessageAcceptance::Reject
            }
            Ok(b) if !b.signed_by(self.config.chain_id, self.config.sequencer) => {
                self.penalize(source, BAD_SIGNATURE, "block not signed by the sequencer");
                gossipsub::MessageAcceptance::Reject
            }
            Ok(b) => {
                let number = b.block.number();
                let head = self.chain.head();
                if number > head && self.pending.len() < MAX_PENDING {
                    self.pending.insert(number, b);
                    if number > head.saturating_add(1) && !self.pending.contains_key(&(head + 1)) {
                        self.request_sync(source, number - 1);
                    }
                    self.drain_pending(head);
                }
                gossipsub::MessageAcceptance::Accept
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&id, &source, acceptance);
    }

    fn on_gossip_tx(&mut self, source: PeerId, id: gossipsub::MessageId, data: Vec<u8>) {
        // Only the sequencer pools them; everyone relays well-formed ones.
        let acceptance = if self.config.signer.is_some() {
            match self.chain.submit_tx(data.into()) {
                Ok(()) => gossipsub::MessageAcceptance::Accept,
                Err(e) => {
                    tracing::debug!(target: "p2p", peer = %source, "transaction from a peer refused: {e}");
                    gossipsub::MessageAcceptance::Ignore
                }
            }
        } else {
            use alloy::eips::Decodable2718;
            match alloy::consensus::TxEnvelope::decode_2718(&mut data.as_slice()) {
                Ok(_) => gossipsub::MessageAcceptance::Accept,
                Err(_) => {
                    self.penalize(source, BAD_DATA / 4, "undecodable transaction");
                    gossipsub::MessageAcceptance::Reject
                }
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&id, &source, acceptance);
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: request_response::ResponseChannel<SyncResponse>,
    ) {
        let now = Instant::now();
        let entry = self.requests.entry(peer).or_insert((now, 0));
        if entry.0.elapsed() > RATE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let over = entry.1 > MAX_REQUESTS;
        let response = if over {
            self.penalize(peer, -10, "too many sync requests");
            SyncResponse::Refused(format!("at most {MAX_REQUESTS} requests per {RATE_WINDOW:?}"))
        } else {
            match request {
                SyncRequest::Head => SyncResponse::Head(self.chain.head()),
                SyncRequest::Blocks { from, count } => {
                    let count = u64::from(count.min(MAX_SYNC_BLOCKS));
                    let mut blocks = Vec::new();
                    for n in from..from.saturating_add(count) {
                        match self.chain.signed_block(n) {
                            Some(b) => blocks.push(b.encode()),
                            None => break,
                        }
                    }
                    SyncResponse::Blocks(blocks)
                }
            }
        };
        let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
    }

    fn on_response(&mut self, peer: PeerId, response: SyncResponse) {
        match response {
            SyncResponse::Head(their_head) => {
                if their_head > self.chain.head() {
                    self.request_sync(peer, their_head);
                }
            }
            SyncResponse::Blocks(raw) => {
                self.syncing = None;
                let mut run = Vec::with_capacity(raw.len());
                for bytes in raw {
                    match SignedBlock::decode(&bytes) {
                        Ok(b) if b.signed_by(self.config.chain_id, self.config.sequencer) => {
                            run.push(b)
                        }
                        Ok(_) => {
                            self.penalize(
                                peer,
                                BAD_SIGNATURE,
                                "synced block not signed by the sequencer",
                            );
                            return;
                        }
                        Err(e) => {
                            self.penalize(
                                peer,
                                BAD_DATA,
                                &format!("undecodable synced block: {e}"),
                            );
                            return;
                        }
                    }
                }
                let got = run.len() as u64;
                self.update(|s| s.blocks_synced = s.blocks_synced.saturating_add(got));
                let last = run.last().map(|b| b.block.number());
                for b in run {
                    self.pending.insert(b.block.number(), b);
                }
                self.drain_pending(self.chain.head());
                // A full page: there may be more.
                if got == u64::from(MAX_SYNC_BLOCKS)
                    && let Some(last) = last
                {
                    self.request_sync(peer, last.saturating_add(u64::from(MAX_SYNC_BLOCKS)));
                }
            }
            SyncResponse::Refused(why) => {
                self.syncing = None;
                tracing::debug!(target: "p2p", %peer, "sync refused: {why}");
            }
        }
    }

    fn on_sealed(&mut self, block: &SealedBlock) {
        let Some(signer) = &self.config.signer else { return };
        let signature = sign_block(signer, self.config.chain_id, block.hash);
        self.chain.keep_signature(block, &signature);
        let data = SignedBlock { block: block.clone(), signature }.encode();
        self.publish(self.blocks.clone(), data);
        self.update(|s| s.blocks_gossiped = s.blocks_gossiped.saturating_add(1));
    }

    async fn run(mut self, cancel: CancellationToken) -> Result<(), P2pError> {
        let mut events = self.bus.subscribe();
        // Imports run one batch at a time on a blocking thread.
        let chain = self.chain.clone();
        let mut import_rx =
            self.import_rx.take().ok_or_else(|| P2pError::Swarm("started twice".into()))?;
        let imported_tx = self.imported_tx.clone();
        let status = self.status.clone();
        let importer = tokio::spawn(async move {
            while let Some(run) = import_rx.recv().await {
                let chain = chain.clone();
                let status = status.clone();
                let head = tokio::task::spawn_blocking(move || {
                    for b in &run {
                        match chain.import(b) {
                            ImportOutcome::Imported => {
                                status.lock().unwrap_or_else(PoisonError::into_inner).blocks_imported += 1;
                            }
                            ImportOutcome::Known => {}
                            ImportOutcome::Gap { .. } => break,
                            ImportOutcome::Invalid(why) => {
                                tracing::error!(target: "p2p", number = b.block.number(), hash = %b.block.hash, "the sequencer signed a block that does not verify: {why}");
                                break;
                            }
                        }
                    }
                    chain.head()
                })
                .await
                .unwrap_or_default();
                let _ = imported_tx.send(head);
            }
        });
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let result = loop {
            tokio::select! {
                _ = cancel.cancelled() => break Ok(()),
                _ = tick.tick() => {
                    // Catch up with peers ahead of us (a late start, a missed gossip).
                    let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                    if self.config.signer.is_none() && let Some(peer) = peers.first() {
                        self.swarm.behaviour_mut().sync.send_request(peer, SyncRequest::Head);
                    }
                }
                Some(head) = self.imported.recv() => {
                    self.drain_pending(head);
                }
                ev = events.recv() => match ev {
                    Ok(Event::BlockSealed(block)) => self.on_sealed(&block),
                    Ok(Event::PendingTx(raw)) if self.config.forward_txs => {
                        self.publish(self.txs.clone(), raw.to_vec());
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break Ok(()),
                },
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
            }
        };
        importer.abort();
        result
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                self.update(|s| {
                    s.peers.insert(peer_id);
                });
                tracing::info!(target: "p2p", peer = %peer_id, "peer connected");
                if self.config.signer.is_none() {
                    self.swarm.behaviour_mut().sync.send_request(&peer_id, SyncRequest::Head);
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.update(|s| {
                    s.peers.remove(&peer_id);
                });
                tracing::info!(target: "p2p", peer = %peer_id, "peer disconnected");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                self.update(|s| s.listen_addrs.push(address));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                if message.topic == self.blocks.hash() {
                    self.on_gossip_block(propagation_source, message_id, &message.data);
                } else if message.topic == self.txs.hash() {
                    self.on_gossip_tx(propagation_source, message_id, message.data);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.on_request(peer, request, channel)
                }
                request_response::Message::Response { response, .. } => {
                    self.on_response(peer, response)
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure { peer, error, .. },
            )) => {
                if self.syncing.is_some_and(|(p, _)| p == peer) {
                    self.syncing = None;
                }
                tracing::debug!(target: "p2p", %peer, "sync request failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let expected = format!("/infra/{}/1", self.config.chain_id);
                if info.protocol_version != expected {
                    tracing::warn!(target: "p2p", peer = %peer_id, theirs = %info.protocol_version, "peer of another chain: disconnecting");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                }
            }
            _ => {}
        }
    }
}

/// The network as an actor.
#[derive(Debug)]
pub struct P2pActor(pub P2p);

impl Actor for P2pActor {
    const NAME: &'static str = "p2p";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        self.0
            .run(cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}
