//! The dispute game's Solidity libraries in revm, against transactions signed by
//! alloy: `L2Tx.decode` reads every field and recovers the sender exactly as the
//! L2 does, and refuses what the L2 refuses.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy},
    eips::{Encodable2718, eip2930::AccessList},
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
};
use infra_l1::sim::SimL1;
use proptest::prelude::*;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    DisputeHarness,
    "../../contracts/artifacts/DisputeHarness.json"
);

const CHAIN_ID: u64 = 13370;
const DEPLOYER: Address = Address::repeat_byte(0x01);

fn harness() -> (SimL1, Address) {
    let mut l1 = SimL1::new(&[DEPLOYER], U256::from(10u128.pow(24)));
    let at = l1.deploy(DEPLOYER, DisputeHarness::BYTECODE.to_vec());
    (l1, at)
}

fn decode(l1: &mut SimL1, at: Address, raw: Vec<u8>) -> Result<L2Tx::Tx, String> {
    l1.try_view(at, &DisputeHarness::decodeTxCall { raw: raw.into() }).map_err(|f| format!("{f:?}"))
}

#[derive(Debug, Clone)]
struct Fields {
    nonce: u64,
    fee: u128,
    tip: u128,
    gas: u64,
    to: Option<Address>,
    value: U256,
    data: Bytes,
}

fn sign(signer: &PrivateKeySigner, kind: u8, f: &Fields) -> TxEnvelope {
    let to = f.to.map_or(TxKind::Create, TxKind::Call);
    match kind {
        0 | 1 => {
            let tx = TxLegacy {
                chain_id: (kind == 0).then_some(CHAIN_ID),
                nonce: f.nonce,
                gas_price: f.fee,
                gas_limit: f.gas,
                to,
                value: f.value,
                input: f.data.clone(),
            };
            let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            tx.into_signed(sig).into()
        }
        _ => {
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce: f.nonce,
                gas_limit: f.gas,
                max_fee_per_gas: f.fee,
                max_priority_fee_per_gas: f.tip.min(f.fee),
                to,
                value: f.value,
                access_list: AccessList::default(),
                input: f.data.clone(),
            };
            let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            tx.into_signed(sig).into()
        }
    }
}

fn check(l1: &mut SimL1, at: Address, signer: &PrivateKeySigner, kind: u8, f: &Fields) {
    let tx = sign(signer, kind, f);
    let got = decode(l1, at, tx.encoded_2718()).expect("decodes");
    assert_eq!(got.sender, signer.address(), "kind {kind}: sender");
    assert_eq!(got.hash, *tx.tx_hash());
    assert_eq!(got.txType, U256::from(if kind == 2 { 2 } else { 0 }));
    assert_eq!(got.chainId, U256::from(if kind == 1 { 0 } else { CHAIN_ID }));
    assert_eq!(got.nonce, U256::from(f.nonce));
    assert_eq!(got.maxFeePerGas, U256::from(f.fee));
    let tip = if kind == 2 { f.tip.min(f.fee) } else { f.fee };
    assert_eq!(got.maxPriorityFeePerGas, U256::from(tip));
    assert_eq!(got.gasLimit, U256::from(f.gas));
    assert_eq!(got.to, f.to.unwrap_or_default());
    assert_eq!(got.create, f.to.is_none());
    assert_eq!(got.value, f.value);
    assert_eq!(got.dataLength, U256::from(f.data.len()));
    assert_eq!(got.accessListLength, U256::ZERO);
}

#[test]
fn decodes_legacy_eip155_and_eip1559_transactions_and_recovers_the_sender() {
    let (mut l1, at) = harness();
    let signer = PrivateKeySigner::random();
    let plain = Fields {
        nonce: 0,
        fee: 2_000_000_000,
        tip: 1_000_000_000,
        gas: 21_000,
        to: Some(Address::repeat_byte(0x42)),
        value: U256::from(1000),
        data: Bytes::new(),
    };
    for kind in 0..3 {
        check(&mut l1, at, &signer, kind, &plain);
        // Long data (a long RLP string), a creation, large numbers.
        let big = Fields {
            nonce: u64::MAX - 1,
            fee: u128::MAX >> 1,
            tip: 7,
            gas: 30_000_000,
            to: None,
            value: U256::MAX,
            data: Bytes::from(vec![0xab; 300]),
        };
        check(&mut l1, at, &signer, kind, &big);
    }
}

