//! The permissionless dispute game over the fault-proof program's trace
//! (`contracts/src/fpvm/FaultGame.sol`, in revm with the real `RiscV`,
//! `PreimageOracle` and Poseidon contracts), played to the end by honest and
//! dishonest parties over a real claim (three sealed blocks: an ETH
//! transfer, an ERC-20 deployment and token transfers, then calls to the
//! ecrecover, sha256 and BN254-addition precompiles, a reverting transfer and
//! an EIP-7702 delegation), with a test claim source and with the real `Rollup`:
//! - a wrong claimed output: the honest challenger's game is won against a
//!   defender who lies about the trace from a step that reads a local input;
//! - a right claimed output: a dishonest challenger lying from a step that
//!   reads a keccak256 preimage loses its game and its bonds;
//! - the proposer's second key opens a game first with a bogus root and
//!   stalls: the honest challenger's own game still decides the claim, within
//!   the game's bound;
//! - the clock extension: a side that moves in its clock's last seconds has
//!   the extension for its next move, no more, and two parties stalling at
//!   the last second of every move still end the game within its bound
//!   (`maxGameDuration`: twice the clock plus an extension per level);
//! - claims posted at once by an attacker under the honest defender's, at
//!   depth 1 and at the level before the deepest: all answered in the
//!   defender's next round (the deepest ones by steps on L1).
//!
//! Every step the bisection reaches is executed on L1 (its preimage part
//! loaded first by the party that steps). Prints the moves, the gas of the
//! whole game and the game's duration.

mod common;

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolCall, SolConstructor, SolError},
};
use common::{ETH, program_elf, real_claim};
use infra_challenger::fault::{
    self, ClaimView, Lying, Move, ProgramTrace, TraceValues, depth, honest_moves,
};
use infra_fpvm::{Preimages, StepProof};
use infra_l1::{
    FaultGame, PoseidonBn254, PreimageOracle, RiscV, TestClaimSource,
    sim::{Failure, SimL1},
};
use infra_stf::{
    Output,
    claim::{local, local_key},
};
use std::collections::BTreeMap;

/// 2^28 states: the program's trace for the claim (about 91 M instructions) fits
/// (the test checks). Even, so the deepest level is the challenger's side: a
/// lying challenger's leaf is countered by the honest defender's step on L1.
const MAX_DEPTH: u64 = 28;
const MAX_CLOCK: u64 = 3 * 3600;
/// `FaultGame.clockExtension`: a side moving in its clock's last 10 minutes
/// has 10 minutes for its next move.
const CLOCK_EXTENSION: u64 = 600;
const BASE_BOND: u128 = ETH / 100;
const CLAIM_ID: u64 = 7;

/// The honest trace of one claim, with the preimages a step may need loaded.
struct Trace {
    inner: ProgramTrace,
    preimages: BTreeMap<B256, Vec<u8>>,
}

impl Trace {
    fn new(preimages: BTreeMap<B256, Vec<u8>>) -> Self {
        let mut source = Preimages::default();
        for (k, v) in &preimages {
            source.insert(*k, v.clone());
        }
        let inner = ProgramTrace::new(&program_elf(), source).expect("the program runs");
        Self { inner, preimages }
    }

    fn after(&mut self, n: u64) -> B256 {
        self.inner.after(n).expect("a state")
    }

    fn at(&mut self, t: u64) -> B256 {
        self.inner.at(t)
    }

    fn exit_status(&mut self) -> u8 {
        self.inner.exit_status().expect("the exit state")
    }
}

/// A player: honest, or lying about every state from trace index `from` on
/// (a made-up hash, the final one with the status it wants).
#[derive(Clone, Copy)]
struct Player {
    addr: Address,
    lie_from: Option<u64>,
    final_status: u8,
    /// Seconds it waits before each move (a player stalling on its clock).
    delay: u64,
}

const LAST: u64 = (1 << MAX_DEPTH) - 1;

impl Player {
    fn honest(addr: Address) -> Self {
        Self { addr, lie_from: None, final_status: 0, delay: 0 }
    }

    fn liar(addr: Address, from: u64, final_status: u8) -> Self {
        Self { addr, lie_from: Some(from), final_status, delay: 0 }
    }

    fn value(&self, trace: &mut Trace, t: u64) -> B256 {
        match self.lie_from {
            Some(from) => {
                Lying { trace: &mut trace.inner, from, last: LAST, final_status: self.final_status }
                    .at(t)
            }
            None => trace.at(t),
        }
    }
}

/// What a player sees as the trace: the program's, or its lie.
struct Seen<'a> {
    player: &'a Player,
    trace: &'a mut Trace,
}

impl TraceValues for Seen<'_> {
    fn at(&mut self, t: u64) -> B256 {
        self.player.value(self.trace, t)
    }
}

fn trace_index(position: u128) -> u64 {
    fault::trace_index(position, MAX_DEPTH)
}

struct L1 {
    sim: SimL1,
    game: Address,
    oracle: Address,
    source: Address,
    /// The claim the games dispute.
    claim_id: u64,
    gas: u64,
    moves: u64,
    steps: u64,
}

/// The output bond of the rollup in [`L1::with_rollup`].
const OUTPUT_BOND: u128 = ETH;

