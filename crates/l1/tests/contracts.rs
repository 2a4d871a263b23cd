//! The L1 contracts, deployed from the committed artifacts into revm: every happy
//! path and revert path of the rollup and the bridge, and withdrawal proofs built
//! by the node's own sparse Merkle tree checked by the Solidity Poseidon. The
//! rollup's game hooks are driven by a stand-in game (`TestGame`); the real
//! `FaultGame` in front of it is played in crates/challenger/tests.

use alloy::{
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    sol_types::{SolCall, SolEvent, SolValue},
};
use infra_l1::sim::{Failure, Outcome, SimContracts, SimL1 as L1, SimRollup};
use infra_l1::{
    Bridge, L2_WITHDRAWALS, L2Withdrawals, PoseidonBls12381, PoseidonBn254, Rollup, TestGame,
};
use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};

const OWNER: Address = Address::repeat_byte(0x01);
const BATCHER: Address = Address::repeat_byte(0x02);
const CHALLENGER: Address = Address::repeat_byte(0x03);
const ALICE: Address = Address::repeat_byte(0x0a);
const BOB: Address = Address::repeat_byte(0x0b);
const PERIOD: u64 = 100;
const ETH: u128 = 1_000_000_000_000_000_000;
/// `SimRollup::optimistic`'s output bond.
const BOND: u128 = ETH;

fn new_l1() -> L1 {
    L1::new(&[OWNER, BATCHER, CHALLENGER, ALICE, BOB], U256::from(100_000 * ETH))
}

fn rollup_error(f: Failure) -> Rollup::RollupErrors {
    f.decode()
}

fn bridge_error(f: Failure) -> Bridge::BridgeErrors {
    f.decode()
}

fn output(root: B256, block: u64) -> Rollup::Output {
    Rollup::Output {
        stateRoot: root,
        l2BlockNumber: block,
        l2BlockHash: keccak256(root),
        nextBaseFee: 1_000_000_000 + block,
        nextDepositNonce: block,
    }
}

const MODE_OPTIMISTIC: u8 = 0;
const MODE_ZK: u8 = 1;

/// An optimistic rollup (with a stand-in game of clock PERIOD / 2) and its bridge.
fn deploy(l1: &mut L1) -> SimContracts {
    l1.deploy_rollup_with_test_game(
        OWNER,
        &SimRollup::optimistic(OWNER, BATCHER, PERIOD),
        PERIOD / 2,
    )
}

fn deploy_rollup(l1: &mut L1, mode: u8) -> Address {
    assert_eq!(mode, MODE_OPTIMISTIC);
    deploy(l1).rollup
}

/// A zk rollup in front of `verifier`.
fn deploy_zk(l1: &mut L1, verifier: Address) -> Address {
    let setup =
        SimRollup { mode: MODE_ZK, verifier, ..SimRollup::optimistic(OWNER, BATCHER, PERIOD) };
    l1.deploy_rollup(OWNER, &setup, None).rollup
}

/// The bond a batch is posted with on `rollup`.
fn bond_of(l1: &mut L1, rollup: Address) -> U256 {
    if l1.view(rollup, &Rollup::modeCall {}) == MODE_OPTIMISTIC {
        l1.view(rollup, &Rollup::outputBondCall {})
    } else {
        U256::ZERO
    }
}

fn submit(
    l1: &mut L1,
    rollup: Address,
    first: u64,
    last: u64,
    root: B256,
) -> Result<Outcome, Failure> {
    let call = Rollup::submitBatchCall {
        firstBlock: first,
        lastBlock: last,
        data: Bytes::from(format!("batch {first}..{last}").into_bytes()),
        output: output(root, last),
    };
    let bond = bond_of(l1, rollup);
    l1.send(BATCHER, rollup, &call, bond)
}

#[test]
fn solidity_poseidon_equals_the_node_hash() {
    let mut l1 = new_l1();
    let bn = l1.deploy(OWNER, PoseidonBn254::BYTECODE.to_vec());
    let bls = l1.deploy(OWNER, PoseidonBls12381::BYTECODE.to_vec());
    for (curve, at) in [(Curve::Bn254, bn), (Curve::Bls12_381, bls)] {
        let h = TreeHasher::new(curve);
        let mut a = B256::ZERO;
        for i in 0..6u64 {
            let b = h.hash(9, &a, &B256::from(U256::from(i)));
            let expected = h.hash(i, &a, &b);
            let call = PoseidonBn254::hash2Call {
                domain: U256::from(i),
                a: U256::from_be_bytes(a.0),
                b: U256::from_be_bytes(b.0),
            };
            let got = l1.view(at, &call);
            assert_eq!(B256::from(got), expected, "{curve} hash2 #{i}");
            a = expected;
        }
        let out = l1
            .send(
                ALICE,
                at,
                &PoseidonBn254::hash2Call { domain: U256::ONE, a: U256::ONE, b: U256::ONE },
                U256::ZERO,
            )
            .expect("hash call");
        eprintln!("{curve}: one hash2 call costs {} gas (whole tx)", out.gas);
    }
}

