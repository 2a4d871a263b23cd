//! The wallet flow of the JS/Python suites, in Rust through alloy's provider: an
//! EIP-1559 transfer and its receipt, deploying the pinned-solc `TestToken`
//! artifact, calling it, its `Transfer` log over `eth_getLogs` and over a WebSocket
//! `eth_subscribe`, and the standard errors a wallet must recognise.

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder, WsConnect},
    rpc::types::{Filter, TransactionRequest},
    sol,
    sol_types::SolEvent,
};
use futures::StreamExt;
use infra_e2e::dev_node;
use std::time::{Duration, Instant};

sol!(
    #[sol(rpc)]
    TestToken,
    "../../contracts/artifacts/TestToken.json"
);

const BLOCK_MS: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloy_wallet_flow() -> eyre::Result<()> {
    let dev = dev_node(BLOCK_MS).await?;
    let alice = infra_config::dev_signer(0)?;
    let alice_addr = alice.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(alice))
        .connect_http(dev.http_url.parse()?);

    assert_eq!(provider.get_chain_id().await?, infra_config::DEV_CHAIN_ID);

    // An EIP-1559 transfer to a fresh address, receipt within two block times
    // (plus a generous margin for a loaded CI machine).
    let bob = Address::repeat_byte(0xb0);
    let value = U256::from(123_456_789u64);
    let start = Instant::now();
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_to(bob).with_value(value))
        .await?
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await?;
    let took = start.elapsed();
    assert!(receipt.status(), "transfer succeeded");
    assert_eq!(receipt.transaction_type(), alloy::consensus::TxType::Eip1559);
    assert_eq!(provider.get_balance(bob).await?, value);
    eprintln!("transfer receipt after {took:?} (block time {BLOCK_MS} ms)");

    // Deploy the ERC-20 compiled by the pinned solc (committed artifact).
    let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let token = TestToken::deploy(&provider, "Infra".into(), "INF".into(), supply).await?;
    assert_eq!(token.totalSupply().call().await?, supply);
    assert_eq!(token.balanceOf(alice_addr).call().await?, supply);
    assert_eq!(token.symbol().call().await?, "INF");

    // Subscribe to its Transfer logs over WebSocket before transferring.
    let ws = ProviderBuilder::new().connect_ws(WsConnect::new(dev.ws_url.clone())).await?;
    let filter = Filter::new()
        .address(*token.address())
        .event_signature(TestToken::Transfer::SIGNATURE_HASH);
    let mut logs = ws.subscribe_logs(&filter).await?.into_stream();

    let amount = U256::from(42u64);
    // eth_estimateGas for the transfer about to be sent covers what it uses.
    let estimate = token.transfer(bob, amount).estimate_gas().await?;
    let receipt = token
        .transfer(bob, amount)
        .send()
        .await?
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let decoded =
        receipt.decoded_log::<TestToken::Transfer>().expect("the receipt holds a Transfer log");
    assert_eq!((decoded.from, decoded.to, decoded.value), (alice_addr, bob, amount));
    assert_eq!(token.balanceOf(bob).call().await?, amount);

    // eth_getLogs over the transfer's block.
    let block = receipt.block_number.expect("mined");
    let found = provider.get_logs(&filter.clone().from_block(block).to_block(block)).await?;
    assert_eq!(found.len(), 1, "one Transfer log in block {block}");
    let log = found[0].log_decode::<TestToken::Transfer>()?;
    assert_eq!(log.inner.data.value, amount);
    assert_eq!(found[0].transaction_hash, Some(receipt.transaction_hash));

    // The same log over the subscription.
    let pushed = tokio::time::timeout(Duration::from_secs(10), logs.next())
        .await?
        .expect("subscription open");
    assert_eq!(pushed.transaction_hash, Some(receipt.transaction_hash));
    assert_eq!(pushed.log_decode::<TestToken::Transfer>()?.inner.data.to, bob);

    assert!(estimate >= receipt.gas_used, "estimate {estimate} >= used {}", receipt.gas_used);

    // Standard errors: a stale nonce and a value above the balance.
    let stale = TransactionRequest::default().with_to(bob).with_value(U256::from(1)).with_nonce(0);
    let err = provider.send_transaction(stale).await.expect_err("stale nonce refused");
    assert!(err.to_string().contains("nonce too low"), "got: {err}");
    let rich = provider.get_balance(alice_addr).await?;
    let too_much = TransactionRequest::default().with_to(bob).with_value(rich + U256::from(1));
    let err = provider.send_transaction(too_much).await.expect_err("overdraft refused");
    assert!(err.to_string().contains("insufficient funds"), "got: {err}");

    // An unknown method is -32601.
    let err = provider
        .raw_request::<_, serde_json::Value>("eth_fillTransaction".into(), [serde_json::json!({})])
        .await
        .expect_err("not implemented");
    assert!(err.to_string().contains("-32601"), "got: {err}");

    dev.node.cancel_token().cancel();
    Ok(())
}

/// Reads at past blocks through alloy's provider on a node keeping a 20-block
/// state window: by number and by EIP-1898 hash inside it, the clear error
/// (naming the window and the flag) below it, for state reads and calls alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_state_inside_the_window_and_a_clear_error_below_it() -> eyre::Result<()> {
    let datadir = tempfile::tempdir()?;
    let mut cfg = infra_e2e::node_config(
        datadir.path().to_path_buf(),
        infra_config::ChainConfig { block_time_ms: 100, ..infra_config::ChainConfig::dev() },
        None,
    )?;
    cfg.empty_blocks = true;
    cfg.state_history = infra_storage::StateHistory::Window(20);
    let dev = infra_e2e::DevNode::new(infra_node_core::start_node(cfg).await?, datadir);
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(0)?))
        .connect_http(dev.http_url.parse()?);
    let to = Address::repeat_byte(0x42);
    let sent = |value: u64| TransactionRequest::default().with_to(to).with_value(U256::from(value));
    let b1 = wallet.send_transaction(sent(5)).await?.get_receipt().await?.block_number.unwrap();
    let b2 = wallet.send_transaction(sent(7)).await?.get_receipt().await?.block_number.unwrap();
    assert_eq!(wallet.get_balance(to).block_id(b1.into()).await?, U256::from(5));
    assert_eq!(wallet.get_balance(to).block_id((b1 - 1).into()).await?, U256::ZERO);
    let hash = wallet.get_block_by_number(b2.into()).await?.unwrap().header.hash;
    let by_hash = alloy::eips::BlockId::Hash(alloy::eips::RpcBlockHash {
        block_hash: hash,
        require_canonical: Some(true),
    });
    assert_eq!(wallet.get_balance(to).block_id(by_hash).await?, U256::from(12));
    // Wait until b1 is below the window (the head is 20 or more blocks past it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while wallet.get_block_number().await? < b1 + 22 {
        assert!(Instant::now() < deadline, "the chain moves on with empty blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = wallet.get_balance(to).block_id(b1.into()).await.unwrap_err().to_string();
    assert!(
        err.contains("historical state is not available")
            && err.contains(&format!("block {b1}"))
            && err.contains("--state.history"),
        "{err}"
    );
    let call = TransactionRequest::default().with_to(to);
    let err = wallet.call(call.clone()).block(b1.into()).await.unwrap_err().to_string();
    assert!(err.contains("historical state is not available"), "{err}");
    let head = wallet.get_block_number().await?;
    assert_eq!(wallet.get_balance(to).block_id((head - 1).into()).await?, U256::from(12));
    wallet.call(call).block((head - 2).into()).await?;
    Ok(())
}