impl L1 {
    /// The game in front of a real `Rollup` (and `Bridge`, no deposits), whose
    /// genesis and chain are the claim's; `batcher` posts the claim's batch
    /// with output `claimed` (claim id 1).
    fn with_rollup(
        players: &[Address],
        prestate: B256,
        preimages: &BTreeMap<B256, Vec<u8>>,
        claimed: &Output,
    ) -> Self {
        use infra_l1::{Rollup, sim::SimRollup};
        let mut sim = SimL1::new(players, U256::from(1_000 * ETH));
        let deployer = players[0];
        let (oracle, vm) = Self::vm(&mut sim, deployer);
        let genesis = Output::decode(&preimages[&local_key(local::PRE_OUTPUT)]).expect("pre");
        let setup = SimRollup {
            genesis: Rollup::Output {
                stateRoot: genesis.state_root,
                l2BlockNumber: genesis.block_number,
                l2BlockHash: genesis.block_hash,
                nextBaseFee: genesis.next_base_fee,
                nextDepositNonce: genesis.next_deposit_nonce,
            },
            output_bond: U256::from(OUTPUT_BOND),
            chain_input: preimages[&local_key(local::CHAIN)].clone().into(),
            ..SimRollup::optimistic(deployer, ROLLUP_BATCHER, 2 * MAX_CLOCK)
        };
        let code = |rollup: Address| Self::game_code(vm, oracle, rollup, prestate);
        let c = sim.deploy_rollup(deployer, &setup, Some(&code));
        let batch = &preimages[&local_key(local::BATCH)];
        let commitment = B256::from_slice(&batch[16..48]);
        let data = preimages
            [&infra_stf::claim::typed_key(infra_stf::claim::KEY_KECCAK256, &commitment)]
            .clone();
        let call = Rollup::submitBatchCall {
            firstBlock: u64::from_be_bytes(batch[..8].try_into().unwrap()),
            lastBlock: u64::from_be_bytes(batch[8..16].try_into().unwrap()),
            data: data.into(),
            output: Rollup::Output {
                stateRoot: claimed.state_root,
                l2BlockNumber: claimed.block_number,
                l2BlockHash: claimed.block_hash,
                nextBaseFee: claimed.next_base_fee,
                nextDepositNonce: claimed.next_deposit_nonce,
            },
        };
        sim.send(ROLLUP_BATCHER, c.rollup, &call, U256::from(OUTPUT_BOND)).expect("batch posted");
        Self {
            sim,
            game: c.game,
            oracle,
            source: c.rollup,
            claim_id: 1,
            gas: 0,
            moves: 0,
            steps: 0,
        }
    }

    fn vm(sim: &mut SimL1, deployer: Address) -> (Address, Address) {
        let poseidon = sim.deploy(deployer, PoseidonBn254::BYTECODE.to_vec());
        let modulus = U256::from_str_radix(
            "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
            16,
        )
        .unwrap();
        let args = PreimageOracle::constructorCall { poseidon_: poseidon, fieldModulus_: modulus };
        let oracle =
            sim.deploy(deployer, [PreimageOracle::BYTECODE.to_vec(), args.abi_encode()].concat());
        let args = RiscV::constructorCall { oracle_: oracle };
        let vm = sim.deploy(deployer, [RiscV::BYTECODE.to_vec(), args.abi_encode()].concat());
        (oracle, vm)
    }

    fn game_code(vm: Address, oracle: Address, source: Address, prestate: B256) -> Vec<u8> {
        Self::game_code_with(vm, oracle, source, prestate, CLOCK_EXTENSION)
    }

    /// The game's creation code with clock extension `extension`.
    fn game_code_with(
        vm: Address,
        oracle: Address,
        source: Address,
        prestate: B256,
        extension: u64,
    ) -> Vec<u8> {
        let args = FaultGame::constructorCall {
            vm_: vm,
            oracle_: oracle,
            source_: source,
            absolutePrestate_: prestate,
            maxDepth_: U256::from(MAX_DEPTH),
            maxClockDuration_: MAX_CLOCK,
            clockExtension_: extension,
            baseBond_: U256::from(BASE_BOND),
        };
        [FaultGame::BYTECODE.to_vec(), args.abi_encode()].concat()
    }

    fn new(players: &[Address], prestate: B256) -> Self {
        let mut sim = SimL1::new(players, U256::from(1_000 * ETH));
        let deployer = players[0];
        let (oracle, vm) = Self::vm(&mut sim, deployer);
        let source = sim.deploy(deployer, TestClaimSource::BYTECODE.to_vec());
        let game = sim.deploy(deployer, Self::game_code(vm, oracle, source, prestate));
        Self { sim, game, oracle, source, claim_id: CLAIM_ID, gas: 0, moves: 0, steps: 0 }
    }

    fn send<C: SolCall>(&mut self, from: Address, to: Address, call: &C, value: U256) -> Bytes {
        let out = self
            .sim
            .send(from, to, call, value)
            .unwrap_or_else(|e| panic!("{}: {e:?}", std::any::type_name::<C>()));
        self.gas += out.gas;
        out.output
    }

    fn view<C: SolCall>(&mut self, call: &C) -> C::Return {
        self.sim.view(self.game, call)
    }

    fn claims(&mut self, game: U256) -> Vec<FaultGame::Claim> {
        let n = self.view(&FaultGame::claimCountCall { gameId: game });
        (0..n.to::<u64>())
            .map(|i| {
                self.view(&FaultGame::getClaimCall { gameId: game, claimIndex: U256::from(i) })
            })
            .collect()
    }

    fn bond_at(&mut self, depth: u64) -> U256 {
        self.view(&FaultGame::bondAtCall { depth: U256::from(depth) })
    }

    fn create(&mut self, by: Address, root: B256) -> U256 {
        let bond = self.bond_at(0);
        let out = self.send(
            by,
            self.game,
            &FaultGame::createCall { claimId: U256::from(self.claim_id), rootClaim: root },
            bond,
        );
        FaultGame::createCall::abi_decode_returns(&out).expect("a game id")
    }

