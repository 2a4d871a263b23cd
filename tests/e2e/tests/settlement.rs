//! The rollup end to end against a real L1: the embedded dev L1 and anvil (the
//! pinned npm package). A deposit on L1 is spent on L2; L2 blocks land on L1 in
//! batches (calldata and blobs) whose decoded contents are exactly the L2 blocks,
//! each block once; a withdrawal goes to L1 after its output is final, once.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use infra_batcher::DataAvailability;
use infra_config::{ChainConfig, Curve};
use infra_e2e::settle::{
    check_batches, settled_chain, settled_node, start_anvil, test_chain, wait_for, zk_test_chain,
};
use infra_l1::{Bridge, L2_WITHDRAWALS, L2Withdrawals, Rollup};
use std::time::{Duration, Instant};

const ETH: u64 = 1_000_000_000_000_000_000;

fn wallet_provider(url: &str, signer: PrivateKeySigner) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse()?)
        .erased())
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proof {
    siblings: Vec<B256>,
}

/// Deposit -> spend on L2 -> withdraw -> batches -> finalize (after the
/// challenge period, or with a validity proof) -> claim on L1.
async fn settlement_flow(l1_url: &str, da: DataAvailability) -> eyre::Result<()> {
    settlement_flow_for(l1_url, da, test_chain()).await
}

async fn settlement_flow_for(
    l1_url: &str,
    da: DataAvailability,
    chain: ChainConfig,
) -> eyre::Result<()> {
    let zk = chain.settlement == infra_config::Settlement::Zk;
    let (l2node, d) = settled_chain(l1_url, da, 1, None, chain).await?;
    let alice = infra_config::dev_signer(0)?;
    let l1 = wallet_provider(l1_url, alice.clone())?;
    let bridge = Bridge::new(d.bridge, &l1);

    // 1. Deposit 1 ETH on L1 to a fresh key; it appears on L2.
    let user = PrivateKeySigner::random();
    let started = Instant::now();
    let receipt = bridge
        .depositETH(user.address(), 100_000, Bytes::new())
        .value(U256::from(ETH))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status(), "deposit mined on L1");
    let l2 = wallet_provider(&l2node.http_url, user.clone())?;
    wait_for("the deposit on L2", Duration::from_secs(60), async || {
        Ok((l2.get_balance(user.address()).await? == U256::from(ETH)).then_some(()))
    })
    .await?;
    let deposit_latency = started.elapsed();
    eprintln!("deposit visible on L2 after {deposit_latency:?}");

    // 2. Spend it on L2: a withdrawal of 0.25 ETH to a fresh L1 address.
    let target: Address = PrivateKeySigner::random().address();
    let value = U256::from(ETH / 4);
    let receipt = L2Withdrawals::new(L2_WITHDRAWALS, &l2)
        .initiateWithdrawal(target, U256::from(100_000), Bytes::new())
        .value(value)
        .send()
        .await?
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let passed = receipt.decoded_log::<L2Withdrawals::MessagePassed>().expect("MessagePassed").data;
    let l2_block = receipt.block_number.expect("mined");

    // 3. Its output is posted and finalized on L1.
    let rollup = Rollup::new(d.rollup, &l1);
    // (Generous: zk outputs wait for proofs, made beside other tests' work.)
    let (index, output) =
        wait_for("the output to finalize", Duration::from_secs(240), async || {
            let r = rollup.latestFinalized().call().await?;
            Ok((r.output.l2BlockNumber >= l2_block).then_some((r.index, r.output)))
        })
        .await?;

    // 4. The node serves the proof at the final output's block; anyone claims.
    let proof: Proof = l2
        .raw_request(
            "infra_getWithdrawalProof".into(),
            (passed.withdrawalHash, format!("0x{:x}", output.l2BlockNumber)),
        )
        .await?;
    let w = Bridge::Withdrawal {
        nonce: passed.nonce,
        sender: passed.sender,
        target: passed.target,
        value: passed.value,
        gasLimit: passed.gasLimit,
        data: passed.data.clone(),
    };
    let claimer = wallet_provider(l1_url, infra_config::dev_signer(1)?)?;
    let claim = Bridge::new(d.bridge, &claimer);
    let receipt = claim
        .finalizeWithdrawal(w.clone(), index, proof.siblings.clone())
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status(), "claim mined");
    assert_eq!(l1.get_balance(target).await?, value, "paid on L1");
    eprintln!("finalizeWithdrawal gas: {}", receipt.gas_used);
    let again = claim.finalizeWithdrawal(w, index, proof.siblings).call().await;
    let err = again.expect_err("a second claim reverts");
    let decoded = err.as_decoded_interface_error::<Bridge::BridgeErrors>();
    assert!(
        matches!(decoded, Some(Bridge::BridgeErrors::AlreadyFinalized(_))),
        "second claim: {err}"
    );

    // 5. Every batch on L1 decodes to exactly the L2 blocks, each once, in order;
    // zk outputs were finalized by proofs the rollup's verifier accepted.
    let blob_batches = check_batches(&l1, &l2, &d, output.l2BlockNumber).await?;
    if zk {
        let proofs = zk_finalizations(&l1, &d).await?;
        assert!(proofs > 0, "no proveBatches on L1");
        eprintln!("zk: {proofs} proveBatches transactions finalized the outputs");
    }
    if da == DataAvailability::Blob {
        assert!(blob_batches > 0, "blob batches were posted");
    }
    l2node.node.cancel_token().cancel();
    Ok(())
}

