//! The batch-level STF: a batch the sequencer sealed derives to the same
//! headers and output through the program's path (state read only through the
//! preimage oracle, from the pre-output), malformed batches derive no blocks,
//! junk transactions are dropped, and the program never decides without the
//! data it needs.

use alloy::{
    consensus::{Header, SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use infra_primitives::{
    AccountState, DepositTx, SealedBlock, SourceError, StateSource,
    batch::{BatchPayload, Codec},
};
use infra_state::{
    Curve, MemoryNodeStore, Node, NodeStore, Position, SparseMerkleTree, StateError, TreeHasher,
};
use infra_stf::{
    BaseFeeConfig, BatchData, BatchRef, BuiltBlock, ChainParams, Inclusion, InvalidBatch,
    MemorySource, Output, Preimages, block_header, build_block,
    claim::{ClaimChain, HeldDeposits, decide, record_claim},
    tree_updates,
};
use std::collections::BTreeMap;

const CHAIN_ID: u64 = 901;

fn chain() -> ChainParams {
    ChainParams {
        chain_id: CHAIN_ID,
        gas_limit: 30_000_000,
        batch_gas: 60_000_000,
        fee_recipient: Address::repeat_byte(0xfe),
        base_fee: BaseFeeConfig::default(),
    }
}

fn claim_chain() -> ClaimChain {
    ClaimChain { params: chain(), curve: Curve::Bn254 }
}

/// Stores `calldata[0..32]` at slot 0 and `blockhash(number - 1)` at slot 1;
/// reverts when the word is zero.
fn runtime() -> Vec<u8> {
    vec![
        0x60, 0x00, 0x35, 0x80, 0x60, 0x00, 0x55, 0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x01, 0x55,
        0x15, 0x60, 0x14, 0x57, 0x00, 0x5b, 0x60, 0x00, 0x80, 0xfd,
    ]
}

fn initcode() -> Vec<u8> {
    let rt = runtime();
    let n = rt.len() as u8;
    let mut c = vec![0x60, n, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xf3];
    c.extend(rt);
    c
}

const CONTRACT: Address = Address::repeat_byte(0xcc);

/// A whole state in memory, as a node's database holds it.
#[derive(Clone, Default)]
struct Mem {
    flat: MemorySource,
    nodes: MemoryNodeStore,
    headers: Vec<Header>,
}

impl StateSource for Mem {
    fn account(&self, a: Address) -> Result<Option<AccountState>, SourceError> {
        self.flat.account(a)
    }
    fn storage(&self, a: Address, s: U256) -> Result<U256, SourceError> {
        self.flat.storage(a, s)
    }
    fn code(&self, h: B256) -> Result<Option<Bytes>, SourceError> {
        self.flat.code(h)
    }
    fn block_hash(&self, n: u64) -> Result<B256, SourceError> {
        Ok(self.headers.get(n as usize).map(Header::hash_slow).unwrap_or_default())
    }
}

impl NodeStore for Mem {
    fn node(&self, p: &Position) -> Result<Option<Node>, StateError> {
        self.nodes.node(p)
    }
}

impl Mem {
    fn commit(&mut self, b: &BuiltBlock) {
        for (a, acc) in &b.changes.accounts {
            match acc {
                Some(acc) => {
                    self.flat.accounts.insert(*a, *acc);
                }
                None => {
                    self.flat.accounts.remove(a);
                }
            }
        }
        for (a, s, v) in &b.changes.storage {
            if v.is_zero() {
                self.flat.storage.remove(&(*a, *s));
            } else {
                self.flat.storage.insert((*a, *s), *v);
            }
        }
        for (h, c) in &b.changes.code {
            self.flat.code.insert(*h, c.clone());
        }
        self.nodes.apply(&b.nodes);
        self.headers.push(b.block.header.clone());
    }
}

/// The host: the pre-state's database, answering by the hints.
struct Host<'a>(&'a Mem);

fn absent(what: &str) -> SourceError {
    SourceError(format!("host has no {what}"))
}

impl Preimages for Host<'_> {
    fn node(&self, p: &Position, _: &B256) -> Result<Node, SourceError> {
        self.0.nodes.node(p).ok().flatten().ok_or_else(|| absent("node"))
    }
    fn account(&self, a: Address, _: &B256) -> Result<AccountState, SourceError> {
        self.0.flat.accounts.get(&a).copied().ok_or_else(|| absent("account"))
    }
    fn storage(&self, a: Address, s: U256, _: &B256) -> Result<U256, SourceError> {
        Ok(self.0.flat.storage.get(&(a, s)).copied().unwrap_or_default())
    }
    fn code(&self, h: &B256) -> Result<Bytes, SourceError> {
        self.0.flat.code.get(h).cloned().ok_or_else(|| absent("code"))
    }
    fn header(&self, h: &B256) -> Result<Header, SourceError> {
        self.0.headers.iter().find(|x| x.hash_slow() == *h).cloned().ok_or_else(|| absent("header"))
    }
}

/// An oracle that notes the keys read.
struct Reads<'a> {
    map: &'a BTreeMap<B256, Vec<u8>>,
    seen: std::sync::Mutex<std::collections::BTreeSet<B256>>,
}

impl infra_stf::claim::Oracle for Reads<'_> {
    fn get(&self, key: &B256) -> Result<Vec<u8>, SourceError> {
        self.seen.lock().unwrap().insert(*key);
        infra_stf::claim::Oracle::get(self.map, key)
    }
}

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
}

fn genesis(h: &TreeHasher) -> Mem {
    let mut m = Mem::default();
    for i in 1..=4u8 {
        m.flat.insert_account(key(i).address(), 0, U256::from(10u128.pow(20)), None);
    }
    m.flat.insert_account(CONTRACT, 1, U256::ZERO, Some(runtime().into()));
    m.flat.storage.insert((CONTRACT, U256::from(7)), U256::from(42));
    let changes = infra_primitives::StateChanges {
        accounts: m.flat.accounts.iter().map(|(a, s)| (*a, Some(*s))).collect(),
        storage: m.flat.storage.iter().map(|((a, s), v)| (*a, *s, *v)).collect(),
        code: vec![],
    };
    let tree = SparseMerkleTree::new(h).update(&m, B256::ZERO, tree_updates(h, &changes)).unwrap();
    m.nodes.apply(&tree.changes);
    let c = chain();
    let mut header =
        block_header(&c, B256::ZERO, 0, 1_700_000_000, c.base_fee.initial_wei, tree.root);
    header.gas_used = 0;
    m.headers.push(header);
    m
}

/// Genesis with `contracts` (address, runtime code) added to its state.
fn genesis_with(h: &TreeHasher, contracts: &[(Address, Vec<u8>)]) -> Mem {
    let mut pre = genesis(h);
    for (at, code) in contracts {
        pre.flat.insert_account(*at, 1, U256::ZERO, Some(code.clone().into()));
    }
    let changes = infra_primitives::StateChanges {
        accounts: contracts.iter().map(|(a, _)| (*a, pre.flat.accounts.get(a).copied())).collect(),
        ..Default::default()
    };
    let root = pre.headers[0].state_root;
    let tree = SparseMerkleTree::new(h).update(&pre, root, tree_updates(h, &changes)).unwrap();
    pre.nodes.apply(&tree.changes);
    pre.headers[0].state_root = tree.root;
    pre
}

/// Seals `txs` (all of which must make it in) on `m`'s last block, `dt`
/// seconds after it, and commits the block to `m`.
fn seal(m: &mut Mem, h: &TreeHasher, dt: u64, txs: Vec<(TxEnvelope, Address)>) -> BuiltBlock {
    let parent = m.headers.last().unwrap().clone();
    let built = build_block(
        &*m,
        &parent,
        &chain(),
        h,
        parent.timestamp + dt,
        vec![],
        txs,
        Inclusion::Pool,
        |_| {},
    )
    .unwrap();
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);
    m.commit(&built);
    built
}

