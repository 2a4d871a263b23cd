//! The fault-proof VM's preimage oracle on L1 (`contracts/src/fpvm/PreimageOracle.sol`,
//! in revm): a part loaded for a key is exactly what the program's stream
//! serves at that offset (`infra_fpvm::stream_part`), under exactly the key the
//! program names (`infra_stf::claim`); what is not the key's preimage cannot be
//! loaded for it (a wrong blob element, another blob's commitment, a tree node
//! word at or above the field's modulus, a nonce over 64 bits). Prints the gas
//! of each kind of load.

use alloy::{
    eips::eip4844::{BYTES_PER_BLOB, c_kzg, env_settings::EnvKzgSettings},
    primitives::{Address, B256, Bytes, U256, keccak256},
};
use infra_fpvm::stream_part;
use infra_l1::{PoseidonBn254, PreimageOracle, sim::SimL1};
use infra_primitives::AccountState;
use infra_state::{Curve, Node, TreeHasher, keys};
use infra_stf::claim::{KEY_KECCAK256, KEY_POSEIDON, blob_key, encode_account, typed_key};

const ANYONE: Address = Address::repeat_byte(0x77);
const BLS_MODULUS: &str = "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";

struct L1 {
    sim: SimL1,
    oracle: Address,
}

impl L1 {
    fn new() -> Self {
        let mut sim = SimL1::new(&[ANYONE], U256::from(10u128.pow(21)));
        let poseidon = sim.deploy(ANYONE, PoseidonBn254::BYTECODE.to_vec());
        let args =
            PreimageOracle::constructorCall { poseidon_: poseidon, fieldModulus_: bn254_modulus() };
        let oracle = sim.deploy(
            ANYONE,
            [
                PreimageOracle::BYTECODE.to_vec(),
                alloy::sol_types::SolConstructor::abi_encode(&args),
            ]
            .concat(),
        );
        Self { sim, oracle }
    }

    fn read(&mut self, key: B256, offset: u64) -> Option<([u8; 32], u64)> {
        let call = PreimageOracle::readPartCall { key, offset: U256::from(offset) };
        let r = self.sim.try_view(self.oracle, &call).ok()?;
        Some((r.part.0, r.len.to::<u64>()))
    }
}

/// The BN254 scalar field's modulus (the state tree's field).
fn bn254_modulus() -> U256 {
    let p = U256::from_str_radix(
        "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
        16,
    )
    .unwrap();
    let h = TreeHasher::new(Curve::Bn254);
    assert!(!h.is_canonical(&B256::from(p)) && h.is_canonical(&B256::from(p - U256::from(1))));
    p
}

fn gas_line(what: &str, gas: &[u64]) {
    let mean = gas.iter().sum::<u64>() / gas.len().max(1) as u64;
    let worst = gas.iter().max().copied().unwrap_or_default();
    eprintln!("{what}: {} loads, gas mean {mean}, worst {worst}", gas.len());
}

#[test]
fn keccak_parts_are_the_programs_stream_under_its_key() {
    let mut l1 = L1::new();
    let mut gas = Vec::new();
    for len in [0usize, 1, 24, 32, 100, 4096, 120_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        let key = typed_key(KEY_KECCAK256, &keccak256(&data));
        let stream_len = data.len() as u64 + 8;
        for offset in [0, 7, 8, stream_len.saturating_sub(5), stream_len, stream_len + 40] {
            let call = PreimageOracle::loadKeccak256PartCall {
                offset: U256::from(offset),
                preimage: Bytes::from(data.clone()),
            };
            let out = l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).expect("loads");
            if len == 120_000 {
                gas.push(out.gas);
            }
            assert_eq!(
                l1.read(key, offset),
                Some(stream_part(&data, offset)),
                "len {len} at {offset}"
            );
        }
        assert_eq!(l1.read(key, 1), None, "a part never loaded is not served");
    }
    gas_line("keccak256 part of 120,000 bytes (calldata included)", &gas);

    // Loading a part reads it from calldata: one copy of the preimage (to
    // hash it), as posting it to the rollup costs. A megabyte of zeros
    // (the cheapest calldata to post) loads in one transaction, within the
    // EIP-7623 floor of posting it (10 gas a byte) plus that copy.
    let zeros = vec![0u8; 1 << 20];
    let call = PreimageOracle::loadKeccak256PartCall {
        offset: U256::from(1000),
        preimage: Bytes::from(zeros.clone()),
    };
    let out = l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).expect("a megabyte loads");
    let words = (zeros.len() as u64).div_ceil(32);
    let copy = 3 * words + words * words / 512;
    assert!(out.gas <= 21_000 + 10 * zeros.len() as u64 + copy + 100_000, "{} gas", out.gas);
    let key = typed_key(KEY_KECCAK256, &keccak256(&zeros));
    assert_eq!(l1.read(key, 1000), Some(stream_part(&zeros, 1000)));
    eprintln!(
        "keccak256 part of 1 MiB of zeros: {} gas (posting floor {})",
        out.gas,
        21_000 + 10 * zeros.len()
    );
}

