//! The in-process zk prover across a restart: its proof is sent, the node stops
//! before L1 mines it and the L1 pool loses the transaction; after the restart
//! the output is finalized by exactly that proof (the same bytes, re-sent from
//! the database: it was not proven a second time), once.

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::{SolCall, SolEvent},
};
use infra_batcher::DataAvailability;
use infra_config::Curve;
use infra_e2e::settle::{
    PROVER_INDEX, l2_transfer, settled_chain, start_anvil, start_l2_for, wait_for, zk_test_chain,
};
use infra_l1::Rollup;
use std::time::Duration;

async fn interval_mining(l1: &DynProvider, seconds: u64) -> eyre::Result<()> {
    let _: serde_json::Value =
        l1.raw_request("evm_setIntervalMining".into(), serde_json::json!([seconds])).await?;
    Ok(())
}

/// The input of `from`'s transaction in anvil's pool, if one is there.
async fn pooled_input(l1: &DynProvider, from: Address) -> eyre::Result<Option<Bytes>> {
    let content: serde_json::Value =
        l1.raw_request("txpool_content".into(), serde_json::json!([])).await?;
    for (sender, by_nonce) in content["pending"].as_object().into_iter().flatten() {
        if sender.parse::<Address>()? != from {
            continue;
        }
        if let Some(tx) = by_nonce.as_object().into_iter().flat_map(|m| m.values()).next() {
            let input = tx["input"].as_str().unwrap_or_default();
            return Ok(Some(input.parse()?));
        }
    }
    Ok(None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_prover_resends_its_proof_instead_of_proving_again() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let l1 = ProviderBuilder::new().connect_http(anvil.url.parse()?).erased();
    let dir = tempfile::tempdir()?;
    let chain = zk_test_chain(Curve::Bn254);
    let (node, d) = settled_chain(
        &anvil.url,
        DataAvailability::Calldata,
        1,
        Some(dir.path().to_path_buf()),
        chain.clone(),
    )
    .await?;
    let prover = infra_config::dev_signer(PROVER_INDEX)?.address();

    // An L2 transaction, its batch on L1, then L1 stops mining.
    let block = l2_transfer(&node.http_url).await?;
    let rollup = Rollup::new(d.rollup, &l1);
    wait_for("the batch on L1", Duration::from_secs(90), async || {
        Ok((rollup.nextBlock().call().await? > block).then_some(()))
    })
    .await?;
    interval_mining(&l1, 0).await?;

    // The prover proves and sends; the node stops before L1 mines the proof.
    let sent = wait_for("the proof in the L1 pool", Duration::from_secs(90), async || {
        pooled_input(&l1, prover).await
    })
    .await?;
    let call = Rollup::proveBatchesCall::abi_decode(&sent)?;
    assert_eq!(rollup.nextToFinalize().call().await?, U256::ONE, "nothing final yet");
    node.node.cancel_token().cancel();
    node.node.wait().await?;
    let _: serde_json::Value =
        l1.raw_request("anvil_dropAllTransactions".into(), serde_json::json!([])).await?;
    assert_eq!(pooled_input(&l1, prover).await?, None, "the proof left the pool");

    // Restarted (same datadir, the same deterministic dev keys), L1 mining again.
    let settings = infra_node_core::ProverSettings {
        prover: tokio::task::spawn_blocking({
            let c = chain.clone();
            move || infra_node_core::build_prover(&c, None, true)
        })
        .await??,
        key: infra_config::dev_signer(PROVER_INDEX)?,
        max_batches: 64,
        max_chunks: 16,
    };
    let restarted = start_l2_for(
        &anvil.url,
        &d,
        DataAvailability::Calldata,
        1,
        Some(dir.path().to_path_buf()),
        chain,
        Some(settings),
    )
    .await?;
    interval_mining(&l1, 1).await?;
    wait_for("the output to finalize", Duration::from_secs(90), async || {
        Ok((rollup.nextToFinalize().call().await? > call.last).then_some(()))
    })
    .await?;

    // Every batch up to `last` was finalized by the proof sent before the restart.
    let filter = alloy::rpc::types::Filter::new()
        .address(d.rollup)
        .event_signature(Rollup::OutputFinalized::SIGNATURE_HASH)
        .from_block(d.deploy_block);
    let mut finalizing = std::collections::BTreeSet::new();
    for log in l1.get_logs(&filter).await? {
        let index = Rollup::OutputFinalized::decode_log_data(&log.inner.data)?.index;
        if index >= U256::ONE && index <= call.last {
            finalizing.insert(log.transaction_hash.expect("hash"));
        }
    }
    assert_eq!(finalizing.len(), 1, "one proveBatches finalized the range");
    let hash = *finalizing.first().expect("one");
    let tx = l1.get_transaction_by_hash(hash).await?.expect("tx");
    assert_eq!(tx.input(), &sent, "finalized by the proof made before the restart");
    restarted.node.cancel_token().cancel();
    Ok(())
}
