//! Playing the dispute game on L1: the challenger (a validator that found a wrong
//! output) and the defender (the proposer, answering for its outputs). Both
//! play every move from the node's own step trace of the disputed batch.

use crate::{AccountWitness, BatchTrace, trace_batch};
use alloy::{
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use infra_bus::{Actor, ActorError, Bus, CancellationToken, Event};
use infra_config::ChainConfig;
use infra_l1::{
    DisputeGame, L1Tx, Rollup, TxSender,
    batches::{SubmittedBatch, batch_data},
};
use infra_primitives::batch::BatchPayload;
use infra_state::TreeHasher;
use infra_storage::Store;
use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

#[derive(Debug, thiserror::Error)]
pub enum GameError {
    #[error("L1: {0}")]
    L1(String),
    #[error("batch {index}: {reason}")]
    Trace { index: u64, reason: String },
}

fn l1(e: impl std::fmt::Display) -> GameError {
    GameError::L1(e.to_string())
}

/// Where the game lives.
#[derive(Debug, Clone)]
pub struct GameSettings {
    pub game: Address,
    pub rollup: Address,
    /// Logs are searched from here (the deployment block).
    pub deploy_block: u64,
    pub poll: Duration,
}

/// What a player works with: the node's store and chain, its L1 key, the game.
#[derive(Debug, Clone)]
pub struct GameNode {
    pub store: Store,
    pub chain: ChainConfig,
    pub hasher: TreeHasher,
    pub sender: Arc<TxSender>,
    pub settings: GameSettings,
}

/// What a player has done (for status pages and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayerStatus {
    pub opened: Vec<u64>,
    pub won: Vec<u64>,
    pub lost: Vec<u64>,
    pub moves: u64,
}

const AWAITING_DEFENCE: u8 = 1;
const BISECTING: u8 = 2;
const AWAITING_STEP: u8 = 3;
const PROPOSER_WON: u8 = 4;
const CHALLENGER_WON: u8 = 5;

/// A disputed batch as this node sees it: the posted bytes and its trace.
struct Disputed {
    data: Bytes,
    trace: BatchTrace,
}

/// What both players share: L1 access and the node's view of the batches.
struct Player {
    store: Store,
    chain: ChainConfig,
    hasher: TreeHasher,
    sender: Arc<TxSender>,
    settings: GameSettings,
    /// By (batch index, data commitment).
    traces: HashMap<(u64, alloy::primitives::B256), Arc<Disputed>>,
    finished: BTreeSet<u64>,
    status: Arc<Mutex<PlayerStatus>>,
}

impl Player {
    fn new(node: GameNode) -> Self {
        let GameNode { store, chain, hasher, sender, settings } = node;
        Self {
            store,
            chain,
            hasher,
            sender,
            settings,
            traces: HashMap::new(),
            finished: BTreeSet::new(),
            status: Arc::default(),
        }
    }

    fn provider(&self) -> &DynProvider {
        self.sender.provider()
    }

    fn game(&self) -> DisputeGame::DisputeGameInstance<&DynProvider> {
        DisputeGame::new(self.settings.game, self.provider())
    }

    async fn send(&self, call: impl SolCall, value: U256) -> Result<(), GameError> {
        let mut tx = L1Tx::call(self.settings.game, call.abi_encode().into());
        tx.value = value;
        self.sender.send(tx).await.map_err(l1)?;
        self.update(|s| s.moves += 1);
        Ok(())
    }

