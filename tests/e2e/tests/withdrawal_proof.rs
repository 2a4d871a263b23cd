//! A withdrawal started on L2 through the `L2Withdrawals` predeploy, and the proof
//! the node serves for it (`infra_getWithdrawalProof`): it verifies against the
//! block's state root with the node's tree hash, at that block and at later ones,
//! and is refused for blocks before the withdrawal.

use alloy::{
    network::EthereumWallet,
    primitives::{B256, U256},
    providers::{Provider, ProviderBuilder},
};
use infra_e2e::dev_node;
use infra_l1::{L2_WITHDRAWALS, L2Withdrawals};
use infra_state::{Curve, SmtProof, TreeHasher, keys};
use std::time::Duration;

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proof {
    withdrawal_hash: B256,
    block_number: U256,
    state_root: B256,
    slot: U256,
    siblings: Vec<B256>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_proofs_verify_against_the_block_state_root() -> eyre::Result<()> {
    let dev = dev_node(200).await?;
    let alice = infra_config::dev_signer(0)?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(alice.clone()))
        .connect_http(dev.http_url.parse()?);
    let withdrawals = L2Withdrawals::new(L2_WITHDRAWALS, &provider);
    let value = U256::from(10u64).pow(U256::from(17u64));
    let receipt = withdrawals
        .initiateWithdrawal(alice.address(), U256::from(100_000), Default::default())
        .value(value)
        .send()
        .await?
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await?;
    assert!(receipt.status());
    let passed = receipt.decoded_log::<L2Withdrawals::MessagePassed>().expect("MessagePassed");
    let hash = passed.withdrawalHash;
    let block = receipt.block_number.expect("mined");
    assert_eq!(provider.get_balance(L2_WITHDRAWALS).await?, value, "ETH locked on L2");

    let h = TreeHasher::new(Curve::Bn254);
    let key = keys::storage_key(&h, L2_WITHDRAWALS, infra_primitives::withdrawal_slot(hash));
    let one = keys::storage_value_hash(&h, U256::ONE);
    let check = |p: &Proof| {
        let header_root = p.state_root;
        let smt = SmtProof { siblings: p.siblings.clone(), leaf: Some((key, one)) };
        assert!(
            smt.verify(&h, header_root, key, Some(one)),
            "proof verifies at block {}",
            p.block_number
        );
        assert_eq!(p.withdrawal_hash, hash);
        assert_eq!(p.slot, infra_primitives::withdrawal_slot(hash));
    };

    // At the withdrawal's block, against that block's header state root.
    let p: Proof = provider
        .raw_request("infra_getWithdrawalProof".into(), (hash, format!("0x{block:x}")))
        .await?;
    let header = provider.get_block_by_number(block.into()).await?.expect("block");
    assert_eq!(p.state_root, header.header.state_root);
    check(&p);

    // Later blocks (more activity) still prove it: the record is never removed.
    let bob = alloy::primitives::Address::repeat_byte(0xb0);
    provider
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default().to(bob).value(U256::from(1)),
        )
        .await?
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await?;
    let latest: Proof =
        provider.raw_request("infra_getWithdrawalProof".into(), (hash, "latest")).await?;
    assert!(latest.block_number > U256::from(block));
    check(&latest);

    // Before the withdrawal there is nothing to prove: a clear error.
    let before = provider
        .raw_request::<_, Proof>(
            "infra_getWithdrawalProof".into(),
            (hash, format!("0x{:x}", block - 1)),
        )
        .await
        .expect_err("not recorded yet");
    assert!(before.to_string().contains("not recorded"), "got: {before}");
    dev.node.cancel_token().cancel();
    Ok(())
}
