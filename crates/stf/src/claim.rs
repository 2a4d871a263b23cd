//! A disputed claim as the fault-proof program decides it: its inputs read from
//! the preimage oracle by key, the batch applied with [`apply_batch`], the
//! output compared with the claim. The program (RISC-V, in the VM), the
//! program run natively, the host that prepares the preimages and the tests
//! all call [`decide`].
//!
//! Keys are 32 bytes; the first byte is the type (see `crates/fpvm`'s oracle):
//! 1 a local input of the claim, 2 keccak256 (code, headers, batch calldata,
//! a blob batch's versioned hashes, deposits), 3 Poseidon (tree nodes, account
//! and storage leaf values), 5 a blob's field element ([`blob_key`]).
//!
//! | local input | content |
//! |---|---|
//! | 1 | the pre-output, [`Output::encode`] |
//! | 2 | the claimed output, [`Output::encode`] |
//! | 3 | the batch as `Rollup` recorded it: first block (8 bytes BE), last block (8 bytes BE), data commitment (32), blob count (1) |
//! | 4 | the chain, [`ClaimChain::encode`] |
//! | 5 | the deposits L1 held when the batch was posted (at most `Rollup.maxBatchDeposits` past the pre-output's nonce, so the walk below is bounded): their count (8 bytes BE) and `Bridge`'s hash chain over them (32), [`deposit_link`] |
//!
//! The batch's data: with no blobs, the calldata is the keccak256 preimage of
//! the commitment; with blobs, the versioned hashes concatenated are, and
//! blob `h`'s field element `i` (32 bytes) is the preimage of [`blob_key`]`(h, i)`.
//!
//! Deposits: the program walks `Bridge`'s chain back from the count L1 held
//! to the pre-output's next nonce, each link's keccak256 preimage being the
//! previous accumulator and the hash of a record ([`deposit_record`]), whose
//! own preimage is the record.
//!
//! Poseidon preimages: a node is [`Node::to_bytes`] (65 bytes), an account
//! leaf value is nonce, balance and code hash as three 32-byte words (96
//! bytes), a storage leaf value is the value (32 bytes).

use crate::{
    Applied, BatchData, BatchRef, ChainParams, Deposits, OracleState, Output, PostedBlob,
    Preimages, StfError, apply_batch,
};
use alloc::{collections::BTreeMap, format, vec::Vec};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use infra_primitives::{AccountState, DepositTx, SourceError};
use infra_state::{Curve, Node, Position, TreeHasher};

pub const KEY_LOCAL: u8 = 1;
pub const KEY_KECCAK256: u8 = 2;
pub const KEY_POSEIDON: u8 = 3;
pub const KEY_BLOB: u8 = 5;

/// The local inputs of a claim (see the module docs).
pub mod local {
    pub const PRE_OUTPUT: u64 = 1;
    pub const CLAIMED_OUTPUT: u64 = 2;
    pub const BATCH: u64 = 3;
    pub const CHAIN: u64 = 4;
    pub const DEPOSITS: u64 = 5;
}

/// `hash` with its first byte set to `kind`.
pub fn typed_key(kind: u8, hash: &B256) -> B256 {
    let mut k = *hash;
    k.0[0] = kind;
    k
}

/// The key of field element `index` (0..4096) of the blob whose versioned hash
/// is `versioned_hash`: keccak256(versioned hash ‖ index as 8 bytes BE), byte 0
/// set to 5. On L1 the oracle serves it once the point-evaluation precompile
/// has checked it against the blob's KZG commitment.
pub fn blob_key(versioned_hash: &B256, index: u64) -> B256 {
    let mut pre = [0u8; 40];
    pre[..32].copy_from_slice(versioned_hash.as_slice());
    pre[32..].copy_from_slice(&index.to_be_bytes());
    typed_key(KEY_BLOB, &keccak256(pre))
}