    fn update(&self, f: impl FnOnce(&mut PlayerStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Keeps at least `minStake` of free bond.
    async fn ensure_bond(&self) -> Result<(), GameError> {
        let me = self.sender.address();
        let config = self.game().config().call().await.map_err(l1)?;
        let free = self.game().freeBond(me).call().await.map_err(l1)?;
        if free < config.minStake {
            let need = config.minStake - free;
            self.send(DisputeGame::bondCall {}, need).await?;
            tracing::info!(target: "challenger", %me, bonded = %need, "bond posted");
        }
        Ok(())
    }

    /// The posted batch `index` and this node's trace of it.
    async fn disputed(
        &mut self,
        index: u64,
        commitment: alloy::primitives::B256,
    ) -> Result<Arc<Disputed>, GameError> {
        if let Some(d) = self.traces.get(&(index, commitment)) {
            return Ok(d.clone());
        }
        let err = |reason: String| GameError::Trace { index, reason };
        let batch = SubmittedBatch::find(
            self.provider(),
            self.settings.rollup,
            index,
            commitment,
            self.settings.deploy_block,
        )
        .await
        .map_err(|e| err(e.to_string()))?;
        // The version-1 step machine reads the batch from calldata (a
        // disputable chain posts no blobs).
        let data =
            match batch_data(self.provider(), &batch).await.map_err(|e| err(e.to_string()))? {
                infra_stf::BatchData::Calldata(d) => d,
                infra_stf::BatchData::Blobs(_) => {
                    return Err(err("the version-1 game reads calldata batches only".into()));
                }
            };
        let payload = BatchPayload::decode(&data).map_err(|e| err(e.to_string()))?;
        let (store, chain, hasher) = (self.store.clone(), self.chain.clone(), self.hasher.clone());
        let trace =
            tokio::task::spawn_blocking(move || trace_batch(&store, &chain, &hasher, &payload))
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(e.to_string()))?;
        let d = Arc::new(Disputed { data, trace });
        self.traces.insert((index, commitment), d.clone());
        Ok(d)
    }

    /// Proves step `lo + 1` from the agreed state `lo` on L1, if L1 decides it.
    async fn prove(&self, id: u64, d: &Disputed, lo: u64) -> Result<bool, GameError> {
        let (Some(pre), Some(step)) = (d.trace.state(lo), d.trace.steps.get(lo as usize)) else {
            return Err(GameError::L1(format!("game {id}: no step {}", lo + 1)));
        };
        let Some(witness) = &step.witness else {
            tracing::error!(target: "challenger", game = id, step = lo + 1, "this step runs contract code: L1 does not decide it, the arbiter must");
            return Ok(false);
        };
        let accounts = witness.iter().map(AccountWitness::to_l1).collect();
        let deposit = step.l1_deposit();
        let call = DisputeGame::proveStepCall {
            id: U256::from(id),
            pre: pre.to_l1(),
            data: d.data.clone(),
            accounts,
            deposit,
        };
        self.send(call, U256::ZERO).await?;
        tracing::info!(target: "challenger", game = id, step = lo + 1, "one-step proof sent");
        Ok(true)
    }

    /// One move in every open game this node plays (`as_proposer`: the games
    /// against its outputs; otherwise the ones it opened).
    async fn play(&mut self, as_proposer: bool) -> Result<(), GameError> {
        let me = self.sender.address();
        let count: u64 = self.game().gameCount().call().await.map_err(l1)?.try_into().unwrap_or(0);
        let now = self
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(l1)?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        for id in 0..count {
            if self.finished.contains(&id) {
                continue;
            }
            let g = self.game().getGame(U256::from(id)).call().await.map_err(l1)?;
            let mine = if as_proposer { g.proposer == me } else { g.challenger == me };
            if !mine {
                self.finished.insert(id);
                continue;
            }
            let index: u64 = g.batch.try_into().unwrap_or(u64::MAX);
            match g.status {
                PROPOSER_WON | CHALLENGER_WON => {
                    let won = (g.status == PROPOSER_WON) == as_proposer;
                    tracing::info!(target: "challenger", game = id, batch = index, won, "game over");
                    self.update(|s| if won { s.won.push(id) } else { s.lost.push(id) });
                    self.finished.insert(id);
                    continue;
                }
                _ => {}
            }
            let my_move = g.proposerToMove == as_proposer;
            if !my_move {
                if now > g.deadline {
                    match self
                        .send(DisputeGame::timeoutCall { id: U256::from(id) }, U256::ZERO)
                        .await
                    {
                        Ok(()) => {
                            tracing::info!(target: "challenger", game = id, "the other party missed its deadline")
                        }
                        Err(e) => tracing::warn!(target: "challenger", game = id, "timeout: {e}"),
                    }
                    continue;
                }
                if !(as_proposer && g.status == AWAITING_STEP) {
                    continue;
                }
            }
            let d = match self.disputed(index, g.commitment).await {
                Ok(d) => d,
                Err(e) => {
                    // Keep playing the other games.
                    tracing::warn!(target: "challenger", game = id, "{e}");
                    continue;
                }
            };
            if let Err(e) = self.move_in(id, &g, &d, as_proposer).await {
                tracing::warn!(target: "challenger", game = id, "move: {e}");
            }
        }
        Ok(())
    }

    async fn move_in(
        &self,
        id: u64,
        g: &DisputeGame::Game,
        d: &Disputed,
        as_proposer: bool,
    ) -> Result<(), GameError> {
        let state = |k: u64| d.trace.state(k).copied();
        match g.status {
            AWAITING_DEFENCE if as_proposer => {
                // Defend what was claimed: the final state with the output's values.
                let mut last = *d.trace.last();
                last.state_root = g.claimedRoot;
                last.base_fee = g.nextBaseFee;
                last.deposit_nonce = g.nextDepositNonce;
                let call = DisputeGame::defendCall { id: U256::from(id), last: last.to_l1() };
                self.send(call, U256::ZERO).await?;
            }
            BISECTING if as_proposer => {
                let mid = (g.lo + g.hi) / 2;
                let h = state(mid).map(|s| s.hash()).unwrap_or_default();
                self.send(DisputeGame::bisectCall { id: U256::from(id), midHash: h }, U256::ZERO)
                    .await?;
            }
            BISECTING => {
                let mid = (g.lo + g.hi) / 2;
                let agree = state(mid).is_some_and(|s| s.hash() == g.midHash);
                self.send(DisputeGame::respondCall { id: U256::from(id), agree }, U256::ZERO)
                    .await?;
            }
            AWAITING_STEP => {
                let ours = state(g.hi).map(|s| s.hash());
                // The proposer proves only a step it is right about; the
                // challenger only one where it is not.
                let right = ours == Some(g.hiHash);
                if right == as_proposer && state(g.lo).is_some_and(|s| s.hash() == g.loHash) {
                    self.prove(id, d, g.lo).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A validator's challenger: disputes every output derivation found wrong.
pub struct ChallengerActor {
    player: Player,
    bus: Bus,
}

impl std::fmt::Debug for ChallengerActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengerActor").finish_non_exhaustive()
    }
}

/// The proposer's side: answers every game against its outputs.
pub struct DefenderActor {
    player: Player,
}

impl std::fmt::Debug for DefenderActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefenderActor").finish_non_exhaustive()
    }
}

impl ChallengerActor {
    pub fn new(node: GameNode, bus: Bus) -> Self {
        Self { player: Player::new(node), bus }
    }

    pub fn status(&self) -> Arc<Mutex<PlayerStatus>> {
        self.player.status.clone()
    }

    async fn open(&mut self, index: u64) -> Result<(), GameError> {
        let rollup = Rollup::new(self.player.settings.rollup, self.player.provider());
        let b = rollup.getBatch(U256::from(index)).call().await.map_err(l1)?;
        if b.status != 1 {
            return Ok(()); // not pending (already challenged, final, or gone)
        }
        if self.player.game().openGame(U256::from(index)).call().await.map_err(l1)? != U256::ZERO {
            return Ok(());
        }
        self.player.ensure_bond().await?;
        self.player
            .send(DisputeGame::challengeCall { index: U256::from(index) }, U256::ZERO)
            .await?;
        tracing::warn!(target: "challenger", batch = index, "wrong output: dispute opened on L1");
        self.player.update(|s| s.opened.push(index));
        Ok(())
    }

    async fn run(mut self, cancel: CancellationToken) -> Result<(), GameError> {
        let mut events = self.bus.subscribe();
        let mut wrong: BTreeSet<u64> = BTreeSet::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                ev = events.recv() => {
                    if let Ok(Event::BatchDerived(v)) = ev && !v.valid() {
                        wrong.insert(v.index);
                    }
                    continue;
                }
                _ = tokio::time::sleep(self.player.settings.poll) => {}
            }
            for index in std::mem::take(&mut wrong) {
                if let Err(e) = self.open(index).await {
                    tracing::warn!(target: "challenger", batch = index, "opening a dispute: {e}");
                    wrong.insert(index);
                }
            }
            if let Err(e) = self.player.play(false).await {
                tracing::warn!(target: "challenger", "playing: {e}");
            }
        }
    }
}

impl DefenderActor {
    pub fn new(node: GameNode) -> Self {
        Self { player: Player::new(node) }
    }

    pub fn status(&self) -> Arc<Mutex<PlayerStatus>> {
        self.player.status.clone()
    }

    async fn run(mut self, cancel: CancellationToken) -> Result<(), GameError> {
        let mut bonded = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.player.settings.poll) => {}
            }
            if !bonded {
                match self.player.ensure_bond().await {
                    Ok(()) => bonded = true,
                    Err(e) => tracing::warn!(target: "challenger", "proposer bond: {e}"),
                }
            }
            if let Err(e) = self.player.play(true).await {
                tracing::warn!(target: "challenger", "defending: {e}");
            }
        }
    }
}

impl Actor for ChallengerActor {
    const NAME: &'static str = "challenger";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        ChallengerActor::run(self, cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}

impl Actor for DefenderActor {
    const NAME: &'static str = "defender";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        DefenderActor::run(self, cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}