fn eip1559(from: u8, nonce: u64, to: TxKind, value: u64, input: Vec<u8>) -> TxEnvelope {
    let t = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = key(from).sign_hash_sync(&t.signature_hash()).unwrap();
    t.into_signed(sig).into()
}

fn word(v: u64) -> Vec<u8> {
    U256::from(v).to_be_bytes::<32>().to_vec()
}

fn deposit(nonce: u64) -> DepositTx {
    DepositTx {
        nonce,
        l1_block: 10 + nonce,
        from: Address::repeat_byte(0xd0),
        to: CONTRACT,
        value: U256::from(1_000_000u64),
        gas_limit: 100_000,
        data: word(99 + nonce).into(),
    }
}

/// The sequencer seals three blocks on genesis: transfers, a deploy, calls
/// that write storage and read BLOCKHASH, a reverting call, a deposit calling
/// the contract. Returns the pre-state, the blocks and the state after them.
fn sealed(h: &TreeHasher) -> (Mem, Vec<SealedBlock>, Mem) {
    let pre = genesis(h);
    let mut m = pre.clone();
    let c = chain();
    let plan: Vec<(Vec<DepositTx>, Vec<TxEnvelope>)> = vec![
        (
            vec![],
            vec![
                eip1559(1, 0, TxKind::Call(key(2).address()), 5, vec![]),
                eip1559(3, 0, TxKind::Create, 0, initcode()),
            ],
        ),
        (
            vec![deposit(0)],
            vec![
                eip1559(1, 1, TxKind::Call(CONTRACT), 0, word(5)),
                eip1559(2, 0, TxKind::Call(CONTRACT), 0, word(0)), // reverts
            ],
        ),
        (
            vec![deposit(1), deposit(2)],
            vec![
                eip1559(4, 0, TxKind::Call(CONTRACT), 3, word(6)),
                eip1559(1, 2, TxKind::Call(key(3).address()), 7, vec![]),
            ],
        ),
    ];
    let mut blocks = vec![];
    for (i, (deposits, txs)) in plan.into_iter().enumerate() {
        let parent = m.headers.last().unwrap().clone();
        let candidates: Vec<_> = txs
            .into_iter()
            .map(|t| {
                let s = infra_stf::recover_sender(t).unwrap();
                (s.0, s.1)
            })
            .collect();
        let n = candidates.len();
        let built = build_block(
            &m,
            &parent,
            &c,
            h,
            parent.timestamp + 2 + i as u64,
            deposits,
            candidates,
            Inclusion::Pool,
            |_| {},
        )
        .unwrap();
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        assert_eq!(built.block.transactions.len(), n);
        m.commit(&built);
        blocks.push(built.block);
    }
    (pre, blocks, m)
}

fn pre_output(pre: &Mem) -> Output {
    Output::after(&chain(), pre.headers.last().unwrap(), 0)
}

/// The deposits of [`deposits`] as held from nonce 0.
fn held(deposits: &[DepositTx]) -> HeldDeposits<'_> {
    HeldDeposits { base: B256::ZERO, deposits }
}

fn deposits() -> Vec<DepositTx> {
    (0..4).map(deposit).collect()
}

/// Runs the host (records preimages) then the program's path (oracle only);
/// both must agree. Returns the program's decision output and invalid reason.
fn derive(pre: &Mem, batch: &BatchRef<'_>) -> (Output, Option<InvalidBatch>, usize) {
    let p = pre_output(pre);
    let (host, preimages) =
        record_claim(Host(pre), &claim_chain(), &p, &p, batch, &held(&deposits()))
            .expect("host run");
    let program = decide(&preimages).expect("program run");
    assert_eq!(program.applied.output, host.output, "host and program disagree");
    assert_eq!(program.applied.invalid, host.invalid);
    assert_eq!(program.applied.headers, host.headers);
    let dropped: usize = program.applied.dropped.iter().map(Vec::len).sum();
    (program.applied.output, program.applied.invalid, dropped)
}

#[test]
fn a_batch_derives_what_the_sequencer_sealed_from_the_oracle_alone() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, post) = sealed(&h);
    let last = blocks.last().unwrap();
    // Something happened: the deploy, the stores, the deposit's call.
    let deployed = Address::create(&key(3).address(), 0);
    assert_eq!(post.flat.accounts[&deployed].code_hash, keccak256(runtime()));
    assert_eq!(post.flat.storage[&(CONTRACT, U256::ZERO)], U256::from(6));
    assert_ne!(post.flat.storage[&(CONTRACT, U256::from(1))], U256::ZERO, "BLOCKHASH stored");

    let want = Output::after(&chain(), &last.header, 3);
    for codec in [Codec::None, Codec::Zstd] {
        let data = BatchPayload::from_blocks(&blocks).unwrap().encode(codec);
        let batch = BatchRef {
            first_block: 1,
            last_block: 3,
            data: &BatchData::Calldata(data.clone().into()),
        };
        let p = pre_output(&pre);
        let (_, preimages) =
            record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &held(&deposits()))
                .unwrap();
        let d = decide(&preimages).unwrap();
        assert_eq!(d.applied.invalid, None);
        assert_eq!(d.applied.output, want);
        let sealed_headers: Vec<_> = blocks.iter().map(|b| b.header.clone()).collect();
        assert_eq!(d.applied.headers, sealed_headers);
        assert!(d.claim_holds());

        // A wrong claim does not hold, whichever field is wrong.
        for wrong in [
            Output { state_root: keccak256(want.state_root), ..want },
            Output { block_hash: keccak256(want.block_hash), ..want },
            Output { next_base_fee: want.next_base_fee + 1, ..want },
            Output { next_deposit_nonce: 4, ..want },
        ] {
            let mut m = preimages.clone();
            m.insert(infra_stf::claim::local_key(2), wrong.encode().to_vec());
            assert!(!decide(&m).unwrap().claim_holds());
        }

        // A second preimage of a leaf (its key plus the field's modulus hashes
        // alike, since hashing reduces): refused, never read as another key.
        let r = U256::from_str_radix(
            "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
            16,
        )
        .unwrap();
        let mut forged = preimages.clone();
        let (k, leaf) = forged
            .iter_mut()
            .find(|(k, v)| k.0[0] == 3 && v.len() == 65 && v[0] == 2)
            .expect("a leaf preimage");
        let key = U256::from_be_slice(&leaf[1..33]) + r;
        leaf[1..33].copy_from_slice(&key.to_be_bytes::<32>());
        let k = *k;
        let err = decide(&forged).expect_err("a non-canonical leaf is refused");
        assert!(err.to_string().contains("canonical"), "{err} ({k})");

        // Without any one of the preimages it reads the program cannot
        // decide: it fails, it never returns an answer.
        let reads = Reads { map: &preimages, seen: Default::default() };
        decide(&reads).unwrap();
        let read = reads.seen.into_inner().unwrap();
        assert!(read.len() > 20, "{} preimages read", read.len());
        for k in read.iter().step_by(3) {
            let mut m = preimages.clone();
            m.remove(k);
            assert!(decide(&m).is_err(), "decided without {k}");
        }
    }
}

