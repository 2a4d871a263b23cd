//! The step trace of real sealed blocks (transfers, a self-transfer, a tip-less
//! transfer, a deposit, a posted transaction the L2 drops, an empty block),
//! checked step by step against L1's one-step (`DisputeGame.step` in revm): for
//! every step L1 decides, the post-state L1 computes from the trace's witness
//! is the trace's next state.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::{Encodable2718, eip2930::AccessList},
    genesis::{Genesis, GenesisAccount},
    primitives::{Address, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolConstructor,
};
use infra_bus::{Bus, DepositInbox};
use infra_challenger::trace_batch;
use infra_config::ChainConfig;
use infra_l1::{
    Bridge, DisputeGame, GameTypes, PoseidonBn254, Rollup, one_step_initcode, sim::SimL1,
};
use infra_mempool::{Mempool, PoolConfig};
use infra_primitives::{DepositTx, batch::BatchPayload};
use infra_sequencer::{BlockBuilder, genesis_block};
use infra_state::{Curve, TreeHasher};
use infra_storage::Store;
use std::sync::Arc;

const OWNER: Address = Address::repeat_byte(0x01);
const DEPOSITOR: Address = Address::repeat_byte(0x0a);
const ETH: u128 = 1_000_000_000_000_000_000;

fn eip1559(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: u128,
    tip: u128,
) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: ChainConfig::dev().chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 5_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    tx.into_signed(sig).into()
}

fn legacy(signer: &PrivateKeySigner, nonce: u64, to: Address, value: u128) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: Some(ChainConfig::dev().chain_id),
        nonce,
        gas_price: 3_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    tx.into_signed(sig).into()
}