/// The `proveBatches` transactions that finalized outputs, checked: each
/// succeeded, came from the prover's key and emitted `OutputFinalized` for the
/// batches it proved.
async fn zk_finalizations(l1: &DynProvider, d: &infra_l1::Deployment) -> eyre::Result<usize> {
    use alloy::{eips::BlockNumberOrTag, rpc::types::Filter, sol_types::SolEvent};
    let filter = Filter::new()
        .address(d.rollup)
        .event_signature(Rollup::OutputFinalized::SIGNATURE_HASH)
        .from_block(d.deploy_block)
        .to_block(BlockNumberOrTag::Latest);
    let mut txs = std::collections::BTreeSet::new();
    for log in l1.get_logs(&filter).await? {
        let index = Rollup::OutputFinalized::decode_log_data(&log.inner.data)?.index;
        if index == U256::ZERO {
            continue; // genesis, final at deployment
        }
        let hash = log.transaction_hash.expect("tx hash");
        let tx = l1.get_transaction_by_hash(hash).await?.expect("tx");
        let call = Rollup::proveBatchesCall::abi_decode(alloy::consensus::Transaction::input(&tx))?;
        assert!(index <= call.last, "finalized by a proof of the range ending at {}", call.last);
        assert_eq!(
            tx.inner.signer(),
            infra_config::dev_signer(infra_e2e::settle::PROVER_INDEX)?.address()
        );
        txs.insert(hash);
    }
    Ok(txs.len())
}

// Each proof system settles end to end once, and each kind of L1 settles a zk
// chain: Groth16 over BLS12-381 on anvil (EIP-2537 on a real node, with blobs),
// over BN254 on the embedded dev L1 (what `--dev` runs), and PLONK below. (The
// verifiers of both curves meet every forgery in crates/prover's l1_verifier.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_settles_on_anvil_bls12_381() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    settlement_flow_for(&anvil.url, DataAvailability::Blob, zk_test_chain(Curve::Bls12_381)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_settles_on_the_embedded_dev_l1_bn254() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let l1 = infra_devnet::start_l1(dir.path().to_path_buf(), None).await?;
    settlement_flow_for(&l1.http_url, DataAvailability::Calldata, zk_test_chain(Curve::Bn254))
        .await?;
    l1.node.cancel_token().cancel();
    Ok(())
}

