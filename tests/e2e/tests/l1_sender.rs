//! The L1 sender against anvil (pinned npm package) with mining off, so the pool
//! can be emptied under it: a dropped transaction is resubmitted with bumped fees
//! and mined, and a fee cap holds across bumps; urgent transactions sent
//! together are pipelined into one block.

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::{MnemonicBuilder, PrivateKeySigner},
};
use infra_e2e::settle::start_anvil_with;
use infra_l1::{L1Tx, SenderConfig, TxSender, connect};
use std::{sync::Arc, time::Duration};

fn dev_key(index: u32) -> eyre::Result<PrivateKeySigner> {
    Ok(MnemonicBuilder::english().phrase(infra_config::DEV_MNEMONIC).index(index)?.build()?)
}

/// Hashes of the transactions in anvil's pool.
async fn pool(p: &alloy::providers::DynProvider) -> eyre::Result<Vec<B256>> {
    let content: serde_json::Value =
        p.raw_request("txpool_content".into(), serde_json::json!([])).await?;
    let mut out = Vec::new();
    for by_nonce in content["pending"].as_object().into_iter().flat_map(|m| m.values()) {
        for tx in by_nonce.as_object().into_iter().flat_map(|m| m.values()) {
            out.push(tx["hash"].as_str().unwrap_or_default().parse()?);
        }
    }
    Ok(out)
}