#[test]
fn poseidon_parts_hash_as_the_tree_does_and_refuse_second_preimages() {
    let mut l1 = L1::new();
    let h = TreeHasher::new(Curve::Bn254);
    let a = B256::from(U256::from(12345u64));
    let b = keccak256(b"b");
    let b = B256::from(U256::from_be_bytes(b.0) >> 8); // canonical
    let account = AccountState {
        nonce: 7,
        balance: U256::from(10u128.pow(20)),
        code_hash: keccak256(b"code"),
    };
    let slot_value = U256::from_be_bytes(keccak256(b"v").0);
    let cases: Vec<(&str, Vec<u8>, B256)> = vec![
        (
            "internal node",
            Node::Internal { left: a, right: b }.to_bytes().to_vec(),
            Node::Internal { left: a, right: b }.hash(&h),
        ),
        (
            "leaf node",
            Node::Leaf { key: b, value: a }.to_bytes().to_vec(),
            Node::Leaf { key: b, value: a }.hash(&h),
        ),
        (
            "account",
            encode_account(&account).to_vec(),
            keys::account_value_hash(&h, account.nonce, account.balance, account.code_hash),
        ),
        (
            "storage value",
            slot_value.to_be_bytes::<32>().to_vec(),
            keys::storage_value_hash(&h, slot_value),
        ),
    ];
    let mut gas = Vec::new();
    for (what, preimage, hash) in cases {
        let key = typed_key(KEY_POSEIDON, &hash);
        for offset in [0u64, 8, 40, 64] {
            let call = PreimageOracle::loadPoseidonPartCall {
                offset: U256::from(offset),
                preimage: preimage.clone().into(),
            };
            let out = l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).expect(what);
            gas.push(out.gas);
            assert_eq!(l1.read(key, offset), Some(stream_part(&preimage, offset)), "{what}");
        }
    }
    gas_line("Poseidon part (node, account, storage value)", &gas);

    // Second preimages: a word plus the modulus hashes alike (the hash
    // reduces), a nonce with high bits, a node tag other than 1 or 2, a length
    // no preimage has.
    let p = bn254_modulus();
    let mut plus_p = Node::Internal { left: a, right: b }.to_bytes();
    plus_p[1..33].copy_from_slice(&(U256::from(12345u64) + p).to_be_bytes::<32>());
    let mut big_nonce = encode_account(&account);
    big_nonce[0] = 1;
    let mut tag = Node::Internal { left: a, right: b }.to_bytes();
    tag[0] = 3;
    for (what, preimage) in [
        ("a word at or above the modulus", plus_p.to_vec()),
        ("a nonce over 64 bits", big_nonce.to_vec()),
        ("an unknown node tag", tag.to_vec()),
        ("64 bytes", vec![0u8; 64]),
    ] {
        let call =
            PreimageOracle::loadPoseidonPartCall { offset: U256::ZERO, preimage: preimage.into() };
        assert!(l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).is_err(), "{what}: loaded");
    }
}

/// The blob domain's point of field element `i`: ω^bitrev12(i).
fn evaluation_point(i: u64) -> U256 {
    let r = U256::from_str_radix(BLS_MODULUS, 16).unwrap();
    let omega = U256::from(7).pow_mod((r - U256::from(1)) / U256::from(4096), r);
    let rev = (i as u16).reverse_bits() >> 4;
    omega.pow_mod(U256::from(rev), r)
}