#[test]
fn optimistic_batches_finalize_after_the_challenge_period() {
    let mut l1 = new_l1();
    let rollup = deploy_rollup(&mut l1, MODE_OPTIMISTIC);
    assert_eq!(l1.view(rollup, &Rollup::nextBlockCall {}), 1);

    // Only the batcher; contiguous ranges; the output names the last block; data.
    let root = B256::repeat_byte(0x11);
    let call = Rollup::submitBatchCall {
        firstBlock: 1,
        lastBlock: 5,
        data: Bytes::from_static(b"x"),
        output: output(root, 5),
    };
    let bond = U256::from(BOND);
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &call, bond).unwrap_err()),
        Rollup::RollupErrors::NotBatcher(_)
    ));
    // Each output is bonded: exactly the output bond.
    for wrong in [U256::ZERO, bond - U256::ONE, bond + U256::ONE] {
        assert!(matches!(
            rollup_error(l1.send(BATCHER, rollup, &call, wrong).unwrap_err()),
            Rollup::RollupErrors::WrongBond(_)
        ));
    }
    assert!(matches!(
        rollup_error(submit(&mut l1, rollup, 2, 5, root).unwrap_err()),
        Rollup::RollupErrors::WrongFirstBlock(e) if e.expected == 1 && e.got == 2
    ));
    assert!(matches!(
        rollup_error(submit(&mut l1, rollup, 1, 0, root).unwrap_err()),
        Rollup::RollupErrors::EmptyRange(_)
    ));
    let mismatch = Rollup::submitBatchCall { output: output(root, 4), ..call.clone() };
    assert!(matches!(
        rollup_error(l1.send(BATCHER, rollup, &mismatch, bond).unwrap_err()),
        Rollup::RollupErrors::OutputBlockMismatch(_)
    ));
    let empty = Rollup::submitBatchCall { data: Bytes::new(), ..call.clone() };
    assert!(matches!(
        rollup_error(l1.send(BATCHER, rollup, &empty, bond).unwrap_err()),
        Rollup::RollupErrors::EmptyData(_)
    ));
    // Calldata is capped so that loading it into the preimage oracle fits one transaction.
    let cap = l1.view(rollup, &Rollup::MAX_CALLDATACall {}).to::<usize>();
    let big = Rollup::submitBatchCall { data: vec![0u8; cap + 1].into(), ..call.clone() };
    assert!(matches!(
        rollup_error(l1.send(BATCHER, rollup, &big, bond).unwrap_err()),
        Rollup::RollupErrors::DataTooLarge(_)
    ));

    let out = l1.send(BATCHER, rollup, &call, bond).expect("batch accepted");
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).expect("BatchSubmitted");
    assert_eq!(ev.index, U256::ONE);
    assert_eq!(ev.dataCommitment, keccak256(b"x"));
    assert_eq!((ev.firstBlock, ev.lastBlock, ev.blobCount), (1, 5, 0));
    assert_eq!(ev.output, output(root, 5), "the whole claimed output is in the event");
    assert_eq!((ev.claimId, ev.depositCount), (U256::ONE, 0));
    let b = l1.view(rollup, &Rollup::getBatchCall { index: U256::ONE });
    assert_eq!((b.nextBaseFee, b.nextDepositNonce), (1_000_000_005, 5), "and recorded");
    let genesis = l1.view(rollup, &Rollup::getBatchCall { index: U256::ZERO });
    assert_eq!((genesis.nextBaseFee, genesis.nextDepositNonce), (875_000_000, 0));
    assert_eq!(l1.view(rollup, &Rollup::nextBlockCall {}), 6);
    submit(&mut l1, rollup, 6, 9, B256::repeat_byte(0x12)).expect("second batch");

    // Not final yet: the withdrawal root is refused, finalization waits.
    let root_of = |i: u64| Rollup::finalizedStateRootCall { index: U256::from(i) };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &root_of(1), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotFinalized(_)
    ));
    let fin = |i: u64| Rollup::finalizeCall { index: U256::from(i) };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin(1), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::ChallengePeriodNotOver(_)
    ));
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin(2), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotNextToFinalize(_)
    ));
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin(7), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::UnknownBatch(_)
    ));

    l1.warp(PERIOD);
    let out = l1.send(ALICE, rollup, &fin(1), U256::ZERO).expect("final after the period");
    let ev = Rollup::OutputFinalized::decode_log(&out.logs[0]).expect("OutputFinalized");
    assert_eq!((ev.index, ev.l2BlockNumber, ev.stateRoot), (U256::ONE, 5, root));
    assert_eq!(l1.view(rollup, &Rollup::finalizedStateRootCall { index: U256::ONE }), root);
    let latest = l1.view(rollup, &Rollup::latestFinalizedCall {});
    assert_eq!((latest.index, latest.output.l2BlockNumber), (U256::ONE, 5));
    // Finalizing twice is refused.
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin(1), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotNextToFinalize(_)
    ));
    // zk-only entry point.
    let prove = Rollup::proveBatchesCall { last: U256::from(2), proof: Bytes::new() };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &prove, U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::WrongMode(_)
    ));

    // The bond is back with the batcher once its output is final.
    assert_eq!(l1.view(rollup, &Rollup::creditCall(BATCHER)), bond);

    // Pausing stops submissions only (finalization goes on); only the owner pauses.
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &Rollup::pauseCall {}, U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotOwner(_)
    ));
    let out = l1.send(OWNER, rollup, &Rollup::pauseCall {}, U256::ZERO).expect("pause");
    assert!(Rollup::Paused::decode_log(&out.logs[0]).is_ok());
    assert!(matches!(
        rollup_error(submit(&mut l1, rollup, 10, 10, root).unwrap_err()),
        Rollup::RollupErrors::IsPaused(_)
    ));
    l1.send(ALICE, rollup, &fin(2), U256::ZERO).expect("second batch final while paused");
    l1.send(OWNER, rollup, &Rollup::unpauseCall {}, U256::ZERO).expect("unpause");
    let before = l1.balance(BATCHER);
    l1.send(BATCHER, rollup, &Rollup::claimCreditCall {}, U256::ZERO).expect("withdraw bonds");
    assert_eq!(l1.balance(BATCHER) - before, bond * U256::from(2));
    assert!(matches!(
        rollup_error(
            l1.send(BATCHER, rollup, &Rollup::claimCreditCall {}, U256::ZERO).unwrap_err()
        ),
        Rollup::RollupErrors::NoCredit(_)
    ));

    // The batcher changes only after the delay (longer than three challenge
    // periods: an output posted before the announcement finalizes within its
    // period and a game's bound of at most two more), announced by the owner;
    // anyone completes it once due.
    let delay = l1.view(rollup, &Rollup::batcherDelayCall {});
    assert_eq!(delay, 3 * PERIOD + 7 * 86_400);
    let propose = Rollup::proposeBatcherCall { batcher_: BOB };
    assert!(l1.send(ALICE, rollup, &propose, U256::ZERO).is_err());
    let out = l1.send(OWNER, rollup, &propose, U256::ZERO).expect("proposed");
    assert!(Rollup::BatcherChangeProposed::decode_log(&out.logs[0]).is_ok());
    assert!(matches!(
        rollup_error(
            l1.send(ALICE, rollup, &Rollup::acceptBatcherCall {}, U256::ZERO).unwrap_err()
        ),
        Rollup::RollupErrors::BatcherChangeNotDue(_)
    ));
    submit(&mut l1, rollup, 10, 10, root).expect("the current batcher still posts");
    // (Each simulated transaction is a block 12 s after the previous one.)
    l1.warp(delay - 60);
    assert!(l1.send(ALICE, rollup, &Rollup::acceptBatcherCall {}, U256::ZERO).is_err());
    l1.warp(60);
    let out = l1.send(ALICE, rollup, &Rollup::acceptBatcherCall {}, U256::ZERO).expect("due");
    assert!(Rollup::BatcherChanged::decode_log(&out.logs[0]).is_ok());
    assert!(matches!(
        rollup_error(submit(&mut l1, rollup, 11, 11, root).unwrap_err()),
        Rollup::RollupErrors::NotBatcher(_)
    ));
}