    /// Loads the preimage part `proof`'s step reads.
    fn load(&mut self, by: Address, game: U256, proof: &StepProof, trace: &Trace) {
        let Some((key, offset)) = proof.preimage else { return };
        let offset = U256::from(offset);
        match key[0] {
            1 => {
                let ident = u64::from_be_bytes(key[24..].try_into().unwrap());
                let call = FaultGame::addLocalDataCall {
                    gameId: game,
                    ident: U256::from(ident),
                    offset,
                    data: trace.preimages[&key].clone().into(),
                };
                self.send(by, self.game, &call, U256::ZERO);
            }
            2 => {
                let preimage = trace.preimages[&key].clone().into();
                let call = PreimageOracle::loadKeccak256PartCall { offset, preimage };
                self.send(by, self.oracle, &call, U256::ZERO);
            }
            3 => {
                let preimage = trace.preimages[&key].clone().into();
                let call = PreimageOracle::loadPoseidonPartCall { offset, preimage };
                self.send(by, self.oracle, &call, U256::ZERO);
            }
            t => panic!("no loader for key type {t} here"),
        }
    }

    /// One round of `player`'s moves, as `infra_challenger::fault::honest_moves`
    /// plays (a liar plays the same rules on its made-up trace, but cannot
    /// prove its states, so it never steps). Returns the moves made.
    fn respond(&mut self, player: &Player, game: U256, trace: &mut Trace) -> u64 {
        let claims = self.claims(game);
        let views: Vec<ClaimView> = claims.iter().map(ClaimView::from).collect();
        let moves = honest_moves(&views, &mut Seen { player, trace }, MAX_DEPTH);
        let mut made = 0;
        for m in moves {
            let (parent, value, defend) = match m {
                Move::Step { claim, is_attack, from } => {
                    if player.lie_from.is_some() {
                        continue;
                    }
                    let proof = trace.inner.proof_from(from).expect("a step proof");
                    self.load(player.addr, game, &proof, trace);
                    let call = FaultGame::stepCall {
                        gameId: game,
                        claimIndex: U256::from(claim),
                        isAttack: is_attack,
                        stateData: proof.pre_state.clone().into(),
                        proofs: proof.mem_proofs.clone().into(),
                    };
                    self.send(player.addr, self.game, &call, U256::ZERO);
                    self.steps += 1;
                    made += 1;
                    continue;
                }
                Move::Attack { parent, value } => (parent, value, false),
                Move::Defend { parent, value } => (parent, value, true),
            };
            let bond = self.bond_at(depth(claims[parent].position) + 1);
            let (parent, g) = (U256::from(parent), game);
            self.sim.warp(player.delay);
            let sent = if defend {
                let call = FaultGame::defendCall { gameId: g, parentIndex: parent, claim: value };
                self.sim.send(player.addr, self.game, &call, bond)
            } else {
                let call = FaultGame::attackCall { gameId: g, parentIndex: parent, claim: value };
                self.sim.send(player.addr, self.game, &call, bond)
            };
            match sent {
                Ok(out) => self.gas += out.gas,
                // A staller whose clock ran out can no longer move.
                Err(e) if player.delay > 0 => {
                    assert!(
                        matches!(
                            e.decode::<FaultGame::FaultGameErrors>(),
                            FaultGame::FaultGameErrors::ClockExpired(_)
                        ),
                        "a staller's move fails only when its clock has run out"
                    );
                    continue;
                }
                Err(e) => panic!("move: {e:?}"),
            }
            self.moves += 1;
            made += 1;
        }
        made
    }

    /// Plays until no one moves, waits out the clocks, resolves every claim
    /// bottom-up and the game; returns whether the challenger won.
    fn play_out(&mut self, game: U256, players: &[Player], trace: &mut Trace) -> bool {
        loop {
            let made: u64 = players.iter().map(|p| self.respond(p, game, trace)).sum();
            if made == 0 {
                break;
            }
        }
        self.resolve(game)
    }

    fn resolve(&mut self, game: U256) -> bool {
        if std::env::var_os("FAULT_GAME_DEBUG").is_some() {
            for (i, c) in self.claims(game).iter().enumerate() {
                eprintln!(
                    "claim {i}: parent {} depth {} index {} by {} countered {} value {}",
                    c.parentIndex,
                    depth(c.position),
                    trace_index(c.position),
                    c.claimant,
                    c.counteredBy,
                    c.value
                );
            }
        }
        // Wait until no claim can be countered any more: the clock of the side
        // that would answer it has run out.
        let claims = self.claims(game);
        let deadline = claims
            .iter()
            .filter(|c| c.counteredBy == Address::ZERO)
            .map(|c| {
                let parent_clock = claims.get(c.parentIndex as usize).map_or(0, |p| p.clock);
                c.createdAt + MAX_CLOCK - parent_clock
            })
            .max()
            .unwrap_or_default();
        self.sim.warp(deadline.saturating_sub(self.sim.timestamp()));
        let n = claims.len();
        let resolver = Address::repeat_byte(0xee);
        for i in (0..n).rev() {
            let call = FaultGame::resolveClaimCall { gameId: game, claimIndex: U256::from(i) };
            self.send(resolver, self.game, &call, U256::ZERO);
        }
        self.send(resolver, self.game, &FaultGame::resolveCall { gameId: game }, U256::ZERO);
        let status = self.view(&FaultGame::gameStatusCall { gameId: game });
        status == 1
    }

    fn credit(&mut self, who: Address) -> U256 {
        self.view(&FaultGame::creditCall(who))
    }
}

/// The claim's local inputs, as the source serves them to the game.
fn local_inputs(preimages: &BTreeMap<B256, Vec<u8>>) -> Vec<Bytes> {
    (1..=5).map(|n| preimages[&local_key(n)].clone().into()).collect()
}

