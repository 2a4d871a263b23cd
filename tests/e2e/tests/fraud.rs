//! Fault proofs end to end on anvil (the pinned npm package), with no arbiter:
//! a sequencer that claims wrong roots for batches 4 and 8 (every 4th batch,
//! the first two) is disputed by a validator with an L1 key, which opens a
//! `FaultGame` on each such claim (its root: the final state of the
//! fault-proof program, run in the VM over the claim's inputs, rejecting the
//! claim). The sequencer defends each lie with a made-up trace (below); the
//! validator wins, the output rolls back, the batch is posted again right,
//! and no wrong root is ever final. A false challenge (a root
//! saying the program rejects a right output) is countered by the honest
//! players and its bond lost; so is one on a right batch that the first
//! lie's game rolls back while it is played (its bond then goes back whole). The sequencer's first lie (batch 4) is a forged
//! withdrawal: the true state plus a record of a 1 ETH withdrawal to the
//! sequencer's batcher that L2 never made, with a proof that verifies against
//! the claimed root; the validator's game invalidates it, and the withdrawal
//! is never paid, before or after batch 4 is final again (the next lie, batch
//! 8, is a hash of the true root).
//!
//! The L2 traffic is a constant-product DEX (two tokens, a pool, swaps both
//! ways), so the lied-about batches run contract code; and the sequencer
//! defends each lie with a made-up trace that leaves the program's at its
//! first read of a contract's code (`--sequencer.test-lying-defence`): each
//! game is played move by move over RPC down to that instruction, which the
//! validator has L1 run (the read of a DEX contract's code, loaded into the
//! preimage oracle first), and wins. (More lying parties, in revm:
//! crates/challenger/tests/fault_game.rs.)

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use infra_batcher::DataAvailability;
use infra_config::{BatchConfig, ChainConfig, DEV_GENESIS_JSON, parse_genesis};
use infra_derivation::witness::witness_of;
use infra_e2e::{
    contracts::{TestPool, TestToken},
    settle::{
        BATCHER_INDEX, l1_settings, start_anvil, start_l2_with, start_validator_with, wait_for,
    },
};
use infra_l1::{Bridge, FaultGame, L2_WITHDRAWALS, PreimageOracle, Rollup};
use infra_node_core::deploy_contracts;
use infra_state::{SmtProof, TreeHasher, keys};
use infra_stf::claim::local_key;
use std::time::Duration;

/// The sequencer lies about every `EVERY`-th batch, the first two: `FIRST`
/// (the forged withdrawal) and `SECOND` (a hashed root). Not from batch 2:
/// the DEX's deploys land in the first batches, and a batch of deploys takes
/// the players several times longer to trace than one of swaps.
const EVERY: u64 = 4;
const FIRST: u64 = EVERY;
const SECOND: u64 = 2 * EVERY;
/// The sequencer's game key: an anvil account no other party here uses.
const GAME_KEY_INDEX: u32 = 8;

fn chain() -> ChainConfig {
    ChainConfig {
        block_time_ms: 250,
        // Each side's clock is half of it (80 s): time to trace a claim and
        // answer 18 times on a 1 s L1, with CI's other tests running beside
        // it. Measured so: the validator used 17-22 s; the lying defence,
        // which traces each claim too, 23-28 s (31-48 s when it traced 3x
        // slower and sent through the batcher's busy key; with 60 s clocks it
        // once ran out in CI, and the game ended without the step this test
        // is about).
        challenge_period_s: 160,
        // (Fewer, larger batches than at 1 s: fewer outputs to finalize one
        // L1 transaction each after a game held them back.)
        batch: BatchConfig { max_latency_ms: 2_000, ..BatchConfig::default() },
        // The least depth that holds the chain's trace bound (2^35 > 23.7 G
        // instructions): the sequencer's lying defence makes each game 35
        // moves and a step, 18 of them the validator's, within its clock.
        game_max_depth: 35,
        ..ChainConfig::dev()
    }
}

