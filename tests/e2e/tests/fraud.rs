//! Fraud proofs end to end on anvil (the pinned npm package): a sequencer that
//! claims a wrong root for batch 2 is disputed by a validator, which wins the
//! game on L1 (bisection, then the one-step): the bond moves, the wrong output
//! is rolled back and never finalizes, and the batch posted again is right. A
//! challenger disputing a right output loses its bond to the sequencer's
//! defence.

use alloy::{
    network::EthereumWallet,
    primitives::U256,
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use infra_batcher::DataAvailability;
use infra_config::{BatchConfig, ChainConfig, DEV_GENESIS_JSON, parse_genesis};
use infra_e2e::settle::{
    BATCHER_INDEX, l1_settings, l2_transfer, start_anvil, start_l2_with, start_validator_with,
    wait_for,
};
use infra_l1::{DisputeGame, Rollup};
use infra_node_core::deploy_contracts;
use std::time::Duration;

const ETH: u128 = 1_000_000_000_000_000_000;

fn chain() -> ChainConfig {
    ChainConfig {
        block_time_ms: 250,
        // Room for a dispute to open, and for each move on a 1 s L1.
        challenge_period_s: 20,
        batch: BatchConfig { max_latency_ms: 1_000, ..BatchConfig::default() },
        ..ChainConfig::dev()
    }
}

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
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
        d.dispute_game.ok_or_else(|| eyre::eyre!("optimistic deployments have a game"))?;
    let mut l1s = l1_settings(&anvil.url, &d, DataAvailability::Auto, 1, None)?;
    l1s.faulty_root_every = Some(2);
    let seq = start_l2_with(l1s, None, chain.clone()).await?;
    let challenger = infra_config::dev_signer(5)?;
    let v =
        start_validator_with(&anvil.url, &d, None, chain.clone(), Some(challenger.clone())).await?;
    let l1 = provider(&anvil.url)?;
    let rollup = Rollup::new(d.rollup, l1.clone());
    let game = DisputeGame::new(game_at, l1.clone());

    // Traffic until batch 2 (the wrong one) is on L1.
    wait_for("batch 2 on L1", Duration::from_secs(60), async || {
        let _ = l2_transfer(&seq.http_url).await?;
        Ok((rollup.batchCount().call().await? >= U256::from(3)).then_some(()))
    })
    .await?;
    // The validator disputes it (game 0) and wins. (Its games on later wrong
    // batches run alongside and may end first: a game's length depends on its
    // batch's transactions.)
    let status = v.node.disputes.clone().ok_or_else(|| eyre::eyre!("a challenger"))?;
    let s = wait_for("game 0 to end", Duration::from_secs(180), async || {
        let s = status.lock().map_err(|_| eyre::eyre!("lock"))?.clone();
        Ok((s.won.contains(&0) || s.lost.contains(&0)).then_some(s))
    })
    .await?;
    assert!(s.won.contains(&0), "the challenger won game 0: {s:?}");
    let g = game.getGame(U256::ZERO).call().await?;
    assert_eq!(g.batch, U256::from(2));
    assert_eq!(g.status, 5, "ChallengerWon");
    let resolved = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(game_at)
                .event_signature(DisputeGame::GameResolved::SIGNATURE_HASH)
                .from_block(d.deploy_block),
        )
        .await?;
    let first = resolved
        .iter()
        .map(|l| DisputeGame::GameResolved::decode_log_data(&l.inner.data))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|e| e.game == U256::ZERO)
        .ok_or_else(|| eyre::eyre!("game 0 resolved"))?;
    assert!(!first.proposerWon);
    assert_eq!(
        first.slashed,
        U256::from(ETH / 2),
        "half the proposer's stake went to the challenger"
    );
    let rolled = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(d.rollup)
                .event_signature(Rollup::BatchesRolledBack::SIGNATURE_HASH)
                .from_block(d.deploy_block),
        )
        .await?;
    // (A game on a later wrong batch may have rolled back from there first.)
    let froms = rolled
        .iter()
        .map(|l| Rollup::BatchesRolledBack::decode_log_data(&l.inner.data).map(|e| e.fromIndex))
        .collect::<Result<Vec<_>, _>>()?;
    assert!(froms.contains(&U256::from(2)), "the wrong output was rolled back: {froms:?}");

    // Batch 2 comes again, right this time, and the validator agrees with it.
    wait_for("batch 2 posted again and final", Duration::from_secs(120), async || {
        let _ = l2_transfer(&seq.http_url).await;
        let next = rollup.nextToFinalize().call().await?;
        Ok((next > U256::from(2)).then_some(()))
    })
    .await?;
    let b2 = rollup.getBatch(U256::from(2)).call().await?;
    let (_, ours) = {
        let l2 = provider(&v.http_url)?;
        let blk = l2
            .get_block_by_number(b2.lastBlock.into())
            .await?
            .ok_or_else(|| eyre::eyre!("block"))?;
        (b2.lastBlock, blk.header.state_root)
    };
    assert_eq!(b2.stateRoot, ours, "the final batch 2 carries the true root");
    let finalized = l1
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(d.rollup)
                .event_signature(Rollup::OutputFinalized::SIGNATURE_HASH)
                .from_block(d.deploy_block),
        )
        .await?;
    for log in &finalized {
        let ev = Rollup::OutputFinalized::decode_log_data(&log.inner.data)?;
        if ev.index == U256::from(2) {
            assert_eq!(ev.stateRoot, ours, "no wrong root ever finalized");
        }
    }

    // A false challenge: a bonded account disputes a right output and then
    // plays nothing; the sequencer's defence wins by the deadlines.
    let liar = infra_config::dev_signer(6)?;
    let liar_l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(liar.clone()))
        .connect_http(anvil.url.parse()?)
        .erased();
    let liar_game = DisputeGame::new(game_at, liar_l1);
    liar_game.bond().value(U256::from(ETH)).send().await?.get_receipt().await?;
    // A right output: pending, and with the root the validator derived (with
    // faults every 2nd batch, the even ones are wrong and the validator's own
    // games on them run alongside).
    let l2v = provider(&v.http_url)?;
    let target = wait_for("a pending right batch", Duration::from_secs(60), async || {
        let _ = l2_transfer(&seq.http_url).await;
        let count: u64 = rollup.batchCount().call().await?.try_into()?;
        let b = rollup.getBatch(U256::from(count - 1)).call().await?;
        if b.status != 1 {
            return Ok(None);
        }
        // With time left to challenge it (the period is 20 s of L1 time).
        let now = l1
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        if now + 12 > b.submittedAt + 20 {
            return Ok(None);
        }
        let Some(blk) = l2v.get_block_by_number(b.lastBlock.into()).await? else {
            return Ok(None);
        };
        Ok((blk.header.state_root == b.stateRoot).then_some(count - 1))
    })
    .await?;
    let receipt = liar_game.challenge(U256::from(target)).send().await?.get_receipt().await?;
    assert!(receipt.status());
    // Its own game: the validator may open others meanwhile.
    let opened = receipt
        .decoded_log::<DisputeGame::GameOpened>()
        .ok_or_else(|| eyre::eyre!("GameOpened in the challenge receipt"))?;
    assert_eq!(opened.batch, U256::from(target));
    let id = opened.game;
    wait_for("the false challenge to lose", Duration::from_secs(180), async || {
        let g = game.getGame(id).call().await?;
        eyre::ensure!(g.status != 5, "the false challenge won game {id}");
        Ok((g.status == 4).then_some(()))
    })
    .await?;
    assert_eq!(
        game.bondOf(liar.address()).call().await?,
        U256::from(ETH / 2),
        "the liar lost half its bond"
    );
    Ok(())
}