/// The first step that reads a preimage of `key_type` (after `skip` such reads).
fn first_read(trace: &Trace, key_type: u8, skip: usize) -> u64 {
    let seen = std::cell::Cell::new(0);
    let wanted = |key: &B256| {
        let n = seen.get();
        seen.set(n + usize::from(key[0] == key_type));
        key[0] == key_type && n == skip
    };
    fault::first_read(&program_elf(), trace.inner.vm().oracle.clone(), wanted)
        .expect("the program runs")
        .unwrap_or_else(|| panic!("no read of key type {key_type}"))
}

const HONEST: Address = Address::repeat_byte(0x11);
const HONEST_2: Address = Address::repeat_byte(0x12);
const LIAR: Address = Address::repeat_byte(0x21);
const ROLLUP_BATCHER: Address = Address::repeat_byte(0x23);
const PROPOSER_2: Address = Address::repeat_byte(0x22);
/// Posts several claims at once under one of the honest player's.
const ATTACKER: Address = Address::repeat_byte(0x24);

fn setup(wrong_claim: bool) -> (L1, Trace) {
    setup_with(wrong_claim, false)
}

/// `with_rollup`: the game's claim source is a real `Rollup` the claim was
/// posted to (else a `TestClaimSource` serving the claim's inputs).
fn setup_with(wrong_claim: bool, with_rollup: bool) -> (L1, Trace) {
    let mut preimages = real_claim();
    if wrong_claim {
        let claimed = Output::decode(&preimages[&local_key(local::CLAIMED_OUTPUT)]).unwrap();
        let wrong = Output { state_root: keccak256(claimed.state_root), ..claimed };
        preimages.insert(local_key(local::CLAIMED_OUTPUT), wrong.encode().to_vec());
    }
    let started = std::time::Instant::now();
    let mut trace = Trace::new(preimages);
    eprintln!(
        "the honest player's trace: {} instructions run (snapshots kept) in {:.2} s (a debug build of the test; the VM is optimised)",
        trace.inner.end,
        started.elapsed().as_secs_f64()
    );
    assert!(trace.inner.end < LAST, "the trace fits the game");
    let prestate = trace.after(0);
    let players =
        [HONEST, HONEST_2, LIAR, PROPOSER_2, ATTACKER, ROLLUP_BATCHER, Address::repeat_byte(0xee)];
    if with_rollup {
        let claimed =
            Output::decode(&trace.preimages[&local_key(local::CLAIMED_OUTPUT)]).expect("claimed");
        let mut l1 = L1::with_rollup(&players, prestate, &trace.preimages, &claimed);
        // The rollup serves exactly the inputs the trace was made from.
        let served = l1.sim.view(
            l1.source,
            &infra_l1::Rollup::localInputsCall { claimId: U256::from(l1.claim_id) },
        );
        assert_eq!(served, local_inputs(&trace.preimages), "the rollup's inputs are the claim's");
        l1.gas = 0;
        return (l1, trace);
    }
    let mut l1 = L1::new(&players, prestate);
    let inputs = local_inputs(&trace.preimages);
    let call = TestClaimSource::setCall { claimId: U256::from(CLAIM_ID), inputs_: inputs };
    let source = l1.source;
    l1.send(HONEST, source, &call, U256::ZERO);
    (l1, trace)
}

fn report(what: &str, l1: &L1, start: u64) {
    eprintln!(
        "{what}: {} moves, {} L1 steps, {} gas in all (moves, steps, preimage loads, resolution), {} s from creation to resolution",
        l1.moves,
        l1.steps,
        l1.gas,
        l1.sim.timestamp() - start
    );
}

#[test]
fn an_honest_challenger_wins_against_a_defender_lying_about_a_local_input_read() {
    let (mut l1, mut trace) = setup(true);
    assert_eq!(trace.exit_status(), 1, "the program finds the claim wrong");
    let start = l1.sim.timestamp();
    let k = first_read(&trace, 1, 2);
    let challenger = Player::honest(HONEST);
    let defender = Player::liar(LIAR, k, 0);
    let root = challenger.value(&mut trace, LAST);
    let game = l1.create(HONEST, root);
    let spent_before = l1.credit(LIAR);
    assert!(l1.play_out(game, &[challenger, defender], &mut trace), "the challenger wins");
    // (The challenger's side makes the deepest claim here: the liar, who
    // cannot prove a made-up state, has no step to counter it with.)
    assert_eq!(spent_before, U256::ZERO);
    assert_eq!(l1.credit(LIAR), U256::ZERO, "the liar's bonds are lost");
    assert!(l1.credit(HONEST) > l1.bond_at(0), "the honest party is paid the liar's bonds");
    report("wrong output, defender lying from a local read", &l1, start);
}