#[test]
fn every_step_l1_decides_matches_the_trace() {
    let chain = ChainConfig::dev();
    let hasher = TreeHasher::new(Curve::Bn254);
    let alice = PrivateKeySigner::random();
    let bob = PrivateKeySigner::random();
    let mut genesis = Genesis::default();
    genesis.config.chain_id = chain.chain_id;
    genesis
        .alloc
        .insert(alice.address(), GenesisAccount::default().with_balance(U256::from(100 * ETH)));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let (g, changes, nodes) = genesis_block(&chain, &genesis, &hasher).expect("genesis");
    store.commit_block(&g, &changes, &nodes).expect("commit genesis");

    // L1: the contracts, and a deposit the L2 will apply.
    let mut l1 = SimL1::new(&[OWNER, DEPOSITOR], U256::from(1_000 * ETH));
    let poseidon = l1.deploy(OWNER, PoseidonBn254::BYTECODE.to_vec());
    let next_base_fee = infra_execution::base_fee_after(&chain, &g.header);
    let args = Rollup::constructorCall {
        owner_: OWNER,
        batcher_: OWNER,
        mode_: 0,
        challengePeriod_: 100,
        genesisStateRoot: g.header.state_root,
        genesisBlockHash: g.hash,
        genesisNextBaseFee: next_base_fee,
        verifier_: Address::ZERO,
    }
    .abi_encode();
    let rollup = l1.deploy(OWNER, [Rollup::BYTECODE.to_vec(), args].concat());
    let args =
        Bridge::constructorCall { owner_: OWNER, rollup_: rollup, hasher_: poseidon }.abi_encode();
    let bridge = l1.deploy(OWNER, [Bridge::BYTECODE.to_vec(), args].concat());
    let config = GameTypes::Config {
        l2ChainId: U256::from(chain.chain_id),
        feeRecipient: chain.fee_recipient,
        gasLimit: chain.gas_limit,
        baseFeeDenominator: chain.base_fee.max_change_denominator,
        baseFeeElasticity: chain.base_fee.elasticity_multiplier,
        minBaseFee: chain.base_fee.min_wei,
        minStake: U256::from(ETH),
        slashingPenaltyPct: U256::from(50),
        moveTimeout: 600,
        arbiter: OWNER,
    };
    let one_step = l1.deploy(OWNER, one_step_initcode(bridge, poseidon, &config));
    let args =
        DisputeGame::constructorCall { rollup_: rollup, oneStep_: one_step, config_: config }
            .abi_encode();
    let game = l1.deploy(OWNER, [DisputeGame::BYTECODE.to_vec(), args].concat());
    let carol = Address::repeat_byte(0xca);
    let deposit = Bridge::depositETHCall { to: carol, gasLimit: 30_000, data: Bytes::new() };
    l1.send(DEPOSITOR, bridge, &deposit, U256::from(2 * ETH)).expect("deposit");

    // L2: three blocks sealed by the node's own builder.
    let pool = Arc::new(Mempool::new(PoolConfig {
        chain_id: chain.chain_id,
        block_gas_limit: chain.gas_limit,
        min_tip_wei: 0,
        limits: Default::default(),
        accept_blobs: false,
    }));
    let inbox = DepositInbox::new();
    let builder = BlockBuilder {
        store: store.clone(),
        pool: pool.clone(),
        chain: chain.clone(),
        hasher: hasher.clone(),
        bus: Bus::new(16),
        empty_blocks: true,
        deposits: inbox.clone(),
    };
    let add = |tx: TxEnvelope, signer: &PrivateKeySigner, nonce: u64, balance: u128| {
        pool.add(tx, signer.address(), nonce, U256::from(balance), 2_000_000_000).expect("pooled");
    };
    add(eip1559(&alice, 0, bob.address(), 3 * ETH, 1_000_000_000), &alice, 0, 100 * ETH);
    add(legacy(&alice, 1, alice.address(), ETH), &alice, 0, 100 * ETH);
    let b1 = builder.seal_next(1_700_000_000).expect("seal").expect("block 1");
    inbox.push(DepositTx {
        nonce: 0,
        l1_block: 1,
        from: DEPOSITOR,
        to: carol,
        value: U256::from(2 * ETH),
        gas_limit: 30_000,
        data: Bytes::new(),
    });
    add(eip1559(&bob, 0, alice.address(), ETH, 0), &bob, 0, 3 * ETH);
    let b2 = builder.seal_next(1_700_000_001).expect("seal").expect("block 2");
    let b3 = builder.seal_next(1_700_000_002).expect("seal").expect("block 3");
    assert_eq!((b1.transactions.len(), b2.deposits.len(), b2.transactions.len()), (2, 1, 1));
    assert!(b3.transactions.is_empty());

    // The batch as posted, with one more transaction in block 2 that the L2
    // drops (a replay of bob's, nonce already used).
    let mut payload =
        BatchPayload::from_blocks(&[(*b1).clone(), (*b2).clone(), (*b3).clone()]).expect("payload");
    payload.blocks[1]
        .transactions
        .push(eip1559(&bob, 0, alice.address(), ETH, 0).encoded_2718().into());
    let data: Bytes = payload.encode(infra_primitives::batch::Codec::None).into();
    let trace = trace_batch(&store, &chain, &hasher, &payload).expect("trace");
    assert_eq!(trace.last().state_root, b3.header.state_root);
    assert_eq!(trace.steps.len(), 2 + 1 + 1 + 2 + 1 + 1, "txs, deposits and block ends");
    assert_eq!(trace.last().base_fee, infra_execution::base_fee_after(&chain, &b3.header));
    assert_eq!(trace.last().deposit_nonce, 1);

    let mut decided = 0;
    for (k, step) in trace.steps.iter().enumerate() {
        let pre = trace.state(k as u64).expect("pre");
        assert_eq!(step.post.step, k as u64 + 1);
        let Some(witness) = &step.witness else { continue };
        let accounts = witness.iter().map(|w| w.to_l1()).collect();
        let deposit = step.l1_deposit();
        let call = DisputeGame::stepCall {
            pre: pre.to_l1(),
            data: data.clone(),
            blocks: 3,
            accounts,
            deposit,
        };
        let post = l1
            .try_view(game, &call)
            .unwrap_or_else(|e| panic!("step {}: L1 refused: {e:?}", k + 1));
        assert_eq!(post, step.post.to_l1(), "step {} ({:?})", k + 1, step.kind);
        let h = l1.view(game, &DisputeGame::stateHashCall { s: post });
        assert_eq!(h, step.post.hash(), "the game's state hash is the trace's");
        decided += 1;
    }
    assert_eq!(decided, trace.steps.len(), "every step here is decided on L1");
}