#[test]
fn refuses_what_the_l2_refuses() {
    let (mut l1, at) = harness();
    let signer = PrivateKeySigner::random();
    let f = Fields {
        nonce: 3,
        fee: 1_000_000_000,
        tip: 1,
        gas: 21_000,
        to: Some(Address::repeat_byte(7)),
        value: U256::from(1),
        data: Bytes::new(),
    };
    let raw = sign(&signer, 2, &f).encoded_2718();
    // Truncated: not RLP.
    let err = decode(&mut l1, at, raw[..raw.len() - 1].to_vec()).unwrap_err();
    assert!(err.contains("Revert"), "{err}");
    // A trailing byte: the list must be the whole transaction.
    let mut long = raw.clone();
    long.push(0);
    assert!(decode(&mut l1, at, long).is_err());
    // Another signed value: the recovered sender is someone else.
    let mut other = raw.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    if let Ok(t) = decode(&mut l1, at, other) {
        assert_ne!(t.sender, signer.address());
    }
    // EIP-2930 is not decided by the one-step in this version.
    let tx = TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_price: 1,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let raw: TxEnvelope = tx.into_signed(sig).into();
    let err = decode(&mut l1, at, raw.encoded_2718()).unwrap_err();
    assert!(err.contains("Revert"), "{err}");
    // A high-s signature (EIP-2) is refused.
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 0,
        gas_price: 1,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .expect("n");
    let high = alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    let raw: TxEnvelope = tx.into_signed(high).into();
    assert!(decode(&mut l1, at, raw.encoded_2718()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_transaction_decodes_to_its_fields(
        kind in 0u8..3,
        nonce in any::<u64>(),
        fee in any::<u128>(),
        tip in any::<u128>(),
        gas in any::<u64>(),
        create in any::<bool>(),
        value in any::<[u8; 32]>(),
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (mut l1, at) = harness();
        let signer = PrivateKeySigner::random();
        let f = Fields {
            nonce,
            fee,
            tip,
            gas,
            to: (!create).then_some(Address::repeat_byte(9)),
            value: U256::from_be_bytes(value),
            data: data.into(),
        };
        check(&mut l1, at, &signer, kind, &f);
    }
}

mod smt {
    use super::*;
    use infra_l1::PoseidonBn254;
    use infra_state::{Curve, MemoryNodeStore, SparseMerkleTree, TreeHasher, keys};

    struct Fixture {
        l1: SimL1,
        harness: Address,
        poseidon: Address,
        h: TreeHasher,
        store: MemoryNodeStore,
        root: B256,
    }

    impl Fixture {
        fn new() -> Self {
            let (mut l1, harness) = harness();
            let poseidon = l1.deploy(DEPLOYER, PoseidonBn254::BYTECODE.to_vec());
            Self {
                l1,
                harness,
                poseidon,
                h: TreeHasher::new(Curve::Bn254),
                store: MemoryNodeStore::default(),
                root: B256::ZERO,
            }
        }

        /// The Rust tree's update of `key` to `value`.
        fn rust_update(&mut self, key: B256, value: B256) -> B256 {
            let tree = SparseMerkleTree::new(&self.h);
            let up = tree.update(&self.store, self.root, vec![(key, Some(value))]).expect("update");
            self.store.apply(&up.changes);
            self.root = up.root;
            up.root
        }

        fn proof(&self, key: B256) -> StateProof::Proof {
            let p =
                SparseMerkleTree::new(&self.h).proof(&self.store, self.root, key).expect("proof");
            StateProof::Proof {
                siblings: p.siblings,
                hasLeaf: p.leaf.is_some(),
                leafKey: p.leaf.map(|(k, _)| U256::from_be_bytes(k.0)).unwrap_or_default(),
                leafValue: p.leaf.map(|(_, v)| U256::from_be_bytes(v.0)).unwrap_or_default(),
            }
        }

        /// The Solidity update of `key` from `old` to `new` with the current proof.
        fn sol_update(&mut self, key: B256, old: Option<B256>, new: B256) -> Result<B256, String> {
            let call = DisputeHarness::smtUpdateCall {
                h: self.poseidon,
                root: self.root,
                key: U256::from_be_bytes(key.0),
                oldValue: old.map(|v| U256::from_be_bytes(v.0)).unwrap_or_default(),
                newValue: U256::from_be_bytes(new.0),
                p: self.proof(key),
            };
            self.l1.try_view(self.harness, &call).map_err(|f| format!("{f:?}"))
        }

        fn account(&self, i: u64) -> (B256, B256) {
            let a = Address::from_word(alloy::primitives::keccak256(i.to_be_bytes()));
            (
                keys::account_key(&self.h, a),
                keys::account_value_hash(&self.h, i, U256::from(i), B256::ZERO),
            )
        }
    }

    /// Inserts, updates and splits, each checked against the node's own tree: the
    /// Solidity root after every write is the Rust root.
    #[test]
    fn solidity_updates_give_the_node_tree_roots() {
        let mut f = Fixture::new();
        let mut present: Vec<(B256, B256)> = Vec::new();
        let (mut empties, mut splits, mut updates) = (0, 0, 0);
        for i in 0..60u64 {
            let (key, value) = if i % 3 == 2 && !present.is_empty() {
                // A new value for a key already there.
                let (k, _) = present[(i as usize * 7) % present.len()];
                updates += 1;
                (k, f.account(1000 + i).1)
            } else {
                f.account(i)
            };
            let old = present.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
            if old.is_none() {
                if f.proof(key).hasLeaf { splits += 1 } else { empties += 1 }
            }
            let sol = f.sol_update(key, old, value).expect("valid proof");
            let rust = f.rust_update(key, value);
            assert_eq!(sol, rust, "write {i}");
            present.retain(|(k, _)| *k != key);
            present.push((key, value));
        }
        assert!(empties > 0 && splits > 0 && updates > 0, "{empties} {splits} {updates}");
    }

    #[test]
    fn wrong_old_values_and_proofs_are_refused() {
        let mut f = Fixture::new();
        let (k0, v0) = f.account(0);
        let (k1, v1) = f.account(1);
        f.rust_update(k0, v0);
        f.rust_update(k1, v1);
        let new = f.account(9).1;
        // Claiming another old value, or absence of a present key.
        assert!(f.sol_update(k0, Some(v1), new).is_err());
        assert!(f.sol_update(k0, None, new).is_err());
        // Claiming presence of an absent key.
        let (k2, _) = f.account(2);
        assert!(f.sol_update(k2, Some(v0), new).is_err());
        // A proof against another root.
        let mut call = DisputeHarness::smtUpdateCall {
            h: f.poseidon,
            root: B256::repeat_byte(1),
            key: U256::from_be_bytes(k0.0),
            oldValue: U256::from_be_bytes(v0.0),
            newValue: U256::from_be_bytes(new.0),
            p: f.proof(k0),
        };
        assert!(f.l1.try_view(f.harness, &call).is_err());
        call.root = f.root;
        assert!(f.l1.try_view(f.harness, &call).is_ok());
    }

    #[test]
    fn account_leaves_hash_as_the_node_hashes_them() {
        let mut f = Fixture::new();
        let a = Address::repeat_byte(0x33);
        for (nonce, balance, code) in [
            (0u64, U256::ZERO, alloy::primitives::KECCAK256_EMPTY),
            (5, U256::MAX, B256::repeat_byte(7)),
        ] {
            let call = DisputeHarness::accountLeafCall {
                h: f.poseidon,
                account: a,
                nonce,
                balance,
                codeHash: code,
            };
            let got = f.l1.view(f.harness, &call);
            let code_leaf =
                if code == alloy::primitives::KECCAK256_EMPTY { B256::ZERO } else { code };
            assert_eq!(B256::from(got.key), keys::account_key(&f.h, a));
            assert_eq!(
                B256::from(got.value),
                keys::account_value_hash(&f.h, nonce, balance, code_leaf)
            );
        }
    }
}