fn open(l1: &mut L1, c: &SimContracts, claim: u64, game: u64) -> Result<Outcome, Failure> {
    let call = TestGame::openCall { claimId: U256::from(claim), gameId: U256::from(game) };
    l1.send(ALICE, c.game, &call, U256::ZERO)
}

fn end(l1: &mut L1, c: &SimContracts, claim: u64, game: u64, challenger_wins: bool) -> Outcome {
    let call = TestGame::endCall {
        claimId: U256::from(claim),
        gameId: U256::from(game),
        challengerWins: challenger_wins,
        creator: CHALLENGER,
    };
    l1.send(ALICE, c.game, &call, U256::ZERO).expect("gameResolved never reverts")
}

#[test]
fn games_hold_finalization_and_a_challenger_win_rolls_back_in_one_step() {
    let mut l1 = new_l1();
    let c = deploy(&mut l1);
    let rollup = c.rollup;
    for (i, first) in [1u64, 4, 7].into_iter().enumerate() {
        submit(&mut l1, rollup, first, first + 2, B256::repeat_byte(i as u8 + 1)).unwrap();
    }
    // Only the game calls the hooks.
    let hook = Rollup::openGameCall { claimId: U256::ONE, gameId: U256::ZERO };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &hook, U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotGame(_)
    ));
    // Claim ids: genesis 0, then one per posted batch. Anyone may open any number of games.
    assert!(matches!(
        rollup_error(open(&mut l1, &c, 0, 0).unwrap_err()),
        Rollup::RollupErrors::UnknownClaim(_)
    ));
    assert!(matches!(
        rollup_error(open(&mut l1, &c, 4, 0).unwrap_err()),
        Rollup::RollupErrors::UnknownClaim(_)
    ));
    let out = open(&mut l1, &c, 1, 0).expect("a game on claim 1");
    assert!(out.logs.iter().any(|l| Rollup::GameOpened::decode_log(l).is_ok()));
    open(&mut l1, &c, 1, 1).expect("a second game on claim 1");
    open(&mut l1, &c, 2, 2).expect("a game on claim 2");
    // The inputs the game gets are the claim's, and never change.
    let inputs = l1.view(rollup, &Rollup::localInputsCall { claimId: U256::from(2) });
    assert_eq!(inputs.len(), 5);
    let pre = l1.view(rollup, &Rollup::getBatchCall { index: U256::ONE });
    assert_eq!(&inputs[0][..32], pre.stateRoot.as_slice(), "input 1 is the batch before's output");
    assert_eq!(inputs[1].len(), 160);
    assert_eq!(inputs[2].len(), 49);
    assert_eq!(&inputs[2][..16], &[&4u64.to_be_bytes()[..], &6u64.to_be_bytes()[..]].concat()[..]);
    assert_eq!(inputs[3].len(), 77);
    assert_eq!(inputs[4].len(), 40);

    // Past the period: games still open hold their batch (and the ones after it).
    l1.warp(PERIOD);
    assert!(matches!(
        rollup_error(open(&mut l1, &c, 3, 3).unwrap_err()),
        Rollup::RollupErrors::ChallengePeriodOver(_)
    ));
    let fin = |i: u64| Rollup::finalizeCall { index: U256::from(i) };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin(1), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::GamesOpen(_)
    ));
    // The defender wins one game: that says nothing; the other still holds it.
    end(&mut l1, &c, 1, 0, false);
    assert!(l1.send(ALICE, rollup, &fin(1), U256::ZERO).is_err());
    end(&mut l1, &c, 1, 1, false);
    l1.send(ALICE, rollup, &fin(1), U256::ZERO).expect("final once its games ended");

    // The challenger wins on claim 2: batches 2 and 3 go in one step; the
    // output bond goes to the game's creator.
    let out = end(&mut l1, &c, 2, 2, true);
    let rolled = out
        .logs
        .iter()
        .find_map(|l| Rollup::BatchesRolledBack::decode_log(l).ok())
        .expect("rolled back");
    assert_eq!((rolled.fromIndex, rolled.nextBlock), (U256::from(2), 4));
    assert_eq!(l1.view(rollup, &Rollup::batchCountCall {}), U256::from(2));
    // Half the bond: the other half stays locked (a proposer racing its own
    // wrong output with a game from another key still loses it).
    assert_eq!(l1.view(rollup, &Rollup::creditCall(CHALLENGER)), U256::from(BOND / 2));
    assert_eq!(l1.view(rollup, &Rollup::burnedCall {}), U256::from(BOND / 2));
    let gone =
        |l1: &mut L1, id: u64| l1.view(rollup, &Rollup::isLiveCall { claimId: U256::from(id) });
    assert!(!gone(&mut l1, 2) && !gone(&mut l1, 3) && gone(&mut l1, 1));
    assert_eq!(
        l1.view(rollup, &Rollup::getClaimCall { claimId: U256::from(2) }).status,
        2,
        "invalid"
    );
    // Rolled-back claims can no longer be disputed; batch 3's bond goes back to
    // its proposer (it was rolled back, not proven wrong).
    assert!(matches!(
        rollup_error(open(&mut l1, &c, 3, 4).unwrap_err()),
        Rollup::RollupErrors::NotLive(_)
    ));
    let refund = |id: u64| Rollup::refundBondCall { claimId: U256::from(id) };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &refund(1), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::BondStillHeld(_)
    ));
    let before = l1.view(rollup, &Rollup::creditCall(BATCHER));
    l1.send(ALICE, rollup, &refund(3), U256::ZERO).expect("refund");
    assert_eq!(l1.view(rollup, &Rollup::creditCall(BATCHER)) - before, U256::from(BOND));
    // Once only: the bond is gone from the claim.
    l1.send(ALICE, rollup, &refund(3), U256::ZERO).expect("nothing left to refund");
    assert_eq!(l1.view(rollup, &Rollup::creditCall(BATCHER)) - before, U256::from(BOND));

    // The batch posted again is a new claim at the same index; the old claim's
    // inputs are unchanged.
    let out = submit(&mut l1, rollup, 4, 8, B256::repeat_byte(4)).expect("resubmitted");
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).unwrap();
    assert_eq!((ev.index, ev.claimId), (U256::from(2), U256::from(4)));
    assert_eq!(l1.view(rollup, &Rollup::localInputsCall { claimId: U256::from(2) }), inputs);
    assert_eq!(l1.view(rollup, &Rollup::claimOfCall { index: U256::from(2) }), U256::from(4));
    open(&mut l1, &c, 4, 5).expect("the new claim is disputable");
}