/// Local input 3: the batch as `Rollup` recorded it.
/// Refuses more than 255 blobs (`Rollup` records the count as a `uint8`).
pub fn encode_batch_input(batch: &BatchRef<'_>) -> Result<Vec<u8>, SourceError> {
    let count = batch.data.blob_count();
    let count = u8::try_from(count)
        .map_err(|_| SourceError(format!("a batch of {count} blobs: L1 records at most 255")))?;
    let mut b = Vec::with_capacity(BATCH_INPUT_LEN);
    b.extend_from_slice(&batch.first_block.to_be_bytes());
    b.extend_from_slice(&batch.last_block.to_be_bytes());
    b.extend_from_slice(batch.data.commitment().as_slice());
    b.push(count);
    Ok(b)
}

const BATCH_INPUT_LEN: usize = 49;

/// Reads a batch's data from the oracle: the calldata, or every field
/// element of every blob (see the module docs).
fn read_batch_data(
    oracle: &impl Oracle,
    commitment: &B256,
    blobs: u8,
) -> Result<BatchData, SourceError> {
    let preimage = oracle.get(&typed_key(KEY_KECCAK256, commitment))?;
    if blobs == 0 {
        return Ok(BatchData::Calldata(preimage.into()));
    }
    if preimage.len() != 32 * usize::from(blobs) {
        return Err(SourceError(format!(
            "a blob batch's commitment is {} bytes of versioned hashes, not {blobs} hashes",
            preimage.len()
        )));
    }
    let mut out = Vec::with_capacity(usize::from(blobs));
    for hash in preimage.chunks(32).map(B256::from_slice) {
        let mut data = Vec::with_capacity(crate::BYTES_PER_BLOB);
        for i in 0..crate::FIELD_ELEMENTS_PER_BLOB {
            let key = blob_key(&hash, i);
            let fe = oracle.get(&key)?;
            if fe.len() != 32 {
                return Err(bad("blob field element", &key));
            }
            data.extend_from_slice(&fe);
        }
        out.push(PostedBlob { versioned_hash: hash, data: data.into() });
    }
    Ok(BatchData::Blobs(out))
}