#[test]
fn against_the_rollup_a_won_game_rolls_the_output_back_and_a_lost_one_lets_it_finalize() {
    use infra_l1::Rollup;
    // A wrong output posted to the rollup: the honest challenger's game, against
    // a defender lying from a Poseidon read, invalidates it; the output rolls
    // back and half its bond goes to the challenger.
    let (mut l1, mut trace) = setup_with(true, true);
    let k = first_read(&trace, 3, 0);
    let (challenger, defender) = (Player::honest(HONEST), Player::liar(LIAR, k, 0));
    let root = challenger.value(&mut trace, LAST);
    let game = l1.create(HONEST, root);
    assert!(l1.play_out(game, &[challenger, defender], &mut trace), "the challenger wins");
    let rollup = l1.source;
    assert_eq!(l1.sim.view(rollup, &Rollup::batchCountCall {}), U256::ONE, "rolled back");
    assert_eq!(l1.sim.view(rollup, &Rollup::creditCall(HONEST)), U256::from(OUTPUT_BOND / 2));
    let c = l1.sim.view(rollup, &Rollup::getClaimCall { claimId: U256::ONE });
    assert_eq!((c.status, c.openGames), (2, 0), "invalid, no game open");

    // A right output: a challenger lying from a keccak256 read loses; once
    // the period is over the output finalizes and its bond returns.
    let (mut l1, mut trace) = setup_with(false, true);
    let k = first_read(&trace, 2, 0);
    let (challenger, defender) = (Player::liar(LIAR, k, 1), Player::honest(HONEST));
    let root = challenger.value(&mut trace, LAST);
    let game = l1.create(LIAR, root);
    let fin = Rollup::finalizeCall { index: U256::ONE };
    assert!(!l1.play_out(game, &[challenger, defender], &mut trace), "the defender wins");
    let rollup = l1.source;
    let period = l1.sim.view(rollup, &Rollup::challengePeriodCall {});
    l1.sim.warp(period);
    l1.sim.send(HONEST, rollup, &fin, U256::ZERO).expect("final");
    assert_eq!(l1.sim.view(rollup, &Rollup::creditCall(ROLLUP_BATCHER)), U256::from(OUTPUT_BOND));
    assert_eq!(l1.credit(LIAR), U256::ZERO);
}

#[test]
fn a_dishonest_challenger_loses_against_a_right_output_at_a_step_l1_executes() {
    // The liar's made-up trace starts at a read of a local input, of a
    // keccak256 preimage, of a Poseidon preimage: the bisection ends at that
    // instruction, which the honest defender executes on L1 after loading the
    // part it reads.
    for (key_type, what) in [(1u8, "local input"), (2, "keccak256"), (3, "Poseidon")] {
        let (mut l1, mut trace) = setup(false);
        assert_eq!(trace.exit_status(), 0, "the program accepts the claim");
        let start = l1.sim.timestamp();
        let k = first_read(&trace, key_type, 1);
        let challenger = Player::liar(LIAR, k, 1);
        let defender = Player::honest(HONEST);
        let root = challenger.value(&mut trace, LAST);
        let game = l1.create(LIAR, root);
        assert!(
            !l1.play_out(game, &[challenger, defender], &mut trace),
            "{what}: the defender wins"
        );
        assert_eq!(l1.steps, 1, "{what}: the dispute ended in one step on L1");
        let claims = l1.claims(game);
        let deepest = claims.iter().find(|c| depth(c.position) == MAX_DEPTH).expect("a leaf");
        // The step runs the instruction that makes index k (the first lie):
        // attacking a leaf at k, or defending one at k - 1 (whichever the
        // bisection's positions put at the deepest level).
        let leaf = trace_index(deepest.position);
        assert!(leaf == k || leaf + 1 == k, "{what}: the step is the first lie ({leaf}, {k})");
        assert_eq!(deepest.counteredBy, HONEST);
        assert_eq!(l1.credit(LIAR), U256::ZERO, "{what}: the liar's bonds are lost");
        assert!(l1.credit(HONEST) > U256::ZERO);
        report(&format!("right output, challenger lying from a {what} read"), &l1, start);
    }
}

#[test]
fn a_stalling_game_by_the_proposers_second_key_does_not_save_a_wrong_output() {
    let (mut l1, mut trace) = setup(true);
    let start = l1.sim.timestamp();
    // The proposer's second key opens a game first, with a made-up root, and
    // never moves again.
    let stall = Player::liar(PROPOSER_2, 0, 1);
    let bogus = stall.value(&mut trace, LAST);
    let first = l1.create(PROPOSER_2, bogus);
    // An honest challenger opens its own game on the same claim; the
    // proposer lies from a Poseidon read; a second honest party joins.
    let honest = Player::honest(HONEST);
    let root = honest.value(&mut trace, LAST);
    let second = l1.create(HONEST, root);
    // The proposer lies from a Poseidon read and stalls: it spends nearly
    // all of its clock before its moves.
    let k = first_read(&trace, 3, 0);
    let proposer = Player { delay: MAX_CLOCK / 14, ..Player::liar(LIAR, k, 0) };
    let players = [honest, proposer, Player::honest(HONEST_2)];
    loop {
        let made: u64 = [first, second]
            .iter()
            .flat_map(|g| players.iter().map(move |p| (*g, *p)))
            .map(|(g, p)| l1.respond(&p, g, &mut trace))
            .sum();
        if made == 0 {
            break;
        }
    }
    assert!(l1.resolve(second), "the honest game decides the claim is wrong");
    let took = l1.sim.timestamp() - start;
    // This staller never moves in its clock's last 10 minutes: no extension.
    assert!(took <= 2 * MAX_CLOCK, "decided {took} s after the first game opened");
    report("a stalling game and an honest one", &l1, start);
    // The bogus root was countered (it is not the program's final state):
    // its game does not say the claim is wrong, and its bond is lost.
    assert!(!l1.resolve(first));
    assert_eq!(l1.credit(PROPOSER_2), U256::ZERO);
}

#[test]
fn only_a_root_saying_the_program_rejects_the_claim_opens_a_game() {
    let (mut l1, mut trace) = setup(true);
    let honest_final = trace.at(LAST);
    assert_eq!(honest_final[0], 1);
    let bond = l1.bond_at(0);
    // Valid, panic and still running are no verdict against the claim: a
    // true "still running" root (a trace longer than the game) would
    // otherwise win against a right claim.
    for status in [0u8, 2, 3] {
        let mut root = honest_final;
        root.0[0] = status;
        let call = FaultGame::createCall { claimId: U256::from(CLAIM_ID), rootClaim: root };
        let err = l1.sim.send(HONEST, l1.game, &call, bond).expect_err("refused");
        assert!(
            matches!(
                err.decode::<FaultGame::FaultGameErrors>(),
                FaultGame::FaultGameErrors::RootNotInvalid(_)
            ),
            "status {status}"
        );
    }
}

