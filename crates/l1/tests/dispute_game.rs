//! The dispute game in revm, end to end on one block with an ETH transfer: the
//! step states are built with the node's own sparse Merkle tree and checked
//! against the node's executor (the block's real state root), then played on L1:
//! a wrong claimed root loses to an honest challenger (bond slashed, batch rolled
//! back), a dishonest challenger loses against a right claim, and a silent
//! proposer loses by timeout.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{Encodable2718, eip2930::AccessList},
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolConstructor, SolEvent},
};
use infra_config::ChainConfig;
use infra_execution::{
    BlockContext, ExecConfig, Inclusion, MemorySource, execute_block_with, next_base_fee,
    tree_updates,
};
use infra_l1::{
    Bridge, DisputeGame, GameTypes, PoseidonBn254, Rollup, one_step_initcode,
    sim::{Failure, SimL1},
};
use infra_primitives::batch::{BatchBlock, BatchPayload, Codec};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};
use std::collections::HashMap;

const OWNER: Address = Address::repeat_byte(0x01);
const BATCHER: Address = Address::repeat_byte(0x02);
const CHALLENGER: Address = Address::repeat_byte(0x03);
const ARBITER: Address = Address::repeat_byte(0x04);
const ETH: u128 = 1_000_000_000_000_000_000;
const TIMEOUT: u64 = 600;
const PERIOD: u64 = 3_600;

type Proof = <GameTypes::Account as alloy::sol_types::SolType>::RustType;

/// The L2 state as the node's tree holds it.
#[derive(Clone)]
struct L2 {
    h: TreeHasher,
    store: MemoryNodeStore,
    root: B256,
    accounts: HashMap<Address, (u64, U256)>,
}

impl L2 {
    fn new() -> Self {
        Self {
            h: TreeHasher::new(Curve::Bn254),
            store: MemoryNodeStore::default(),
            root: B256::ZERO,
            accounts: HashMap::new(),
        }
    }

    /// The account as the game reads it now, with its proof against `root`.
    fn read(&self, a: Address) -> Proof {
        let (nonce, balance) = self.accounts.get(&a).copied().unwrap_or_default();
        let key = keys::account_key(&self.h, a);
        let p = SparseMerkleTree::new(&self.h).proof(&self.store, self.root, key).expect("proof");
        GameTypes::Account {
            addr: a,
            nonce,
            balance,
            codeHash: B256::ZERO,
            proof: infra_l1::StateProof::Proof {
                siblings: p.siblings,
                hasLeaf: p.leaf.is_some(),
                leafKey: p.leaf.map(|(k, _)| U256::from_be_bytes(k.0)).unwrap_or_default(),
                leafValue: p.leaf.map(|(_, v)| U256::from_be_bytes(v.0)).unwrap_or_default(),
            },
        }
    }

    fn write(&mut self, a: Address, nonce: u64, balance: U256) {
        let key = keys::account_key(&self.h, a);
        let value = keys::account_value_hash(&self.h, nonce, balance, B256::ZERO);
        let up = SparseMerkleTree::new(&self.h)
            .update(&self.store, self.root, vec![(key, Some(value))])
            .expect("update");
        self.store.apply(&up.changes);
        self.root = up.root;
        self.accounts.insert(a, (nonce, balance));
    }

    /// Reads then writes `a` (the witness of one write, in order).
    fn step_write(&mut self, witness: &mut Vec<Proof>, a: Address, nonce: u64, balance: U256) {
        witness.push(self.read(a));
        self.write(a, nonce, balance);
    }
}

/// A block with one ETH transfer, its step states and witnesses.
struct Scenario {
    chain: ChainConfig,
    data: Bytes,
    genesis_root: B256,
    states: Vec<GameTypes::StepState>,
    /// Witness of step k (1-based): the accounts it reads.
    witnesses: Vec<Vec<Proof>>,
}