/// The key of local input `n`.
pub fn local_key(n: u64) -> B256 {
    let mut k = B256::ZERO;
    k.0[0] = KEY_LOCAL;
    k.0[24..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The preimage oracle, by key: the VM's system calls in the program, a map natively.
pub trait Oracle: Sync {
    fn get(&self, key: &B256) -> Result<Vec<u8>, SourceError>;
}

impl Oracle for BTreeMap<B256, Vec<u8>> {
    fn get(&self, key: &B256) -> Result<Vec<u8>, SourceError> {
        self.get(key).cloned().ok_or_else(|| SourceError(format!("no preimage for key {key}")))
    }
}

/// The chain a claim is about: what the STF reads of its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimChain {
    pub params: ChainParams,
    pub curve: Curve,
}

impl ClaimChain {
    pub const ENCODED_LEN: usize = 77;

    /// chain id, gas limit (8 bytes BE each), fee recipient (20), base fee:
    /// initial, minimum, max change denominator, elasticity (8 bytes BE each),
    /// curve (1 byte: 0 BN254, 1 BLS12-381), batch gas budget (8 bytes BE).
    pub fn encode(&self) -> Vec<u8> {
        let p = &self.params;
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.extend_from_slice(&p.chain_id.to_be_bytes());
        out.extend_from_slice(&p.gas_limit.to_be_bytes());
        out.extend_from_slice(p.fee_recipient.as_slice());
        for v in [
            p.base_fee.initial_wei,
            p.base_fee.min_wei,
            p.base_fee.max_change_denominator,
            p.base_fee.elasticity_multiplier,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.push(match self.curve {
            Curve::Bn254 => 0,
            Curve::Bls12_381 => 1,
        });
        out.extend_from_slice(&p.batch_gas.to_be_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::ENCODED_LEN {
            return None;
        }
        let u = |i: usize| Some(u64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?));
        let curve = match b[68] {
            0 => Curve::Bn254,
            1 => Curve::Bls12_381,
            _ => return None,
        };
        Some(Self {
            params: ChainParams {
                chain_id: u(0)?,
                gas_limit: u(8)?,
                fee_recipient: Address::from_slice(&b[16..36]),
                base_fee: crate::BaseFeeConfig {
                    initial_wei: u(36)?,
                    min_wei: u(44)?,
                    max_change_denominator: u(52)?,
                    elasticity_multiplier: u(60)?,
                },
                batch_gas: u(69)?,
            },
            curve,
        })
    }
}

/// An account leaf's preimage: nonce, balance, code hash (no code: zero, as the tree commits it).
pub fn encode_account(a: &AccountState) -> [u8; 96] {
    let mut out = [0u8; 96];
    out[24..32].copy_from_slice(&a.nonce.to_be_bytes());
    out[32..64].copy_from_slice(&a.balance.to_be_bytes::<32>());
    let code = if a.code_hash == revm::primitives::KECCAK_EMPTY { B256::ZERO } else { a.code_hash };
    out[64..].copy_from_slice(code.as_slice());
    out
}

fn decode_account(b: &[u8]) -> Option<AccountState> {
    if b.len() != 96 || b[..24].iter().any(|x| *x != 0) {
        return None;
    }
    Some(AccountState {
        nonce: u64::from_be_bytes(b[24..32].try_into().ok()?),
        balance: U256::from_be_slice(&b[32..64]),
        code_hash: B256::from_slice(&b[64..]),
    })
}

fn bad(what: &str, key: &B256) -> SourceError {
    SourceError(format!("the preimage of {key} is not a {what}"))
}

/// [`Preimages`] read from an [`Oracle`] by key (the hints are not needed).
pub struct OracleReader<'o, O: Oracle> {
    pub oracle: &'o O,
    pub hasher: TreeHasher,
}

impl<O: Oracle> Preimages for OracleReader<'_, O> {
    /// A node's two words must be canonical field elements: hashing reduces
    /// them, so `key + p` would hash as `key` and name another leaf.
    fn node(&self, _: &Position, hash: &B256) -> Result<Node, SourceError> {
        let key = typed_key(KEY_POSEIDON, hash);
        let node = Node::from_bytes(&self.oracle.get(&key)?).map_err(|_| bad("tree node", &key))?;
        let (a, b) = match &node {
            Node::Internal { left, right } => (left, right),
            Node::Leaf { key, value } => (key, value),
        };
        if !self.hasher.is_canonical(a) || !self.hasher.is_canonical(b) {
            return Err(bad("canonical tree node", &key));
        }
        Ok(node)
    }

    fn account(&self, _: Address, value_hash: &B256) -> Result<AccountState, SourceError> {
        let key = typed_key(KEY_POSEIDON, value_hash);
        decode_account(&self.oracle.get(&key)?).ok_or_else(|| bad("account", &key))
    }

    fn storage(&self, _: Address, _: U256, value_hash: &B256) -> Result<U256, SourceError> {
        let key = typed_key(KEY_POSEIDON, value_hash);
        let b = self.oracle.get(&key)?;
        if b.len() != 32 {
            return Err(bad("storage value", &key));
        }
        Ok(U256::from_be_slice(&b))
    }

    fn code(&self, hash: &B256) -> Result<Bytes, SourceError> {
        self.oracle.get(&typed_key(KEY_KECCAK256, hash)).map(Bytes::from)
    }

    fn header(&self, hash: &B256) -> Result<Header, SourceError> {
        let key = typed_key(KEY_KECCAK256, hash);
        let b = self.oracle.get(&key)?;
        <Header as alloy_rlp::Decodable>::decode(&mut b.as_slice()).map_err(|_| bad("header", &key))
    }
}

/// The length of local input 5.
const DEPOSITS_INPUT_LEN: usize = 40;