#[test]
fn an_honest_player_does_not_take_bait_under_a_false_claim_on_its_side() {
    // The liar defends the wrong output (the honest challenger's root is
    // true) and also plants a false claim on the challenger's side (depth 2,
    // under its own depth-1 claim), then a bait under it (depth 3): a claim
    // the honest player could counter, but a step would use the false claim
    // against any answer. The honest player answers only under claims of its
    // side it would have made, and still wins.
    let (mut l1, mut trace) = setup(true);
    let honest = Player::honest(HONEST);
    let root = honest.value(&mut trace, LAST);
    let game = l1.create(HONEST, root);
    let liar = Player::liar(LIAR, 1000, 0);
    assert!(l1.respond(&liar, game, &mut trace) == 1, "the liar attacks the root");
    let plant = FaultGame::attackCall {
        gameId: game,
        parentIndex: U256::from(1),
        claim: B256::repeat_byte(0x03),
    };
    let bond = l1.bond_at(2);
    l1.send(LIAR, l1.game, &plant, bond);
    let bait = FaultGame::attackCall {
        gameId: game,
        parentIndex: U256::from(2),
        claim: B256::repeat_byte(0x13),
    };
    let bond = l1.bond_at(3);
    l1.send(LIAR, l1.game, &bait, bond);
    assert!(l1.play_out(game, &[honest, liar], &mut trace), "the challenger wins");
    let claims = l1.claims(game);
    assert!(
        claims.iter().all(|c| c.parentIndex != 3 || c.claimant != HONEST),
        "the honest player made no claim under the bait"
    );
    assert!(
        claims.iter().any(|c| c.parentIndex == 1 && c.claimant == HONEST),
        "it answered the liar's claim"
    );
    // The honest player loses none of its bonds (the liar may get back the
    // bonds of its own subtree, which no one needed to answer).
    let posted: U256 =
        claims.iter().filter(|c| c.claimant == HONEST).map(|c| U256::from(c.bond)).sum();
    assert!(l1.credit(HONEST) >= posted, "honest bonds {posted}, credit {}", l1.credit(HONEST));
}

#[test]
fn claims_posted_at_once_under_an_honest_claim_are_all_answered_in_one_round() {
    // A right output, a liar's game on it (lying from a keccak256 read). A
    // second attacker posts several claims at once under the honest
    // defender's claim, attacks and defends with made-up values, twice: under
    // its first claim (depth 1), and under its claim before the deepest level
    // (depth 27), where each needs a step on L1. The honest player's next
    // round answers every one of them (a player that answered one claim per
    // round would leave the others to time out against it), and the game
    // ends with the defender winning and every attacker's bond lost.
    let (mut l1, mut trace) = setup(false);
    let start = l1.sim.timestamp();
    let k = first_read(&trace, 2, 1);
    let liar = Player::liar(LIAR, k, 1);
    let honest = Player::honest(HONEST);
    let root = liar.value(&mut trace, LAST);
    let game = l1.create(LIAR, root);
    assert_eq!(l1.respond(&honest, game, &mut trace), 1, "the defender answers the root");
    let made_up = |i: u8| {
        let mut v = keccak256([b"sibling".as_slice(), &[i]].concat());
        v.0[0] = 3; // a running state's status byte
        v
    };

    // `ATTACKER` posts `attacks` attacks and `defends` defends under claim
    // `parent` at once; their indices.
    let post = |l1: &mut L1, parent: u64, attacks: u8, defends: u8, salt: u8| -> Vec<u64> {
        (0..attacks + defends)
            .map(|i| {
                l1.move_now(ATTACKER, game, parent, made_up(salt + i), i < attacks)
                    .unwrap_or_else(|e| panic!("the attacker's claim {i}: {e:?}"));
                l1.claims(game).len() as u64 - 1
            })
            .collect()
    };
    let answered = |l1: &mut L1, ids: &[u64]| {
        let claims = l1.claims(game);
        ids.iter()
            .filter(|&&i| {
                claims[i as usize].counteredBy == HONEST
                    || claims.iter().any(|c| c.parentIndex == i && c.claimant == HONEST)
            })
            .count()
    };

    // Under the defender's depth-1 claim: two attacks and two defends.
    let first = l1.claims(game).iter().position(|c| c.claimant == HONEST).unwrap() as u64;
    let siblings = post(&mut l1, first, 2, 2, 0);
    assert_eq!(l1.respond(&honest, game, &mut trace), 4, "one round answers all four");
    assert_eq!(answered(&mut l1, &siblings), 4);

    // Down to the defender's claim at depth 27 (the liar plays on; it does
    // not play under the attacker's claims: they are not its trace).
    let deep = loop {
        let made = l1.respond(&liar, game, &mut trace) + l1.respond(&honest, game, &mut trace);
        let claims = l1.claims(game);
        if let Some(i) =
            claims.iter().position(|c| c.claimant == HONEST && depth(c.position) == MAX_DEPTH - 1)
        {
            break i as u64;
        }
        assert!(made > 0, "the game went on to the deepest level");
    };
    let steps_before = l1.steps;
    let deepest = post(&mut l1, deep, 3, 1, 100);
    assert!(deepest.iter().all(|&i| depth(l1.claims(game)[i as usize].position) == MAX_DEPTH));
    assert_eq!(l1.respond(&honest, game, &mut trace), 4, "one round steps against all four");
    assert_eq!(l1.steps - steps_before, 4, "four steps executed on L1");
    assert_eq!(answered(&mut l1, &deepest), 4);

    assert!(!l1.play_out(game, &[liar, honest], &mut trace), "the defender wins");
    assert_eq!(l1.credit(ATTACKER), U256::ZERO, "every attacker's bond is lost");
    assert_eq!(l1.credit(LIAR), U256::ZERO, "the liar's bonds are lost");
    let claims = l1.claims(game);
    let posted: U256 =
        claims.iter().filter(|c| c.claimant == HONEST).map(|c| U256::from(c.bond)).sum();
    let attackers: U256 =
        claims.iter().filter(|c| c.claimant == ATTACKER).map(|c| U256::from(c.bond)).sum();
    assert!(
        l1.credit(HONEST) >= posted + attackers,
        "the defender gets its bonds back and the attacker's: {} < {posted} + {attackers}",
        l1.credit(HONEST)
    );
    report("eight claims posted at once under the defender's, at two depths", &l1, start);
}