/// The L2 traffic: a constant-product pool between two tokens, and swaps both
/// ways, so the batches the sequencer lies about run contract code.
struct Dex {
    l2: DynProvider,
    /// The two tokens and the pool.
    contracts: [Address; 3],
    swaps: std::sync::atomic::AtomicU64,
}

impl Dex {
    async fn deploy(url: &str) -> eyre::Result<Self> {
        let l2 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(infra_config::dev_signer(0)?))
            .connect_http(url.parse()?)
            .erased();
        let supply = U256::from(10u128.pow(24));
        let deployed = |r: alloy::rpc::types::TransactionReceipt| -> eyre::Result<Address> {
            eyre::ensure!(r.status(), "deploy");
            r.contract_address.ok_or_else(|| eyre::eyre!("no contract address"))
        };
        let token = |name: &str| {
            TestToken::deploy_builder(&l2, name.into(), name.into(), supply).gas(3_000_000)
        };
        let a = deployed(token("A").send().await?.get_receipt().await?)?;
        let b = deployed(token("B").send().await?.get_receipt().await?)?;
        let pool = TestPool::deploy_builder(&l2, a, b).gas(3_000_000);
        let pool = deployed(pool.send().await?.get_receipt().await?)?;
        for t in [a, b] {
            let r = TestToken::new(t, &l2).approve(pool, U256::MAX).send().await?;
            eyre::ensure!(r.get_receipt().await?.status(), "approve");
        }
        let liquidity = U256::from(10u128.pow(21));
        let r = TestPool::new(pool, &l2).addLiquidity(liquidity, liquidity).send().await?;
        eyre::ensure!(r.get_receipt().await?.status(), "addLiquidity");
        Ok(Self { l2, contracts: [a, b, pool], swaps: Default::default() })
    }

    /// One swap (alternating direction), mined.
    async fn trade(&self) -> eyre::Result<()> {
        let n = self.swaps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let one = U256::from(10u128.pow(15));
        let pool = TestPool::new(self.contracts[2], &self.l2);
        let swap = pool.swap(n.is_multiple_of(2), one, U256::ZERO).gas(300_000);
        let receipt = swap.send().await?.get_receipt().await?;
        eyre::ensure!(receipt.status(), "swap {n} reverted");
        Ok(())
    }

    /// The preimage-oracle keys of the DEX contracts' code.
    async fn code_keys(&self) -> eyre::Result<Vec<B256>> {
        let mut keys = Vec::new();
        for c in self.contracts {
            let code = self.l2.get_code_at(c).await?;
            keys.push(infra_stf::claim::typed_key(
                infra_stf::claim::KEY_KECCAK256,
                &keccak256(&code),
            ));
        }
        Ok(keys)
    }
}

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
}

async fn logs<E: SolEvent>(
    l1: &DynProvider,
    at: alloy::primitives::Address,
    from: u64,
) -> eyre::Result<Vec<E>> {
    let found = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(at)
                .event_signature(E::SIGNATURE_HASH)
                .from_block(from),
        )
        .await?;
    Ok(found.iter().map(|l| E::decode_log_data(&l.inner.data)).collect::<Result<Vec<_>, _>>()?)
}