/// `record(n)` of `Bridge`'s deposit chain: `abi.encodePacked(uint64 nonce,
/// uint64 l1Block, address from, address to, uint256 value, uint64 gasLimit,
/// bytes data)`.
pub fn deposit_record(d: &DepositTx) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + d.data.len());
    out.extend_from_slice(&d.nonce.to_be_bytes());
    out.extend_from_slice(&d.l1_block.to_be_bytes());
    out.extend_from_slice(d.from.as_slice());
    out.extend_from_slice(d.to.as_slice());
    out.extend_from_slice(&d.value.to_be_bytes::<32>());
    out.extend_from_slice(&d.gas_limit.to_be_bytes());
    out.extend_from_slice(&d.data);
    out
}

fn decode_deposit_record(b: &[u8]) -> Option<DepositTx> {
    let u = |i: usize| Some(u64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?));
    Some(DepositTx {
        nonce: u(0)?,
        l1_block: u(8)?,
        from: Address::from_slice(b.get(16..36)?),
        to: Address::from_slice(b.get(36..56)?),
        value: U256::from_be_slice(b.get(56..88)?),
        gas_limit: u(88)?,
        data: Bytes::copy_from_slice(b.get(96..)?),
    })
}

/// One link of `Bridge`'s deposit chain: `keccak256(acc ‖ keccak256(record))`.
pub fn deposit_link(acc: &B256, d: &DepositTx) -> B256 {
    let mut pre = [0u8; 64];
    pre[..32].copy_from_slice(acc.as_slice());
    pre[32..].copy_from_slice(keccak256(deposit_record(d)).as_slice());
    keccak256(pre)
}

/// `Bridge.depositAccumulators` after `deposits` (in nonce order) on top of `base`.
pub fn deposit_accumulator<'d>(
    base: B256,
    deposits: impl IntoIterator<Item = &'d DepositTx>,
) -> B256 {
    deposits.into_iter().fold(base, |acc, d| deposit_link(&acc, d))
}

/// The deposits of local input 5: the record hashes from the pre-output's
/// next nonce up to the count L1 held, found by walking the chain back.
struct OracleDeposits<'o, O: Oracle> {
    oracle: &'o O,
    first: u64,
    records: Vec<B256>,
}

impl<'o, O: Oracle> OracleDeposits<'o, O> {
    fn walk(oracle: &'o O, input: &[u8], first: u64) -> Result<Self, SourceError> {
        if input.len() != DEPOSITS_INPUT_LEN {
            return Err(malformed(local::DEPOSITS));
        }
        let count = u64::from_be_bytes(input[..8].try_into().unwrap_or_default());
        let mut acc = B256::from_slice(&input[8..]);
        // A pre-output past what L1 held claims deposits L1 never had: none
        // are available (the batch may apply none).
        let n = count.saturating_sub(first);
        let mut records = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 16));
        for _ in 0..n {
            let key = typed_key(KEY_KECCAK256, &acc);
            let link = oracle.get(&key)?;
            if link.len() != 64 {
                return Err(bad("deposit chain link", &key));
            }
            records.push(B256::from_slice(&link[32..]));
            acc = B256::from_slice(&link[..32]);
        }
        records.reverse();
        Ok(Self { oracle, first, records })
    }
}

impl<O: Oracle> Deposits for OracleDeposits<'_, O> {
    fn deposit(&self, nonce: u64) -> Result<Option<DepositTx>, SourceError> {
        let Some(i) = nonce.checked_sub(self.first).and_then(|i| usize::try_from(i).ok()) else {
            return Ok(None);
        };
        let Some(hash) = self.records.get(i) else { return Ok(None) };
        let key = typed_key(KEY_KECCAK256, hash);
        decode_deposit_record(&self.oracle.get(&key)?).map(Some).ok_or_else(|| bad("deposit", &key))
    }
}

/// What the program decided.
#[derive(Debug)]
pub struct Decision {
    pub applied: Applied,
    pub claimed: Output,
}