#[test]
fn a_challenger_win_rolls_back_a_thousand_later_batches_within_the_gas_cap() {
    let mut l1 = new_l1();
    let c = deploy(&mut l1);
    submit(&mut l1, c.rollup, 1, 1, B256::repeat_byte(1)).unwrap();
    open(&mut l1, &c, 1, 0).unwrap();
    for b in 2..=1_001u64 {
        submit(&mut l1, c.rollup, b, b, B256::repeat_byte(2)).unwrap();
    }
    assert_eq!(l1.view(c.rollup, &Rollup::batchCountCall {}), U256::from(1_002));
    let out = end(&mut l1, &c, 1, 0, true);
    eprintln!("a challenger win rolling back 1 + 1,000 later batches: {} gas (whole tx)", out.gas);
    assert!(out.gas < 16_777_216, "under the per-transaction gas cap (EIP-7825)");
    assert_eq!(l1.view(c.rollup, &Rollup::batchCountCall {}), U256::ONE);
    assert_eq!(l1.view(c.rollup, &Rollup::nextBlockCall {}), 1);
}

#[test]
fn zk_outputs_need_a_proof_the_verifier_accepts() {
    // Stand-in verifiers (raw EVM code answering every call with one word: 1 or
    // 0) exercise the rollup's side; the real Groth16 verifiers are tested with
    // real proofs in crates/prover/tests/prover/l1_verifier.rs.
    let mut l1 = new_l1();
    let accepting = Address::repeat_byte(0xe1);
    let rejecting = Address::repeat_byte(0xe0);
    l1.put_code(
        rejecting,
        Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]),
    );
    l1.put_code(
        accepting,
        Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]),
    );
    // zk needs a verifier (its key is pinned); optimistic takes none, and needs a
    // game whose source is the rollup and whose clock is at most half the period.
    for (mode, verifier, game) in [
        (MODE_ZK, Address::ZERO, Address::ZERO),
        (MODE_OPTIMISTIC, accepting, Address::ZERO),
        (MODE_OPTIMISTIC, Address::ZERO, Address::ZERO),
    ] {
        let setup = SimRollup { mode, verifier, ..SimRollup::optimistic(OWNER, BATCHER, PERIOD) };
        let code = setup.initcode(game, ALICE);
        assert!(l1.exec(OWNER, TxKind::Create, code.into(), U256::ZERO, vec![]).is_err());
    }
    // A game whose clock is over half the period, that serves another source,
    // or that may last over twice the period (its clock extensions): each
    // refused with its own error; one that may last exactly twice the period
    // is taken.
    let cases = [
        (PERIOD / 2 + 1, 1, PERIOD + 2, Some("ClockTooLong")),
        (PERIOD / 2, 2, PERIOD, Some("GameSourceMismatch")),
        (PERIOD / 2, 1, 2 * PERIOD + 1, Some("GameTooLong")),
        (PERIOD / 2, 1, 2 * PERIOD, None),
    ];
    for (clock, source_offset, duration, refused) in cases {
        let rollup_at = OWNER.create(l1.nonce(OWNER) + source_offset);
        let args = TestGame::constructorCall {
            source_: rollup_at,
            maxClockDuration_: clock,
            maxGameDuration_: U256::from(duration),
        };
        let game = l1.deploy(
            OWNER,
            [TestGame::BYTECODE.to_vec(), alloy::sol_types::SolConstructor::abi_encode(&args)]
                .concat(),
        );
        let code = SimRollup::optimistic(OWNER, BATCHER, PERIOD).initcode(game, ALICE);
        let result = l1.exec(OWNER, TxKind::Create, code.into(), U256::ZERO, vec![]);
        match refused {
            Some(name) => {
                let err = format!("{:?}", rollup_error(result.unwrap_err()));
                assert!(err.starts_with(name), "clock {clock}, game duration {duration}: {err}");
            }
            None => {
                result.expect("a game lasting at most twice the period is taken");
            }
        }
    }
    // The chain input (`ClaimChain::encode`): 77 bytes, a curve byte of 0 or
    // 1, a gas limit (bytes 8..16) that holds the largest deposit, and a batch
    // gas budget (bytes 69..77) that holds any block a sequencer builds: a full
    // block, deposits up to half the gas limit or one largest deposit, and the
    // block's own charge (below it, batches with such blocks are never valid).
    let chain_input = |len: usize, curve: u8, gas_limit: u64, batch_gas: u64| {
        let mut b = vec![0u8; len];
        b[8..16].copy_from_slice(&gas_limit.to_be_bytes());
        if len >= 77 {
            b[68] = curve;
            b[69..77].copy_from_slice(&batch_gas.to_be_bytes());
        }
        Bytes::from(b)
    };
    let zk = |input: Bytes| SimRollup {
        mode: MODE_ZK,
        verifier: accepting,
        chain_input: input,
        ..SimRollup::optimistic(OWNER, BATCHER, PERIOD)
    };
    for bad in [
        chain_input(69, 0, 0, 0),
        chain_input(78, 0, 0, 0),
        chain_input(77, 2, 30_000_000, 60_000_000),
        chain_input(77, 0, 4_999_999, u64::MAX),
        chain_input(77, 0, 30_000_000, 45_000_999),
        chain_input(77, 0, 6_000_000, 11_000_999),
    ] {
        let code = zk(bad.clone()).initcode(Address::ZERO, ALICE);
        let err = l1.exec(OWNER, TxKind::Create, code.into(), U256::ZERO, vec![]).unwrap_err();
        assert!(
            matches!(rollup_error(err), Rollup::RollupErrors::BadChainInput(_)),
            "chain input {bad} refused"
        );
    }
    for good in [
        chain_input(77, 1, 30_000_000, 45_001_000),
        chain_input(77, 0, 6_000_000, 11_001_000),
        chain_input(77, 0, 5_000_000, u64::MAX),
    ] {
        let code = zk(good).initcode(Address::ZERO, ALICE);
        l1.exec(OWNER, TxKind::Create, code.into(), U256::ZERO, vec![]).expect("accepted");
    }
    let rollup = deploy_zk(&mut l1, accepting);
    assert_eq!(l1.view(rollup, &Rollup::vkHashCall {}), B256::with_last_byte(1));
    // Its copies of the STF's block charge and the bridge's largest deposit.
    assert_eq!(l1.view(rollup, &Rollup::BLOCK_GASCall {}), U256::from(infra_stf::BLOCK_GAS));
    assert_eq!(
        l1.view(rollup, &Rollup::MAX_DEPOSIT_GASCall {}),
        U256::from(infra_config::MAX_DEPOSIT_GAS)
    );
    submit(&mut l1, rollup, 1, 2, B256::repeat_byte(5)).unwrap();
    submit(&mut l1, rollup, 3, 3, B256::repeat_byte(6)).unwrap();
    l1.warp(PERIOD * 10);
    let fin = Rollup::finalizeCall { index: U256::ONE };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &fin, U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::WrongMode(_)
    ));
    // A rejecting verifier: nothing finalizes (its pinned "key" is 0, an accepting
    // one's 1; the verifier is fixed for a rollup's life).
    let strict = deploy_zk(&mut l1, rejecting);
    assert_eq!(l1.view(strict, &Rollup::verifierCall {}), rejecting);
    submit(&mut l1, strict, 1, 1, B256::repeat_byte(5)).unwrap();
    let one = Rollup::proveBatchesCall { last: U256::ONE, proof: Bytes::from_static(b"p") };
    assert!(matches!(
        rollup_error(l1.send(ALICE, strict, &one, U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::InvalidProof(_)
    ));
    let prove = |last: u64| Rollup::proveBatchesCall {
        last: U256::from(last),
        proof: Bytes::from_static(b"p"),
    };
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &prove(3), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::UnknownBatch(_)
    ));
    // One proof may finalize several batches, in order, once: the last output is
    // final; the one inside the range, whose root the proof did not pass
    // through, is superseded and nothing can be proven against it.
    l1.send(ALICE, rollup, &prove(2), U256::ZERO).expect("proven");
    assert_eq!(
        l1.view(rollup, &Rollup::finalizedStateRootCall { index: U256::from(2) }),
        B256::repeat_byte(6)
    );
    assert!(matches!(
        rollup_error(
            l1.try_view(rollup, &Rollup::finalizedStateRootCall { index: U256::ONE }).unwrap_err()
        ),
        Rollup::RollupErrors::NotFinalized(_)
    ));
    assert_eq!(l1.view(rollup, &Rollup::getBatchCall { index: U256::ONE }).status, 4);
    assert_eq!(l1.view(rollup, &Rollup::latestFinalizedCall {}).index, U256::from(2));
    assert!(matches!(
        rollup_error(l1.send(ALICE, rollup, &prove(2), U256::ZERO).unwrap_err()),
        Rollup::RollupErrors::NotPending(_)
    ));
}

