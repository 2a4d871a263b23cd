//! The measuring workload: `n` ETH transfers from 16 funded senders to 256
//! receivers, one revm transaction each; the output is keccak256 of every
//! receiver's balance and every sender's nonce.

use alloc::{string::String, vec::Vec};

use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    primitives::{Address, TxKind, U256, keccak256},
    state::AccountInfo,
};

fn addr(tag: u8, i: u64) -> Address {
    let mut a = [0u8; 20];
    a[0] = tag;
    a[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

pub fn run(n: u64) -> [u8; 32] {
    let mut db = CacheDB::<EmptyDB>::default();
    for s in 0..16 {
        db.insert_account_info(
            addr(1, s),
            AccountInfo { balance: U256::from(10u128.pow(24)), ..Default::default() },
        );
    }
    let mut nonces = [0u64; 16];
    let mut evm = Context::mainnet().with_db(&mut db).build_mainnet();
    for i in 0..n {
        let s = (i % 16) as usize;
        let tx = TxEnv {
            caller: addr(1, s as u64),
            kind: TxKind::Call(addr(2, i % 256)),
            value: U256::from(1 + i % 7),
            gas_limit: 21_000,
            nonce: nonces[s],
            ..Default::default()
        };
        let res = evm.transact_commit(tx).expect("a valid transfer");
        assert!(res.is_success(), "transfer {i} failed");
        nonces[s] += 1;
    }
    drop(evm);
    let mut acc = Vec::new();
    for r in 0..256 {
        let b = db.cache.accounts.get(&addr(2, r)).map(|a| a.info.balance).unwrap_or_default();
        acc.extend_from_slice(&b.to_be_bytes::<32>());
    }
    for s in 0..16 {
        let nonce = db.cache.accounts.get(&addr(1, s)).map(|a| a.info.nonce).unwrap_or_default();
        acc.extend_from_slice(&nonce.to_be_bytes());
    }
    keccak256(&acc).0
}

pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::from("0x");
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}
