//! The L1 sender against anvil (pinned npm package) with mining off, so the pool
//! can be emptied under it: a dropped transaction is resubmitted with bumped fees
//! and mined, and a fee cap holds across bumps.

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