fn state(
    root: B256,
    step: u64,
    block: u64,
    tx: u64,
    base_fee: u64,
    gas_used: u64,
    base_fees: U256,
) -> GameTypes::StepState {
    GameTypes::StepState {
        stateRoot: root,
        step,
        blockIndex: block,
        txIndex: tx,
        depositNonce: 0,
        baseFee: base_fee,
        gasUsed: gas_used,
        baseFees: base_fees,
    }
}

fn scenario() -> Scenario {
    let chain = ChainConfig::dev();
    let alice = PrivateKeySigner::random();
    let bob = Address::repeat_byte(0xb0);
    let fee_to = chain.fee_recipient;
    let base_fee = 1_000_000_000u64;
    let (max_fee, tip) = (3_000_000_000u128, 500_000_000u128);
    let start = U256::from(10 * ETH);
    let mut l2 = L2::new();
    l2.write(alice.address(), 0, start);
    let genesis_root = l2.root;

    let tx = TxEip1559 {
        chain_id: chain.chain_id,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(bob),
        value: U256::from(ETH),
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let sig = alice.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let tx: TxEnvelope = tx.into_signed(sig).into();

    // The node's own execution of the block, for the true post-state root.
    let mut source = MemorySource::default();
    source.insert_account(alice.address(), 0, start, None);
    let ctx = BlockContext {
        number: 1,
        timestamp: 1_700_000_000,
        gas_limit: chain.gas_limit,
        base_fee,
        parent_hash: B256::ZERO,
        prevrandao: B256::ZERO,
    };
    let cfg = ExecConfig { chain_id: chain.chain_id, fee_recipient: fee_to };
    let exec = execute_block_with(
        &source,
        &cfg,
        &ctx,
        &[],
        vec![(tx.clone(), alice.address())],
        Inclusion::Replay,
    )
    .expect("execute");
    assert!(exec.rejected.is_empty() && exec.txs.len() == 1);
    let mut real = l2.clone();
    let up = SparseMerkleTree::new(&real.h)
        .update(&real.store, real.root, tree_updates(&real.h, &exec.changes))
        .expect("tree");
    real.root = up.root;

    // The same block as steps: the transfer, then the block's end.
    let s0 = state(genesis_root, 0, 0, 0, base_fee, 0, U256::ZERO);
    let mut w1 = Vec::new();
    let price = U256::from(base_fee) + U256::from(tip);
    let fee = U256::from(21_000) * price;
    l2.step_write(&mut w1, alice.address(), 1, start - fee - U256::from(ETH));
    l2.step_write(&mut w1, bob, 0, U256::from(ETH));
    l2.step_write(&mut w1, fee_to, 0, U256::from(21_000u64) * U256::from(tip));
    let base_fees = U256::from(21_000u64) * U256::from(base_fee);
    let s1 = state(l2.root, 1, 0, 1, base_fee, 21_000, base_fees);
    let mut w2 = Vec::new();
    let tips = U256::from(21_000u64) * U256::from(tip);
    l2.step_write(&mut w2, fee_to, 0, tips + base_fees);
    let next = next_base_fee(&chain.base_fee, 21_000, chain.gas_limit, base_fee);
    let s2 = state(l2.root, 2, 1, 0, next, 0, U256::ZERO);
    assert_eq!(s2.stateRoot, real.root, "the step machine ends where the node's executor does");

    let payload = BatchPayload {
        first_block: 1,
        parent_hash: B256::ZERO,
        blocks: vec![BatchBlock {
            timestamp: ctx.timestamp,
            deposit_count: 0,
            transactions: vec![tx.encoded_2718().into()],
        }],
    };
    Scenario {
        chain,
        data: payload.encode(Codec::None).into(),
        genesis_root,
        states: vec![s0, s1, s2],
        witnesses: vec![w1, w2],
    }
}

struct L1 {
    sim: SimL1,
    rollup: Address,
    game: Address,
}

fn deploy(s: &Scenario) -> L1 {
    let mut sim = SimL1::new(&[OWNER, BATCHER, CHALLENGER, ARBITER], U256::from(100 * ETH));
    let poseidon = sim.deploy(OWNER, PoseidonBn254::BYTECODE.to_vec());
    let args = Rollup::constructorCall {
        owner_: OWNER,
        batcher_: BATCHER,
        mode_: 0,
        challengePeriod_: PERIOD,
        genesisStateRoot: s.genesis_root,
        genesisBlockHash: keccak256(b"genesis"),
        genesisNextBaseFee: s.states[0].baseFee,
        verifier_: Address::ZERO,
    }
    .abi_encode();
    let rollup = sim.deploy(OWNER, [Rollup::BYTECODE.to_vec(), args].concat());
    let args =
        Bridge::constructorCall { owner_: OWNER, rollup_: rollup, hasher_: poseidon }.abi_encode();
    let bridge = sim.deploy(OWNER, [Bridge::BYTECODE.to_vec(), args].concat());
    let c = &s.chain;
    let config = GameTypes::Config {
        l2ChainId: U256::from(c.chain_id),
        feeRecipient: c.fee_recipient,
        gasLimit: c.gas_limit,
        baseFeeDenominator: c.base_fee.max_change_denominator,
        baseFeeElasticity: c.base_fee.elasticity_multiplier,
        minBaseFee: c.base_fee.min_wei,
        minStake: U256::from(ETH),
        slashingPenaltyPct: U256::from(50),
        moveTimeout: TIMEOUT,
        arbiter: ARBITER,
    };
    let one_step = sim.deploy(OWNER, one_step_initcode(bridge, poseidon, &config));
    let args =
        DisputeGame::constructorCall { rollup_: rollup, oneStep_: one_step, config_: config }
            .abi_encode();
    let game = sim.deploy(OWNER, [DisputeGame::BYTECODE.to_vec(), args].concat());
    sim.send(OWNER, rollup, &Rollup::setChallengerCall { challenger_: game }, U256::ZERO)
        .expect("the game is the rollup's challenger");
    for who in [BATCHER, CHALLENGER] {
        sim.send(who, game, &DisputeGame::bondCall {}, U256::from(ETH)).expect("bond");
    }
    L1 { sim, rollup, game }
}

impl L1 {
    fn submit(&mut self, s: &Scenario, claimed: &GameTypes::StepState) {
        let call = Rollup::submitBatchCall {
            firstBlock: 1,
            lastBlock: 1,
            data: s.data.clone(),
            output: Rollup::Output {
                stateRoot: claimed.stateRoot,
                l2BlockNumber: 1,
                l2BlockHash: keccak256(b"block 1"),
                nextBaseFee: claimed.baseFee,
                nextDepositNonce: claimed.depositNonce,
            },
        };
        self.sim.send(BATCHER, self.rollup, &call, U256::ZERO).expect("batch");
    }

    fn open(&mut self) -> U256 {
        self.sim
            .send(
                CHALLENGER,
                self.game,
                &DisputeGame::challengeCall { index: U256::ONE },
                U256::ZERO,
            )
            .expect("challenge");
        U256::ZERO
    }

    fn status(&mut self, id: U256) -> u8 {
        self.sim.view(self.game, &DisputeGame::getGameCall { id }).status
    }

    fn bond(&mut self, who: Address) -> U256 {
        self.sim.view(self.game, &DisputeGame::bondOfCall(who))
    }

    fn hash(&mut self, s: &GameTypes::StepState) -> B256 {
        self.sim.view(self.game, &DisputeGame::stateHashCall { s: s.clone() })
    }

    /// Proves step `step` on L1; returns the post-state hash L1 computed and the gas.
    fn prove(&mut self, id: U256, s: &Scenario, step: usize) -> Result<(B256, u64), Failure> {
        let call = DisputeGame::proveStepCall {
            id,
            pre: s.states[step - 1].clone(),
            data: s.data.clone(),
            accounts: s.witnesses[step - 1].clone(),
            deposit: no_deposit(),
        };
        let out = self.sim.send(CHALLENGER, self.game, &call, U256::ZERO)?;
        let decided = out
            .logs
            .iter()
            .find_map(|l| DisputeGame::StepDecided::decode_log(l).ok())
            .expect("StepDecided");
        Ok((decided.computedHash, out.gas))
    }
}

fn no_deposit() -> GameTypes::Deposit {
    GameTypes::Deposit {
        from: Address::ZERO,
        to: Address::ZERO,
        value: U256::ZERO,
        gasLimit: 0,
        data: Bytes::new(),
    }
}

const PROPOSER_WON: u8 = 4;
const CHALLENGER_WON: u8 = 5;

#[test]
fn an_honest_challenger_wins_against_a_wrong_root() {
    let s = scenario();
    let mut l1 = deploy(&s);
    let mut wrong = s.states[2].clone();
    wrong.stateRoot = keccak256(b"not the root");
    l1.submit(&s, &wrong);
    let id = l1.open();
    l1.sim
        .send(BATCHER, l1.game, &DisputeGame::defendCall { id, last: wrong.clone() }, U256::ZERO)
        .expect("the proposer defends its claim");
    // Midpoint 1: the proposer's state after the transfer is right; the fault is
    // in step 2 (the block end), which the challenger then proves on L1.
    let mid = l1.hash(&s.states[1]);
    l1.sim
        .send(BATCHER, l1.game, &DisputeGame::bisectCall { id, midHash: mid }, U256::ZERO)
        .expect("bisect");
    l1.sim
        .send(CHALLENGER, l1.game, &DisputeGame::respondCall { id, agree: true }, U256::ZERO)
        .expect("agree");
    let (computed, gas) = l1.prove(id, &s, 2).expect("one step");
    eprintln!("one-step proof of a block end: {gas} gas");
    assert_eq!(computed, l1.hash(&s.states[2]), "L1 computed the true post-state");
    assert_eq!(l1.status(id), CHALLENGER_WON);
    assert_eq!(l1.bond(CHALLENGER), U256::from(ETH + ETH / 2), "half the proposer's bond moved");
    assert_eq!(l1.bond(BATCHER), U256::from(ETH / 2));
    let count = l1.sim.view(l1.rollup, &Rollup::batchCountCall {});
    assert_eq!(count, U256::ONE, "the wrong output was rolled back");
    // It can never finalize.
    l1.sim.warp(PERIOD + 1);
    assert!(
        l1.sim
            .send(OWNER, l1.rollup, &Rollup::finalizeCall { index: U256::ONE }, U256::ZERO)
            .is_err()
    );
}

#[test]
fn a_dishonest_challenger_loses_against_a_right_root() {
    let s = scenario();
    let mut l1 = deploy(&s);
    l1.submit(&s, &s.states[2]);
    let id = l1.open();
    l1.sim
        .send(
            BATCHER,
            l1.game,
            &DisputeGame::defendCall { id, last: s.states[2].clone() },
            U256::ZERO,
        )
        .expect("defend");
    let mid = l1.hash(&s.states[1]);
    l1.sim
        .send(BATCHER, l1.game, &DisputeGame::bisectCall { id, midHash: mid }, U256::ZERO)
        .expect("bisect");
    // The challenger disputes the transfer step, which L1 then executes.
    l1.sim
        .send(CHALLENGER, l1.game, &DisputeGame::respondCall { id, agree: false }, U256::ZERO)
        .expect("disagree");
    // Lying about the sender (a nonce that would make L1 refuse the transfer) is
    // caught: the values must match the pre-state's leaf.
    let mut lie = s.witnesses[0].clone();
    lie[0].nonce = 7;
    let call = DisputeGame::proveStepCall {
        id,
        pre: s.states[0].clone(),
        data: s.data.clone(),
        accounts: lie,
        deposit: no_deposit(),
    };
    assert!(
        l1.sim.send(CHALLENGER, l1.game, &call, U256::ZERO).is_err(),
        "a false pre-state is refused"
    );
    let (computed, gas) = l1.prove(id, &s, 1).expect("one step");
    eprintln!("one-step proof of an ETH transfer: {gas} gas");
    assert_eq!(computed, l1.hash(&s.states[1]), "L1 computed the true post-state");
    assert_eq!(l1.status(id), PROPOSER_WON);
    assert_eq!(l1.bond(BATCHER), U256::from(ETH + ETH / 2));
    assert_eq!(l1.bond(CHALLENGER), U256::from(ETH / 2));
    // Back to pending: it finalizes after its period.
    l1.sim.warp(PERIOD + 1);
    l1.sim
        .send(OWNER, l1.rollup, &Rollup::finalizeCall { index: U256::ONE }, U256::ZERO)
        .expect("a right output finalizes");
}

#[test]
fn moves_are_checked_and_a_silent_party_loses() {
    let s = scenario();
    let mut l1 = deploy(&s);
    let mut wrong = s.states[2].clone();
    wrong.stateRoot = B256::repeat_byte(9);
    l1.submit(&s, &wrong);
    // Not bonded: no challenge.
    assert!(
        l1.sim
            .send(ARBITER, l1.game, &DisputeGame::challengeCall { index: U256::ONE }, U256::ZERO)
            .is_err()
    );
    let id = l1.open();
    // Another final state than the claim, or a move out of turn, is refused.
    let mut other = wrong.clone();
    other.stateRoot = B256::repeat_byte(8);
    assert!(
        l1.sim
            .send(BATCHER, l1.game, &DisputeGame::defendCall { id, last: other }, U256::ZERO)
            .is_err()
    );
    assert!(
        l1.sim
            .send(
                CHALLENGER,
                l1.game,
                &DisputeGame::defendCall { id, last: wrong.clone() },
                U256::ZERO
            )
            .is_err()
    );
    // Too early to time out; then the proposer stays silent and loses.
    assert!(l1.sim.send(ARBITER, l1.game, &DisputeGame::timeoutCall { id }, U256::ZERO).is_err());
    l1.sim.warp(TIMEOUT + 1);
    l1.sim.send(ARBITER, l1.game, &DisputeGame::timeoutCall { id }, U256::ZERO).expect("timeout");
    assert_eq!(l1.status(id), CHALLENGER_WON);
    assert_eq!(l1.bond(CHALLENGER), U256::from(ETH + ETH / 2));
    // Unlocked: both can withdraw what is theirs.
    l1.sim
        .send(
            CHALLENGER,
            l1.game,
            &DisputeGame::unbondCall { amount: U256::from(ETH + ETH / 2) },
            U256::ZERO,
        )
        .expect("unbond");
    assert!(
        l1.sim
            .send(
                BATCHER,
                l1.game,
                &DisputeGame::unbondCall { amount: U256::from(ETH) },
                U256::ZERO
            )
            .is_err()
    );
}

#[test]
fn a_disputable_rollup_refuses_compressed_or_blob_batches() {
    let s = scenario();
    let mut l1 = deploy(&s);
    let payload = BatchPayload::decode(&s.data).expect("payload");
    let call = Rollup::submitBatchCall {
        firstBlock: 1,
        lastBlock: 1,
        data: payload.encode(Codec::Zstd).into(),
        output: Rollup::Output {
            stateRoot: s.states[2].stateRoot,
            l2BlockNumber: 1,
            l2BlockHash: B256::ZERO,
            nextBaseFee: s.states[2].baseFee,
            nextDepositNonce: 0,
        },
    };
    let err = l1.sim.send(BATCHER, l1.rollup, &call, U256::ZERO).unwrap_err();
    assert!(matches!(
        err.decode::<Rollup::RollupErrors>(),
        Rollup::RollupErrors::DisputableDataRequired(_)
    ));
}