#[test]
fn blob_batches_commit_to_their_versioned_hashes() {
    let mut l1 = new_l1();
    let rollup = deploy_rollup(&mut l1, MODE_OPTIMISTIC);
    let blob = |i: u8| {
        let mut h = B256::repeat_byte(i);
        h.0[0] = 0x01; // EIP-4844 versioned hash (KZG)
        h
    };
    let blobs = vec![blob(0xaa), blob(0xbb)];
    let call = |count: u8| Rollup::submitBlobBatchCall {
        firstBlock: 1,
        lastBlock: 4,
        blobCount: count,
        output: output(B256::repeat_byte(7), 4),
    };
    let send = |l1: &mut L1, count: u8, blobs: Vec<B256>| {
        let bond = U256::from(BOND);
        l1.exec(BATCHER, TxKind::Call(rollup), call(count).abi_encode().into(), bond, blobs)
    };
    assert!(matches!(
        rollup_error(send(&mut l1, 1, blobs.clone()).unwrap_err()),
        Rollup::RollupErrors::BlobCountMismatch(_)
    ));
    assert!(matches!(
        rollup_error(send(&mut l1, 3, blobs.clone()).unwrap_err()),
        Rollup::RollupErrors::BlobCountMismatch(_)
    ));
    assert!(matches!(
        rollup_error(send(&mut l1, 0, blobs.clone()).unwrap_err()),
        Rollup::RollupErrors::NoBlobs(_)
    ));
    let out = send(&mut l1, 2, blobs.clone()).expect("blob batch");
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).expect("event");
    assert_eq!(ev.blobCount, 2);
    assert_eq!(ev.dataCommitment, keccak256([blobs[0].0, blobs[1].0].concat()));
    let stored = l1.view(rollup, &Rollup::getBatchCall { index: U256::ONE });
    assert_eq!(stored.dataCommitment, ev.dataCommitment);
}

