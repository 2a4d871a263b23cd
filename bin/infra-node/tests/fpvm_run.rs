//! `infra-node fpvm run` on a real chain: a sequencer posting to anvil runs a
//! contract-heavy workload (deploys, ERC-20s, a constant-product pool with a
//! reverting swap, precompile calls, an EIP-7702 delegation, an L1 deposit
//! calling a contract, a withdrawal); a validator derives it from L1. Once
//! the validator is stopped, the fault-proof program decides every batch of
//! its datadir (posted in blobs) in the VM and computes exactly the node's
//! output, for a malformed calldata batch posted to L1 too. The sequencer's own records (its
//! batcher's) decide the same way.

use alloy::{
    consensus::{SignableTransaction, TxEip7702, TxEnvelope},
    eips::{Encodable2718, eip7702::Authorization},
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use infra_batcher::DataAvailability;
use infra_e2e::{
    DevNode,
    contracts::{TestPool, TestToken},
    settle::{BATCHER_INDEX, settled_chain, start_anvil, start_validator, test_chain, wait_for},
};
use infra_l1::{Bridge, L2_WITHDRAWALS, L2Withdrawals, Rollup};
use std::{path::Path, process::Command, time::Duration};

const BIN: &str = env!("CARGO_BIN_EXE_infra-node");

fn wallet(url: &str, signer: PrivateKeySigner) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse()?)
        .erased())
}

/// Sends `tx` with a fixed gas limit (no estimate: some of these revert) and
/// returns whether it succeeded and its block.
async fn send(l2: &DynProvider, tx: TransactionRequest) -> eyre::Result<(bool, u64)> {
    let receipt = l2
        .send_transaction(tx.gas_limit(500_000))
        .await?
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await?;
    Ok((receipt.status(), receipt.block_number.unwrap_or_default()))
}

fn call(to: Address, input: Vec<u8>) -> TransactionRequest {
    TransactionRequest::default().to(to).input(Bytes::from(input).into())
}