async fn wait_pool(p: &alloy::providers::DynProvider, not: Option<B256>) -> eyre::Result<B256> {
    for _ in 0..200 {
        if let Some(h) = pool(p).await?.into_iter().find(|h| Some(*h) != not) {
            return Ok(h);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eyre::bail!("no transaction reached the pool")
}

async fn mine(p: &alloy::providers::DynProvider) -> eyre::Result<()> {
    let _: serde_json::Value = p.raw_request("anvil_mine".into(), serde_json::json!([1])).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transactions_are_resubmitted_with_bumped_fees_up_to_the_cap() -> eyre::Result<()> {
    let anvil = start_anvil_with(&["--no-mining"]).await?;
    let provider = connect(&anvil.url).map_err(|e| eyre::eyre!(e))?;
    let to = Address::repeat_byte(0xb0);
    let config = SenderConfig {
        resubmit_after: Duration::from_millis(1_500),
        poll: Duration::from_millis(100),
        ..Default::default()
    };
    let sender = Arc::new(TxSender::new(provider.clone(), dev_key(9)?, config.clone()).await?);
    let transfer = L1Tx { value: U256::from(1_000u64), ..L1Tx::call(to, Default::default()) };

    // 1. Sent, dropped from the pool, resubmitted (same nonce, higher fees), mined.
    let task = tokio::spawn({
        let (sender, tx) = (sender.clone(), transfer.clone());
        async move { sender.send(tx).await }
    });
    let first = wait_pool(&provider, None).await?;
    let first_tx = provider.get_transaction_by_hash(first).await?.expect("pooled");
    let _: serde_json::Value =
        provider.raw_request("anvil_dropAllTransactions".into(), serde_json::json!([])).await?;
    assert!(pool(&provider).await?.is_empty(), "the pool is empty after the drop");
    let second = wait_pool(&provider, Some(first)).await?;
    mine(&provider).await?;
    let receipt = task.await??;
    assert!(receipt.status());
    assert_eq!(receipt.transaction_hash, second, "the resubmission is what was mined");
    let mined = provider.get_transaction_by_hash(second).await?.expect("mined");
    assert_eq!(mined.nonce(), first_tx.nonce(), "same nonce");
    assert!(
        mined.max_fee_per_gas() > first_tx.max_fee_per_gas()
            && mined.max_priority_fee_per_gas() > first_tx.max_priority_fee_per_gas(),
        "fees bumped: {:?} -> {:?}",
        (first_tx.max_fee_per_gas(), first_tx.max_priority_fee_per_gas()),
        (mined.max_fee_per_gas(), mined.max_priority_fee_per_gas())
    );
    assert_eq!(provider.get_balance(to).await?, U256::from(1_000u64), "paid exactly once");

    // 2. With a cap below what the sender would offer, every submission (first and
    //    after a drop) offers exactly the cap.
    let head = provider.get_block_by_number(Default::default()).await?.expect("head");
    let base = u128::from(head.header.base_fee_per_gas.expect("1559 L1"));
    let cap = base * 3 / 2;
    let capped = Arc::new(
        TxSender::new(
            provider.clone(),
            dev_key(9)?,
            SenderConfig { max_fee_per_gas: Some(cap), ..config },
        )
        .await?,
    );
    let task = tokio::spawn({
        let (sender, tx) = (capped.clone(), transfer.clone());
        async move { sender.send(tx).await }
    });
    let first = wait_pool(&provider, None).await?;
    let first_tx = provider.get_transaction_by_hash(first).await?.expect("pooled");
    assert_eq!(first_tx.max_fee_per_gas(), cap);
    let _: serde_json::Value =
        provider.raw_request("anvil_dropAllTransactions".into(), serde_json::json!([])).await?;
    let again = wait_pool(&provider, None).await?;
    mine(&provider).await?;
    let receipt = task.await??;
    assert!(receipt.status());
    let mined = provider.get_transaction_by_hash(again).await?.expect("mined");
    assert_eq!(mined.max_fee_per_gas(), cap, "bumps stop at the cap");
    assert!(mined.max_priority_fee_per_gas().unwrap_or_default() <= cap);
    assert_eq!(provider.get_balance(to).await?, U256::from(2_000u64));
    Ok(())
}

/// Urgent transactions sent together (a fault player's answers to several
/// claims) are all in the pool before any is mined, with consecutive nonces, and
/// land in one block; one that would revert is not sent and takes no nonce; the
/// sender goes on from the nonce after them. (Sent one at a time, the second
/// would wait for a block: the pool would never hold four.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_transactions_sent_together_land_in_one_block() -> eyre::Result<()> {
    let anvil = start_anvil_with(&["--no-mining"]).await?;
    let provider = connect(&anvil.url).map_err(|e| eyre::eyre!(e))?;
    let config = SenderConfig {
        resubmit_after: Duration::from_secs(30),
        poll: Duration::from_millis(100),
        ..Default::default()
    };
    let key = dev_key(8)?;
    let sender = Arc::new(TxSender::new(provider.clone(), key.clone(), config).await?);
    let start = provider.get_transaction_count(key.address()).await?;
    let pay = |to: u8, value: U256| L1Tx {
        value,
        ..L1Tx::call(Address::repeat_byte(to), Default::default())
    };
    let txs = vec![
        pay(0xc1, U256::from(1u64)),
        pay(0xc2, U256::from(2u64)),
        // More than the key holds: refused by the simulation.
        pay(0xc3, U256::MAX),
        pay(0xc4, U256::from(4u64)),
        pay(0xc5, U256::from(5u64)),
    ];
    let task = tokio::spawn({
        let sender = sender.clone();
        async move { sender.send_urgent_all(&txs).await }
    });
    // (One at a time, the second would wait for a block: never four at once.)
    let pooled = wait_pool_len(&provider, 4, &[]).await?;
    assert_eq!(pooled.len(), 4, "the four that can be sent, in the pool before a block");
    mine(&provider).await?;
    let results = tokio::time::timeout(Duration::from_secs(60), task).await??;
    assert_eq!(results.len(), 5);
    assert!(
        matches!(&results[2], Err(infra_l1::SendError::WouldRevert(_))),
        "the one that would revert: {:?}",
        results[2]
    );
    let mut blocks = Vec::new();
    let mut nonces = Vec::new();
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 2) {
        let receipt = r.as_ref().map_err(|e| eyre::eyre!("transaction {i}: {e}"))?;
        assert!(receipt.status());
        blocks.push(receipt.block_number.expect("mined"));
        let tx = provider.get_transaction_by_hash(receipt.transaction_hash).await?.expect("mined");
        nonces.push(tx.nonce());
    }
    assert!(blocks.iter().all(|b| *b == blocks[0]), "one block: {blocks:?}");
    assert_eq!(
        nonces,
        (start..start + 4).collect::<Vec<_>>(),
        "consecutive nonces, none for the refused one"
    );
    for (to, value) in [(0xc1, 1u64), (0xc2, 2), (0xc4, 4), (0xc5, 5)] {
        assert_eq!(provider.get_balance(Address::repeat_byte(to)).await?, U256::from(value));
    }
    assert_eq!(provider.get_balance(Address::repeat_byte(0xc3)).await?, U256::ZERO);

    // The next send takes the nonce after them.
    let task = tokio::spawn({
        let sender = sender.clone();
        async move { sender.send(pay(0xc6, U256::from(6u64))).await }
    });
    let next = wait_pool(&provider, None).await?;
    mine(&provider).await?;
    task.await??;
    let tx = provider.get_transaction_by_hash(next).await?.expect("mined");
    assert_eq!(tx.nonce(), start + 4);

    // Dropped from the pool together (a node restarted, evicted them): each is
    // resubmitted with its own nonce, in order, and they land in one block.
    // (The pool's count then stops below the first: that is no gap, since
    // every nonce below the others is one of these, sent again.)
    let quick = SenderConfig {
        resubmit_after: Duration::from_millis(1_500),
        poll: Duration::from_millis(100),
        ..Default::default()
    };
    let sender = Arc::new(TxSender::new(provider.clone(), key.clone(), quick).await?);
    let txs: Vec<L1Tx> = (0xd1..=0xd3).map(|to| pay(to, U256::from(to))).collect();
    let task = tokio::spawn({
        let sender = sender.clone();
        async move { sender.send_urgent_all(&txs).await }
    });
    let first: Vec<B256> = wait_pool_len(&provider, 3, &[]).await?;
    let _: serde_json::Value =
        provider.raw_request("anvil_dropAllTransactions".into(), serde_json::json!([])).await?;
    wait_pool_len(&provider, 3, &first).await?;
    mine(&provider).await?;
    let results = tokio::time::timeout(Duration::from_secs(60), task).await??;
    let mut blocks = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let receipt = r.as_ref().map_err(|e| eyre::eyre!("transaction {i} after the drop: {e}"))?;
        assert!(!first.contains(&receipt.transaction_hash), "a resubmission was mined");
        blocks.push(receipt.block_number.expect("mined"));
    }
    assert!(blocks.iter().all(|b| *b == blocks[0]), "one block: {blocks:?}");
    for to in 0xd1..=0xd3u8 {
        assert_eq!(provider.get_balance(Address::repeat_byte(to)).await?, U256::from(to));
    }
    Ok(())
}

/// Waits until anvil's pool holds `n` transactions none of which is in `not`;
/// returns their hashes.
async fn wait_pool_len(
    p: &alloy::providers::DynProvider,
    n: usize,
    not: &[B256],
) -> eyre::Result<Vec<B256>> {
    for _ in 0..200 {
        let fresh: Vec<B256> = pool(p).await?.into_iter().filter(|h| !not.contains(h)).collect();
        if fresh.len() >= n {
            return Ok(fresh);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eyre::bail!("the pool never held {n} new transactions")
}