impl Decision {
    /// Whether the claim is the output the batch derives to.
    pub fn claim_holds(&self) -> bool {
        self.claimed == self.applied.output
    }
}

fn input(oracle: &impl Oracle, n: u64) -> Result<Vec<u8>, SourceError> {
    oracle.get(&local_key(n))
}

fn malformed(n: u64) -> SourceError {
    SourceError(format!("local input {n} is malformed"))
}

/// Reads the claim's inputs from `oracle` and applies its batch.
pub fn decide(oracle: &impl Oracle) -> Result<Decision, StfError> {
    let chain =
        ClaimChain::decode(&input(oracle, local::CHAIN)?).ok_or_else(|| malformed(local::CHAIN))?;
    let pre = Output::decode(&input(oracle, local::PRE_OUTPUT)?)
        .ok_or_else(|| malformed(local::PRE_OUTPUT))?;
    let claimed = Output::decode(&input(oracle, local::CLAIMED_OUTPUT)?)
        .ok_or_else(|| malformed(local::CLAIMED_OUTPUT))?;
    let batch = input(oracle, local::BATCH)?;
    if batch.len() != BATCH_INPUT_LEN {
        return Err(malformed(local::BATCH).into());
    }
    let word = |i: usize| u64::from_be_bytes(batch[i..i + 8].try_into().unwrap_or_default());
    let (first_block, last_block) = (word(0), word(8));
    let data = read_batch_data(oracle, &B256::from_slice(&batch[16..48]), batch[48])?;
    let deposits =
        OracleDeposits::walk(oracle, &input(oracle, local::DEPOSITS)?, pre.next_deposit_nonce)?;
    let hasher = TreeHasher::new(chain.curve);
    let reader = OracleReader { oracle, hasher: hasher.clone() };
    let parent = reader.header(&pre.block_hash)?;
    let mut state = OracleState::new(&reader, &hasher, &parent)?;
    let batch = BatchRef { first_block, last_block, data: &data };
    let applied =
        apply_batch(&mut state, &chain.params, &hasher, &pre, &parent, &batch, &deposits)?;
    Ok(Decision { applied, claimed })
}

/// The deposits L1 held when a batch was posted, as a claim reads them.
#[derive(Debug, Clone, Copy)]
pub struct HeldDeposits<'d> {
    /// `Bridge.depositAccumulators` at the pre-output's next nonce.
    pub base: B256,
    /// The deposits L1 held, in nonce order from the pre-output's next nonce
    /// (deposits before it are skipped).
    pub deposits: &'d [DepositTx],
}

impl HeldDeposits<'_> {
    /// No deposits at all (a chain whose bridge was never used).
    pub const NONE: HeldDeposits<'static> = HeldDeposits { base: B256::ZERO, deposits: &[] };

    fn from(&self, first: u64) -> Result<Vec<&DepositTx>, SourceError> {
        let held: Vec<&DepositTx> = self.deposits.iter().filter(|d| d.nonce >= first).collect();
        for (i, d) in held.iter().enumerate() {
            if Some(d.nonce) != first.checked_add(i as u64) {
                return Err(SourceError(format!(
                    "the deposits held are not contiguous from nonce {first}: {} at position {i}",
                    d.nonce
                )));
            }
        }
        Ok(held)
    }

    /// Local input 5 after the pre-output's next nonce `first`.
    pub fn input(&self, first: u64) -> Result<Vec<u8>, SourceError> {
        let held = self.from(first)?;
        let mut out = Vec::with_capacity(DEPOSITS_INPUT_LEN);
        out.extend_from_slice(&(first + held.len() as u64).to_be_bytes());
        out.extend_from_slice(deposit_accumulator(self.base, held).as_slice());
        Ok(out)
    }
}