/// Deploys the rollup and the bridge (BN254 Poseidon).
fn bridge_setup(l1: &mut L1) -> (Address, Address) {
    let c = deploy(l1);
    (c.rollup, c.bridge)
}

/// A sequencer that leaves deposits unapplied cannot make a claim's program
/// walk a longer chain: a claim reads the deposits L1 holds, but at most as
/// many past its pre-output's nonce as one batch can apply (each deposit asks
/// for at least 21,000 gas of the batch gas budget).
#[test]
fn a_deposit_backlog_does_not_lengthen_what_a_claim_reads() {
    let mut l1 = new_l1();
    // The least batch gas budget a 5 M gas limit admits: 476 deposits a batch.
    let mut chain_input = infra_l1::sim::sim_chain_input().to_vec();
    chain_input[8..16].copy_from_slice(&5_000_000u64.to_be_bytes());
    chain_input[69..77].copy_from_slice(&10_001_000u64.to_be_bytes());
    let setup = SimRollup {
        chain_input: chain_input.clone().into(),
        ..SimRollup::optimistic(OWNER, BATCHER, PERIOD)
    };
    let c = l1.deploy_rollup_with_test_game(OWNER, &setup, PERIOD / 2);
    let most = l1.view(c.rollup, &Rollup::maxBatchDepositsCall {});
    assert_eq!(most, 10_001_000 / 21_000);
    // A backlog: more deposits than one batch can apply.
    let backlog = most + 2;
    for _ in 0..backlog {
        l1.exec(ALICE, TxKind::Call(c.bridge), Bytes::new(), U256::from(1u64), vec![])
            .expect("deposit");
    }
    let acc = |l1: &mut L1, n: u64| {
        l1.view(c.bridge, &Bridge::depositAccumulatorsCall { count: U256::from(n) })
    };
    // Batch 1 starts from genesis (nonce 0): it reads deposits 0..most only.
    let out = submit(&mut l1, c.rollup, 1, 3, B256::repeat_byte(1)).unwrap();
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).unwrap();
    assert_eq!((ev.depositCount, ev.depositAccumulator), (most, acc(&mut l1, most)));
    let inputs = l1.view(c.rollup, &Rollup::localInputsCall { claimId: U256::ONE });
    let want = [&most.to_be_bytes()[..], acc(&mut l1, most).as_slice()].concat();
    assert_eq!(inputs[4].as_ref(), want.as_slice());
    // Batch 2's pre-output applied 3 (`output` claims the block number as
    // the next nonce): it reads up to 3 + most, which is all L1 holds.
    let out = submit(&mut l1, c.rollup, 4, 4, B256::repeat_byte(2)).unwrap();
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).unwrap();
    assert_eq!((ev.depositCount, ev.depositAccumulator), (backlog, acc(&mut l1, backlog)));

    // zk: no program walks the chain (and no game checks a batch inside a
    // proven range): L1's whole head is recorded.
    let accepting = Address::repeat_byte(0xe1);
    l1.put_code(
        accepting,
        Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]),
    );
    let zk = SimRollup {
        mode: MODE_ZK,
        verifier: accepting,
        chain_input: chain_input.into(),
        ..SimRollup::optimistic(OWNER, BATCHER, PERIOD)
    };
    let z = l1.deploy_rollup(OWNER, &zk, None);
    for _ in 0..backlog {
        l1.exec(ALICE, TxKind::Call(z.bridge), Bytes::new(), U256::from(1u64), vec![])
            .expect("deposit");
    }
    let out = submit(&mut l1, z.rollup, 1, 3, B256::repeat_byte(1)).unwrap();
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).unwrap();
    assert_eq!(ev.depositCount, backlog);
}