#[test]
fn local_inputs_load_only_as_the_source_served_them() {
    let (mut l1, mut trace) = setup(true);
    let root = trace.at(LAST);
    let game = l1.create(HONEST, root);
    let right: Bytes = trace.preimages[&local_key(local::CLAIMED_OUTPUT)].clone().into();
    let mut wrong = right.to_vec();
    wrong[0] ^= 1;
    for (ident, data, ok) in
        [(2u64, right.clone(), true), (2, wrong.into(), false), (6, right, false)]
    {
        let call = FaultGame::addLocalDataCall {
            gameId: game,
            ident: U256::from(ident),
            offset: U256::ZERO,
            data,
        };
        let sent = l1.sim.send(HONEST, l1.game, &call, U256::ZERO);
        assert_eq!(sent.is_ok(), ok, "input {ident}");
        if let Err(e) = sent {
            let err = e.decode::<FaultGame::FaultGameErrors>();
            assert!(
                matches!(
                    err,
                    FaultGame::FaultGameErrors::WrongLocalInput(_)
                        | FaultGame::FaultGameErrors::BadIdent(_)
                ),
                "{err:?}"
            );
        }
    }
}

/// A game over no real trace, for the clock's rules alone: made-up inputs and
/// claims, and no one steps.
fn bare() -> L1 {
    let mut l1 = L1::new(&[HONEST, LIAR, Address::repeat_byte(0xee)], B256::repeat_byte(7));
    let inputs = (1..=5u8).map(|i| Bytes::from(vec![i; 32])).collect();
    let call = TestClaimSource::setCall { claimId: U256::from(CLAIM_ID), inputs_: inputs };
    let source = l1.source;
    l1.send(HONEST, source, &call, U256::ZERO);
    l1
}

/// A root saying the program rejects the claim (status byte 1).
fn rejecting_root() -> B256 {
    let mut root = B256::repeat_byte(0xab);
    root.0[0] = 1;
    root
}

impl L1 {
    /// `by` attacks claim `parent` with `value` now; the game's error if refused.
    fn attack_now(
        &mut self,
        by: Address,
        game: U256,
        parent: u64,
        value: B256,
    ) -> Result<FaultGame::Claim, FaultGame::FaultGameErrors> {
        self.move_now(by, game, parent, value, true)
    }

    /// `by` attacks (`attack`) or defends claim `parent` with `value` now;
    /// the game's error if refused.
    fn move_now(
        &mut self,
        by: Address,
        game: U256,
        parent: u64,
        value: B256,
        attack: bool,
    ) -> Result<FaultGame::Claim, FaultGame::FaultGameErrors> {
        let parent_depth = depth(self.claims(game)[parent as usize].position);
        let bond = self.bond_at(parent_depth + 1);
        let (id, index) = (game, U256::from(parent));
        let out = if attack {
            let call = FaultGame::attackCall { gameId: id, parentIndex: index, claim: value };
            self.sim.send(by, self.game, &call, bond)
        } else {
            let call = FaultGame::defendCall { gameId: id, parentIndex: index, claim: value };
            self.sim.send(by, self.game, &call, bond)
        }
        .map_err(|e| e.decode())?;
        self.gas += out.gas;
        self.moves += 1;
        Ok(self.claims(game).pop().expect("the new claim"))
    }
}

/// The sim's transactions land in a block 12 s after the last one.
const BLOCK_S: u64 = 12;

#[test]
fn a_side_moving_in_its_clocks_last_seconds_has_the_extension_for_its_next_move() {
    let mut l1 = bare();
    let game = l1.create(LIAR, rejecting_root());
    // The honest side answers the root with 10 s of its clock left (a long
    // trace, a congested L1): its claim records the clock as extended, so
    // it has exactly the extension left, not 10 s.
    l1.sim.warp(MAX_CLOCK - 10 - BLOCK_S);
    let c1 = l1.attack_now(HONEST, game, 0, B256::repeat_byte(1)).expect("in time");
    assert_eq!(c1.clock, MAX_CLOCK - CLOCK_EXTENSION, "the late move is extended");
    // The other side answers at once: with time to spare, nothing changes.
    let c2 = l1.attack_now(LIAR, game, 1, B256::repeat_byte(2)).expect("in time");
    assert_eq!(c2.clock, c2.createdAt - c1.createdAt, "a move with time left is not extended");
    // The honest side takes all but a second of the extension: accepted
    // (without the extension it would have spent MAX_CLOCK - 10 + 599 s).
    l1.sim.warp(CLOCK_EXTENSION - 1 - BLOCK_S);
    let c3 = l1.attack_now(HONEST, game, 2, B256::repeat_byte(3)).expect("within the extension");
    assert_eq!(c3.createdAt - c2.createdAt, CLOCK_EXTENSION - 1);
    assert_eq!(c3.clock, MAX_CLOCK - CLOCK_EXTENSION);
    // The extension is no more than that: waiting all of it is too late,
    // and the claim left unanswered then resolves for its claimant.
    l1.attack_now(LIAR, game, 3, B256::repeat_byte(4)).expect("in time");
    l1.sim.warp(CLOCK_EXTENSION - BLOCK_S);
    match l1.attack_now(HONEST, game, 4, B256::repeat_byte(5)) {
        Err(FaultGame::FaultGameErrors::ClockExpired(e)) => {
            assert_eq!(e.accumulated, U256::from(MAX_CLOCK));
        }
        other => panic!("a move after the extension is refused: {other:?}"),
    }
    let resolve = FaultGame::resolveClaimCall { gameId: game, claimIndex: U256::from(4) };
    l1.send(Address::repeat_byte(0xee), l1.game, &resolve, U256::ZERO);
}

