//! What the fault-proof tests share: a real claim about real sealed blocks,
//! and the program's ELF.
#![allow(dead_code)]

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip7702, TxEnvelope},
    eips::{eip2930::AccessList, eip7702::Authorization},
    genesis::{Genesis, GenesisAccount},
    primitives::{Address, B256, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolConstructor},
};
use infra_bus::{Bus, DepositInbox};
use infra_config::ChainConfig;
use infra_derivation::witness::DatadirPreimages;
use infra_execution::chain_params;
use infra_l1::TestToken;
use infra_mempool::{Mempool, PoolConfig};
use infra_primitives::batch::{BatchPayload, Codec};
use infra_sequencer::{BlockBuilder, genesis_block};
use infra_state::{Curve, TreeHasher};
use infra_stf::{
    BatchData, BatchRef, Output,
    claim::{ClaimChain, HeldDeposits, record_claim},
};
use infra_storage::Store;
use std::{collections::BTreeMap, sync::Arc};

pub const ETH: u128 = 1_000_000_000_000_000_000;

fn eip1559(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Vec<u8>) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: ChainConfig::dev().chain_id,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 5_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(ETH / 1000),
        access_list: AccessList::default(),
        input: input.into(),
    };
    let tx = if to.is_create() { TxEip1559 { value: U256::ZERO, ..tx } } else { tx };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    tx.into_signed(sig).into()
}

/// The preimages of a real claim: three sealed blocks (an ETH transfer and an
/// ERC-20 deployment; two token transfers; calls to three precompiles, a
/// reverting token transfer and an EIP-7702 delegation) derive to their
/// sealed output.
pub fn real_claim() -> BTreeMap<B256, Vec<u8>> {
    let chain = ChainConfig::dev();
    let hasher = TreeHasher::new(Curve::Bn254);
    let alice = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).expect("key");
    let mut genesis = Genesis::default();
    genesis.config.chain_id = chain.chain_id;
    genesis
        .alloc
        .insert(alice.address(), GenesisAccount::default().with_balance(U256::from(100 * ETH)));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let (g, changes, nodes) = genesis_block(&chain, &genesis, &hasher).expect("genesis");
    store.commit_block(&g, &changes, &nodes).expect("commit genesis");
    let pool = Arc::new(Mempool::new(PoolConfig {
        chain_id: chain.chain_id,
        block_gas_limit: chain.gas_limit,
        min_tip_wei: 0,
        limits: Default::default(),
        accept_blobs: false,
    }));
    let builder = BlockBuilder {
        store: store.clone(),
        pool: pool.clone(),
        chain: chain.clone(),
        hasher: hasher.clone(),
        bus: Bus::new(16),
        empty_blocks: true,
        deposits: DepositInbox::new(),
    };
    let add = |tx: TxEnvelope, nonce: u64| {
        pool.add(tx, alice.address(), nonce, U256::from(100 * ETH), 2_000_000_000).expect("pooled");
    };
    let bob = Address::repeat_byte(0xb0);
    add(eip1559(&alice, 0, TxKind::Call(bob), vec![]), 0);
    let args = TestToken::constructorCall {
        name_: "T".into(),
        symbol_: "T".into(),
        initialSupply: U256::from(1_000_000u64),
    }
    .abi_encode();
    add(eip1559(&alice, 1, TxKind::Create, [TestToken::BYTECODE.to_vec(), args].concat()), 0);
    let b1 = builder.seal_next(1_700_000_000).expect("seal").expect("block 1");
    let token = alice.address().create(1);
    for (nonce, to) in [(2u64, bob), (3, Address::repeat_byte(0xc0))] {
        let call = TestToken::transferCall { to, value: U256::from(nonce) }.abi_encode();
        add(eip1559(&alice, nonce, TxKind::Call(token), call), 2);
    }
    let b2 = builder.seal_next(1_700_000_001).expect("seal").expect("block 2");
    assert_eq!((b1.transactions.len(), b2.transactions.len()), (2, 2));
    // Block 3: precompile calls (ecrecover, sha256, BN254 addition), a
    // reverting transaction (a token transfer over the balance) and an
    // EIP-7702 delegation (bob's account runs the token's code; alice calls it).
    let mut nonce = 4u64;
    for (addr, input) in [(1u8, vec![7u8; 128]), (2, b"abc".to_vec()), (6, vec![0u8; 128])] {
        add(eip1559(&alice, nonce, TxKind::Call(Address::with_last_byte(addr)), input), 4);
        nonce += 1;
    }
    let over = TestToken::transferCall { to: bob, value: U256::from(10_000_000u64) }.abi_encode();
    add(eip1559(&alice, nonce, TxKind::Call(token), over), 4);
    nonce += 1;
    let bob_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x22)).expect("key");
    let auth = Authorization { chain_id: U256::from(chain.chain_id), address: token, nonce: 0 };
    let auth =
        auth.clone().into_signed(bob_key.sign_hash_sync(&auth.signature_hash()).expect("sign"));
    let setcode = TxEip7702 {
        chain_id: chain.chain_id,
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 5_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: bob_key.address(),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: vec![auth],
        input: TestToken::approveCall { spender: alice.address(), value: U256::from(9) }
            .abi_encode()
            .into(),
    };
    let sig = alice.sign_hash_sync(&setcode.signature_hash()).expect("sign");
    add(setcode.into_signed(sig).into(), 4);
    let b3 = builder.seal_next(1_700_000_002).expect("seal").expect("block 3");
    assert_eq!(b3.transactions.len(), 5, "every transaction of block 3 is included");

    let params = chain_params(&chain);
    let pre = Output::after(&params, &g.header, 0);
    let want = Output::after(&params, &b3.header, 0);
    let payload =
        BatchPayload::from_blocks(&[(*b1).clone(), (*b2).clone(), (*b3).clone()]).expect("payload");
    let data = BatchData::Calldata(payload.encode(Codec::Zstd).into());
    let batch = BatchRef { first_block: 1, last_block: 3, data: &data };
    let reader = store.reader().expect("reader");
    let state = reader.state_at(0).expect("genesis state");
    let (applied, preimages) = record_claim(
        DatadirPreimages { state: &state },
        &ClaimChain { params, curve: Curve::Bn254 },
        &pre,
        &want,
        &batch,
        &HeldDeposits::NONE,
    )
    .expect("host run");
    assert_eq!(applied.output, want);
    preimages
}

pub fn program_elf() -> Vec<u8> {
    let path = std::env::var_os("INFRA_PROGRAM_ELF")
        .expect("INFRA_PROGRAM_ELF: build the program with scripts/build-program.sh");
    std::fs::read(path).expect("the program's ELF")
}