#[test]
fn blob_parts_are_checked_with_the_point_evaluation_precompile() {
    let settings = EnvKzgSettings::Default.get();
    let mut bytes = vec![0u8; BYTES_PER_BLOB];
    for (i, fe) in bytes.chunks_mut(32).enumerate() {
        let v = keccak256((i as u64).to_be_bytes());
        fe[1..].copy_from_slice(&v[1..]); // below the BLS modulus
    }
    let blob = c_kzg::Blob::from_bytes(&bytes).expect("a blob");
    let commitment = settings.blob_to_kzg_commitment(&blob).expect("commitment");
    let commitment = commitment.to_bytes().into_inner();
    let mut versioned = sha256(&commitment);
    versioned[0] = 1;
    let versioned = B256::from(versioned);

    let mut l1 = L1::new();
    let mut gas = Vec::new();
    for i in [0u64, 1, 2, 1000, 4095] {
        let point = evaluation_point(i);
        assert_eq!(l1_point(&mut l1, i), point, "the contract's point of element {i}");
        let (proof, y) = settings
            .compute_kzg_proof(&blob, &c_kzg::Bytes32::from(point.to_be_bytes::<32>()))
            .expect("proof");
        let element = &bytes[32 * i as usize..32 * (i as usize + 1)];
        assert_eq!(y.as_ref(), element, "element {i} is the blob's value at its point");
        let proof = proof.to_bytes().into_inner();
        let key = blob_key(&versioned, i);
        for offset in [0u64, 8] {
            let call = PreimageOracle::loadBlobPartCall {
                versionedHash: versioned,
                index: U256::from(i),
                element: B256::from_slice(element),
                commitment: commitment.to_vec().into(),
                proof: proof.to_vec().into(),
                offset: U256::from(offset),
            };
            let out =
                l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).expect("a true element loads");
            gas.push(out.gas);
            assert_eq!(l1.read(key, offset), Some(stream_part(element, offset)), "element {i}");
        }
        // Another value, another element's index, another blob's hash: refused.
        let mut wrong = B256::from_slice(element);
        wrong.0[31] ^= 1;
        let other_hash = B256::repeat_byte(1);
        for (what, versioned_hash, index, element) in [
            ("another value", versioned, i, wrong),
            ("another index", versioned, (i + 1) % 4096, B256::from_slice(element)),
            ("another versioned hash", other_hash, i, B256::from_slice(element)),
            ("an index past the blob", versioned, i + 4096, B256::from_slice(element)),
        ] {
            let call = PreimageOracle::loadBlobPartCall {
                versionedHash: versioned_hash,
                index: U256::from(index),
                element,
                commitment: commitment.to_vec().into(),
                proof: proof.to_vec().into(),
                offset: U256::ZERO,
            };
            assert!(l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).is_err(), "{what}: loaded");
        }
    }
    gas_line("blob part (point evaluation)", &gas);
}

fn l1_point(l1: &mut L1, i: u64) -> U256 {
    l1.sim.view(l1.oracle, &PreimageOracle::evaluationPointCall { index: U256::from(i) })
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use revm::precompile::{Crypto, DefaultCrypto};
    DefaultCrypto.sha256(data)
}

#[test]
fn local_parts_are_the_callers_and_the_modulus_is_the_hashs() {
    let mut l1 = L1::new();
    let game = Address::repeat_byte(0x9a);
    let ident = infra_stf::claim::local_key(2);
    let context = B256::repeat_byte(0x3c);
    let data = vec![7u8; 160];
    for offset in [0u64, 8, 160, 168] {
        let call = PreimageOracle::loadLocalPartCall {
            ident,
            localContext: context,
            offset: U256::from(offset),
            data: data.clone().into(),
        };
        l1.sim.send(ANYONE, l1.oracle, &call, U256::ZERO).expect("loads");
        // Under the key the VM reads when the caller steps it, and no other.
        let mut key = keccak256(alloy::sol_types::SolValue::abi_encode(&(ident, ANYONE, context)));
        key.0[0] = 1;
        assert_eq!(l1.read(key, offset), Some(stream_part(&data, offset)));
        let mut other = keccak256(alloy::sol_types::SolValue::abi_encode(&(ident, game, context)));
        other.0[0] = 1;
        assert_eq!(l1.read(other, offset), None, "another game's input");
        assert_eq!(l1.read(ident, offset), None, "the key as the program names it");
    }

    // An oracle whose modulus is not the one its Poseidon reduces by (the
    // BLS12-381 field with the BN254 hash: word + p would load as a second
    // preimage) is refused at deployment.
    let poseidon = l1.sim.deploy(ANYONE, PoseidonBn254::BYTECODE.to_vec());
    let bls = U256::from_str_radix(BLS_MODULUS, 16).unwrap();
    for wrong in [bls, bn254_modulus() * U256::from(2), U256::from(7)] {
        let args = PreimageOracle::constructorCall { poseidon_: poseidon, fieldModulus_: wrong };
        let initcode = [
            PreimageOracle::BYTECODE.to_vec(),
            alloy::sol_types::SolConstructor::abi_encode(&args),
        ]
        .concat();
        let out = l1.sim.exec(
            ANYONE,
            alloy::primitives::TxKind::Create,
            initcode.into(),
            U256::ZERO,
            vec![],
        );
        assert!(out.is_err(), "modulus {wrong} accepted");
    }
}