#[test]
fn malformed_batches_derive_no_blocks_in_the_node_and_the_program_alike() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let payload = BatchPayload::from_blocks(&blocks).unwrap();
    let good = payload.encode(Codec::None);
    let p = pre_output(&pre);
    let mut cases: Vec<(&str, Vec<u8>, u64, u64)> = vec![
        ("empty", vec![], 1, 3),
        ("version 2", [&[2u8][..], &good[1..]].concat(), 1, 3),
        ("unknown codec", [&[1u8, 9][..], &good[2..]].concat(), 1, 3),
        ("truncated", good[..good.len() - 5].to_vec(), 1, 3),
        ("trailing byte", [&good[..], &[0u8][..]].concat(), 1, 3),
        ("not RLP", vec![1, 0, 0xff, 0xff], 1, 3),
        ("recorded range longer", good.clone(), 1, 4),
        ("recorded range shorter", good.clone(), 1, 2),
        ("not after the pre-output", good.clone(), 2, 3),
    ];
    let zstd = payload.encode(Codec::Zstd);
    cases.push(("truncated zstd", zstd[..zstd.len() - 3].to_vec(), 1, 3));
    let mut other_parent = payload.clone();
    other_parent.parent_hash = B256::repeat_byte(1);
    cases.push(("another parent", other_parent.encode(Codec::None), 1, 3));
    let mut too_many = payload.clone();
    too_many.blocks[2].deposit_count = 4; // nonces 1..=4: 4 was never deposited
    cases.push(("a deposit L1 does not hold", too_many.encode(Codec::None), 1, 3));
    let mut overflow = payload.clone();
    overflow.blocks[1].deposit_count = u64::MAX;
    cases.push(("a deposit count that overflows", overflow.encode(Codec::None), 1, 3));
    let mut empty = payload.clone();
    empty.blocks.clear();
    cases.push(("no blocks", empty.encode(Codec::None), 1, 0));
    // A few bytes of zstd for millions of empty blocks, or of junk entries:
    // refused before any is built (the work of deciding a batch is bounded).
    let mut many = payload.clone();
    let filler = infra_primitives::batch::BatchBlock {
        timestamp: blocks[2].header.timestamp,
        deposit_count: 0,
        transactions: vec![],
    };
    many.blocks.resize(infra_stf::MAX_BATCH_BLOCKS as usize + 1, filler);
    let last = infra_stf::MAX_BATCH_BLOCKS + 1;
    cases.push(("too many blocks", many.encode(Codec::Zstd), 1, last));
    let mut crowded = payload.clone();
    let max = infra_stf::max_block_transactions(&chain()) as usize;
    crowded.blocks[1].transactions = vec![Bytes::from(vec![0x02, 0xc0]); max + 1];
    cases.push(("more transactions than gas", crowded.encode(Codec::Zstd), 1, 3));
    // Each block within its own limit, the batch over its budget's count
    // (60 M / 21,000 = 2,857): junk entries cost a signature recovery each.
    let mut crowded = payload.clone();
    crowded.blocks[0].transactions = vec![Bytes::from(vec![0x02, 0xc0]); max];
    crowded.blocks[1].transactions = vec![Bytes::from(vec![0x02, 0xc0]); max];
    assert!(2 * max + 2 > (chain().batch_gas / 21_000) as usize);
    cases.push(("more transactions than the gas budget", crowded.encode(Codec::Zstd), 1, 3));

    for (what, data, first, last) in cases {
        let batch = BatchRef {
            first_block: first,
            last_block: last,
            data: &BatchData::Calldata(data.clone().into()),
        };
        let (out, invalid, _) = derive(&pre, &batch);
        assert!(invalid.is_some(), "{what}: accepted");
        assert_eq!(out, p, "{what}: an invalid batch's output is the pre-output");
        // The node's derivation plans with the same function.
        let planned = infra_stf::plan_batch(
            &chain(),
            &p,
            &batch,
            &BTreeMap::from_iter(deposits().into_iter().map(|d| (d.nonce, d))),
        )
        .unwrap();
        assert_eq!(planned.err(), invalid, "{what}");
    }
}

/// The gas budget: a dishonest sequencer posts three blocks in a batch whose
/// budget admits only two (the third starts with less than its deposits' and
/// a full block's gas left). The whole batch is invalid, in the program and the node alike: the
/// claim of the sealed output does not hold, the pre-output does. With one
/// more unit of budget, or without the third block, the batch is valid.
#[test]
fn a_batch_past_its_gas_budget_derives_no_blocks() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let used: Vec<u64> = blocks.iter().map(|b| b.header.gas_used).collect();
    assert!(used.iter().all(|u| *u > 21_000), "{used:?}");
    let p = pre_output(&pre);
    let sealed_output =
        |last: usize| Output::after(&chain(), &blocks[last].header, [0, 1, 3][last]);
    let decide_with = |batch_gas: u64, last: usize| {
        let params = ChainParams { batch_gas, ..chain() };
        let data = BatchPayload::from_blocks(&blocks[..=last]).unwrap().encode(Codec::Zstd);
        let data = BatchData::Calldata(data.into());
        let batch = BatchRef { first_block: 1, last_block: last as u64 + 1, data: &data };
        let claim = ClaimChain { params: params.clone(), curve: Curve::Bn254 };
        let want = sealed_output(last);
        let (host, preimages) =
            record_claim(Host(&pre), &claim, &p, &want, &batch, &held(&deposits())).unwrap();
        let d = decide(&preimages).unwrap();
        assert_eq!(d.applied.output, host.output, "host and program agree");
        assert_eq!(d.applied.invalid, host.invalid);
        // The node's derivation applies the same budget, block by block.
        let mut budget = infra_stf::GasBudget::new(&params);
        let node = blocks[..=last].iter().try_for_each(|b| {
            let deposit_gas = infra_stf::deposit_gas(&b.deposits);
            budget.admit(b.number(), deposit_gas)?;
            budget.spend(b.header.gas_used, deposit_gas);
            Ok::<_, InvalidBatch>(())
        });
        assert_eq!(node.err(), d.applied.invalid);
        d
    };
    // Each block is charged BLOCK_GAS, its gas used and its deposits' gas
    // limits (block 2 opens with one deposit of 100,000 gas, block 3 with two).
    let gas_limit = chain().gas_limit;
    let block = infra_stf::BLOCK_GAS;
    let tight = 3 * block + used[0] + used[1] + 100_000 + 200_000 + gas_limit - 1;
    let d = decide_with(tight, 2);
    assert_eq!(
        d.applied.invalid,
        Some(InvalidBatch::OverBudget {
            block: 3,
            used: 2 * block + used[0] + used[1] + 100_000,
            deposit_gas: 200_000,
            gas_limit,
            budget: tight
        })
    );
    assert_eq!(d.applied.output, p, "an invalid batch derives to its pre-output");
    assert!(!d.claim_holds(), "the sealed output is not what the batch derives to");
    assert!(d.applied.headers.is_empty());
    // Enough budget: valid, and the sealed output holds.
    let d = decide_with(tight + 1, 2);
    assert_eq!(d.applied.invalid, None);
    assert!(d.claim_holds());
    // The same tight budget admits the first two blocks (what an honest
    // batcher posts: it ends the batch where the next block is not admitted).
    let d = decide_with(tight, 1);
    assert_eq!(d.applied.invalid, None);
    assert!(d.claim_holds());
}

/// A block's deposits may not ask for more gas than its gas limit (they run
/// before its transactions): a sequencer cannot stack L1's deposits into one
/// heavy block past the limit.
#[test]
fn deposits_over_a_block_gas_limit_make_the_batch_invalid() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let p = pre_output(&pre);
    let data =
        BatchData::Calldata(BatchPayload::from_blocks(&blocks).unwrap().encode(Codec::None).into());
    let batch = BatchRef { first_block: 1, last_block: 3, data: &data };
    let held = BTreeMap::from_iter(deposits().into_iter().map(|d| (d.nonce, d)));
    // Block 3 opens with deposits 1 and 2: 200,000 gas.
    let tight = ChainParams { gas_limit: 199_999, ..chain() };
    assert_eq!(
        infra_stf::plan_batch(&tight, &p, &batch, &held).unwrap().err(),
        Some(InvalidBatch::DepositGas { block: 3, gas: 200_000, gas_limit: 199_999 })
    );
    let enough = ChainParams { gas_limit: 200_000, ..chain() };
    assert!(infra_stf::plan_batch(&enough, &p, &batch, &held).unwrap().is_ok());
}

