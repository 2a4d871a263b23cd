//! Playing `FaultGame` on L1 for a node: a validator opens a game on every
//! live claim its derivation found wrong, and every player (validator or the
//! sequencer's defender) answers every claim it disagrees with in every game
//! on a claim it can rebuild, steps at the deepest level (loading the
//! preimage part the instruction reads first), resolves claims once their
//! clocks have run out, resolves games and withdraws what it won.
//!
//! A claim's trace is the fault-proof program run in the VM over the claim's
//! inputs rebuilt from this node's database (`infra_derivation::witness`);
//! the inputs must be exactly those the rollup serves for the claim, else
//! the node does not play it (it could not play it honestly).

use crate::fault::{
    ClaimView, Lying, Move, ProgramTrace, TraceError, TraceValues, depth, first_read, honest_moves,
};
use alloy::{
    eips::eip4844::{c_kzg, env_settings::EnvKzgSettings},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use infra_bus::{Actor, ActorError, CancellationToken};
use infra_derivation::witness::{WitnessError, witness_of};
use infra_fpvm::{Preimages, StepProof};
use infra_l1::{FaultGame, GameAddresses, L1Tx, PreimageOracle, Rollup, TxSender};
use infra_stf::{
    BatchData, Output,
    claim::{KEY_BLOB, KEY_KECCAK256, KEY_LOCAL, KEY_POSEIDON, blob_key, local_key, typed_key},
};
use infra_storage::Store;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("L1: {0}")]
    L1(String),
    #[error("claim {claim}: {reason}")]
    Claim { claim: u64, reason: String },
}

fn l1(e: impl std::fmt::Display) -> PlayError {
    PlayError::L1(e.to_string())
}

/// Where the game is and how this node plays it.
#[derive(Debug, Clone)]
pub struct PlayerSettings {
    pub rollup: Address,
    pub game: GameAddresses,
    pub poll: Duration,
    /// The fault-proof program (its keccak256 is `program/PRESTATE`'s).
    pub elf: Arc<Vec<u8>>,
    /// Open games against wrong claims (a validator); otherwise only answer.
    pub challenge: bool,
    /// Fault injection, tests only (`--sequencer.test-lying-defence`): a
    /// defender (not `challenge`) defends its claims the program rejects with a
    /// made-up trace, true up to the program's first read of a contract's code
    /// (else up to its last instruction), so the game is played move by move
    /// down to that instruction, which L1 then runs.
    pub lying_defence: bool,
}

/// What a player has done (for status pages and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayerStatus {
    /// Batch indexes this node opened a game on.
    pub opened: Vec<u64>,
    /// Games ended the way this node played them / the other way.
    pub won: Vec<u64>,
    pub lost: Vec<u64>,
    /// Moves sent (steps not counted).
    pub moves: u64,
    /// Steps sent: the game, the number of instructions run before the one
    /// L1 ran, and the preimage key that instruction reads (if any).
    pub steps: Vec<(u64, u64, Option<B256>)>,
    /// Claims defended with a made-up trace (`lying_defence`): the claim and
    /// the first made-up trace index.
    pub lies: Vec<(u64, u64)>,
}

const IN_PROGRESS: u8 = 0;
const CHALLENGER_WINS: u8 = 1;
const STATUS_PENDING: u8 = 1;
/// Claims resolved per round, in all games (one transaction each,
/// bottom-up): a game of 36 claims would otherwise hold a round, and the
/// moves it owes in other games, for 36 L1 transactions.
const RESOLVE_PER_ROUND: usize = 6;

/// One claim's trace and what loading its preimages needs.
struct ClaimTrace {
    trace: ProgramTrace,
    preimages: BTreeMap<B256, Vec<u8>>,
    data: BatchData,
    /// The program's final state (its hash) and whether it rejects the claim.
    final_state: B256,
    rejects: bool,
    /// `lying_defence`: the first trace index it makes up.
    lie_from: Option<u64>,
}

impl TraceValues for ClaimTrace {
    fn at(&mut self, t: u64) -> B256 {
        self.trace.at(t)
    }
}

/// Plays the fault game for one node (see the module docs).
pub struct FaultPlayer {
    store: Store,
    sender: Arc<TxSender>,
    /// The proposer's (batcher's) sender when this player plays from another
    /// key: it withdraws the proposer's credit (`Rollup` and game).
    proposer: Option<Arc<TxSender>>,
    /// The proposer's withdrawals in flight (sent off the rounds: the
    /// batcher's key waits its turn behind posts, and moves do not).
    proposer_withdrawing: Option<tokio::task::JoinHandle<()>>,
    settings: PlayerSettings,
    traces: HashMap<u64, Arc<Mutex<ClaimTrace>>>,
    /// The claims being traced, off the rounds (at most
    /// [`traces_at_once`] side by side): games already traced are answered
    /// meanwhile.
    building: Vec<Build>,
    /// A validator: the earliest wrong claim it has not yet opened a game on,
    /// waiting for its trace (found by the last `open_games`). One trace slot
    /// is kept for it: games on other claims (false games an attacker opens
    /// included) cannot hold back the game that stops a wrong output.
    opening: Option<u64>,
    /// Builds that failed for a passing reason, per claim.
    retries: HashMap<u64, u32>,
    /// The claims with a game in progress (their state is pinned).
    in_progress: Vec<u64>,
    /// Claims this node cannot rebuild (its records lack them or differ).
    unplayable: BTreeSet<u64>,
    /// Claims this node has opened a game on, or found right.
    checked: BTreeSet<u64>,
    finished: BTreeSet<u64>,
    /// Claims below it are final, or rolled back with their bond settled.
    refund_cursor: u64,
    status: Arc<Mutex<PlayerStatus>>,
}