#[test]
fn deposits_lock_eth_and_emit_ordered_events() {
    let mut l1 = new_l1();
    let (rollup, bridge) = bridge_setup(&mut l1);
    let deposit =
        Bridge::depositETHCall { to: BOB, gasLimit: 100_000, data: Bytes::from_static(b"hi") };
    let out = l1.send(ALICE, bridge, &deposit, U256::from(3 * ETH)).expect("deposit");
    let deposit_block = l1.block_number();
    let ev = Bridge::DepositInitiated::decode_log(&out.logs[0]).expect("event");
    assert_eq!((ev.nonce, ev.from, ev.to, ev.value), (U256::ZERO, ALICE, BOB, U256::from(3 * ETH)));
    assert_eq!(ev.data.data, Bytes::from_static(b"hi"));
    // Plain ETH: deposit to oneself, the next nonce.
    let out = l1
        .exec(ALICE, TxKind::Call(bridge), Bytes::new(), U256::from(ETH), vec![])
        .expect("plain deposit");
    let ev = Bridge::DepositInitiated::decode_log(&out.logs[0]).expect("event");
    assert_eq!((ev.nonce, ev.to, ev.gasLimit), (U256::ONE, ALICE, 21_000));
    assert_eq!(l1.balance(bridge), U256::from(4 * ETH));
    // The bridge chains every deposit's full record (its L1 block included): the
    // fault-proof program walks this chain (infra_stf::claim::deposit_link).
    let acc = |l1: &mut L1, n: u64| {
        l1.view(bridge, &Bridge::depositAccumulatorsCall { count: U256::from(n) })
    };
    let d0 = infra_primitives::DepositTx {
        nonce: 0,
        l1_block: deposit_block,
        from: ALICE,
        to: BOB,
        value: U256::from(3 * ETH),
        gas_limit: 100_000,
        data: Bytes::from_static(b"hi"),
    };
    let d1 = infra_primitives::DepositTx {
        nonce: 1,
        l1_block: deposit_block + 1,
        to: ALICE,
        value: U256::from(ETH),
        gas_limit: 21_000,
        data: Bytes::new(),
        ..d0.clone()
    };
    let a1 = infra_stf::claim::deposit_link(&B256::ZERO, &d0);
    let a2 = infra_stf::claim::deposit_link(&a1, &d1);
    assert_eq!((acc(&mut l1, 0), acc(&mut l1, 1), acc(&mut l1, 2)), (B256::ZERO, a1, a2));
    let head = l1.view(bridge, &Bridge::depositHeadCall {});
    assert_eq!((head.count, head.accumulator), (2, a2));
    // A batch posted now records that head (its claim's deposit input).
    let (rollup, _) = (rollup, ());
    let out = submit(&mut l1, rollup, 1, 1, B256::repeat_byte(1)).unwrap();
    let ev = Rollup::BatchSubmitted::decode_log(&out.logs[0]).unwrap();
    assert_eq!((ev.depositCount, ev.depositAccumulator), (2, a2));
    let inputs = l1.view(rollup, &Rollup::localInputsCall { claimId: U256::ONE });
    assert_eq!(inputs[4].as_ref(), [&2u64.to_be_bytes()[..], a2.as_slice()].concat().as_slice());

    // The node's config requires a block gas limit that holds the largest deposit.
    assert_eq!(
        l1.view(bridge, &Bridge::MAX_DEPOSIT_GASCall {}),
        infra_config::MAX_DEPOSIT_GAS,
        "infra_config::MAX_DEPOSIT_GAS is the bridge's"
    );
    for gas in [20_999u64, 5_000_001] {
        let bad = Bridge::depositETHCall { to: BOB, gasLimit: gas, data: Bytes::new() };
        assert!(matches!(
            bridge_error(l1.send(ALICE, bridge, &bad, U256::from(1)).unwrap_err()),
            Bridge::BridgeErrors::DepositGasOutOfRange(_)
        ));
    }
    l1.send(OWNER, bridge, &Bridge::pauseCall {}, U256::ZERO).expect("pause");
    assert!(matches!(
        bridge_error(l1.send(ALICE, bridge, &deposit, U256::from(1)).unwrap_err()),
        Bridge::BridgeErrors::IsPaused(_)
    ));
    assert_eq!(l1.view(bridge, &Bridge::depositNonceCall {}), U256::from(2));
}

/// An L2 state holding `withdrawals` in the predeploy plus unrelated leaves; returns
/// the root and a function producing the proof siblings for a withdrawal hash.
struct L2State {
    h: TreeHasher,
    store: MemoryNodeStore,
    root: B256,
}

impl L2State {
    fn new(withdrawals: &[B256]) -> Self {
        let h = TreeHasher::new(Curve::Bn254);
        // Unrelated leaves around the withdrawals, as a real state has.
        let mut updates: Vec<(B256, Option<B256>)> = (0..40u64)
            .map(|i| {
                let key = keys::account_key(&h, Address::from_word(keccak256(i.to_be_bytes())));
                (key, Some(keys::storage_value_hash(&h, U256::from(i + 1000))))
            })
            .collect();
        for w in withdrawals {
            updates.push((
                keys::storage_key(&h, L2_WITHDRAWALS, withdrawal_slot(*w)),
                Some(keys::storage_value_hash(&h, U256::ONE)),
            ));
        }
        let mut store = MemoryNodeStore::default();
        let up = SparseMerkleTree::new(&h).update(&store, B256::ZERO, updates).expect("tree");
        store.apply(&up.changes);
        Self { h, store, root: up.root }
    }

    fn proof(&self, w: B256) -> Vec<B256> {
        let key = keys::storage_key(&self.h, L2_WITHDRAWALS, withdrawal_slot(w));
        let p = SparseMerkleTree::new(&self.h).proof(&self.store, self.root, key).expect("proof");
        assert!(p.leaf.is_some_and(|(k, _)| k == key), "inclusion proof");
        p.siblings
    }
}

fn withdrawal_slot(h: B256) -> U256 {
    let slot = U256::from_be_bytes(keccak256((h, U256::ONE).abi_encode()).0);
    assert_eq!(slot, infra_primitives::withdrawal_slot(h), "the node's slot derivation");
    slot
}

fn withdrawal(nonce: u64, target: Address, value: u128) -> Bridge::Withdrawal {
    Bridge::Withdrawal {
        nonce: U256::from(nonce),
        sender: ALICE,
        target,
        value: U256::from(value),
        gasLimit: U256::from(100_000),
        data: Bytes::new(),
    }
}

fn withdrawal_hash(w: &Bridge::Withdrawal) -> B256 {
    keccak256(
        (w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data.clone()).abi_encode_params(),
    )
}

