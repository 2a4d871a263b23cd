//! Fault proofs end to end on anvil (the pinned npm package), with no arbiter:
//! a sequencer that claims a wrong root for every 2nd batch is disputed by a
//! validator with an L1 key, which opens a `FaultGame` on each such claim (its
//! root: the final state of the fault-proof program, run in the VM over the
//! claim's inputs, rejecting the claim). The sequencer's own defence runs the
//! same program, agrees, and does not counter; the root stands once its clock
//! runs out, the challenger wins, the output rolls back, the batch is posted
//! again right, and no wrong root is ever final. A false challenge (a root
//! saying the program rejects a right output) is countered by the honest
//! players and its bond lost. The sequencer's first lie (batch 2) is a forged
//! withdrawal: the true state plus a record of a 1 ETH withdrawal to the
//! sequencer's batcher that L2 never made, with a proof that verifies against
//! the claimed root; the validator's game invalidates it, and the withdrawal
//! is never paid, before or after batch 2 is final again (the next lie, batch
//! 4, is a hash of the true root). (Games played move by move to a step on L1
//! by honest and lying parties are in crates/challenger/tests/fault_game.rs.)

use alloy::{
    network::EthereumWallet,
    primitives::{B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use infra_batcher::DataAvailability;
use infra_config::{BatchConfig, ChainConfig, DEV_GENESIS_JSON, parse_genesis};
use infra_e2e::settle::{
    BATCHER_INDEX, l1_settings, l2_transfer, start_anvil, start_l2_with, start_validator_with,
    wait_for,
};
use infra_l1::{Bridge, FaultGame, L2_WITHDRAWALS, Rollup};
use infra_node_core::deploy_contracts;
use infra_state::{SmtProof, TreeHasher, keys};
use std::time::Duration;

fn chain() -> ChainConfig {
    ChainConfig {
        block_time_ms: 250,
        // Each side's clock is half of it (60 s): time for the honest players
        // to trace a claim and answer on a 1 s L1, with CI's other tests
        // running on the other core (30 s was lost once that way).
        challenge_period_s: 120,
        batch: BatchConfig { max_latency_ms: 1_000, ..BatchConfig::default() },
        ..ChainConfig::dev()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_root_is_disputed_and_rolled_back_and_a_false_challenge_loses() -> eyre::Result<()>
{
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
    let game_at =
        d.fault_game.clone().ok_or_else(|| eyre::eyre!("optimistic deployments have a game"))?.game;
    let mut l1s = l1_settings(&anvil.url, &d, DataAvailability::Auto, 1, None)?;
    l1s.faulty_root_every = Some(2);
    l1s.forge_withdrawals = true;
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

    // Traffic until batch 2 (the wrong one) is on L1.
    wait_for("batch 2 on L1", Duration::from_secs(60), async || {
        let _ = l2_transfer(&seq.http_url).await?;
        Ok((rollup.batchCount().call().await? >= U256::from(3)).then_some(()))
    })
    .await?;
    let wrong_claim = rollup.claimOf(U256::from(2)).call().await?;
    // Batch 2 is the forged withdrawal: its proof verifies against the root
    // the sequencer claimed, so only the game stands between it and L1's ETH.
    let forged = forged_list
        .lock()
        .map_err(|_| eyre::eyre!("lock"))?
        .first()
        .cloned()
        .ok_or_else(|| eyre::eyre!("batch 2 forges a withdrawal"))?;
    assert_eq!(forged.index, 2);
    let c = rollup.getClaim(wrong_claim).call().await?;
    assert_eq!(c.stateRoot, forged.state_root, "batch 2 claims the forged root");
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
    let e = pay(2).await?;
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
    wait_for("the game on batch 2 to end", Duration::from_secs(300), async || {
        let ended = logs::<FaultGame::GameResolved>(&l1, game_at, d.deploy_block).await?;
        Ok(ended.into_iter().find(|e| e.claimId == wrong_claim).map(|e| e.challengerWins))
    })
    .await
    .and_then(|won| {
        eyre::ensure!(won, "the challenger lost the game on the wrong batch 2");
        Ok(())
    })?;
    let s = status.lock().map_err(|_| eyre::eyre!("lock"))?.clone();
    assert!(s.opened.contains(&2), "the validator opened the game on batch 2: {s:?}");
    let rolled = logs::<Rollup::BatchesRolledBack>(&l1, d.rollup, d.deploy_block).await?;
    assert!(
        rolled.iter().any(|e| e.fromIndex == U256::from(2)),
        "the wrong output was rolled back: {rolled:?}"
    );
    assert_eq!(rollup.getClaim(wrong_claim).call().await?.status, 2, "the claim is marked invalid");

    // Batch 2 comes again, right this time, and finalizes.
    wait_for("batch 2 posted again and final", Duration::from_secs(300), async || {
        let _ = l2_transfer(&seq.http_url).await;
        let next = rollup.nextToFinalize().call().await?;
        Ok((next > U256::from(2)).then_some(()))
    })
    .await?;

    // The forged output never became final: batch 2 was posted again, true,
    // and finalized; the forgery does not prove against it.
    assert!(!rollup.isLive(wrong_claim).call().await?, "the forged claim is rolled back");
    assert_ne!(rollup.claimOf(U256::from(2)).call().await?, wrong_claim);
    let e = pay(2).await?;
    assert!(
        matches!(
            e.as_decoded_interface_error::<Bridge::BridgeErrors>(),
            Some(Bridge::BridgeErrors::InvalidWithdrawalProof(_))
        ),
        "the true batch 2 does not prove the forgery: {e}"
    );
    assert!(!bridge.finalizedWithdrawals(forged.hash).call().await?);
    assert_eq!(l1.get_balance(d.bridge).await?, bridge_balance, "the bridge paid nothing");

    // A false challenge: a root saying the program rejects a right output,
    // which its creator then leaves alone; the honest players counter it.
    let liar = infra_config::dev_signer(6)?;
    let liar_l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(liar.clone()))
        .connect_http(anvil.url.parse()?)
        .erased();
    let liar_game = FaultGame::new(game_at, liar_l1);
    let l2v = provider(&v.http_url)?;
    let period = chain.challenge_period_s;
    // The game opens as soon as the batch is on L1, before the validator has
    // necessarily derived it: the honest players answer once they can. (Odd
    // batches are right: the sequencer lies about every 2nd index, once each.)
    let seen = rollup.batchCount().call().await?;
    let target = wait_for("a new right batch", Duration::from_secs(60), async || {
        let _ = l2_transfer(&seq.http_url).await;
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
        Ok((index % 2 == 1 && b.status == 1 && now + 10 <= b.submittedAt + period).then_some(index))
    })
    .await?;
    let claim = rollup.claimOf(U256::from(target)).call().await?;
    let bond = game.bondAt(U256::ZERO).call().await?;
    let mut bogus = B256::repeat_byte(0x5a);
    bogus.0[0] = 1; // status 1: "the program rejects the claim"
    let receipt = liar_game.create(claim, bogus).value(bond).send().await?.get_receipt().await?;
    assert!(receipt.status());
    let id = receipt
        .decoded_log::<FaultGame::GameCreated>()
        .ok_or_else(|| eyre::eyre!("GameCreated in the receipt"))?
        .gameId;
    wait_for("the false challenge to lose", Duration::from_secs(300), async || {
        let st = game.gameStatus(id).call().await?;
        eyre::ensure!(st != 1, "the false challenge won game {id}");
        Ok((st == 2).then_some(()))
    })
    .await?;
    assert_eq!(game.credit(liar.address()).call().await?, U256::ZERO, "the liar lost its bond");
    let b = rollup.getBatch(U256::from(target)).call().await?;
    let blk = l2v
        .get_block_by_number(b.lastBlock.into())
        .await?
        .ok_or_else(|| eyre::eyre!("block {}", b.lastBlock))?;
    assert_eq!(blk.header.state_root, b.stateRoot, "the falsely challenged batch was right");
    let root = game.getClaim(id, U256::ZERO).call().await?;
    assert_ne!(root.counteredBy, liar.address());

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

    // No wrong root was ever final: every finalized output is the validator's.
    wait_for("the challenged batch final", Duration::from_secs(300), async || {
        let _ = l2_transfer(&seq.http_url).await;
        Ok((rollup.nextToFinalize().call().await? > U256::from(target)).then_some(()))
    })
    .await?;
    let finalized = logs::<Rollup::OutputFinalized>(&l1, d.rollup, d.deploy_block).await?;
    assert!(finalized.len() > target as usize);
    for ev in &finalized {
        let blk = l2v
            .get_block_by_number(ev.l2BlockNumber.into())
            .await?
            .ok_or_else(|| eyre::eyre!("block {}", ev.l2BlockNumber))?;
        assert_eq!(
            ev.stateRoot, blk.header.state_root,
            "batch {} final with a wrong root",
            ev.index
        );
    }
    Ok(())
}
