//! `infra-node --role prover` as its own process, as an operator runs it: a zk
//! sequencer settles to anvil without a prover of its own; the prover process
//! follows the rollup on L1, takes state witnesses from the sequencer's RPC
//! (`infra_getStateWitness`) and finalizes the outputs with its proofs.

use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder},
};
use infra_batcher::DataAvailability;
use infra_config::{Curve, DEV_GENESIS_JSON, parse_genesis};
use infra_e2e::settle::{
    BATCHER_INDEX, PROVER_INDEX, l2_transfer, start_anvil, start_l2_for, zk_test_chain,
};
use infra_l1::Rollup;
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_infra-node");

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prover_process_finalizes_a_zk_chain_from_the_sequencer_rpc() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let dir = tempfile::tempdir()?;
    let chain = zk_test_chain(Curve::Bn254);
    let prover = {
        let c = chain.clone();
        tokio::task::spawn_blocking(move || infra_node_core::build_prover(&c, None, true)).await??
    };
    let genesis = parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json")?;
    let d = infra_node_core::deploy_contracts(
        &anvil.url,
        infra_config::dev_signer(BATCHER_INDEX)?,
        &chain,
        &genesis,
        None,
        None,
        Some(prover.l1_verifier()?),
    )
    .await?;
    let deployment = dir.path().join("deployment.json");
    d.write(&deployment)?;
    // The sequencer: no prover inside.
    let seq =
        start_l2_for(&anvil.url, &d, DataAvailability::Calldata, 1, None, chain.clone(), None)
            .await?;
    let config = dir.path().join("chain.toml");
    std::fs::write(
        &config,
        "[chain]\nsettlement = \"zk\"\n\n[chain.proof]\nchunk_writes = 3\ndepth = 32\n",
    )?;
    let key = alloy::hex::encode(infra_config::dev_signer(PROVER_INDEX)?.to_bytes());
    let child = Command::new(BIN)
        .args(["--role", "prover", "--config"])
        .arg(&config)
        .args(["--deployment"])
        .arg(&deployment)
        .args(["--l1.rpc", &anvil.url, "--prover.sequencer-rpc", &seq.http_url])
        .args(["--l1.poll-ms", "200", "--datadir"])
        .arg(dir.path().join("prover"))
        .env("INFRA_L1_KEY", key)
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("RUST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()?;
    let mut child = Killed(child);

    let block = l2_transfer(&seq.http_url).await?;
    let l1 = ProviderBuilder::new().connect_http(anvil.url.parse()?).erased();
    let rollup = Rollup::new(d.rollup, &l1);
    let start = Instant::now();
    // Both reads at one L1 block (anvil may answer two `latest` calls from
    // different states while it mines).
    let at = loop {
        let at = l1.get_block_number().await?;
        let r = rollup.latestFinalized().block(at.into()).call().await?;
        if r.output.l2BlockNumber >= block {
            eprintln!("block {block} final on L1 {:?} after its receipt", start.elapsed());
            break at;
        }
        if let Some(status) = child.0.try_wait()? {
            eyre::bail!("the prover process exited: {status}");
        }
        if start.elapsed() > Duration::from_secs(120) {
            eyre::bail!("block {block} not final on L1 after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Only the prover process proves here: the sequencer has no prover inside.
    let next = rollup.nextToFinalize().block(at.into()).call().await?;
    assert!(next >= U256::from(2), "nextToFinalize {next} at L1 block {at}");
    seq.node.cancel_token().cancel();
    Ok(())
}