#[test]
fn the_l2_predeploy_records_what_the_bridge_checks() {
    let mut l1 = new_l1(); // used as an L2 here: same EVM
    l1.put_code(L2_WITHDRAWALS, L2Withdrawals::DEPLOYED_BYTECODE.clone());
    let call = L2Withdrawals::initiateWithdrawalCall {
        target: BOB,
        gasLimit: U256::from(100_000),
        data: Bytes::new(),
    };
    let out = l1.send(ALICE, L2_WITHDRAWALS, &call, U256::from(ETH)).expect("withdraw");
    let ev = L2Withdrawals::MessagePassed::decode_log(&out.logs[0]).expect("event");
    let w = withdrawal(0, BOB, ETH);
    assert_eq!(ev.withdrawalHash, withdrawal_hash(&w));
    let slot = withdrawal_slot(ev.withdrawalHash);
    let stored = l1.storage(L2_WITHDRAWALS, slot);
    assert_eq!(stored, Some(U256::ONE), "sentMessages[hash] at keccak256(hash, 1)");
    assert_eq!(l1.balance(L2_WITHDRAWALS), U256::from(ETH), "the ETH is locked on L2");
}

#[test]
fn withdrawals_pay_once_against_a_finalized_root_only() {
    let mut l1 = new_l1();
    let (rollup, bridge) = bridge_setup(&mut l1);
    l1.exec(ALICE, TxKind::Call(bridge), Bytes::new(), U256::from(10 * ETH), vec![])
        .expect("fund the bridge by a deposit");

    let w1 = withdrawal(0, BOB, 2 * ETH);
    let w2 = withdrawal(1, BOB, ETH);
    let (h1, h2) = (withdrawal_hash(&w1), withdrawal_hash(&w2));
    assert_eq!(l1.view(bridge, &Bridge::hashWithdrawalCall { w: w1.clone() }), h1);
    assert_eq!(l1.view(bridge, &Bridge::withdrawalSlotCall { h: h1 }), withdrawal_slot(h1));

    let state1 = L2State::new(&[h1]);
    let state2 = L2State::new(&[h1, h2]);
    submit(&mut l1, rollup, 1, 10, state1.root).unwrap();
    l1.warp(PERIOD);
    l1.send(ALICE, rollup, &Rollup::finalizeCall { index: U256::ONE }, U256::ZERO).unwrap();
    submit(&mut l1, rollup, 11, 20, state2.root).unwrap(); // pending

    let fin = |w: &Bridge::Withdrawal, batch: u64, siblings: Vec<B256>| {
        Bridge::finalizeWithdrawalCall { w: w.clone(), batchIndex: U256::from(batch), siblings }
    };

    // Against a pending root: refused by the rollup.
    let err = l1.send(ALICE, bridge, &fin(&w2, 2, state2.proof(h2)), U256::ZERO).unwrap_err();
    assert!(matches!(rollup_error(err), Rollup::RollupErrors::NotFinalized(_)));
    // w2 is not in the final root 1: no proof works.
    let err = l1.send(ALICE, bridge, &fin(&w2, 1, state2.proof(h2)), U256::ZERO).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::InvalidWithdrawalProof(_)));
    // A tampered proof, and a withdrawal claiming more than was recorded.
    let mut bad = state1.proof(h1);
    bad[0].0[31] ^= 1;
    let err = l1.send(ALICE, bridge, &fin(&w1, 1, bad), U256::ZERO).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::InvalidWithdrawalProof(_)));
    let greedy = withdrawal(0, BOB, 3 * ETH);
    let err = l1.send(ALICE, bridge, &fin(&greedy, 1, state1.proof(h1)), U256::ZERO).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::InvalidWithdrawalProof(_)));

    // The real one pays BOB, whoever submits it.
    let before = l1.balance(BOB);
    let out = l1.send(ALICE, bridge, &fin(&w1, 1, state1.proof(h1)), U256::ZERO).expect("paid");
    eprintln!("finalizeWithdrawal: {} gas with {} siblings", out.gas, state1.proof(h1).len());
    assert_eq!(l1.balance(BOB) - before, U256::from(2 * ETH));
    let ev = out.logs.iter().find_map(|l| Bridge::WithdrawalFinalized::decode_log(l).ok()).unwrap();
    assert_eq!(ev.withdrawalHash, h1);
    // Exactly once.
    let err = l1.send(ALICE, bridge, &fin(&w1, 1, state1.proof(h1)), U256::ZERO).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::AlreadyFinalized(_)));

    // Once batch 2 is final, w2 goes through too (and w1 stays spent).
    l1.warp(PERIOD);
    l1.send(ALICE, rollup, &Rollup::finalizeCall { index: U256::from(2) }, U256::ZERO).unwrap();
    l1.send(ALICE, bridge, &fin(&w2, 2, state2.proof(h2)), U256::ZERO).expect("w2 paid");
    let err = l1.send(ALICE, bridge, &fin(&w1, 2, state2.proof(h1)), U256::ZERO).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::AlreadyFinalized(_)));
    assert_eq!(l1.balance(bridge), U256::from(7 * ETH));

    // Paused: deposits stop, withdrawals still pay (pausing cannot trap funds).
    let w3 = withdrawal(2, BOB, ETH);
    let state3 = L2State::new(&[h1, h2, withdrawal_hash(&w3)]);
    submit(&mut l1, rollup, 21, 30, state3.root).unwrap();
    l1.warp(PERIOD);
    l1.send(ALICE, rollup, &Rollup::finalizeCall { index: U256::from(3) }, U256::ZERO).unwrap();
    l1.send(OWNER, bridge, &Bridge::pauseCall {}, U256::ZERO).unwrap();
    let err =
        l1.exec(ALICE, TxKind::Call(bridge), Bytes::new(), U256::from(ETH), vec![]).unwrap_err();
    assert!(matches!(bridge_error(err), Bridge::BridgeErrors::IsPaused(_)));
    let proof = state3.proof(withdrawal_hash(&w3));
    l1.send(ALICE, bridge, &fin(&w3, 3, proof), U256::ZERO).expect("paid while paused");
}
