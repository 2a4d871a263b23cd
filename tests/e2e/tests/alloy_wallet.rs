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