/// The workload; returns the last L2 block it touched.
async fn workload(l2_url: &str, l1_url: &str, d: &infra_l1::Deployment) -> eyre::Result<u64> {
    let alice = infra_config::dev_signer(0)?;
    let bob = infra_config::dev_signer(1)?;
    let l2 = wallet(l2_url, alice.clone())?;
    let mut last = 0u64;
    let mut note = |(ok, block): (bool, u64), want: bool, what: &str| -> eyre::Result<()> {
        eyre::ensure!(ok == want, "{what}: status {ok}, expected {want}");
        last = last.max(block);
        Ok(())
    };

    // Two tokens and a pool, liquidity, swaps (one reverts on slippage).
    let supply = U256::from(10u128.pow(24));
    let a = TestToken::deploy(&l2, "A".into(), "A".into(), supply).await?;
    let b = TestToken::deploy(&l2, "B".into(), "B".into(), supply).await?;
    let pool = TestPool::deploy(&l2, *a.address(), *b.address()).await?;
    let pool_addr = *pool.address();
    for t in [*a.address(), *b.address()] {
        let approve = TestToken::approveCall { spender: pool_addr, value: U256::MAX };
        note(send(&l2, call(t, approve.abi_encode())).await?, true, "approve")?;
    }
    let liquidity = U256::from(10u128.pow(21));
    let add = TestPool::addLiquidityCall { amount0: liquidity, amount1: liquidity };
    note(send(&l2, call(pool_addr, add.abi_encode())).await?, true, "addLiquidity")?;
    let one = U256::from(10u128.pow(18));
    for (zero_for_one, min_out, ok) in
        [(true, U256::ZERO, true), (false, U256::ZERO, true), (true, U256::MAX, false)]
    {
        let swap = TestPool::swapCall { zeroForOne: zero_for_one, amountIn: one, minOut: min_out };
        note(send(&l2, call(pool_addr, swap.abi_encode())).await?, ok, "swap")?;
    }
    for i in 1..=3u64 {
        let transfer =
            TestToken::transferCall { to: Address::with_last_byte(i as u8), value: U256::from(i) };
        note(send(&l2, call(*a.address(), transfer.abi_encode())).await?, true, "transfer")?;
    }

    // Precompiles: ecrecover, sha256, identity, modexp, BN254 add and
    // pairing, blake2f (bad input: fails), point evaluation (bad input: fails).
    let modexp = [
        U256::from(1).to_be_bytes::<32>().to_vec(),
        U256::from(1).to_be_bytes::<32>().to_vec(),
        U256::from(1).to_be_bytes::<32>().to_vec(),
        vec![3, 5, 7],
    ]
    .concat();
    for (addr, input, ok) in [
        (1u8, vec![7u8; 128], true),
        (2, b"abc".to_vec(), true),
        (4, vec![1, 2, 3], true),
        (5, modexp, true),
        (6, vec![0u8; 128], true),
        (8, vec![], true),
        (9, vec![1, 2, 3], false),
        (10, vec![0u8; 192], false),
    ] {
        note(send(&l2, call(Address::with_last_byte(addr), input)).await?, ok, "precompile")?;
    }

    // EIP-7702: bob delegates his account to token A's code; alice sends the
    // set-code transaction and calls bob's account (now an ERC-20 on bob's storage).
    let chain_id = l2.get_chain_id().await?;
    let auth = Authorization {
        chain_id: U256::from(chain_id),
        address: *a.address(),
        nonce: l2.get_transaction_count(bob.address()).await?,
    };
    let auth = auth.clone().into_signed(bob.sign_hash_sync(&auth.signature_hash())?);
    let fee = l2.get_gas_price().await? * 2;
    let setcode = TxEip7702 {
        chain_id,
        nonce: l2.get_transaction_count(alice.address()).await?,
        gas_limit: 300_000,
        max_fee_per_gas: fee,
        max_priority_fee_per_gas: fee / 2,
        to: bob.address(),
        value: U256::ZERO,
        access_list: Default::default(),
        authorization_list: vec![auth],
        input: TestToken::approveCall { spender: alice.address(), value: U256::from(9) }
            .abi_encode()
            .into(),
    };
    let sig = alice.sign_hash_sync(&setcode.signature_hash())?;
    let raw: TxEnvelope = setcode.into_signed(sig).into();
    let receipt = l2
        .send_raw_transaction(&raw.encoded_2718())
        .await?
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await?;
    note((receipt.status(), receipt.block_number.unwrap_or_default()), true, "EIP-7702")?;
    let code = l2.get_code_at(bob.address()).await?;
    eyre::ensure!(code.starts_with(&[0xef, 0x01, 0x00]), "bob's account is delegated: {code}");

    // An L1 deposit calling token A (carol approves from L1; no value: `approve`
    // is not payable), then a withdrawal.
    let carol = infra_config::dev_signer(2)?;
    let l1 = wallet(l1_url, carol.clone())?;
    let data = TestToken::approveCall { spender: pool_addr, value: U256::from(5) }.abi_encode();
    let receipt = Bridge::new(d.bridge, &l1)
        .depositETH(*a.address(), 200_000, data.into())
        .send()
        .await?
        .get_receipt()
        .await?;
    eyre::ensure!(receipt.status(), "deposit mined on L1");
    // (L2 blocks keep L1 moving: the deposit is applied once confirmed.)
    let a_reader = TestToken::new(*a.address(), &l2);
    let dave = wallet(l2_url, infra_config::dev_signer(3)?)?;
    let mut filler = 0;
    wait_for("the deposit's call on L2", Duration::from_secs(60), async || {
        let tx =
            TransactionRequest::default().to(Address::with_last_byte(0x77)).value(U256::from(1));
        filler = filler.max(send(&dave, tx).await?.1);
        let allowed = a_reader.allowance(carol.address(), pool_addr).call().await?;
        Ok((allowed == U256::from(5)).then_some(()))
    })
    .await?;
    note((true, filler), true, "L2 blocks while the deposit confirms")?;
    let w = L2Withdrawals::initiateWithdrawalCall {
        target: PrivateKeySigner::random().address(),
        gasLimit: U256::from(100_000),
        data: Bytes::new(),
    };
    let tx = call(L2_WITHDRAWALS, w.abi_encode()).value(U256::from(10u64.pow(14)));
    // (A new provider: the first one's nonce cache missed the raw set-code transaction.)
    note(send(&wallet(l2_url, alice)?, tx).await?, true, "withdrawal")?;
    Ok(last)
}

