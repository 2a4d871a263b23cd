//! The pool under attack, through JSON-RPC as an attacker sends: cheap senders
//! filling it with transactions behind a nonce gap, a sender's own missing
//! nonce, cumulative cost, malformed and EIP-invalid transactions, and pooled
//! transactions across a restart.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip7702, TxEnvelope},
    eips::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, Bytes, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use infra_config::{ChainConfig, DEV_CHAIN_ID, dev_signer};
use infra_e2e::{DevNode, node_config, settle::wait_for};
use infra_node_core::{PoolLimits, start_node};
use std::time::Duration;

const GWEI: u128 = 1_000_000_000;

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
}

fn transfer(s: &PrivateKeySigner, nonce: u64, max_fee: u128, value: u64) -> Bytes {
    let mut t = TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x77)),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = s.sign_transaction_sync(&mut t).expect("sign");
    TxEnvelope::from(t.into_signed(sig)).encoded_2718().into()
}

async fn send(p: &DynProvider, raw: &Bytes) -> Result<(), String> {
    match p.send_raw_transaction(raw).await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn node(
    datadir: std::path::PathBuf,
    block_time_ms: u64,
    limits: PoolLimits,
) -> eyre::Result<DevNode> {
    let mut cfg = node_config(datadir, ChainConfig { block_time_ms, ..ChainConfig::dev() }, None)?;
    cfg.pool_limits = limits;
    let running = start_node(cfg).await?;
    Ok(DevNode::new(running, tempfile::tempdir()?))
}

/// Funds `n` fresh accounts with `wei` each and waits until they have it.
async fn fund(
    p: &DynProvider,
    n: usize,
    wei: U256,
    max_fee: u128,
) -> eyre::Result<Vec<PrivateKeySigner>> {
    let rich = dev_signer(3)?;
    let start = p.get_transaction_count(rich.address()).await?;
    let accounts: Vec<PrivateKeySigner> = (0..n).map(|_| PrivateKeySigner::random()).collect();
    for (i, a) in accounts.iter().enumerate() {
        let mut t = TxEip1559 {
            chain_id: DEV_CHAIN_ID,
            nonce: start + i as u64,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(a.address()),
            value: wei,
            ..Default::default()
        };
        let sig = rich.sign_transaction_sync(&mut t)?;
        let _ =
            p.send_raw_transaction(&TxEnvelope::from(t.into_signed(sig)).encoded_2718()).await?;
    }
    let last = accounts.last().expect("n > 0").address();
    wait_for("funding", Duration::from_secs(60), async || {
        Ok((p.get_balance(last).await? == wei).then_some(()))
    })
    .await?;
    Ok(accounts)
}

/// Cheap senders with a nonce gap take the queued room only: a funded sender's
/// executable transfer is still accepted and mined, a gap sender's own missing
/// nonce is accepted, and none of them gets more transactions in than its
/// balance pays for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_senders_cannot_lock_the_pool() -> eyre::Result<()> {
    infra_e2e::init_logs();
    let dir = tempfile::tempdir()?;
    let limits = PoolLimits {
        max_pending: 64,
        max_queued: 48,
        max_pending_per_sender: 64,
        max_queued_per_sender: 16,
        ..Default::default()
    };
    let dev = node(dir.path().to_path_buf(), 200, limits).await?;
    let p = provider(&dev.http_url)?;
    let max_fee = 4 * p.get_gas_price().await?.max(GWEI / 10);
    let per_tx = U256::from(21_000u128 * max_fee + 1);
    // Each attacker can pay for 12 transactions.
    let attackers = fund(&p, 8, per_tx * U256::from(12), max_fee).await?;

    let (mut accepted, mut full, mut limit, mut funds) = (0, 0, 0, 0);
    for a in &attackers {
        for nonce in 1..=24u64 {
            match send(&p, &transfer(a, nonce, max_fee, 1)).await {
                Ok(()) => accepted += 1,
                Err(e) if e.contains("txpool is full") => full += 1,
                Err(e) if e.contains("account limit exceeded") => limit += 1,
                Err(e) if e.contains("insufficient funds") => funds += 1,
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
    }
    eprintln!(
        "gap transactions: {accepted} accepted, {full} pool full, {limit} account limit, {funds} insufficient funds"
    );
    assert!(funds > 0, "cumulative cost: 12 paid for, 24 sent");
    assert!(full > 0, "the queued room filled up");
    let status: serde_json::Value = p.raw_request("infra_status".into(), ()).await?;
    assert_eq!(status["mempool"]["pending"], 0, "{status}");
    assert!(status["mempool"]["queued"].as_u64() <= Some(48), "{status}");

    // A funded sender at the going fee: accepted and mined.
    let honest = dev_signer(1)?;
    let nonce = p.get_transaction_count(honest.address()).await?;
    let hash =
        p.send_raw_transaction(&transfer(&honest, nonce, max_fee, 5)).await?.tx_hash().to_owned();
    wait_for("the honest transfer mined", Duration::from_secs(60), async || {
        Ok(p.get_transaction_receipt(hash).await?.map(|_| ()))
    })
    .await?;

    // An attacker's own missing nonce goes in (it is pending, not queued) and
    // makes the ones after it that survived executable.
    let a = &attackers[attackers.len() - 1];
    send(&p, &transfer(a, 0, max_fee, 1))
        .await
        .map_err(|e| eyre::eyre!("gap filler refused: {e}"))?;
    wait_for("the gap filled and mined", Duration::from_secs(60), async || {
        Ok((p.get_transaction_count(a.address()).await? >= 1).then_some(()))
    })
    .await?;
    Ok(())
}

/// Transactions the EIPs forbid get the reason, never a hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_transactions_are_refused_with_the_reason() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let dev = node(dir.path().to_path_buf(), 200, PoolLimits::default()).await?;
    let p = provider(&dev.http_url)?;
    let s = dev_signer(2)?;
    let max_fee = 4 * p.get_gas_price().await?.max(GWEI / 10);
    let good = transfer(&s, 0, max_fee, 1);

    for tail in [&[0u8][..], &[0xde, 0xad, 0xbe, 0xef]] {
        let bad: Bytes = [good.as_ref(), tail].concat().into();
        let e = send(&p, &bad).await.expect_err("trailing bytes refused");
        assert!(e.contains("rlp: input contains more than one value"), "{e}");
    }
    // EIP-2681
    let e = send(&p, &transfer(&s, u64::MAX, max_fee, 1)).await.expect_err("nonce 2^64-1");
    assert!(e.contains("nonce has max value"), "{e}");
    // EIP-7702: an empty authorization list
    let mut t = TxEip7702 {
        chain_id: DEV_CHAIN_ID,
        gas_limit: 100_000,
        max_fee_per_gas: max_fee,
        to: Address::repeat_byte(7),
        ..Default::default()
    };
    let sig = s.sign_transaction_sync(&mut t)?;
    let setcode: Bytes = TxEnvelope::from(t.into_signed(sig)).encoded_2718().into();
    let e = send(&p, &setcode).await.expect_err("empty authorization list");
    assert!(e.contains("EIP-7702 transaction with empty auth list"), "{e}");

    // The valid one still goes through.
    send(&p, &good).await.map_err(|e| eyre::eyre!("{e}"))?;
    Ok(())
}

/// Pooled transactions are still there after a restart: pending ones are
/// mined, queued ones are still known by hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_transactions_survive_a_restart() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let datadir = dir.path().to_path_buf();
    let s = dev_signer(4)?;
    // A block a minute: what is sent stays in the pool.
    let dev = node(datadir.clone(), 60_000, PoolLimits::default()).await?;
    let p = provider(&dev.http_url)?;
    let max_fee = 4 * p.get_gas_price().await?.max(GWEI / 10);
    let mut pending = Vec::new();
    for n in 0..3 {
        pending.push(*p.send_raw_transaction(&transfer(&s, n, max_fee, 1)).await?.tx_hash());
    }
    let queued = *p.send_raw_transaction(&transfer(&s, 7, max_fee, 1)).await?.tx_hash();
    dev.node.cancel_token().cancel();
    dev.node.wait().await?;

    let dev = node(datadir, 200, PoolLimits::default()).await?;
    let p = provider(&dev.http_url)?;
    for h in &pending {
        wait_for(
            "a pooled transaction mined after the restart",
            Duration::from_secs(60),
            async || Ok(p.get_transaction_receipt(*h).await?.map(|_| ())),
        )
        .await?;
    }
    let q =
        p.get_transaction_by_hash(queued).await?.expect("the queued transaction is still pooled");
    assert!(q.block_number.is_none());
    Ok(())
}