/// Blobs as the batcher posts them (alloy's `SimpleCoder`), with their real
/// versioned hashes.
fn blob_batch(blobs: Vec<alloy::eips::eip4844::Blob>) -> BatchData {
    let sidecar = alloy::consensus::BlobTransactionSidecar::try_from_blobs_with_settings(
        blobs.clone(),
        alloy::consensus::EnvKzgSettings::Default.get(),
    )
    .unwrap();
    BatchData::Blobs(
        sidecar
            .versioned_hashes()
            .zip(blobs)
            .map(|(versioned_hash, b)| infra_stf::PostedBlob {
                versioned_hash,
                data: Bytes::copy_from_slice(b.as_slice()),
            })
            .collect(),
    )
}

fn encode_blobs(payload: &[u8]) -> Vec<alloy::eips::eip4844::Blob> {
    use alloy::eips::eip4844::builder::{SidecarBuilder, SimpleCoder};
    SidecarBuilder::<SimpleCoder>::from_slice(payload).take()
}

#[test]
fn a_blob_batch_derives_from_its_field_elements_alone() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let want = Output::after(&chain(), &blocks[2].header, 3);
    let p = pre_output(&pre);
    // The payload in one blob, and in one blob with an empty one after it
    // (the simple encoding ends at a zero length word).
    let payload = BatchPayload::from_blocks(&blocks).unwrap().encode(Codec::Zstd);
    for data in [blob_batch(encode_blobs(&payload)), {
        // The same payload spread over two blobs (it ends in the second).
        let mut blobs = encode_blobs(&payload);
        blobs.push(alloy::eips::eip4844::Blob::ZERO);
        blob_batch(blobs)
    }] {
        let batch = BatchRef { first_block: 1, last_block: 3, data: &data };
        let (_, preimages) =
            record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &held(&deposits()))
                .unwrap();
        let reads = Reads { map: &preimages, seen: Default::default() };
        let d = decide(&reads).unwrap();
        assert_eq!(d.applied.invalid, None);
        assert!(d.claim_holds());
        // Every field element of every blob is read by its blob key, and the
        // calldata key of the payload is not served at all.
        let seen = reads.seen.into_inner().unwrap();
        let blob_keys = seen.iter().filter(|k| k.0[0] == infra_stf::claim::KEY_BLOB).count();
        assert_eq!(blob_keys, 4096 * data.blob_count());
        assert!(!preimages.contains_key(&infra_stf::claim::typed_key(2, &keccak256(&payload))));
        // One field element missing: the program cannot decide.
        let BatchData::Blobs(posted) = &data else { unreachable!() };
        let mut missing = preimages.clone();
        missing.remove(&infra_stf::claim::blob_key(&posted[0].versioned_hash, 4095));
        assert!(decide(&missing).is_err());
    }
}

#[test]
fn malformed_blob_batches_derive_no_blocks_in_the_node_and_the_program_alike() {
    use alloy::eips::eip4844::Blob;
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let p = pre_output(&pre);
    let payload = BatchPayload::from_blocks(&blocks).unwrap().encode(Codec::Zstd);
    let good = encode_blobs(&payload)[0];
    let mut top_bit = good;
    // A field element below the BLS modulus whose first byte has bit 6 set:
    // the simple encoding keeps both top bits clear.
    top_bit[32 * 3] = 0x40;
    let mut long = good;
    long[1..9].copy_from_slice(&(1u64 << 20).to_be_bytes()); // a length past the blob
    let mut huge = good;
    huge[1..9].copy_from_slice(&u64::MAX.to_be_bytes()); // over the 2 MiB a piece may hold
    let mut junk = Blob::ZERO;
    junk[1..9].copy_from_slice(&3u64.to_be_bytes());
    junk[33..36].copy_from_slice(&[1, 0, 0xff]); // a well-encoded payload that is not RLP
    for (what, blobs) in [
        ("a field element with bit 254 set", vec![top_bit]),
        ("a length past the data", vec![long]),
        ("a length over 2 MiB", vec![huge]),
        ("no data (all zero)", vec![Blob::ZERO]),
        ("a payload that does not decode", vec![junk]),
    ] {
        let data = blob_batch(blobs);
        let batch = BatchRef { first_block: 1, last_block: 3, data: &data };
        let (out, invalid, _) = derive(&pre, &batch);
        let Some(InvalidBatch::Decode(why)) = &invalid else {
            panic!("{what}: {invalid:?}");
        };
        assert_eq!(out, p, "{what}: an invalid batch's output is the pre-output");
        let planned = infra_stf::plan_batch(&chain(), &p, &batch, &BTreeMap::new()).unwrap();
        assert_eq!(planned.err(), invalid, "{what}: {why}");
    }
}

#[test]
fn junk_transactions_are_dropped_and_the_rest_still_derive() {
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let want = Output::after(&chain(), &blocks[2].header, 3);
    let mut payload = BatchPayload::from_blocks(&blocks).unwrap();

    // A high-s twin of a real signature (EIP-2 refuses it), garbage, a
    // deposit-typed transaction, a transaction with a byte after it, one for
    // another chain, and a replay of a transaction already included.
    let t = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 3,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(9)),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = key(1).sign_hash_sync(&t.signature_hash()).unwrap();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let high_s = alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    let high: TxEnvelope = t.into_signed(high_s).into();
    let mut trailing = eip1559(2, 1, TxKind::Call(CONTRACT), 0, word(1)).encoded_2718();
    trailing.push(0);
    let mut other_chain = TxEip1559 {
        chain_id: 1,
        nonce: 1,
        gas_limit: 50_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(CONTRACT),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    other_chain.nonce = 1;
    let sig = key(2).sign_hash_sync(&other_chain.signature_hash()).unwrap();
    let other_chain: TxEnvelope = other_chain.into_signed(sig).into();
    let junk: Vec<Bytes> = vec![
        high.encoded_2718().into(),
        vec![0x02, 0xc0].into(),
        deposit(3).encoded_2718().into(),
        trailing.into(),
        other_chain.encoded_2718().into(),
        blocks[0].transactions[0].encoded_2718().into(),
    ];
    let added = junk.len();
    payload.blocks[2].transactions.extend(junk);
    let data = payload.encode(Codec::Zstd);
    let batch =
        BatchRef { first_block: 1, last_block: 3, data: &BatchData::Calldata(data.clone().into()) };
    let (out, invalid, dropped) = derive(&pre, &batch);
    assert_eq!(invalid, None);
    assert_eq!(dropped, added);
    assert_eq!(out, want, "dropped transactions change nothing");
}

#[test]
fn the_output_encodes_as_the_rollup_contract_does() {
    alloy::sol! {
        struct Out { bytes32 stateRoot; uint64 l2BlockNumber; bytes32 l2BlockHash; uint64 nextBaseFee; uint64 nextDepositNonce; }
    }
    use alloy::sol_types::SolValue;
    let o = Output {
        state_root: B256::repeat_byte(1),
        block_number: u64::MAX - 1,
        block_hash: B256::repeat_byte(2),
        next_base_fee: 12345,
        next_deposit_nonce: 1 << 40,
    };
    let abi = Out {
        stateRoot: o.state_root,
        l2BlockNumber: o.block_number,
        l2BlockHash: o.block_hash,
        nextBaseFee: o.next_base_fee,
        nextDepositNonce: o.next_deposit_nonce,
    }
    .abi_encode();
    assert_eq!(o.encode().to_vec(), abi);
    assert_eq!(Output::decode(&abi), Some(o));
    let mut high = abi.clone();
    high[40] = 1; // a block number above 64 bits has no Output
    assert_eq!(Output::decode(&high), None);
    assert_eq!(Output::decode(&abi[1..]), None);
}