/// PLONK (halo2, KZG over BN254): the same flow, the batch finalized by a proof
/// the generated verifier checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zk_settles_on_the_embedded_dev_l1_with_plonk() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let l1 = infra_devnet::start_l1(dir.path().to_path_buf(), None).await?;
    let mut chain = zk_test_chain(Curve::Bn254);
    chain.proof.system = infra_config::ProofSystem::Plonk;
    chain.proof.depth = 16;
    settlement_flow_for(&l1.http_url, DataAvailability::Calldata, chain).await?;
    l1.node.cancel_token().cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settles_on_the_embedded_dev_l1_with_blobs() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let l1 = infra_devnet::start_l1(dir.path().to_path_buf(), None).await?;
    settlement_flow(&l1.http_url, DataAvailability::Blob).await?;
    l1.node.cancel_token().cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settles_on_anvil_with_calldata() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    settlement_flow(&anvil.url, DataAvailability::Calldata).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settles_on_anvil_with_blobs() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    settlement_flow(&anvil.url, DataAvailability::Blob).await
}

/// The deposit nonces of every deposit in L2 blocks 1..=head, in chain order.
pub async fn applied_deposit_nonces(l2: &DynProvider) -> eyre::Result<Vec<u64>> {
    let head = l2.get_block_number().await?;
    let mut out = Vec::new();
    for n in 1..=head {
        let block = l2.get_block_by_number(n.into()).await?.expect("L2 block");
        for hash in block.transactions.hashes() {
            let tx: serde_json::Value =
                l2.raw_request("eth_getTransactionByHash".into(), (hash,)).await?;
            if tx["type"] == "0x7e" {
                let nonce = tx["depositNonce"].as_str().expect("depositNonce");
                out.push(u64::from_str_radix(nonce.trim_start_matches("0x"), 16)?);
            }
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deposits_survive_an_l1_reorg_on_anvil() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    // Deposits are read 2 blocks below the L1 head; the reorg below replaces 3.
    let (l2node, d) = settled_node(&anvil.url, DataAvailability::Calldata, 2, None).await?;
    let alice = infra_config::dev_signer(0)?;
    let l1 = wallet_provider(&anvil.url, alice.clone())?;
    let l2 = wallet_provider(&l2node.http_url, alice.clone())?;
    let bridge = Bridge::new(d.bridge, &l1);
    let gwei = |n: u64| U256::from(n * 1_000_000_000);
    let to: Vec<Address> = (0..3).map(|_| PrivateKeySigner::random().address()).collect();
    let deposit = async |i: usize| -> eyre::Result<u64> {
        let r = bridge
            .depositETH(to[i], 100_000, Bytes::new())
            .value(gwei(i as u64 + 1))
            .send()
            .await?
            .get_receipt()
            .await?;
        assert!(r.status());
        r.block_number.ok_or_else(|| eyre::eyre!("deposit {i}: no block"))
    };
    let balance_is = async |i: usize| -> eyre::Result<Option<()>> {
        Ok((l2.get_balance(to[i]).await? == gwei(i as u64 + 1)).then_some(()))
    };

    let first = deposit(0).await?;
    wait_for("deposit 0 on L2", Duration::from_secs(60), async || balance_is(0).await).await?;
    // Deposit 0's block out of the reorg's reach.
    wait_for("4 L1 blocks over deposit 0", Duration::from_secs(60), async || {
        Ok((l1.get_block_number().await? >= first + 4).then_some(()))
    })
    .await?;

    // Deposit 1 is mined, then the last 3 L1 blocks (which the watcher has partly
    // scanned) are replaced; the new chain includes the same deposit again.
    deposit(1).await?;
    let call = Bridge::depositETHCall { to: to[1], gasLimit: 100_000, data: Bytes::new() };
    let replay = serde_json::json!({
        "from": alice.address(),
        "to": d.bridge,
        "value": format!("0x{:x}", gwei(2)),
        "data": Bytes::from(call.abi_encode()),
        "gas": "0x30d40",
    });
    let _: serde_json::Value = l1.raw_request("anvil_reorg".into(), (3, vec![(replay, 1)])).await?;
    deposit(2).await?;

    wait_for("deposit 2 on L2", Duration::from_secs(60), async || balance_is(2).await).await?;
    for i in 0..3 {
        assert!(balance_is(i).await?.is_some(), "deposit {i} applied exactly once");
    }
    assert_eq!(applied_deposit_nonces(&l2).await?, vec![0, 1, 2]);
    // The reorg also removed whatever batches those L1 blocks held: the poster
    // re-posts from `Rollup.nextBlock()`, so L1 ends with every block once.
    let head = l2.get_block_number().await?;
    let rollup = Rollup::new(d.rollup, &l1);
    wait_for("batches through the L2 head", Duration::from_secs(30), async || {
        Ok((rollup.nextBlock().call().await? > head).then_some(()))
    })
    .await?;
    check_batches(&l1, &l2, &d, head).await?;
    l2node.node.cancel_token().cancel();
    Ok(())
}

/// The watcher itself on anvil: a reorg that removes a read deposit makes it
/// forget the deposit and rescan; if the chain had already applied it, the
/// watcher refuses to go on (a reorg deeper than the confirmations).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watcher_unwinds_reorged_deposits_on_anvil() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let genesis = infra_config::parse_genesis(infra_config::DEV_GENESIS_JSON, "dev")?;
    let chain = infra_e2e::settle::test_chain();
    let d = infra_node_core::deploy_contracts(
        &anvil.url,
        infra_config::dev_signer(9)?,
        &chain,
        &genesis,
        None,
        None,
        None,
    )
    .await?;
    let l1 = wallet_provider(&anvil.url, infra_config::dev_signer(0)?)?;
    let inbox = infra_bus::DepositInbox::new();
    let config = infra_l1::WatcherConfig {
        bridge: d.bridge,
        confirmations: 0,
        poll: Duration::from_millis(100),
        max_range: 1_000,
    };
    let mut watcher = infra_l1::DepositWatcher::new(
        infra_l1::connect(&anvil.url).map_err(|e| eyre::eyre!(e))?,
        config.clone(),
        inbox.clone(),
        d.deploy_block,
    );
    let to = PrivateKeySigner::random().address();
    let r = Bridge::new(d.bridge, &l1)
        .depositETH(to, 100_000, Bytes::new())
        .value(U256::from(5))
        .send()
        .await?
        .get_receipt()
        .await?;
    let deposit_block = r.block_number.expect("mined");
    let mut read = 0;
    while read == 0 {
        read = watcher.poll(0).await?.deposits;
    }
    assert_eq!(inbox.len(), 1);
    // Replace every block from the deposit's on, without it.
    let head = l1.get_block_number().await?;
    let depth = head - deposit_block + 1;
    let _: serde_json::Value = l1
        .raw_request("anvil_reorg".into(), (depth, Vec::<(serde_json::Value, u64)>::new()))
        .await?;
    // Had the chain applied it (cursor 1), the watcher must stop, loudly.
    let err = watcher.poll(1).await.expect_err("deep reorg of an applied deposit");
    assert!(err.to_string().contains("raise l1.confirmations"), "{err}");
    // Not applied yet (cursor 0): forgotten, rescanned, nothing found again.
    let mut watcher2 = infra_l1::DepositWatcher::new(
        infra_l1::connect(&anvil.url).map_err(|e| eyre::eyre!(e))?,
        config,
        infra_bus::DepositInbox::new(),
        d.deploy_block,
    );
    let out = watcher2.poll(0).await?;
    assert_eq!(out.deposits, 0, "the reorged deposit is gone from L1");
    let out = watcher.poll(0).await?;
    assert!(out.reorged > 0, "the reorg is noticed again after the refusal: {out:?}");
    assert_eq!(out.deposits, 0);
    assert_eq!(inbox.len(), 0, "the watcher forgot the reorged deposit");
    Ok(())
}