impl std::fmt::Debug for FaultPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultPlayer").field("settings", &self.settings.game).finish_non_exhaustive()
    }
}

impl FaultPlayer {
    /// The node pins the whole state history when it opens a database a
    /// player will use; the player's rounds then pin what its claims need
    /// ([`FaultPlayer::pin_state`]).
    pub fn new(store: Store, sender: Arc<TxSender>, settings: PlayerSettings) -> Self {
        Self {
            store,
            sender,
            proposer: None,
            proposer_withdrawing: None,
            settings,
            traces: HashMap::new(),
            building: Vec::new(),
            opening: None,
            retries: HashMap::new(),
            in_progress: Vec::new(),
            unplayable: BTreeSet::new(),
            checked: BTreeSet::new(),
            finished: BTreeSet::new(),
            refund_cursor: 1,
            status: Arc::default(),
        }
    }

    /// A defender playing from a key of its own: `proposer` is the batcher's
    /// sender, which settles the bonds of its outputs.
    pub fn with_proposer(mut self, proposer: Arc<TxSender>) -> Self {
        self.proposer = Some(proposer);
        self
    }

    pub fn status(&self) -> Arc<Mutex<PlayerStatus>> {
        self.status.clone()
    }

    fn update(&self, f: impl FnOnce(&mut PlayerStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn provider(&self) -> &DynProvider {
        self.sender.provider()
    }

    fn rollup(&self) -> Rollup::RollupInstance<&DynProvider> {
        Rollup::new(self.settings.rollup, self.provider())
    }

    fn game(&self) -> FaultGame::FaultGameInstance<&DynProvider> {
        FaultGame::new(self.settings.game.game, self.provider())
    }

    /// Sends a move (or what a move needs) in a game: before the batcher's
    /// posts waiting on the same key (moves run on a clock).
    async fn send(&self, to: Address, call: impl SolCall, value: U256) -> Result<(), PlayError> {
        let mut tx = L1Tx::call(to, call.abi_encode().into());
        tx.value = value;
        self.sender.send_urgent(tx).await.map_err(l1)?;
        Ok(())
    }

    /// Sends what runs on no clock (resolutions, refunds, withdrawals) in turn.
    async fn send_in_turn(&self, to: Address, call: impl SolCall) -> Result<(), PlayError> {
        self.sender.send(L1Tx::call(to, call.abi_encode().into())).await.map_err(l1)?;
        Ok(())
    }

    async fn now(&self) -> Result<u64, PlayError> {
        Ok(self
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(l1)?
            .map(|b| b.header.timestamp)
            .unwrap_or_default())
    }

    /// The trace of claim `claim_id`, built once from this node's records in
    /// the background, up to [`traces_at_once`] claims side by side (the VM
    /// runs the whole program: seconds to minutes, one core each), so the
    /// games this node already plays are answered meanwhile. `Building`:
    /// being built (this claim, or as many others as run at once);
    /// `Retry`: not yet (an L1 error, or this node has no record of the
    /// claim's batch: not derived yet, or never); `Unplayable`: never (its
    /// inputs differ from the record, or the program gives no verdict within
    /// the game or within two clocks of wall time).
    async fn trace(&mut self, claim_id: u64) -> Traced {
        self.take_built().await;
        if let Some(t) = self.traces.get(&claim_id) {
            return Traced::Ready(t.clone());
        }
        if self.unplayable.contains(&claim_id) {
            return Traced::Unplayable;
        }
        let reserved = self.opening.is_some_and(|o| {
            o != claim_id
                && !self.traces.contains_key(&o)
                && !self.unplayable.contains(&o)
                && !self.building.iter().any(|b| b.claim_id == o)
        });
        if !may_start_trace(self.building.len(), traces_at_once(), reserved)
            || self.building.iter().any(|b| b.claim_id == claim_id)
        {
            return Traced::Building;
        }
        let id = U256::from(claim_id);
        let l1_state = async {
            let claim = self.rollup().getClaim(id).call().await?;
            let inputs = self.rollup().localInputs(id).call().await?;
            Ok::<_, alloy::contract::Error>((claim, inputs))
        };
        let (claim, inputs) = match l1_state.await {
            Ok(x) => x,
            Err(e) => return Traced::Retry(format!("L1: {e}")),
        };
        let index = claim.index;
        // This claim's record: the batch kept at its index, or the one a
        // rollback replaced there (a game on a rolled-back claim is still played).
        let record = match self.store.reader().and_then(|r| r.claim_batch(index, claim_id)) {
            Ok(r) => r,
            Err(e) => return Traced::Retry(format!("reading batch record {index}: {e}")),
        };
        let Some(record) = record.filter(|r| {
            Output::decode(&r.claimed) == Some(claim_output(&claim))
                && (r.first_block, r.last_block) == (claim.firstBlock, claim.lastBlock)
        }) else {
            // (Not yet derived, maybe: a restarted validator catching up. Asked
            // again each round while a game on it is in progress.)
            return Traced::Retry(format!(
                "this node has no record of batch {index} as claim {claim_id} posted it"
            ));
        };
        let (store, elf, max_depth) =
            (self.store.clone(), self.settings.elf.clone(), self.settings.game.max_depth);
        let lying = self.settings.lying_defence && !self.settings.challenge;
        // A build still running after two clocks is stopped: no game could
        // use it in time (a defender has one clock; an opener, the period,
        // at least two), and it would hold every other claim back.
        let deadline = std::time::Instant::now()
            + Duration::from_secs(self.settings.game.max_clock_s.saturating_mul(2));
        let build = tokio::task::spawn_blocking(move || -> Result<ClaimTrace, BuildError> {
            use BuildError::GiveUp;
            // The database may be busy (an unwind being replayed): tried again.
            let w = witness_of(&store, &record).map_err(|e| match e {
                WitnessError::Storage(e) => BuildError::Retry(e.to_string()),
                e => GiveUp(e.to_string()),
            })?;
            for (i, input) in inputs.iter().enumerate() {
                let key = local_key(i as u64 + 1);
                if w.preimages.get(&key).map(Vec::as_slice) != Some(input.as_ref()) {
                    return Err(GiveUp(format!(
                        "local input {} as L1 serves it differs from this node's record of batch {index}",
                        i + 1
                    )));
                }
            }
            let mut source = Preimages::default();
            for (k, v) in &w.preimages {
                source.insert(*k, v.clone());
            }
            // (A run that does not end within the game's trace, or within a
            // clock of wall time, is given up there, not run on.)
            let give_up = |e: TraceError| GiveUp(e.to_string());
            let late = || std::time::Instant::now() > deadline;
            let mut trace = ProgramTrace::within(&elf, source, 1u64 << max_depth, &late)
                .map_err(give_up)?
                .ok_or_else(|| GiveUp("the trace took longer than two clocks".into()))?;
            if trace.end >= 1u64 << max_depth {
                return Err(GiveUp(format!(
                    "the program runs {} instructions or more, past the game's 2^{max_depth}",
                    trace.end
                )));
            }
            let status = trace.exit_status().map_err(give_up)?;
            if status > 1 {
                return Err(GiveUp(format!("the program gives no verdict (exit status {status})")));
            }
            let final_state = trace.after(trace.end).map_err(give_up)?;
            let lie_from = if lying && status == 1 {
                Some(lie_point(&elf, &trace, &w.preimages).map_err(GiveUp)?)
            } else {
                None
            };
            Ok(ClaimTrace {
                trace,
                preimages: w.preimages,
                data: w.data,
                final_state,
                rejects: status == 1,
                lie_from,
            })
        });
        tracing::info!(target: "challenger", claim = claim_id, batch = index, "tracing the claim in the fault-proof VM");
        self.building.push(Build { claim_id, index, handle: build });
        Traced::Building
    }

    /// Keeps the claim traces built in the background, once built.
    async fn take_built(&mut self) {
        while let Some(i) = self.building.iter().position(|b| b.handle.is_finished()) {
            let Build { claim_id, index, handle } = self.building.swap_remove(i);
            let built = match handle.await {
                Ok(Ok(b)) => b,
                Ok(Err(BuildError::GiveUp(why))) => {
                    self.give_up(claim_id, why);
                    continue;
                }
                Ok(Err(BuildError::Retry(why))) => {
                    let tries = self.retries.entry(claim_id).or_default();
                    *tries += 1;
                    if *tries >= BUILD_TRIES {
                        self.give_up(claim_id, format!("{why} ({BUILD_TRIES} tries)"));
                    } else {
                        tracing::warn!(target: "challenger", claim = claim_id, batch = index, "tracing the claim: {why} (tried again)");
                    }
                    continue;
                }
                // A panic in the VM or the witness is this node's fault, and the
                // same again next time: given up, so it holds no other claim back.
                Err(e) if e.is_panic() => {
                    self.give_up(claim_id, format!("tracing the claim panicked: {e}"));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(target: "challenger", claim = claim_id, "tracing the claim: {e}");
                    continue;
                }
            };
            tracing::info!(target: "challenger", claim = claim_id, batch = index, steps = built.trace.end, rejects = built.rejects, "traced the claim in the fault-proof VM");
            if let Some(from) = built.lie_from {
                tracing::warn!(target: "challenger", claim = claim_id, batch = index, from, "TEST FAULT INJECTION: defending a wrong claim with a made-up trace");
                self.update(|s| s.lies.push((claim_id, from)));
            }
            self.traces.insert(claim_id, Arc::new(Mutex::new(built)));
        }
    }

    fn give_up(&mut self, claim_id: u64, why: String) {
        tracing::error!(target: "challenger", claim = claim_id, "this node cannot play games on this claim: {why}");
        self.unplayable.insert(claim_id);
    }

    /// A validator: opens a game on a live pending claim inside its period that
    /// derivation found wrong and the program rejects (tracing the earliest
    /// such claim first, in the background, beside the traces of games in
    /// progress).
    async fn open_games(&mut self) -> Result<(), PlayError> {
        let count: u64 = self.rollup().batchCount().call().await.map_err(l1)?.to();
        let next: u64 = self.rollup().nextToFinalize().call().await.map_err(l1)?.to();
        let period = self.rollup().challengePeriod().call().await.map_err(l1)?;
        let now = self.now().await?;
        self.opening = None;
        for index in next..count {
            let claim_id: u64 =
                self.rollup().claimOf(U256::from(index)).call().await.map_err(l1)?.to();
            if self.checked.contains(&claim_id) || self.unplayable.contains(&claim_id) {
                continue;
            }
            let c = self.rollup().getClaim(U256::from(claim_id)).call().await.map_err(l1)?;
            if c.status != STATUS_PENDING || now >= c.submittedAt + period {
                continue;
            }
            // Derivation's verdict first (the VM runs only on claims found wrong).
            let Some(record) = self.store.reader().map_err(l1)?.batch(index).map_err(l1)? else {
                continue; // not derived yet
            };
            let claimed = claim_output(&c);
            if Output::decode(&record.claimed) != Some(claimed) {
                continue; // the record is of another claim at this index (not derived yet)
            }
            if record.claimed == record.derived {
                self.checked.insert(claim_id);
                continue;
            }
            let trace = match self.trace(claim_id).await {
                Traced::Ready(t) => t,
                Traced::Building => {
                    self.opening = Some(claim_id);
                    return Ok(());
                }
                Traced::Retry(why) => {
                    self.opening = Some(claim_id);
                    tracing::debug!(target: "challenger", claim = claim_id, batch = index, "not traced yet: {why}");
                    return Ok(());
                }
                Traced::Unplayable => {
                    tracing::error!(target: "challenger", claim = claim_id, batch = index, "a wrong output this node cannot dispute");
                    return Ok(());
                }
            };
            let (root, rejects) = {
                let t = trace.lock().unwrap_or_else(PoisonError::into_inner);
                (t.final_state, t.rejects)
            };
            if !rejects {
                tracing::error!(target: "challenger", claim = claim_id, batch = index, "derivation found the output wrong but the fault-proof program accepts it: not disputed");
                self.checked.insert(claim_id);
                return Ok(());
            }
            let bond = self.game().bondAt(U256::ZERO).call().await.map_err(l1)?;
            let call = FaultGame::createCall { claimId: U256::from(claim_id), rootClaim: root };
            self.send(self.settings.game.game, call, bond).await?;
            self.checked.insert(claim_id);
            self.update(|s| s.opened.push(index));
            tracing::warn!(target: "challenger", claim = claim_id, batch = index, %root, "wrong output: fault game opened on L1");
        }
        Ok(())
    }

    /// Plays every game in progress on a claim traced; asks for the trace of
    /// the others (games on live claims first). Games on claims this node
    /// cannot rebuild, or has not traced yet, are still resolved.
    async fn play_games(&mut self) -> Result<Vec<u64>, PlayError> {
        let count: u64 = self.game().gameCount().call().await.map_err(l1)?.to();
        let me = self.sender.address();
        let mut open = Vec::new();
        for game_id in 0..count {
            if self.finished.contains(&game_id) {
                continue;
            }
            let g = self.game().getGame(U256::from(game_id)).call().await.map_err(l1)?;
            let claim_id: u64 = g.claimId.to();
            if g.creator == me {
                // (After a restart: a claim this node already opened a game on.)
                self.checked.insert(claim_id);
            }
            if g.status != IN_PROGRESS {
                self.finished.insert(game_id);
                // A game this node played (it traced the claim, or opened it).
                if let Some(t) = self.traces.get(&claim_id) {
                    let (rejects, root, lying) = {
                        let t = t.lock().unwrap_or_else(PoisonError::into_inner);
                        (t.rejects, t.final_state, t.lie_from.is_some())
                    };
                    // It sides with the root iff the root is its own final
                    // state (a lying defence never does).
                    let with_root = rejects
                        && !lying
                        && (g.creator == me || self.root_of(game_id).await? == root);
                    let won = with_root == (g.status == CHALLENGER_WINS);
                    self.update(|s| if won { s.won.push(game_id) } else { s.lost.push(game_id) });
                    tracing::info!(target: "challenger", game = game_id, claim = claim_id, won, "game over");
                }
                continue;
            }
            open.push((game_id, claim_id));
        }
        self.in_progress = open.iter().map(|(_, c)| *c).collect();
        // Games on claims already traced first, then those on live claims
        // (a game on a claim already rolled back moves only bonds), which
        // are traced first.
        let mut order = Vec::with_capacity(open.len());
        for (game_id, claim_id) in open {
            let rank = if self.traces.contains_key(&claim_id) {
                0
            } else if self.rollup().isLive(U256::from(claim_id)).call().await.map_err(l1)? {
                1
            } else {
                2
            };
            order.push((rank, game_id, claim_id));
        }
        order.sort();
        // Moves first, in every game (each side is on a clock).
        let mut idle = Vec::new();
        for (_, game_id, claim_id) in order {
            let trace = match self.trace(claim_id).await {
                Traced::Ready(t) => Some(t),
                Traced::Building | Traced::Unplayable => None,
                Traced::Retry(why) => {
                    tracing::debug!(target: "challenger", game = game_id, claim = claim_id, "not traced yet: {why}");
                    None
                }
            };
            let moved = match &trace {
                Some(t) => self.play(game_id, t).await,
                None => Ok(0),
            };
            match moved {
                Ok(0) => idle.push(game_id),
                Ok(_) => {}
                Err(e) => tracing::warn!(target: "challenger", game = game_id, "{e}"),
            }
        }
        Ok(idle)
    }

    /// Resolutions (on no clock) in the games with no move left, at most
    /// `RESOLVE_PER_ROUND` claims a round in all: a round owes its moves.
    async fn resolve_games(&self, idle: Vec<u64>) {
        let mut budget = RESOLVE_PER_ROUND;
        for game_id in idle {
            if budget == 0 {
                break;
            }
            match self.resolve(game_id, budget).await {
                Ok(sent) => budget -= sent,
                Err(e) => tracing::warn!(target: "challenger", game = game_id, "{e}"),
            }
        }
    }

    /// Pins the state this node rebuilds claims from
    /// ([`Store::keep_state_from`]): from the block before the first of the
    /// oldest batch not yet final (before the next block to post when every
    /// posted one is), and of every claim with a game in progress, whatever
    /// the state-history window.
    async fn pin_state(&self) -> Result<(), PlayError> {
        let next = self.rollup().nextToFinalize().call().await.map_err(l1)?;
        let count = self.rollup().batchCount().call().await.map_err(l1)?;
        let mut from = if next < count {
            self.rollup().getBatch(next).call().await.map_err(l1)?.firstBlock
        } else {
            self.rollup().nextBlock().call().await.map_err(l1)?
        };
        for claim_id in &self.in_progress {
            let c = self.rollup().getClaim(U256::from(*claim_id)).call().await.map_err(l1)?;
            from = from.min(c.firstBlock);
        }
        self.store.keep_state_from(from.saturating_sub(1));
        Ok(())
    }

    async fn root_of(&self, game_id: u64) -> Result<B256, PlayError> {
        Ok(self.game().getClaim(U256::from(game_id), U256::ZERO).call().await.map_err(l1)?.value)
    }

    async fn claims(&self, game_id: u64) -> Result<Vec<FaultGame::Claim>, PlayError> {
        let id = U256::from(game_id);
        let n: u64 = self.game().claimCount(id).call().await.map_err(l1)?.to();
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            out.push(self.game().getClaim(id, U256::from(i)).call().await.map_err(l1)?);
        }
        Ok(out)
    }

    /// This node's moves in one game; how many it made (none: the game is
    /// resolved as far as it can be, after the moves in every game).
    async fn play(
        &mut self,
        game_id: u64,
        trace: &Arc<Mutex<ClaimTrace>>,
    ) -> Result<usize, PlayError> {
        let claims = self.claims(game_id).await?;
        let views: Vec<ClaimView> = claims.iter().map(ClaimView::from).collect();
        let max_depth = self.settings.game.max_depth;
        // (The VM seeks to the states it compares: off the async threads.)
        let t = trace.clone();
        let (moves, lying) = tokio::task::spawn_blocking(move || {
            let mut t = t.lock().unwrap_or_else(PoisonError::into_inner);
            match t.lie_from {
                Some(from) => {
                    let last = (1u64 << max_depth) - 1;
                    let mut lie = Lying { trace: &mut *t, from, last, final_status: 0 };
                    (honest_moves(&views, &mut lie, max_depth), true)
                }
                None => (honest_moves(&views, &mut *t, max_depth), false),
            }
        })
        .await
        .map_err(l1)?;
        let now = self.now().await?;
        let clock = self.settings.game.max_clock_s;
        let game = self.settings.game.game;
        let id = U256::from(game_id);
        let mut made = 0;
        // Claims go out together (consecutive nonces, one L1 block if it has
        // room: k claims posted at once against ours are all answered in the
        // next block, not over k blocks); steps after, together too, once the
        // preimage parts they read are loaded.
        let mut claims_out = Vec::new();
        let mut steps = Vec::new();
        for m in moves {
            // (A made-up state cannot be proven: a liar never steps.)
            if lying && matches!(m, Move::Step { .. }) {
                continue;
            }
            // A claim whose opponent's time has run out can no longer be
            // countered: moving against it would revert.
            let target = match &m {
                Move::Attack { parent, .. } | Move::Defend { parent, .. } => *parent,
                Move::Step { claim, .. } => *claim,
            };
            if opposing_clock(&claims, target, now) >= clock {
                continue;
            }
            match m {
                Move::Attack { parent, value } | Move::Defend { parent, value } => {
                    let d = depth(claims[parent].position) + 1;
                    let bond = self.game().bondAt(U256::from(d)).call().await.map_err(l1)?;
                    let parent = U256::from(parent);
                    let input = if matches!(m, Move::Attack { .. }) {
                        FaultGame::attackCall { gameId: id, parentIndex: parent, claim: value }
                            .abi_encode()
                    } else {
                        FaultGame::defendCall { gameId: id, parentIndex: parent, claim: value }
                            .abi_encode()
                    };
                    claims_out.push(L1Tx { value: bond, ..L1Tx::call(game, input.into()) });
                }
                Move::Step { claim, is_attack, from } => steps.push((claim, is_attack, from)),
            }
        }
        let mut sent: Vec<Result<(), PlayError>> = if claims_out.is_empty() {
            Vec::new()
        } else {
            let all = self.sender.send_urgent_all(&claims_out).await;
            all.into_iter().map(|r| r.map(drop).map_err(l1)).collect()
        };
        sent.extend(self.steps(game_id, steps, trace).await);
        for r in sent {
            match r {
                Ok(()) => {
                    made += 1;
                    self.update(|s| s.moves += 1);
                }
                Err(e) => tracing::warn!(target: "challenger", game = game_id, "move: {e}"),
            }
        }
        Ok(made)
    }

    /// Counters each claim at the deepest level (`(claim, is_attack, from)`:
    /// the instruction run from the state after `from` instructions): the
    /// preimage part each distinct instruction reads is loaded first, then
    /// every step goes out together, with consecutive nonces. Deepest claims
    /// an attacker posts at once under one of ours share one window of time
    /// (the extension before a step): they are all countered in the next L1
    /// block with room, not one after another.
    async fn steps(
        &self,
        game_id: u64,
        steps: Vec<(usize, bool, u64)>,
        trace: &Arc<Mutex<ClaimTrace>>,
    ) -> Vec<Result<(), PlayError>> {
        let mut results = Vec::new();
        let mut proofs: HashMap<u64, StepProof> = HashMap::new();
        let mut txs = Vec::new();
        let mut made = Vec::new();
        for (claim, is_attack, from) in steps {
            let proof = match proofs.get(&from) {
                Some(p) => p.clone(),
                None => match self.prepare_step(game_id, from, trace).await {
                    Ok(p) => proofs.entry(from).or_insert(p).clone(),
                    Err(e) => {
                        results.push(Err(e));
                        continue;
                    }
                },
            };
            let read = proof.preimage.map(|(key, _)| key);
            let call = FaultGame::stepCall {
                gameId: U256::from(game_id),
                claimIndex: U256::from(claim),
                isAttack: is_attack,
                stateData: proof.pre_state.into(),
                proofs: proof.mem_proofs.into(),
            };
            txs.push(L1Tx::call(self.settings.game.game, call.abi_encode().into()));
            made.push((claim, is_attack, from, read));
        }
        let sent = self.sender.send_urgent_all(&txs).await;
        for (r, (claim, is_attack, from, read)) in sent.into_iter().zip(made) {
            match r {
                Ok(_) => {
                    self.update(|s| s.steps.push((game_id, from, read)));
                    tracing::info!(target: "challenger", game = game_id, claim, is_attack, from, "stepped on L1");
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(l1(e))),
            }
        }
        results
    }

    /// The proof of the instruction run from the state after `from`
    /// instructions, its preimage part loaded on L1.
    async fn prepare_step(
        &self,
        game_id: u64,
        from: u64,
        trace: &Arc<Mutex<ClaimTrace>>,
    ) -> Result<StepProof, PlayError> {
        let err = |reason: String| PlayError::Claim { claim: game_id, reason };
        let trace = trace.clone();
        let (proof, load) = tokio::task::spawn_blocking(move || {
            let mut t = trace.lock().unwrap_or_else(PoisonError::into_inner);
            let proof = t.trace.proof_from(from).map_err(|e| e.to_string())?;
            let load = match proof.preimage {
                Some((key, offset)) => Some(loader(&t, key, offset)?),
                None => None,
            };
            Ok::<_, String>((proof, load))
        })
        .await
        .map_err(|e| err(e.to_string()))?
        .map_err(err)?;
        if let Some(load) = load {
            self.load(game_id, &proof, load).await?;
        }
        Ok(proof)
    }

    async fn load(&self, game_id: u64, proof: &StepProof, load: Load) -> Result<(), PlayError> {
        let Some((key, offset)) = proof.preimage else { return Ok(()) };
        let offset = U256::from(offset);
        let oracle = self.settings.game.oracle;
        if key[0] != KEY_LOCAL {
            let o = PreimageOracle::new(oracle, self.provider());
            if o.isLoaded(key, offset).call().await.map_err(l1)? {
                return Ok(());
            }
        }
        match load {
            Load::Local { ident, data } => {
                let call = FaultGame::addLocalDataCall {
                    gameId: U256::from(game_id),
                    ident: U256::from(ident),
                    offset,
                    data,
                };
                self.send(self.settings.game.game, call, U256::ZERO).await
            }
            Load::Keccak(preimage) => {
                let call = PreimageOracle::loadKeccak256PartCall { offset, preimage };
                self.send(oracle, call, U256::ZERO).await
            }
            Load::Poseidon(preimage) => {
                let call = PreimageOracle::loadPoseidonPartCall { offset, preimage };
                self.send(oracle, call, U256::ZERO).await
            }
            Load::Blob { versioned_hash, index, blob } => {
                let o = PreimageOracle::new(oracle, self.provider());
                let point = o.evaluationPoint(U256::from(index)).call().await.map_err(l1)?;
                let (element, commitment, kzg_proof) =
                    tokio::task::spawn_blocking(move || blob_opening(&blob, index, point))
                        .await
                        .map_err(l1)?
                        .map_err(PlayError::L1)?;
                let call = PreimageOracle::loadBlobPartCall {
                    versionedHash: versioned_hash,
                    index: U256::from(index),
                    element,
                    commitment,
                    proof: kzg_proof,
                    offset,
                };
                self.send(oracle, call, U256::ZERO).await
            }
        }
    }

    /// Resolves, bottom-up, the claims that can no longer be countered (at
    /// most `budget`), then the game once its root is resolved; how many
    /// claims it resolved.
    async fn resolve(&self, game_id: u64, budget: usize) -> Result<usize, PlayError> {
        let claims = &self.claims(game_id).await?;
        let now = self.now().await?;
        let clock = self.settings.game.max_clock_s;
        let game = self.settings.game.game;
        let id = U256::from(game_id);
        let mut resolved: Vec<bool> = claims.iter().map(|c| c.resolved).collect();
        let mut done_children: Vec<u64> = claims.iter().map(|c| c.resolvedChildren).collect();
        let mut sent = 0;
        for i in (0..claims.len()).rev() {
            let c = &claims[i];
            if resolved[i] || done_children[i] != c.children {
                continue;
            }
            if sent == budget {
                return Ok(sent); // (next round)
            }
            if c.counteredBy == Address::ZERO && opposing_clock(claims, i, now) < clock {
                continue;
            }
            let call = FaultGame::resolveClaimCall { gameId: id, claimIndex: U256::from(i) };
            // (Counted tried or not: each waits its turn on the key.)
            sent += 1;
            if let Err(e) = self.send_in_turn(game, call).await {
                tracing::debug!(target: "challenger", game = game_id, claim = i, "resolve claim: {e}");
                continue;
            }
            resolved[i] = true;
            if c.parentIndex != u64::MAX {
                done_children[c.parentIndex as usize] += 1;
            }
        }
        if resolved.first() == Some(&true) {
            self.send_in_turn(game, FaultGame::resolveCall { gameId: id }).await?;
            tracing::info!(target: "challenger", game = game_id, "game resolved");
        }
        Ok(sent)
    }

    /// Withdraws bonds won in games and output bonds returned; a proposer
    /// first asks back the bonds of its outputs that were rolled back because
    /// an earlier one was invalid (`refundBond`), once no game on them is open.
    async fn collect(&mut self) -> Result<(), PlayError> {
        let me = self.sender.address();
        let owner = self.proposer.as_ref().map_or(me, |p| p.address());
        // (Validators post no outputs.)
        let claims: u64 = if self.settings.challenge {
            0
        } else {
            self.rollup().claimCount().call().await.map_err(l1)?.to()
        };
        let mut id = self.refund_cursor.max(1);
        while id < claims {
            let c = self.rollup().getClaim(U256::from(id)).call().await.map_err(l1)?;
            // Invalid, final or superseded: its bond is settled already.
            if c.status == STATUS_PENDING {
                let live = self.rollup().isLive(U256::from(id)).call().await.map_err(l1)?;
                if live || c.openGames > 0 {
                    break; // (the cursor waits here: it may still be rolled back)
                }
                if c.proposer == owner && c.bond > 0 {
                    // (Anyone may ask: the bond goes to its proposer.)
                    let call = Rollup::refundBondCall { claimId: U256::from(id) };
                    self.send_in_turn(self.settings.rollup, call).await?;
                }
            }
            id += 1;
        }
        self.refund_cursor = id;
        if self.game().credit(me).call().await.map_err(l1)? > U256::ZERO {
            self.send_in_turn(self.settings.game.game, FaultGame::claimCreditCall {}).await?;
        }
        if self.rollup().credit(me).call().await.map_err(l1)? > U256::ZERO {
            self.send_in_turn(self.settings.rollup, Rollup::claimCreditCall {}).await?;
        }
        // The proposer's own credit (its output bonds; game credit from
        // before it had a game key), withdrawn by its key off the rounds.
        if let Some(proposer) = &self.proposer
            && self.proposer_withdrawing.as_ref().is_none_or(|h| h.is_finished())
        {
            let mut calls = Vec::new();
            if self.rollup().credit(owner).call().await.map_err(l1)? > U256::ZERO {
                calls.push(L1Tx::call(
                    self.settings.rollup,
                    Rollup::claimCreditCall {}.abi_encode().into(),
                ));
            }
            if self.game().credit(owner).call().await.map_err(l1)? > U256::ZERO {
                calls.push(L1Tx::call(
                    self.settings.game.game,
                    FaultGame::claimCreditCall {}.abi_encode().into(),
                ));
            }
            if !calls.is_empty() {
                let proposer = proposer.clone();
                self.proposer_withdrawing = Some(tokio::spawn(async move {
                    for tx in calls {
                        if let Err(e) = proposer.send(tx).await {
                            tracing::warn!(target: "challenger", "withdrawing the proposer's credit: {e}");
                        }
                    }
                }));
            }
        }
        Ok(())
    }

    /// Moves in games in progress first (each side is on a clock), then new
    /// games, resolutions, the state pin, credit. Claims are traced in the
    /// background, one per core at a time.
    /// Each part runs whatever the others did (an error is logged): a game
    /// that cannot be opened holds back no resolution, pin or withdrawal.
    async fn round(&mut self) {
        let warn = |what: &str, e: PlayError| {
            tracing::warn!(target: "challenger", "fault game ({what}): {e}");
        };
        let idle = self.play_games().await.unwrap_or_else(|e| {
            warn("moves", e);
            Vec::new()
        });
        if self.settings.challenge
            && let Err(e) = self.open_games().await
        {
            // (A game just opened: its first answers come next round.)
            warn("opening games", e);
        }
        self.resolve_games(idle).await;
        if let Err(e) = self.pin_state().await {
            warn("state pin", e);
        }
        if let Err(e) = self.collect().await {
            warn("withdrawals", e);
        }
    }

    async fn run(mut self, cancel: CancellationToken) -> Result<(), PlayError> {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
            let started = std::time::Instant::now();
            self.round().await;
            // Each move waits for a whole round: a slow one eats the clock.
            let took = started.elapsed();
            let clock = Duration::from_secs(self.settings.game.max_clock_s);
            let role = if self.settings.challenge { "validator" } else { "defender" };
            let extension = Duration::from_secs(self.settings.game.clock_extension_s);
            if took * 10 > clock {
                tracing::warn!(target: "challenger", role, round_ms = took.as_millis() as u64, clock_s = clock.as_secs(), "a fault-game round took over a tenth of each side's clock (slow L1 RPC, or a busy machine)");
            } else if !extension.is_zero() && took > extension {
                tracing::warn!(target: "challenger", role, round_ms = took.as_millis() as u64, extension_s = extension.as_secs(), "a fault-game round took longer than the game's clock extension: after a late move, this player could run out of time (slow L1 RPC, or a busy machine)");
            } else {
                tracing::debug!(target: "challenger", role, round_ms = took.as_millis() as u64, "fault-game round");
            }
        }
    }
}