/// The local inputs of a claim and the preimages that are not state (batch
/// data, deposits), by key.
pub fn claim_inputs(
    chain: &ClaimChain,
    pre: &Output,
    claimed: &Output,
    batch: &BatchRef<'_>,
    deposits: &HeldDeposits<'_>,
) -> Result<BTreeMap<B256, Vec<u8>>, SourceError> {
    let mut m = BTreeMap::new();
    m.insert(local_key(local::CHAIN), chain.encode());
    m.insert(local_key(local::PRE_OUTPUT), pre.encode().to_vec());
    m.insert(local_key(local::CLAIMED_OUTPUT), claimed.encode().to_vec());
    m.insert(local_key(local::BATCH), encode_batch_input(batch)?);
    let commitment = typed_key(KEY_KECCAK256, &batch.data.commitment());
    match batch.data {
        BatchData::Calldata(d) => {
            m.insert(commitment, d.to_vec());
        }
        BatchData::Blobs(blobs) => {
            m.insert(commitment, BatchData::versioned_hashes(blobs));
            for b in blobs {
                for (i, fe) in b.data.chunks(32).enumerate() {
                    m.insert(blob_key(&b.versioned_hash, i as u64), fe.to_vec());
                }
            }
        }
    }
    let mut acc = deposits.base;
    for d in deposits.from(pre.next_deposit_nonce)? {
        let record = deposit_record(d);
        let hash = keccak256(&record);
        let mut link = Vec::with_capacity(64);
        link.extend_from_slice(acc.as_slice());
        link.extend_from_slice(hash.as_slice());
        acc = keccak256(&link);
        m.insert(typed_key(KEY_KECCAK256, &hash), record);
        m.insert(typed_key(KEY_KECCAK256, &acc), link);
    }
    m.insert(local_key(local::DEPOSITS), deposits.input(pre.next_deposit_nonce)?);
    Ok(m)
}

/// A [`Preimages`] that records every answer as the oracle would serve it,
/// each checked against the hash it was asked for (the host runs the batch
/// over its database through this, then hands the map to the VM).
#[cfg(feature = "std")]
pub struct Recorder<P: Preimages> {
    inner: P,
    hasher: TreeHasher,
    seen: std::sync::Mutex<BTreeMap<B256, Vec<u8>>>,
}

#[cfg(feature = "std")]
impl<P: Preimages> Recorder<P> {
    pub fn new(inner: P, hasher: &TreeHasher) -> Self {
        Self { inner, hasher: hasher.clone(), seen: Default::default() }
    }

    /// Every preimage served, by key.
    pub fn into_preimages(self) -> BTreeMap<B256, Vec<u8>> {
        self.seen.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, key: B256, data: Vec<u8>) {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, data);
    }
}

#[cfg(feature = "std")]
fn lie(what: &str, hash: &B256) -> SourceError {
    SourceError(format!("the host's {what} does not hash to {hash}"))
}

#[cfg(feature = "std")]
impl<P: Preimages> Preimages for Recorder<P> {
    fn node(&self, position: &Position, hash: &B256) -> Result<Node, SourceError> {
        let n = self.inner.node(position, hash)?;
        if n.hash(&self.hasher) != *hash {
            return Err(lie("tree node", hash));
        }
        self.record(typed_key(KEY_POSEIDON, hash), n.to_bytes().to_vec());
        Ok(n)
    }

    fn account(&self, address: Address, value_hash: &B256) -> Result<AccountState, SourceError> {
        let a = self.inner.account(address, value_hash)?;
        let enc = encode_account(&a);
        let code = B256::from_slice(&enc[64..]);
        if infra_state::keys::account_value_hash(&self.hasher, a.nonce, a.balance, code)
            != *value_hash
        {
            return Err(lie("account", value_hash));
        }
        self.record(typed_key(KEY_POSEIDON, value_hash), enc.to_vec());
        decode_account(&enc).ok_or_else(|| lie("account", value_hash))
    }