fn program_path(var: &str) -> std::path::PathBuf {
    std::env::var_os(var)
        .unwrap_or_else(|| {
            panic!(
                "{var} is not set: build the program with scripts/build-program.sh (and --native) \
                 and point {var} at it; scripts/test.sh does both"
            )
        })
        .into()
}

fn vm_for(
    elf: &[u8],
    preimages: &BTreeMap<B256, Vec<u8>>,
) -> infra_fpvm::Vm<infra_fpvm::Preimages> {
    let mut p = infra_fpvm::Preimages::default();
    for (k, v) in preimages {
        p.insert(*k, v.clone());
    }
    infra_fpvm::Vm::from_elf(elf, p).expect("a RISC-V executable")
}

/// Runs the native program on `preimages`: its stdout and exit code.
fn native_program(preimages: &BTreeMap<B256, Vec<u8>>) -> (String, i32) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preimages");
    std::fs::write(&file, infra_stf::claim::encode_preimages(preimages)).unwrap();
    let out = std::process::Command::new(program_path("INFRA_PROGRAM_NATIVE"))
        .arg(&file)
        .output()
        .expect("the native program runs");
    (String::from_utf8(out.stdout).unwrap(), out.status.code().unwrap_or(-1))
}

/// The program (RISC-V, in the VM) decides what the same program decides
/// natively, for an honest claim, a wrong one and every malformed batch; it
/// cannot decide without its preimages; sampled steps of the trace verify
/// with the reference step verifier.
#[test]
fn the_program_in_the_vm_decides_as_it_does_natively() {
    use infra_fpvm::{STATUS_INVALID, STATUS_VALID, verify_step};
    let elf = std::fs::read(program_path("INFRA_PROGRAM_ELF")).expect("the program's ELF");
    let h = TreeHasher::new(Curve::Bn254);
    let (pre, blocks, _) = sealed(&h);
    let want = Output::after(&chain(), &blocks[2].header, 3);
    let data = BatchPayload::from_blocks(&blocks).unwrap().encode(Codec::Zstd);
    let batch =
        BatchRef { first_block: 1, last_block: 3, data: &BatchData::Calldata(data.clone().into()) };
    let p = pre_output(&pre);
    let (_, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &held(&deposits())).unwrap();

    let mut vm = vm_for(&elf, &preimages);
    vm.snapshot_every = 1 << 20;
    let start = std::time::Instant::now();
    let end = vm.run_to(u64::MAX).expect("every preimage is there");
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&vm.output).to_string();
    assert_eq!(end.exit, Some(0), "{text}");
    assert_eq!(vm.state().status(), STATUS_VALID);
    assert_eq!(infra_stf::claim::reported_output(&text), Some(want));
    let (native_text, native_code) = native_program(&preimages);
    assert_eq!((native_text.as_str(), native_code), (text.as_str(), 0));
    eprintln!(
        "3-block batch: {} instructions, {:.1} ms in the VM ({:.1} M instructions/s)",
        end.steps,
        took.as_secs_f64() * 1e3,
        end.steps as f64 / took.as_secs_f64() / 1e6
    );

    // Sampled steps of the real trace, each proven and verified.
    let mut checker = vm_for(&elf, &preimages).oracle;
    let samples = 40;
    for i in 0..samples {
        let k = end.steps * i / samples;
        vm.seek(k).unwrap();
        let proof = vm.prove_step().unwrap();
        let (_, post) = verify_step(&proof.pre_state, &proof.mem_proofs, &mut checker)
            .unwrap_or_else(|e| panic!("step {k}: {e}"));
        assert_eq!(post, proof.post_hash, "step {k}");
    }

    // A wrong claim: status invalid, natively exit 1.
    let mut wrong = preimages.clone();
    let bad = Output { state_root: B256::repeat_byte(7), ..want };
    wrong.insert(infra_stf::claim::local_key(2), bad.encode().to_vec());
    let mut vm = vm_for(&elf, &wrong);
    assert_eq!(vm.run_to(u64::MAX).unwrap().exit, Some(1));
    assert_eq!(vm.state().status(), STATUS_INVALID);
    assert_eq!(native_program(&wrong).1, 1);

    // A missing preimage: the VM cannot go on (no step reads what is not
    // there), and the native program says it cannot decide.
    let mut missing = preimages.clone();
    let node_key = *missing.keys().find(|k| k.0[0] == 3).unwrap();
    missing.remove(&node_key);
    assert!(vm_for(&elf, &missing).run_to(u64::MAX).is_err());
    assert_eq!(native_program(&missing).1, 2);

    // Malformed batches: the program derives the pre-output, as the node does.
    for (what, bytes) in [
        ("truncated", data[..data.len() - 4].to_vec()),
        ("unknown codec", [&[1u8, 7][..], &data[2..]].concat()),
        ("trailing byte", [&data[..], &[0u8][..]].concat()),
    ] {
        let batch = BatchRef {
            first_block: 1,
            last_block: 3,
            data: &BatchData::Calldata(bytes.clone().into()),
        };
        let (host, preimages) =
            record_claim(Host(&pre), &claim_chain(), &p, &p, &batch, &held(&deposits())).unwrap();
        assert!(host.invalid.is_some(), "{what}");
        let mut vm = vm_for(&elf, &preimages);
        let end = vm.run_to(u64::MAX).unwrap();
        let text = String::from_utf8_lossy(&vm.output).to_string();
        assert_eq!(end.exit, Some(0), "{what}: {text}");
        assert_eq!(infra_stf::claim::reported_output(&text), Some(p), "{what}");
        assert!(text.contains("invalid "), "{what}: {text}");
    }

    // A blob batch: the program reads its 4,096 field elements one by one.
    let data = blob_batch(encode_blobs(&data));
    let batch = BatchRef { first_block: 1, last_block: 3, data: &data };
    let (_, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &held(&deposits())).unwrap();
    let mut vm = vm_for(&elf, &preimages);
    let end = vm.run_to(u64::MAX).unwrap();
    let text = String::from_utf8_lossy(&vm.output).to_string();
    assert_eq!(end.exit, Some(0), "{text}");
    assert_eq!(infra_stf::claim::reported_output(&text), Some(want));
    assert_eq!(native_program(&preimages), (text, 0));
    eprintln!("the same batch in one blob: {} instructions", end.steps);
}

/// Calls precompile `calldata[32..64]` with `calldata[64..]` and stores the
/// call's success at slot `calldata[0..32]` and keccak256 of what it returned
/// at the next slot: any difference in a precompile's result changes the
/// state root.
fn probe_runtime() -> Vec<u8> {
    vec![
        0x60, 0x40, 0x36, 0x03, // len = calldatasize - 64
        0x80, 0x60, 0x40, 0x60, 0x00, 0x37, // mem[0..len] = calldata[64..]
        0x60, 0x00, 0x60, 0x00, 0x82, 0x60, 0x00, 0x60, 0x20, 0x35, 0x5a, 0xfa, // staticcall
        0x60, 0x00, 0x35, 0x55, // sstore(slot, success)
        0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, // returndatacopy(0, 0, returndatasize)
        0x3d, 0x60, 0x00, 0x20, // keccak256(0, returndatasize)
        0x60, 0x01, 0x60, 0x00, 0x35, 0x01, 0x55, // sstore(slot + 1, hash)
        0x00,
    ]
}