#[test]
fn the_extension_must_leave_room_in_the_clock() {
    // Twice the extension (before a step) must stay under the clock, else
    // `maxClockDuration - 2 x extension` would revert and no move could be made.
    let mut sim = SimL1::new(&[HONEST], U256::from(1_000 * ETH));
    let (oracle, vm) = L1::vm(&mut sim, HONEST);
    let source = sim.deploy(HONEST, TestClaimSource::BYTECODE.to_vec());
    for (extension, taken) in [(MAX_CLOCK / 2, false), (MAX_CLOCK / 2 - 1, true), (0, true)] {
        let code = L1::game_code_with(vm, oracle, source, B256::repeat_byte(7), extension);
        let made =
            sim.exec(HONEST, alloy::primitives::TxKind::Create, code.into(), U256::ZERO, vec![]);
        match (made, taken) {
            (Ok(_), true) => {}
            (Err(e), false) => assert!(matches!(
                e.decode::<FaultGame::FaultGameErrors>(),
                FaultGame::FaultGameErrors::BadClockExtension(_)
            )),
            (made, _) => panic!("extension {extension}: {made:?}"),
        }
    }
}

#[test]
fn two_parties_stalling_at_the_last_second_of_every_move_end_within_the_games_bound() {
    let mut l1 = bare();
    let game = l1.create(LIAR, rejecting_root());
    let start = l1.claims(game)[0].createdAt;
    // Down one path to the deepest level, each side moving a second before
    // its time runs out, every time: the slowest a game can be played.
    let mut parent = 0u64;
    for d in 1..=MAX_DEPTH {
        let claims = l1.claims(game);
        let p = &claims[parent as usize];
        let before = claims.get(p.parentIndex as usize).map_or(0, |g| g.clock);
        let spent = before + (l1.sim.timestamp() - p.createdAt);
        l1.sim.warp(MAX_CLOCK - 1 - spent - BLOCK_S);
        let by = if d % 2 == 1 { HONEST } else { LIAR };
        let c = l1.attack_now(by, game, parent, B256::repeat_byte(d as u8)).expect("a second left");
        assert_eq!(
            before + (c.createdAt - p.createdAt),
            MAX_CLOCK - 1,
            "the move at its last second"
        );
        parent = d;
    }
    // The claim before the deepest was made late too: its side steps next,
    // after the preimage loads a step needs, so it keeps twice the extension.
    let claims = l1.claims(game);
    let leaf = claims[MAX_DEPTH as usize].clone();
    let before_leaf = &claims[leaf.parentIndex as usize];
    assert_eq!(before_leaf.clock, MAX_CLOCK - 2 * CLOCK_EXTENSION, "the step's extension");
    // A step against the deepest claim is taken (its pre-state is checked,
    // not its clock) a second before that runs out, and refused after.
    let step = FaultGame::stepCall {
        gameId: game,
        claimIndex: U256::from(MAX_DEPTH),
        isAttack: true,
        stateData: Bytes::from(vec![0u8; 362]),
        proofs: Bytes::new(),
    };
    let is_clock_expired = |f: &Failure| matches!(f, Failure::Revert(d) if d.starts_with(&FaultGame::ClockExpired::SELECTOR));
    l1.sim.warp(2 * CLOCK_EXTENSION - 1 - BLOCK_S);
    let early = l1.sim.send(HONEST, l1.game, &step, U256::ZERO).unwrap_err();
    assert!(!is_clock_expired(&early), "in time, the step fails only on its made-up state");
    let late = l1.sim.send(HONEST, l1.game, &step, U256::ZERO).unwrap_err();
    assert!(is_clock_expired(&late), "too late: {late:?}");
    // The deepest claim resolves once its opposing side's clock runs out:
    // from then on, the whole game resolves bottom-up.
    let ends = leaf.createdAt + MAX_CLOCK - before_leaf.clock;
    let took = ends - start;
    let bound: u64 = l1.view(&FaultGame::maxGameDurationCall {}).to();
    assert_eq!(bound, 2 * MAX_CLOCK + (MAX_DEPTH + 1) * CLOCK_EXTENSION);
    eprintln!(
        "stalling at every move: the game can end {took} s after it opened; bound {bound} s, 2 x clock {} s",
        2 * MAX_CLOCK
    );
    assert!(took <= bound, "the game lasted {took} s, over its bound of {bound} s");
    // Every move took its extension (less a second).
    assert!(took > 2 * MAX_CLOCK + (MAX_DEPTH - 3) * (CLOCK_EXTENSION - 1), "{took}");
    assert!(l1.resolve(game), "the root stands: its deepest claim was never countered");
}