/// Opens a game on `claim` with `root` (a false challenge); its id.
async fn open_false_game(
    game: &FaultGame::FaultGameInstance<DynProvider>,
    claim: U256,
    root: B256,
    bond: U256,
) -> eyre::Result<U256> {
    let receipt = game.create(claim, root).value(bond).send().await?.get_receipt().await?;
    eyre::ensure!(receipt.status(), "the false challenge on claim {claim} reverted");
    Ok(receipt
        .decoded_log::<FaultGame::GameCreated>()
        .ok_or_else(|| eyre::eyre!("GameCreated in the receipt"))?
        .gameId)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_root_is_disputed_and_rolled_back_and_a_false_challenge_loses() -> eyre::Result<()>
{
    let started = std::time::Instant::now();
    let phase = |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
    let anvil = start_anvil().await?;
    let chain = chain();
    let genesis = parse_genesis(DEV_GENESIS_JSON, "dev")?;
    let d = deploy_contracts(
        &anvil.url,
        infra_config::dev_signer(BATCHER_INDEX)?,
        &chain,
        &genesis,
        None,
        None,
        None,
    )
    .await?;
    let game_addresses =
        d.fault_game.clone().ok_or_else(|| eyre::eyre!("optimistic deployments have a game"))?;
    let game_at = game_addresses.game;
    let mut l1s = l1_settings(&anvil.url, &d, DataAvailability::Auto, 1, None)?;
    l1s.faulty_root_every = Some(EVERY);
    l1s.forge_withdrawals = true;
    l1s.lying_defence = true;
    // The sequencer plays its games from a key of its own (`--l1.game-key`),
    // so its moves never wait behind a batch post.
    let game_key = infra_config::dev_signer(GAME_KEY_INDEX)?;
    l1s.game_key = Some(game_key.clone());
    // Two lies: games that roll back later batches are over before the false
    // challenge, whose right batch must stay live while it is played.
    l1s.faulty_root_limit = Some(2);
    let seq = start_l2_with(l1s, None, chain.clone()).await?;
    let forged_list = seq.node.forged_withdrawals.clone().ok_or_else(|| eyre::eyre!("forging"))?;
    let challenger = infra_config::dev_signer(5)?;
    let v =
        start_validator_with(&anvil.url, &d, None, chain.clone(), Some(challenger.clone())).await?;
    let l1 = provider(&anvil.url)?;
    let rollup = Rollup::new(d.rollup, l1.clone());
    let game = FaultGame::new(game_at, l1.clone());
    // The bridge holds ETH a forged withdrawal could take: a 3 ETH deposit.
    let depositor = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(7)?))
        .connect_http(anvil.url.parse()?);
    let receipt = depositor
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(d.bridge)
                .value(U256::from(3u64) * U256::from(10u64).pow(U256::from(18u64))),
        )
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let bridge = Bridge::new(d.bridge, l1.clone());
    let bridge_balance = l1.get_balance(d.bridge).await?;
    let dex = Dex::deploy(&seq.http_url).await?;

    // Traffic until both lies are on L1.
    wait_for("both lies on L1", Duration::from_secs(120), async || {
        dex.trade().await?;
        Ok((rollup.batchCount().call().await? > U256::from(SECOND)).then_some(()))
    })
    .await?;
    phase("both lies on L1");
    let wrong_claim = rollup.claimOf(U256::from(FIRST)).call().await?;
    // A false challenge on a right batch between the lies (its parent is
    // right too), opened while it is live; the first lie's game rolls the
    // batch back later. Opened once the validator has opened its games on
    // both lies, so the lying defence traces those claims first (one at a
    // time, games in the order opened).
    let second_claim = rollup.claimOf(U256::from(SECOND)).call().await?;
    wait_for("games on both lies", Duration::from_secs(120), async || {
        let created = logs::<FaultGame::GameCreated>(&l1, game_at, d.deploy_block).await?;
        let on = |c: U256| created.iter().any(|e| e.claimId == c);
        Ok((on(wrong_claim) && on(second_claim)).then_some(()))
    })
    .await?;
    let liar = infra_config::dev_signer(6)?;
    let liar_l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(liar.clone()))
        .connect_http(anvil.url.parse()?)
        .erased();
    let liar_game = FaultGame::new(game_at, liar_l1);
    let bond = game.bondAt(U256::ZERO).call().await?;
    let mut bogus = B256::repeat_byte(0x5a);
    bogus.0[0] = 1; // status 1: "the program rejects the claim"
    let rolled_claim = rollup.claimOf(U256::from(FIRST + 2)).call().await?;
    let early = open_false_game(&liar_game, rolled_claim, bogus, bond).await?;
    // Batch 2 is the forged withdrawal: its proof verifies against the root
    // the sequencer claimed, so only the game stands between it and L1's ETH.
    let forged = forged_list
        .lock()
        .map_err(|_| eyre::eyre!("lock"))?
        .first()
        .cloned()
        .ok_or_else(|| eyre::eyre!("the first lie forges a withdrawal"))?;
    assert_eq!(forged.index, FIRST);
    let c = rollup.getClaim(wrong_claim).call().await?;
    assert_eq!(c.stateRoot, forged.state_root, "the first lie claims the forged root");
    let h = TreeHasher::new(chain.state_curve());
    let key = keys::storage_key(&h, L2_WITHDRAWALS, infra_primitives::withdrawal_slot(forged.hash));
    let one = keys::storage_value_hash(&h, U256::ONE);
    let proof = SmtProof { siblings: forged.siblings.clone(), leaf: Some((key, one)) };
    assert!(proof.verify(&h, forged.state_root, key, Some(one)), "the forgery proves");

    let batcher = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(BATCHER_INDEX)?))
        .connect_http(anvil.url.parse()?)
        .erased();
    let batcher_bridge = Bridge::new(d.bridge, batcher);
    // Sending the claim: its revert (at gas estimation), or an error if it went through.
    let pay = async |index: u64| -> eyre::Result<alloy::contract::Error> {
        let call = batcher_bridge.finalizeWithdrawal(
            forged.withdrawal.clone(),
            U256::from(index),
            forged.siblings.clone(),
        );
        match call.send().await {
            Ok(p) => Err(eyre::eyre!("the forged withdrawal was sent: {}", p.tx_hash())),
            Err(e) => Ok(e),
        }
    };
    // Pending: the rollup says the output is not final.
    let e = pay(FIRST).await?;
    assert!(
        matches!(
            e.as_decoded_interface_error::<Rollup::RollupErrors>(),
            Some(Rollup::RollupErrors::NotFinalized(_))
        ),
        "a pending output pays nothing: {e}"
    );
    // The validator opens a game on it and wins (its games on later wrong
    // batches run alongside).
    let status = v.node.disputes.clone().ok_or_else(|| eyre::eyre!("a challenger"))?;
    wait_for("the game on the first lie to end", Duration::from_secs(300), async || {
        let ended = logs::<FaultGame::GameResolved>(&l1, game_at, d.deploy_block).await?;
        Ok(ended.into_iter().find(|e| e.claimId == wrong_claim).map(|e| e.challengerWins))
    })
    .await
    .and_then(|won| {
        eyre::ensure!(won, "the challenger lost the game on the first lie");
        Ok(())
    })?;
    phase("the game on the first lie ended");
    let s = status.lock().map_err(|_| eyre::eyre!("lock"))?.clone();
    assert!(s.opened.contains(&FIRST), "the validator opened the game on the first lie: {s:?}");
    let rolled = logs::<Rollup::BatchesRolledBack>(&l1, d.rollup, d.deploy_block).await?;
    assert!(
        rolled.iter().any(|e| e.fromIndex == U256::from(FIRST)),
        "the wrong output was rolled back: {rolled:?}"
    );
    assert_eq!(rollup.getClaim(wrong_claim).call().await?.status, 2, "the claim is marked invalid");

    // The game on the second lie is over too, won by the validator.
    wait_for("the game on the second lie to end", Duration::from_secs(300), async || {
        for e in logs::<FaultGame::GameResolved>(&l1, game_at, d.deploy_block).await? {
            if rollup.getClaim(e.claimId).call().await?.index == SECOND {
                eyre::ensure!(e.challengerWins, "the challenger lost the game on the second lie");
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
    .await?;

    phase("the game on the second lie ended");
    // The false challenge on the right batch between the lies, rolled back
    // behind the first: lost, and its claim still pending (its bond goes
    // back to the batcher below, whole).
    wait_for(
        "the false challenge on a rolled-back batch to lose",
        Duration::from_secs(300),
        async || {
            let st = game.gameStatus(early).call().await?;
            eyre::ensure!(
                st != 1,
                "the false challenge on rolled-back claim {rolled_claim} won game {early}"
            );
            Ok((st == 2).then_some(()))
        },
    )
    .await?;
    phase("the false challenge on a rolled-back batch lost");
    assert!(!rollup.isLive(rolled_claim).call().await?, "claim {rolled_claim} was rolled back");
    assert_eq!(rollup.getClaim(rolled_claim).call().await?.status, 1, "still pending, not invalid");
    let honest = [challenger.address(), game_key.address()];
    let by = game.getClaim(early, U256::ZERO).call().await?.counteredBy;
    assert!(honest.contains(&by), "an honest player countered the false root, not {by}");

    // Both honest nodes still rebuild the rolled-back claim after batch
    // FIRST + 2 was posted again: its record is kept by claim id, and the
    // inputs rebuilt from it are exactly those L1 serves for the claim (what
    // a player checks before it plays a game on it). A player that has not
    // traced it yet (a game opened on it late in its period, a restarted
    // node) rebuilds it from this record.
    let index = FIRST + 2;
    wait_for("the rolled-back batch posted again", Duration::from_secs(120), async || {
        let _ = dex.trade().await;
        Ok((rollup.batchCount().call().await? > U256::from(index)).then_some(()))
    })
    .await?;
    let again: u64 = rollup.claimOf(U256::from(index)).call().await?.to();
    let id: u64 = rolled_claim.to();
    assert_ne!(again, id);
    let inputs = rollup.localInputs(rolled_claim).call().await?;
    assert_eq!(inputs.len(), 5, "a claim's five local inputs");
    let on_l1 = rollup.getClaim(rolled_claim).call().await?;
    for (who, store) in [("validator", &v.node.store), ("sequencer", &seq.node.store)] {
        // (The validator records it once derived.)
        let current =
            wait_for("the batch posted again recorded", Duration::from_secs(60), async || {
                Ok(store.reader()?.claim_batch(index, again)?)
            })
            .await?;
        assert_eq!(store.reader()?.batch(index)?.as_ref(), Some(&current));
        let record = store
            .reader()?
            .claim_batch(index, id)?
            .ok_or_else(|| eyre::eyre!("the {who} kept no record of rolled-back claim {id}"))?;
        assert_eq!((record.first_block, record.last_block), (on_l1.firstBlock, on_l1.lastBlock));
        let claimed = infra_stf::Output::decode(&record.claimed)
            .ok_or_else(|| eyre::eyre!("the {who}'s record of claim {id}: claimed output"))?;
        assert_eq!(claimed.state_root, on_l1.stateRoot, "the {who}'s record is claim {id}'s");
        assert_eq!(claimed.block_hash, on_l1.l2BlockHash);
        let w = witness_of(store, &record)?;
        for (i, input) in inputs.iter().enumerate() {
            assert_eq!(
                w.preimages.get(&local_key(i as u64 + 1)).map(Vec::as_slice),
                Some(input.as_ref()),
                "the {who}'s local input {} of rolled-back claim {id} is L1's",
                i + 1
            );
        }
    }
    phase("the rolled-back claim rebuilt by both nodes");

    // A false challenge: a root saying the program rejects a right output,
    // which its creator then leaves alone; the honest players counter it.
    let l2v = provider(&v.http_url)?;
    let period = chain.challenge_period_s;
    // The game opens as soon as the batch is on L1, before the validator has
    // necessarily derived it: the honest players answer once they can. (Odd
    // batches are right, and the sequencer's two lies are rolled back first.)
    let seen = rollup.batchCount().call().await?;
    let target = wait_for("a new right batch", Duration::from_secs(60), async || {
        let _ = dex.trade().await;
        let count = rollup.batchCount().call().await?;
        if count <= seen {
            return Ok(None);
        }
        let index: u64 = (count - U256::ONE).to();
        let b = rollup.getBatch(U256::from(index)).call().await?;
        let now = l1
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        Ok((!index.is_multiple_of(EVERY) && b.status == 1 && now + 10 <= b.submittedAt + period)
            .then_some(index))
    })
    .await?;
    let claim = rollup.claimOf(U256::from(target)).call().await?;
    let id = open_false_game(&liar_game, claim, bogus, bond).await?;
    // An honest player counters the false root (the liar then leaves it alone).
    wait_for("an honest counter to the false root", Duration::from_secs(120), async || {
        let n: u64 = game.claimCount(id).call().await?.to();
        for i in 1..n {
            let c = game.getClaim(id, U256::from(i)).call().await?;
            if c.parentIndex == 0 && honest.contains(&c.claimant) {
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
    .await?;
    // From here on the test only waits for time: the liar's clock in that
    // game, then the periods of the batches on L1 (no more lies come, and no
    // honest move is left to make). Anvil's clock is moved on by a period
    // instead of waiting it out (about 140 s of this test): every clock and
    // period L1 checks reads block.timestamp, so what follows is what a
    // period's wait gives; only the wall time is saved. The games above ran
    // in real time, on the players' real clocks.
    let _: serde_json::Value =
        l1.raw_request("evm_increaseTime".into(), serde_json::json!([period + 1])).await?;
    let _: serde_json::Value = l1.raw_request("evm_mine".into(), serde_json::json!([])).await?;

    // Meanwhile the first lie's batch comes again, right this time, and finalizes.
    wait_for(
        "the first lie's batch posted again and final",
        Duration::from_secs(300),
        async || {
            let _ = dex.trade().await;
            let next = rollup.nextToFinalize().call().await?;
            Ok((next > U256::from(FIRST)).then_some(()))
        },
    )
    .await?;

    phase("the first lie's batch posted again and final");
    // The forged output never became final: its batch was posted again, true,
    // and finalized; the forgery does not prove against it.
    assert!(!rollup.isLive(wrong_claim).call().await?, "the forged claim is rolled back");
    assert_ne!(rollup.claimOf(U256::from(FIRST)).call().await?, wrong_claim);
    let e = pay(FIRST).await?;
    assert!(
        matches!(
            e.as_decoded_interface_error::<Bridge::BridgeErrors>(),
            Some(Bridge::BridgeErrors::InvalidWithdrawalProof(_))
        ),
        "the true batch {FIRST} does not prove the forgery: {e}"
    );
    assert!(!bridge.finalizedWithdrawals(forged.hash).call().await?);
    assert_eq!(l1.get_balance(d.bridge).await?, bridge_balance, "the bridge paid nothing");

    wait_for("the false challenge to lose", Duration::from_secs(300), async || {
        let st = game.gameStatus(id).call().await?;
        eyre::ensure!(st != 1, "the false challenge won game {id}");
        Ok((st == 2).then_some(()))
    })
    .await?;
    assert_eq!(game.credit(liar.address()).call().await?, U256::ZERO, "the liar lost its bond");
    phase("the false challenge lost");
    let b = rollup.getBatch(U256::from(target)).call().await?;
    let blk = l2v
        .get_block_by_number(b.lastBlock.into())
        .await?
        .ok_or_else(|| eyre::eyre!("block {}", b.lastBlock))?;
    assert_eq!(blk.header.state_root, b.stateRoot, "the falsely challenged batch was right");
    let root = game.getClaim(id, U256::ZERO).call().await?;
    assert!(honest.contains(&root.counteredBy), "an honest player countered the false root");

    // The bonds of outputs rolled back behind the invalid one go back to the
    // batcher (its node asks for them once no game on them is open).
    wait_for("rolled-back output bonds refunded", Duration::from_secs(60), async || {
        let claims: u64 = rollup.claimCount().call().await?.to();
        for id in 1..claims {
            let c = rollup.getClaim(U256::from(id)).call().await?;
            let live = rollup.isLive(U256::from(id)).call().await?;
            if !live && c.status == 1 && c.openGames == 0 && c.bond > 0 {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await?;

    phase("bonds refunded");
    // No wrong root was ever final: every finalized output is the validator's.
    wait_for("the challenged batch final", Duration::from_secs(300), async || {
        let _ = dex.trade().await;
        Ok((rollup.nextToFinalize().call().await? > U256::from(target)).then_some(()))
    })
    .await?;
    let finalized = logs::<Rollup::OutputFinalized>(&l1, d.rollup, d.deploy_block).await?;
    phase("the challenged batch final");
    // Each final output's bond is the batcher's credit, withdrawn by the
    // batcher's key (the defender plays from the game key).
    let batcher = infra_config::dev_signer(BATCHER_INDEX)?.address();
    wait_for("the batcher's output bonds withdrawn", Duration::from_secs(60), async || {
        Ok((rollup.credit(batcher).call().await? == U256::ZERO).then_some(()))
    })
    .await?;
    assert!(finalized.len() > target as usize);
    for ev in &finalized {
        // (The validator derives a batch made final so soon after the clock moved on.)
        let blk = wait_for("the validator's block", Duration::from_secs(60), async || {
            Ok(l2v.get_block_by_number(ev.l2BlockNumber.into()).await?)
        })
        .await?;
        assert_eq!(
            ev.stateRoot, blk.header.state_root,
            "batch {} final with a wrong root",
            ev.index
        );
    }

    // The sequencer's two lies (both live when their games
    // opened) were defended with its made-up trace, played move by move down to
    // the first made-up state, and decided by the validator's step: L1 ran
    // exactly the instruction where the made-up trace leaves the program's.
    // With DEX traffic that instruction is the program's first read of a
    // contract's code (the EVM loading it to run a call), whose part the
    // validator loaded into the oracle first.
    let lies = seq.node.disputes.clone().ok_or_else(|| eyre::eyre!("a defender"))?;
    let lies = lies.lock().map_err(|_| eyre::eyre!("lock"))?.lies.clone();
    let steps = status.lock().map_err(|_| eyre::eyre!("lock"))?.steps.clone();
    let created = logs::<FaultGame::GameCreated>(&l1, game_at, d.deploy_block).await?;
    let ended = logs::<FaultGame::GameResolved>(&l1, game_at, d.deploy_block).await?;
    let code = dex.code_keys().await?;
    let oracle = PreimageOracle::new(game_addresses.oracle, l1.clone());
    let mut first = std::collections::BTreeMap::new();
    for (claim, from) in &lies {
        let index = rollup.getClaim(U256::from(*claim)).call().await?.index;
        first.entry(index).or_insert((*claim, *from));
    }
    for index in [FIRST, SECOND] {
        let (claim, from) = first[&index];
        let g = created
            .iter()
            .find(|e| e.claimId == U256::from(claim))
            .ok_or_else(|| eyre::eyre!("no game on claim {claim}"))?
            .gameId;
        let end = ended.iter().find(|e| e.gameId == g);
        assert!(end.is_some_and(|e| e.challengerWins), "the validator won game {g}: {end:?}");
        let claims: u64 = game.claimCount(g).call().await?.to();
        // Each side's clock at its deepest claim (the validator's: depth 34).
        let deepest = game.getClaim(g, U256::from(claims - 1)).call().await?;
        let honest = game.getClaim(g, U256::from(claims - 2)).call().await?;
        eprintln!(
            "game {g} (batch {index}): {claims} claims, the lie from instruction {from}; clocks used: validator {} s, lying defence {} s of {} s",
            honest.clock, deepest.clock, game_addresses.max_clock_s
        );
        let step = steps.iter().find(|(game, ..)| U256::from(*game) == g);
        let Some((_, at, read)) = step else {
            panic!("no step of the validator in game {g} (batch {index}): {steps:?}")
        };
        assert_eq!(*at, from, "game {g}: L1 ran the first made-up instruction");
        assert_eq!(claims, game_addresses.max_depth + 1, "game {g}: one claim per level");
        assert_eq!(deepest.claimant, game_key.address(), "game {g}: the defence's game key");
        let key = read.filter(|k| code.contains(k));
        let key =
            key.ok_or_else(|| eyre::eyre!("game {g}: the step read {read:?}, no DEX code"))?;
        assert!(oracle.isLoaded(key, U256::ZERO).call().await?, "the code part is on L1");
    }
    Ok(())
}