const PROBE: Address = Address::repeat_byte(0xab);

fn hex(s: &str) -> Vec<u8> {
    alloy::primitives::hex::decode(s).unwrap()
}

/// (precompile, input, whether it must succeed) for edge cases where the
/// node's backends (secp256k1, blst, c-kzg) and the program's (k256,
/// arkworks) could differ.
fn precompile_cases() -> Vec<(u64, Vec<u8>, bool)> {
    let w = |v: U256| v.to_be_bytes::<32>().to_vec();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let hash = keccak256(b"infra");
    let sig = key(1).sign_hash_sync(&hash).unwrap();
    let v = U256::from(27 + u64::from(sig.v()));
    let ecrecover = |v: U256, r: U256, s: U256| [hash.to_vec(), w(v), w(r), w(s)].concat();
    let flip = U256::from(27 + u64::from(!sig.v()));
    let g1 = "0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1";
    let mut g1_off = hex(g1);
    g1_off[127] ^= 1; // not on the curve
    let kzg_commitment = hex(
        "8f59a8d2a1a625a17f3fea0fe5eb8c896db3764f3185481bc22f91b4aaffcca25f26936857bc3a7c2539ea8ec3a952b7",
    );
    use infra_stf::revm::precompile::{Crypto, DefaultCrypto};
    let mut versioned = DefaultCrypto.sha256(&kzg_commitment).to_vec();
    versioned[0] = 1;
    let kzg = [
        versioned,
        hex("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000"),
        hex("1522a4a7f34e1ea350ae07c29c96c7e79655aa926122e95fe69fcbd932ca49e9"),
        kzg_commitment,
        hex("a62ad71d14c5719385c0686f1871430475bf3a00f0aa3f7b8dd99a9abc2160744faf0070725e00b60ad9a026a15b1a8c"),
    ]
    .concat();
    let mut kzg_wrong = kzg.clone();
    kzg_wrong[95] ^= 1; // another y
    let mut blake = vec![0u8; 213];
    blake[3] = 12;
    let mut blake_bad = blake.clone();
    blake_bad[212] = 2;
    let mut fp_big = vec![0u8; 16];
    fp_big.extend([0xff; 48]);
    vec![
        (1, ecrecover(v, U256::from_be_bytes(sig.r().to_be_bytes::<32>()), sig.s()), true),
        (1, ecrecover(flip, sig.r(), n - sig.s()), true), // high s: the precompile allows it
        (1, ecrecover(U256::from(29), sig.r(), sig.s()), true),
        (1, ecrecover(v, U256::ZERO, sig.s()), true),
        (1, ecrecover(v, n, sig.s()), true),
        (1, ecrecover(v, sig.r(), n), true),
        (1, vec![0xee; 17], true),
        (2, b"abc".to_vec(), true),
        (3, b"abc".to_vec(), true),
        (5, [w(U256::from(1)), w(U256::from(1)), w(U256::from(1)), vec![3, 5, 0]].concat(), true),
        (5, [w(U256::from(1)), w(U256::from(1)), w(U256::ZERO), vec![3, 5]].concat(), true),
        (
            6,
            [w(U256::from(1)), w(U256::from(2)), w(U256::from(1)), w(U256::from(2))].concat(),
            true,
        ),
        (
            6,
            [w(U256::from(1)), w(U256::from(3)), w(U256::from(1)), w(U256::from(2))].concat(),
            false,
        ),
        (7, [w(U256::from(1)), w(U256::from(2)), w(n)].concat(), true),
        (8, vec![], true),
        (8, vec![0u8; 192], true),
        (8, vec![0u8; 100], false),
        (9, blake, true),
        (9, blake_bad, false),
        (10, kzg, true),
        (10, kzg_wrong, false),
        (11, [hex(g1), hex(g1)].concat(), true),
        (11, [hex(g1), g1_off.clone()].concat(), false),
        (11, vec![0u8; 256], true),
        (12, [hex(g1), w(U256::from(2))].concat(), true),
        (12, [g1_off, w(U256::from(2))].concat(), false),
        (13, vec![0u8; 512], true),
        (15, vec![0u8; 384], true),
        (15, vec![], false),
        (16, [vec![0u8; 63], vec![1]].concat(), true),
        (16, fp_big, false),
        (0x100, vec![0x5a; 160], true),
    ]
}

/// Precompiles give the same results with the node's backends (C: secp256k1,
/// blst, c-kzg, natively) and the program's (pure Rust: k256, arkworks, in the
/// VM): a contract stores each call's success and output hash, and the VM
/// derives the node's state root.
#[test]
fn precompiles_agree_between_the_node_and_the_program() {
    let elf = std::fs::read(program_path("INFRA_PROGRAM_ELF")).expect("the program's ELF");
    let h = TreeHasher::new(Curve::Bn254);
    let pre = genesis_with(&h, &[(PROBE, probe_runtime())]);

    let cases = precompile_cases();
    let txs: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (addr, input, _))| {
            let data = [
                U256::from(2 * i as u64).to_be_bytes::<32>().to_vec(),
                U256::from(*addr).to_be_bytes::<32>().to_vec(),
                input.clone(),
            ]
            .concat();
            let tx = eip1559(1 + (i % 4) as u8, (i / 4) as u64, TxKind::Call(PROBE), 0, data);
            infra_stf::recover_sender(tx).unwrap()
        })
        .collect();
    let mut m = pre.clone();
    let built = seal(&mut m, &h, 1, txs);
    for (i, (addr, _, ok)) in cases.iter().enumerate() {
        let stored = m.flat.storage.get(&(PROBE, U256::from(2 * i as u64))).copied();
        assert_eq!(
            stored.unwrap_or_default(),
            U256::from(u8::from(*ok)),
            "case {i}: precompile {addr:#x}"
        );
    }

    let want = Output::after(&chain(), &built.block.header, 0);
    let data =
        BatchPayload::from_blocks(std::slice::from_ref(&built.block)).unwrap().encode(Codec::None);
    let batch =
        BatchRef { first_block: 1, last_block: 1, data: &BatchData::Calldata(data.clone().into()) };
    let p = Output::after(&chain(), &pre.headers[0], 0);
    let (host, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &HeldDeposits::NONE).unwrap();
    assert_eq!(host.output, want);
    let mut vm = vm_for(&elf, &preimages);
    let end = vm.run_to(u64::MAX).expect("every preimage is there");
    let text = String::from_utf8_lossy(&vm.output).to_string();
    assert_eq!(infra_stf::claim::reported_output(&text), Some(want), "{text}");
    assert_eq!(end.exit, Some(0), "{text}");
}

/// Repeats one access to a new address or slot (`op`: BALANCE, EXTCODEHASH,
/// SLOAD; SSTORE writes slot i) while more than 30,000 gas is left.
fn access_loop(op: u8) -> Vec<u8> {
    let body: &[u8] = if op == 0x55 { &[0x80, 0x80, 0x55] } else { &[0x80, op, 0x50] };
    let tail = [0x60, 0x01, 0x01, 0x61, 0x75, 0x30, 0x5a, 0x11, 0x60, 0x02, 0x57, 0x00];
    [&[0x60, 0x00, 0x5b][..], body, &tail].concat()
}