    fn storage(
        &self,
        address: Address,
        slot: U256,
        value_hash: &B256,
    ) -> Result<U256, SourceError> {
        let v = self.inner.storage(address, slot, value_hash)?;
        if infra_state::keys::storage_value_hash(&self.hasher, v) != *value_hash {
            return Err(lie("storage value", value_hash));
        }
        self.record(typed_key(KEY_POSEIDON, value_hash), v.to_be_bytes::<32>().to_vec());
        Ok(v)
    }

    fn code(&self, hash: &B256) -> Result<Bytes, SourceError> {
        let c = self.inner.code(hash)?;
        if keccak256(&c) != *hash {
            return Err(lie("code", hash));
        }
        self.record(typed_key(KEY_KECCAK256, hash), c.to_vec());
        Ok(c)
    }

    fn header(&self, hash: &B256) -> Result<Header, SourceError> {
        let h = self.inner.header(hash)?;
        let enc = alloy_rlp::encode(&h);
        if keccak256(&enc) != *hash {
            return Err(lie("header", hash));
        }
        self.record(typed_key(KEY_KECCAK256, hash), enc);
        Ok(h)
    }
}

/// The host's side of [`decide`]: applies the batch over `host` (the node's
/// database) exactly as the program will, and returns what it derived with
/// every preimage the program reads (state, headers, inputs), by key.
#[cfg(feature = "std")]
pub fn record_claim<P: Preimages>(
    host: P,
    chain: &ClaimChain,
    pre: &Output,
    claimed: &Output,
    batch: &BatchRef<'_>,
    deposits: &HeldDeposits<'_>,
) -> Result<(Applied, BTreeMap<B256, Vec<u8>>), StfError> {
    let hasher = TreeHasher::new(chain.curve);
    let recorder = Recorder::new(host, &hasher);
    let parent = recorder.header(&pre.block_hash)?;
    let held: BTreeMap<u64, DepositTx> =
        deposits.from(pre.next_deposit_nonce)?.into_iter().map(|d| (d.nonce, d.clone())).collect();
    let mut state = OracleState::new(&recorder, &hasher, &parent)?;
    let applied = apply_batch(&mut state, &chain.params, &hasher, pre, &parent, batch, &held)?;
    drop(state);
    let mut preimages = recorder.into_preimages();
    preimages.extend(claim_inputs(chain, pre, claimed, batch, deposits)?);
    Ok((applied, preimages))
}

/// A set of preimages as one file (the native program's input): for each,
/// key (32 bytes), length (8 bytes BE), data.
pub fn encode_preimages(map: &BTreeMap<B256, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(map.values().map(|v| v.len() + 40).sum());
    for (k, v) in map {
        out.extend_from_slice(k.as_slice());
        out.extend_from_slice(&(v.len() as u64).to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// The inverse of [`encode_preimages`]; `None` when malformed.
pub fn decode_preimages(mut b: &[u8]) -> Option<BTreeMap<B256, Vec<u8>>> {
    let mut map = BTreeMap::new();
    while !b.is_empty() {
        let key = B256::from_slice(b.get(..32)?);
        let len = usize::try_from(u64::from_be_bytes(b.get(32..40)?.try_into().ok()?)).ok()?;
        let data = b.get(40..40usize.checked_add(len)?)?;
        map.insert(key, data.to_vec());
        b = &b[40 + len..];
    }
    Some(map)
}

/// What the program prints: `output 0x<Output::encode>`, then `invalid <reason>`
/// for an invalid batch.
pub fn report(d: &Decision) -> alloc::string::String {
    let mut s = alloc::format!(
        "output {}\n",
        alloy_primitives::hex::encode_prefixed(d.applied.output.encode())
    );
    if let Some(why) = &d.applied.invalid {
        s.push_str(&alloc::format!("invalid {why}\n"));
    }
    s
}

/// The output in a [`report`].
pub fn reported_output(text: &str) -> Option<Output> {
    let hex = text.lines().find_map(|l| l.strip_prefix("output "))?;
    Output::decode(&alloy_primitives::hex::decode(hex.trim()).ok()?)
}