impl Actor for FaultPlayer {
    const NAME: &'static str = "fault-game";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        FaultPlayer::run(self, cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}

/// The claimed output of a rollup claim.
fn claim_output(c: &Rollup::Batch) -> Output {
    Output {
        state_root: c.stateRoot,
        block_number: c.lastBlock,
        block_hash: c.l2BlockHash,
        next_base_fee: c.nextBaseFee,
        next_deposit_nonce: c.nextDepositNonce,
    }
}

/// The time the side countering claim `i` has spent were it to move at `now`.
fn opposing_clock(claims: &[FaultGame::Claim], i: usize, now: u64) -> u64 {
    let c = &claims[i];
    let before = claims.get(c.parentIndex as usize).map_or(0, |p| p.clock);
    before + now.saturating_sub(c.createdAt)
}

/// How many claims a player traces side by side: one per core (a trace runs
/// on one), at most 8 (each keeps its snapshots in memory). Games on k heavy
/// claims at once need k traces; on a 2-core machine two run together.
fn traces_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// Whether a trace may start beside `building` others, `at_once` at most,
/// one of them kept for a validator's next game while `reserved` (its
/// claim not yet being traced). On one core, the kept slot is the only one:
/// the game that stops a wrong output goes first.
fn may_start_trace(building: usize, at_once: usize, reserved: bool) -> bool {
    building < at_once.saturating_sub(usize::from(reserved))
}

/// A claim trace being built off the async threads.
struct Build {
    claim_id: u64,
    index: u64,
    handle: tokio::task::JoinHandle<Result<ClaimTrace, BuildError>>,
}

/// Why a claim's trace was not built.
enum BuildError {
    /// A passing failure (the database busy): built again when next asked.
    Retry(String),
    /// Never: the claim cannot be rebuilt or decided by this node.
    GiveUp(String),
}

/// Builds of one claim that may fail for a passing reason.
const BUILD_TRIES: u32 = 5;

/// What [`FaultPlayer::trace`] found.
enum Traced {
    Ready(Arc<Mutex<ClaimTrace>>),
    /// Being traced: this claim, or as many others as run at once.
    Building,
    Retry(String),
    /// (Logged once, when found.)
    Unplayable,
}

/// Where a lying defence starts making up states (`lying_defence`): at the
/// program's first read of a contract's code (the code of an account the
/// claim reads with code: a call into it, or any access that loads the
/// account), else at its last instruction.
fn lie_point(
    elf: &[u8],
    trace: &ProgramTrace,
    preimages: &BTreeMap<B256, Vec<u8>>,
) -> Result<u64, String> {
    // Account leaves are 96 bytes (nonce, balance, code hash; zero: no code).
    let code: BTreeSet<B256> = preimages
        .iter()
        .filter(|(k, v)| k[0] == KEY_POSEIDON && v.len() == 96 && v[64..] != [0u8; 32])
        .map(|(_, v)| typed_key(KEY_KECCAK256, &B256::from_slice(&v[64..])))
        .collect();
    let read = first_read(elf, trace.vm().oracle.clone(), |k| code.contains(k))
        .map_err(|e| e.to_string())?;
    Ok(read.unwrap_or(trace.end.saturating_sub(1)))
}

/// What loading one preimage part takes.
enum Load {
    Local { ident: u64, data: Bytes },
    Keccak(Bytes),
    Poseidon(Bytes),
    Blob { versioned_hash: B256, index: u64, blob: Vec<u8> },
}

fn loader(t: &ClaimTrace, key: B256, _offset: u64) -> Result<Load, String> {
    let missing = || format!("no preimage for key {key} in this node's trace");
    match key[0] {
        KEY_LOCAL => {
            let ident = u64::from_be_bytes(key[24..].try_into().map_err(|_| missing())?);
            let data = t.preimages.get(&key).ok_or_else(missing)?;
            Ok(Load::Local { ident, data: data.clone().into() })
        }
        KEY_KECCAK256 => {
            Ok(Load::Keccak(t.preimages.get(&key).ok_or_else(missing)?.clone().into()))
        }
        KEY_POSEIDON => {
            Ok(Load::Poseidon(t.preimages.get(&key).ok_or_else(missing)?.clone().into()))
        }
        KEY_BLOB => {
            let BatchData::Blobs(blobs) = &t.data else { return Err(missing()) };
            for b in blobs {
                for i in 0..infra_stf::FIELD_ELEMENTS_PER_BLOB {
                    if blob_key(&b.versioned_hash, i) == key {
                        return Ok(Load::Blob {
                            versioned_hash: b.versioned_hash,
                            index: i,
                            blob: b.data.to_vec(),
                        });
                    }
                }
            }
            Err(missing())
        }
        _ => Err(missing()),
    }
}

/// Element `index` of `blob`, the blob's KZG commitment and the proof of the
/// element's value at `point` (the oracle's evaluation point for `index`).
fn blob_opening(blob: &[u8], index: u64, point: U256) -> Result<(B256, Bytes, Bytes), String> {
    let settings = EnvKzgSettings::Default.get();
    let b = c_kzg::Blob::from_bytes(blob).map_err(|e| format!("blob: {e}"))?;
    let commitment = settings.blob_to_kzg_commitment(&b).map_err(|e| format!("commitment: {e}"))?;
    let (proof, y) = settings
        .compute_kzg_proof(&b, &c_kzg::Bytes32::from(point.to_be_bytes::<32>()))
        .map_err(|e| format!("proof: {e}"))?;
    let start = 32 * index as usize;
    let element = B256::from_slice(blob.get(start..start + 32).ok_or("element past the blob")?);
    if y.as_ref() != element.as_slice() {
        return Err(format!("element {index} is not the blob's value at its point"));
    }
    Ok((
        element,
        commitment.to_bytes().into_inner().to_vec().into(),
        proof.to_bytes().into_inner().to_vec().into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::may_start_trace;

    #[test]
    fn a_validators_next_game_keeps_a_trace_slot() {
        // Two cores: while the validator waits to trace a wrong output, games
        // on other claims (false games included) get one slot, not two.
        assert!(may_start_trace(0, 2, true));
        assert!(!may_start_trace(1, 2, true));
        // Once its claim is traced (or being traced), both.
        assert!(may_start_trace(1, 2, false));
        assert!(!may_start_trace(2, 2, false));
        // One core: the kept slot is the only one.
        assert!(!may_start_trace(0, 1, true));
        assert!(may_start_trace(0, 1, false));
    }
}