/// Calls precompile `calldata[0..32]` with `calldata[32..]` while more than
/// 120,000 gas is left; reverts if a call fails (so every input is checked valid).
fn precompile_loop() -> Vec<u8> {
    vec![
        0x60, 0x20, 0x36, 0x03, // len = calldatasize - 32
        0x80, 0x60, 0x20, 0x60, 0x00, 0x37, // mem[0..len] = calldata[32..]
        0x5b, // 0x0a: loop
        0x60, 0x00, 0x60, 0x00, 0x82, 0x60, 0x00, 0x60, 0x00, 0x35, 0x5a, 0xfa, // staticcall
        0x15, 0x60, 0x25, 0x57, // revert unless it succeeded
        0x62, 0x01, 0xd4, 0xc0, 0x5a, 0x11, 0x60, 0x0a, 0x57, // loop while gas > 120,000
        0x00, // stop
        0x5b, 0x60, 0x00, 0x80, 0xfd, // 0x25: revert
    ]
}

const PRECOMPILE_LOOP: Address = Address::repeat_byte(0xa0);

fn access_loop_at(op: u8) -> Address {
    Address::repeat_byte(op)
}

/// (name, contract, calldata) of each adversarial pattern: the accesses that
/// cost the program a tree proof, and every precompile with valid inputs
/// (the program's are pure Rust, so some cost far more instructions per gas
/// than the EVM's prices assume).
fn adversarial_patterns() -> Vec<(&'static str, Address, Vec<u8>)> {
    use infra_stf::revm::precompile::bls12_381::{map_fp_to_g1, map_fp2_to_g2};
    let w = |v: U256| v.to_be_bytes::<32>().to_vec();
    let call = |addr: u64, input: Vec<u8>| [w(U256::from(addr)), input].concat();
    let hash = keccak256(b"infra");
    let sig = key(1).sign_hash_sync(&hash).unwrap();
    let ecrecover = [
        hash.to_vec(),
        w(U256::from(27 + u64::from(sig.v()))),
        w(U256::from_be_bytes(sig.r().to_be_bytes::<32>())),
        w(sig.s()),
    ]
    .concat();
    let bn_g1 = [w(U256::from(1)), w(U256::from(2))].concat();
    let bn_g2 = hex(concat!(
        "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2",
        "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed",
        "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b",
        "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"
    ));
    let max_scalar = w(U256::MAX);
    let fp = |v: u8| [vec![0u8; 63], vec![v]].concat();
    let bls_g1 = map_fp_to_g1::map_fp_to_g1(&fp(1), 100_000).unwrap().bytes.to_vec();
    let bls_g1b = map_fp_to_g1::map_fp_to_g1(&fp(2), 100_000).unwrap().bytes.to_vec();
    let bls_g2 =
        map_fp2_to_g2::map_fp2_to_g2(&[fp(1), fp(2)].concat(), 100_000).unwrap().bytes.to_vec();
    let bls_g2b =
        map_fp2_to_g2::map_fp2_to_g2(&[fp(3), fp(4)].concat(), 100_000).unwrap().bytes.to_vec();
    let mut blake = vec![0u8; 213];
    blake[..4].copy_from_slice(&50_000u32.to_be_bytes());
    // A valid point evaluation (the precompile_cases one).
    let kzg = precompile_cases().into_iter().find(|(a, _, ok)| *a == 10 && *ok).unwrap().1;
    // P-256: the generator as the key, a signature that does not verify (the
    // whole check runs; the call succeeds with empty output).
    let p256 = hex(concat!(
        "4cd6a8f1fc3b05bcf0c7ca09d9d62e2e16d0a2b3b5bc3e2c4e5f3b2a7c6d8e9f",
        "1c4d2e3f4a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5",
        "2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c",
        "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    ));
    let modexp = |base: usize, exp: Vec<u8>, modulus: usize| {
        [
            w(U256::from(base)),
            w(U256::from(exp.len())),
            w(U256::from(modulus)),
            vec![0xfe; base],
            exp,
            vec![0xfd; modulus],
        ]
        .concat()
    };
    vec![
        ("BALANCE of new addresses", access_loop_at(0x31), vec![]),
        ("EXTCODEHASH of new addresses", access_loop_at(0x3f), vec![]),
        ("SLOAD of new slots", access_loop_at(0x54), vec![]),
        ("SSTORE to new slots", access_loop_at(0x55), vec![]),
        ("ecrecover", PRECOMPILE_LOOP, call(1, ecrecover)),
        ("sha256 (64 bytes)", PRECOMPILE_LOOP, call(2, vec![7; 64])),
        ("ripemd160 (64 bytes)", PRECOMPILE_LOOP, call(3, vec![7; 64])),
        (
            "modexp, 32-byte operands, 32-byte exponent",
            PRECOMPILE_LOOP,
            call(5, modexp(32, vec![0xff; 32], 32)),
        ),
        ("modexp at the 200-gas floor", PRECOMPILE_LOOP, call(5, modexp(64, vec![3], 64))),
        ("BN254 add", PRECOMPILE_LOOP, call(6, [bn_g1.clone(), bn_g1.clone()].concat())),
        ("BN254 mul", PRECOMPILE_LOOP, call(7, [bn_g1.clone(), max_scalar.clone()].concat())),
        (
            "BN254 pairing, 2 pairs",
            PRECOMPILE_LOOP,
            call(8, [bn_g1.clone(), bn_g2.clone(), bn_g1, bn_g2].concat()),
        ),
        ("blake2f, 50,000 rounds", PRECOMPILE_LOOP, call(9, blake)),
        ("KZG point evaluation", PRECOMPILE_LOOP, call(0x0a, kzg)),
        ("P-256 verification", PRECOMPILE_LOOP, call(0x100, p256)),
        ("BLS12-381 G1 add", PRECOMPILE_LOOP, call(0x0b, [bls_g1.clone(), bls_g1b].concat())),
        (
            "BLS12-381 G1 MSM, 1 pair",
            PRECOMPILE_LOOP,
            call(0x0c, [bls_g1.clone(), max_scalar.clone()].concat()),
        ),
        ("BLS12-381 G2 add", PRECOMPILE_LOOP, call(0x0d, [bls_g2.clone(), bls_g2b].concat())),
        (
            "BLS12-381 G2 MSM, 1 pair",
            PRECOMPILE_LOOP,
            call(0x0e, [bls_g2.clone(), max_scalar].concat()),
        ),
        ("BLS12-381 pairing, 1 pair", PRECOMPILE_LOOP, call(0x0f, [bls_g1, bls_g2].concat())),
        ("BLS12-381 map to G1", PRECOMPILE_LOOP, call(0x10, fp(5))),
        ("BLS12-381 map to G2", PRECOMPILE_LOOP, call(0x11, [fp(5), fp(6)].concat())),
    ]
}

/// The bound the node checks a fault game's clock against
/// (`infra_config::ChainConfig::trace_bound`) holds for every adversarial
/// pattern: a block of each, run by the program in the VM, takes at most
/// `WORST_INSTRUCTIONS_PER_GAS` instructions per gas it used, plus
/// `PROGRAM_START_INSTRUCTIONS`; a block's own overhead (a batch of empty
/// blocks measures it) is covered by `BLOCK_GAS` at that rate; a
/// posted transaction the EVM refuses costs at most
/// `INSTRUCTIONS_PER_POSTED_TX`.
/// Instruction counts are exact, so this is no timing test: a program change
/// that made some operation dearer than the bound says fails it.
#[test]
fn the_trace_bound_covers_adversarial_blocks() {
    use infra_config::{
        DEPOSIT_LINK_INSTRUCTIONS, INSTRUCTIONS_PER_POSTED_TX, PAYLOAD_INSTRUCTIONS,
        PROGRAM_START_INSTRUCTIONS, WORST_INSTRUCTIONS_PER_GAS,
    };
    let elf = std::fs::read(program_path("INFRA_PROGRAM_ELF")).expect("the program's ELF");
    let h = TreeHasher::new(Curve::Bn254);
    let mut contracts = vec![(PRECOMPILE_LOOP, precompile_loop())];
    for op in [0x31, 0x3f, 0x54, 0x55] {
        contracts.push((access_loop_at(op), access_loop(op)));
    }
    let pre = genesis_with(&h, &contracts);
    let parent = pre.headers[0].clone();
    let p = Output::after(&chain(), &parent, 0);

    // The program's instructions over the batch of `blocks` (built in turn on the pre-state).
    let run = |txs: Vec<Vec<TxEnvelope>>| -> (u64, u64) {
        let mut m = pre.clone();
        let mut blocks = vec![];
        for txs in txs {
            let txs = txs.into_iter().map(|t| infra_stf::recover_sender(t).unwrap()).collect();
            blocks.push(seal(&mut m, &h, 1, txs).block);
        }
        let want = Output::after(&chain(), &blocks.last().unwrap().header, 0);
        let gas: u64 = blocks.iter().map(|b| b.header.gas_used).sum();
        let data = BatchPayload::from_blocks(&blocks).unwrap().encode(Codec::Zstd);
        let data = BatchData::Calldata(data.into());
        let batch = BatchRef { first_block: 1, last_block: blocks.len() as u64, data: &data };
        let (host, preimages) =
            record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &HeldDeposits::NONE)
                .unwrap();
        assert_eq!(host.output, want);
        let mut vm = vm_for(&elf, &preimages);
        vm.snapshot_every = 0;
        let end = vm.run_to(u64::MAX).expect("every preimage is there");
        assert_eq!(end.exit, Some(0), "{}", String::from_utf8_lossy(&vm.output));
        (end.steps, gas)
    };
    let tx = |to: Address, input: Vec<u8>| {
        let t = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce: 0,
            gas_limit: 400_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list: Default::default(),
            input: input.into(),
        };
        let sig = key(1).sign_hash_sync(&t.signature_hash()).unwrap();
        TxEnvelope::from(t.into_signed(sig))
    };

    let (one, _) = run(vec![vec![]]);
    let (many, _) = run(vec![vec![]; 33]);
    let per_block = (many - one) / 32;
    eprintln!("empty blocks: {one} instructions for one, {per_block} per further block");
    assert!(one <= PROGRAM_START_INSTRUCTIONS, "one empty block: {one} instructions");
    assert!(per_block <= infra_stf::BLOCK_GAS * WORST_INSTRUCTIONS_PER_GAS, "{per_block}");

    // Posted transactions the EVM refuses (a nonce far ahead): no gas, but a
    // signature recovery and a sender read each.
    let empty = seal(&mut pre.clone(), &h, 1, vec![]);
    let mut payload = BatchPayload::from_blocks(std::slice::from_ref(&empty.block)).unwrap();
    let dropped = 20u64;
    payload.blocks[0].transactions = (0..dropped)
        .map(|i| {
            let t = eip1559(1 + (i % 4) as u8, 1_000 + i, TxKind::Call(CONTRACT), 0, word(i));
            Bytes::from(t.encoded_2718())
        })
        .collect();
    let data = BatchData::Calldata(payload.encode(Codec::Zstd).into());
    let batch = BatchRef { first_block: 1, last_block: 1, data: &data };
    let want = Output::after(&chain(), &empty.block.header, 0);
    let (host, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &HeldDeposits::NONE).unwrap();
    assert_eq!(host.output, want, "every posted transaction dropped");
    assert_eq!(host.dropped[0].len() as u64, dropped);
    let mut vm = vm_for(&elf, &preimages);
    vm.snapshot_every = 0;
    let end = vm.run_to(u64::MAX).unwrap();
    assert_eq!(end.exit, Some(0), "{}", String::from_utf8_lossy(&vm.output));
    let with_dropped = end.steps;
    let per_dropped = (with_dropped - one) / dropped;
    eprintln!("a dropped transaction: {per_dropped} instructions");
    assert!(per_dropped <= INSTRUCTIONS_PER_POSTED_TX, "{per_dropped}");

    // Deposits L1 held that the batch does not apply: the program walks the
    // bridge's chain back over each (a link, a 64-byte preimage). `Rollup`
    // records at most `batch_gas / 21,000` past the pre-output's nonce.
    let backlog: Vec<DepositTx> = (0..64).map(deposit).collect();
    let one_block = BatchPayload::from_blocks(std::slice::from_ref(&empty.block)).unwrap();
    let one_block = BatchData::Calldata(one_block.encode(Codec::Zstd).into());
    let batch = BatchRef { first_block: 1, last_block: 1, data: &one_block };
    let want = Output::after(&chain(), &empty.block.header, 0);
    let (host, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &held(&backlog)).unwrap();
    assert_eq!(host.output, want, "no deposit applied");
    let mut vm = vm_for(&elf, &preimages);
    vm.snapshot_every = 0;
    let end = vm.run_to(u64::MAX).unwrap();
    assert_eq!(end.exit, Some(0), "{}", String::from_utf8_lossy(&vm.output));
    let with_backlog = end.steps;
    let per_link = (with_backlog - one) / backlog.len() as u64;
    eprintln!("a deposit held and not applied: {per_link} instructions");
    assert!(per_link <= DEPOSIT_LINK_INSTRUCTIONS, "{per_link}");

    // The batch's bytes: one refused transaction carrying almost the largest
    // payload (decompressed, its signature hash and its hash computed).
    let big = 1_000_000usize;
    let t = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 5_000,
        gas_limit: 16_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(CONTRACT),
        value: U256::ZERO,
        access_list: Default::default(),
        input: (0..big).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>().into(),
    };
    let sig = key(1).sign_hash_sync(&t.signature_hash()).unwrap();
    payload.blocks[0].transactions =
        vec![Bytes::from(TxEnvelope::from(t.into_signed(sig)).encoded_2718())];
    let data = BatchData::Calldata(payload.encode(Codec::Zstd).into());
    let batch = BatchRef { first_block: 1, last_block: 1, data: &data };
    let (host, preimages) =
        record_claim(Host(&pre), &claim_chain(), &p, &want, &batch, &HeldDeposits::NONE).unwrap();
    assert_eq!(host.output, want, "the large transaction is dropped");
    let mut vm = vm_for(&elf, &preimages);
    vm.snapshot_every = 0;
    let with_bytes = vm.run_to(u64::MAX).unwrap().steps - one;
    let per_byte = with_bytes as f64 / big as f64;
    eprintln!("a 1 MB refused transaction: {with_bytes} instructions ({per_byte:.0} per byte)");
    assert!(
        with_bytes * (infra_primitives::batch::MAX_PAYLOAD_BYTES as u64) / big as u64
            <= PAYLOAD_INSTRUCTIONS,
        "{with_bytes}"
    );

    // One after another: CI runs the end-to-end fault games on the other core.
    let patterns = adversarial_patterns();
    let measured: Vec<(u64, u64)> =
        patterns.iter().map(|(_, to, input)| run(vec![vec![tx(*to, input.clone())]])).collect();
    let mut worst = 0.0f64;
    for ((name, _, _), (steps, gas)) in patterns.iter().zip(&measured) {
        let per_gas = (steps - one) as f64 / *gas as f64;
        worst = worst.max(per_gas);
        eprintln!("{name:>45}: {gas:>7} gas, {steps:>11} instructions, {per_gas:>6.0} per gas");
        assert!(*gas > 150_000, "{name}: the loop ran ({gas} gas)");
        assert!(
            *steps <= gas * WORST_INSTRUCTIONS_PER_GAS + PROGRAM_START_INSTRUCTIONS,
            "{name}: {steps} instructions for {gas} gas, over the bound"
        );
    }
    eprintln!("worst: {worst:.0} instructions per gas (bound {WORST_INSTRUCTIONS_PER_GAS})");
}