fn fpvm_run(datadir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["fpvm", "run", "--datadir", &datadir.to_string_lossy()])
        .args(args)
        .output()
        .expect("infra-node runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fpvm_run_computes_the_nodes_output_for_every_batch() -> eyre::Result<()> {
    std::env::var_os("INFRA_PROGRAM_ELF")
        .expect("INFRA_PROGRAM_ELF: build the program with scripts/build-program.sh");
    let anvil = start_anvil().await?;
    // Blobs (the program reads each field element by its blob key), carrying
    // zstd-compressed batches; the malformed batch below is calldata.
    let chain = test_chain();
    let (seq, d) = settled_chain(&anvil.url, DataAvailability::Blob, 1, None, chain).await?;
    let v = start_validator(&anvil.url, &d, None, test_chain()).await?;
    let last = workload(&seq.http_url, &anvil.url, &d).await?;
    let status =
        |v: &DevNode| v.node.derivation.as_ref().expect("a validator").lock().unwrap().clone();
    wait_for("the validator to derive the workload", Duration::from_secs(120), async || {
        Ok((status(&v).safe_head >= last).then_some(()))
    })
    .await?;
    let s = status(&v);
    assert!(s.invalid_outputs.is_empty(), "{s:?}");
    seq.node.cancel_token().cancel();
    let DevNode { node, datadir: sdir, .. } = seq;
    node.wait().await?;

    // A malformed batch posted by the batcher's key (bad RLP): the validator
    // derives no blocks for it (its output is the pre-output), and so does
    // the program.
    // (A batch the sequencer sent before it stopped may still land: read the
    // rollup's next block again until the submission is the next one. A new
    // provider each attempt: alloy's nonce cache counts a nonce for every
    // attempt, even one refused at gas estimation, and a gap would leave the
    // submission queued for good.)
    let mut attempts = 0;
    let bad_index = loop {
        let batcher = wallet(&anvil.url, infra_config::dev_signer(BATCHER_INDEX)?)?;
        let rollup = Rollup::new(d.rollup, &batcher);
        let next = rollup.nextBlock().call().await?;
        let index = u64::try_from(rollup.batchCount().call().await?)?;
        let output = Rollup::Output {
            stateRoot: alloy::primitives::B256::repeat_byte(0xaa),
            l2BlockNumber: next + 1,
            l2BlockHash: alloy::primitives::B256::repeat_byte(0xbb),
            nextBaseFee: 1,
            nextDepositNonce: 1,
        };
        let bond = rollup.outputBond().call().await?;
        match rollup
            .submitBatch(next, next + 1, Bytes::from(vec![1u8, 0, 0xff]), output)
            .value(bond)
            .send()
            .await
        {
            Ok(pending) => {
                let receipt =
                    pending.with_timeout(Some(Duration::from_secs(60))).get_receipt().await?;
                assert!(receipt.status(), "the malformed batch is on L1");
                break index;
            }
            Err(e) if attempts < 50 && e.to_string().contains("0x97a5710d") => {
                // WrongFirstBlock: another batch landed first.
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    wait_for("the validator to judge the malformed batch", Duration::from_secs(60), async || {
        Ok(status(&v).invalid_outputs.iter().any(|o| o.index == bad_index).then_some(()))
    })
    .await?;
    v.node.cancel_token().cancel();
    let DevNode { node, datadir: vdir, .. } = v;
    node.wait().await?;
    let (code, out, err) = fpvm_run(vdir.path(), &["--batch", &bad_index.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the batch is invalid: its data does not decode"), "{out}");
    assert!(out.contains("data in 3 bytes of calldata"), "{out}");
    assert!(out.contains("claim on L1 is wrong"), "{out}");
    assert!(out.trim_end().ends_with("output matches the node: yes"), "{out}");

    // Batch 0 on L1 is the genesis output; the workload's batches follow.
    let (code, _, err) = fpvm_run(vdir.path(), &["--batch", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("genesis output"), "{err}");
    for index in 1..bad_index {
        let (code, out, err) = fpvm_run(vdir.path(), &["--batch", &index.to_string()]);
        eprintln!("batch {index}:\n{out}");
        assert_eq!(code, 0, "batch {index}: {out}{err}");
        assert!(out.trim_end().ends_with("output matches the node: yes"), "{out}");
        assert!(out.contains("claim on L1 holds"), "{out}");
        assert!(out.contains("data in 1 blob"), "{out}");
    }
    let last_batch = bad_index - 1;
    assert!(last_batch >= 2, "the workload spans batches: {last_batch}");
    let (code, _, err) = fpvm_run(vdir.path(), &["--batch", &(bad_index + 1).to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("holds {bad_index} batches (1..={bad_index})")), "{err}");

    // The sequencer's own records (its batcher's, kept once the L1 transaction
    // is confirmed: its last batch may not be): the one before its last.
    let (code, out, err) = fpvm_run(sdir.path(), &["--batch", &(last_batch - 1).to_string()]);
    assert_eq!(code, 0, "{out}{err}");

    // --step: the state at step K and the proof of step K, whose post-state
    // is the state at K + 1.
    let (code, at, err) = fpvm_run(vdir.path(), &["--batch", "1", "--step", "5000"]);
    assert_eq!(code, 0, "{err}");
    let at: serde_json::Value = serde_json::from_str(&at)?;
    let (code, next, err) = fpvm_run(vdir.path(), &["--batch", "1", "--step", "5001"]);
    assert_eq!(code, 0, "{err}");
    let next: serde_json::Value = serde_json::from_str(&next)?;
    assert_eq!(at["state"]["steps"], 5000);
    assert_eq!(at["proof"]["post_hash"], next["state"]["hash"]);
    assert_eq!(at["proof"]["pre_hash"], at["state"]["hash"]);

    // Bad arguments exit 2 naming the flag.
    let (code, _, err) = fpvm_run(vdir.path(), &["--batch", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--batch"), "{err}");
    let (code, _, err) = fpvm_run(&vdir.path().join("nothing"), &["--batch", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--datadir"), "{err}");
    drop((vdir, sdir, anvil));
    Ok(())
}
