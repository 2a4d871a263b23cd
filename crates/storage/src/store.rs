use alloy::{
    consensus::Header,
    primitives::{Address, B256, Bytes, U256},
    rlp::{Decodable, Encodable},
};
use infra_primitives::{AccountState, BlockBody, SealedBlock, StateChanges, TxLocation};
use infra_state::{Node, NodeChange, NodeStore, Position, StateError};
use libmdbx::{
    Database, DatabaseOptions, Mode, NoWriteMap, RO, ReadWriteOptions, SyncMode, Table, TableFlags,
    Transaction, WriteFlags,
};
use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

const HEADERS: &str = "Headers";
const HEADER_HASH: &str = "HeaderHash";
const BODIES: &str = "Bodies";
const TX_LOOKUP: &str = "TxLookup";
const ACCOUNTS: &str = "Accounts";
const STORAGE: &str = "Storage";
const CODE: &str = "Code";
const SMT_NODES: &str = "SmtNodes";
/// Every version of every tree node: key `position (34 bytes) ++ block (8, BE)`,
/// value the node as of that block (empty: removed at that block). Proofs at any
/// past block read the newest version at or below it.
const SMT_HISTORY: &str = "SmtHistory";
const META: &str = "Meta";
/// Per block: what its commit overwrote (accounts, slots, tree nodes, the
/// deposit cursor), so the block can be unwound (derivation replaces blocks).
const CHANGESETS: &str = "ChangeSets";
/// The sequencer's signature of a block, as gossiped: key number, value the
/// block hash (32 bytes) then the 65-byte signature. Served to syncing peers
/// only while the stored block still has that hash.
const BLOCK_SIGS: &str = "BlockSignatures";
/// The RPC gateway's API keys: key the hash of the secret (the secret itself is
/// never stored), value the gateway's record of the key.
const API_KEYS: &str = "ApiKeys";
/// The history index of accounts: key `address (20) ++ block (8, BE)`, value the
/// account as it was before that block wrote it (empty: absent). The state after
/// block `n` is the first entry at or above `(address, n + 1)`, or, when there
/// is none, the flat state (reth's changeset + history index, in one table).
const ACCOUNT_HISTORY: &str = "AccountHistory";
/// The same for storage slots: key `address (20) ++ slot (32) ++ block (8, BE)`,
/// value the slot before that block wrote it (empty: zero).
const STORAGE_HISTORY: &str = "StorageHistory";
const TABLES: [&str; 15] = [
    HEADERS,
    HEADER_HASH,
    BODIES,
    TX_LOOKUP,
    ACCOUNTS,
    STORAGE,
    CODE,
    SMT_NODES,
    SMT_HISTORY,
    META,
    CHANGESETS,
    BLOCK_SIGS,
    API_KEYS,
    ACCOUNT_HISTORY,
    STORAGE_HISTORY,
];

const META_HEAD: &[u8] = b"head";
const META_GENESIS: &[u8] = b"genesis";
/// The L1 deposit cursor, written with each block: the next bridge deposit nonce
/// to apply, and the L1 block of the last applied deposit.
const META_DEPOSIT_NEXT: &[u8] = b"deposit_next";
const META_DEPOSIT_L1_BLOCK: &[u8] = b"deposit_l1_block";
/// The oldest block whose state (accounts, slots, tree) can still be read: the
/// history below it was pruned (see [`StateHistory`]).
const META_STATE_FLOOR: &[u8] = b"state_floor";
/// Keys other components keep in `Meta` start with this (see [`Store::put_meta`]).
const META_COMPONENT_PREFIX: &[u8] = b"c/";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("mdbx: {0}")]
    Mdbx(#[from] libmdbx::Error),
    #[error("corrupt database: {0}")]
    Corrupt(String),
    #[error("block {number} does not extend the head ({head:?})")]
    NotNext { number: u64, head: Option<u64> },
    #[error("block {number} applies deposit {got}, but the next deposit to apply is {expected}")]
    DepositOutOfOrder { number: u64, expected: u64, got: u64 },
    #[error("cannot unwind to block {target}: {reason}")]
    Unwind { target: u64, reason: String },
    #[error(
        "historical state is not available for block {number}: this node keeps the state of blocks {floor}..={head} only (--state.history: the newest N blocks, or archive)"
    )]
    Pruned { number: u64, floor: u64, head: u64 },
}

/// How much past state the database keeps: every block's (archive), or that of
/// the newest `N` blocks below the head (older history is pruned in the write
/// transaction of each new block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateHistory {
    Archive,
    Window(u64),
}

impl StateHistory {
    /// The default window: the state of the newest 10,000 blocks.
    pub const DEFAULT: Self = Self::Window(10_000);
}

impl Default for StateHistory {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for StateHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Archive => f.write_str("archive"),
            Self::Window(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for StateHistory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "archive" => Ok(Self::Archive),
            n => match n.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Self::Window(n)),
                _ => Err(format!(
                    "state.history = {s:?}, must be \"archive\" or a number of blocks (1 or more)"
                )),
            },
        }
    }
}

/// At most this many old blocks' history is pruned per new block, so shrinking
/// the window of a large database costs each block a bounded amount of work (the
/// floor then catches up over the following blocks).
pub const MAX_PRUNED_PER_BLOCK: u64 = 8;

/// Where deposit application stands, as of the head block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepositCursor {
    /// The next bridge deposit nonce to apply.
    pub next_nonce: u64,
    /// The L1 block of the last deposit applied (`None`: none applied yet).
    pub l1_block: Option<u64>,
}

impl From<alloy::rlp::Error> for StorageError {
    fn from(e: alloy::rlp::Error) -> Self {
        Self::Corrupt(format!("rlp: {e}"))
    }
}

/// An account's 72-byte record in the flat state: nonce, balance, code hash.
fn encode_account(a: &AccountState) -> [u8; 72] {
    let mut out = [0u8; 72];
    out[..8].copy_from_slice(&a.nonce.to_be_bytes());
    out[8..40].copy_from_slice(&a.balance.to_be_bytes::<32>());
    out[40..].copy_from_slice(a.code_hash.as_slice());
    out
}

fn decode_account(bytes: &[u8]) -> Result<AccountState, StorageError> {
    if bytes.len() != 72 {
        return Err(StorageError::Corrupt(format!("account of {} bytes", bytes.len())));
    }
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&bytes[..8]);
    Ok(AccountState {
        nonce: u64::from_be_bytes(nonce),
        balance: U256::from_be_slice(&bytes[8..40]),
        code_hash: B256::from_slice(&bytes[40..]),
    })
}

/// The node's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database<NoWriteMap>>,
    history: StateHistory,
    /// The state of blocks from this one on is kept whatever the window
    /// (`u64::MAX`: nothing pinned); shared by every clone.
    keep_from: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

impl Store {
    /// Opens (creating if needed) the database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(path)
            .map_err(|e| StorageError::Corrupt(format!("cannot create {}: {e}", path.display())))?;
        let options = DatabaseOptions {
            max_tables: Some(32),
            mode: Mode::ReadWrite(ReadWriteOptions {
                sync_mode: SyncMode::Durable,
                min_size: None,
                max_size: Some(1 << 40),
                growth_step: Some(1 << 26),
                shrink_threshold: None,
            }),
            ..Default::default()
        };
        let db = Database::<NoWriteMap>::open_with_options(path, options)?;
        let txn = db.begin_rw_txn()?;
        for name in TABLES {
            txn.create_table(Some(name), TableFlags::default())?;
        }
        // A database written before the history index: past state starts now.
        let meta = txn.open_table(Some(META))?;
        if txn.get::<[u8; 8]>(&meta, META_STATE_FLOOR)?.is_none()
            && let Some(head) = read_head(&txn)?
        {
            txn.put(&meta, META_STATE_FLOOR, head.to_be_bytes(), WriteFlags::UPSERT)?;
        }
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            history: StateHistory::DEFAULT,
            keep_from: Arc::new(AtomicU64::new(u64::MAX)),
        })
    }

    /// This store, keeping `history` of past state from the next block on.
    pub fn with_history(mut self, history: StateHistory) -> Self {
        self.history = history;
        self
    }

    /// Keeps the state of blocks from `block` on whatever the window
    /// (`u64::MAX`: nothing pinned), for every clone of this store: a
    /// fault-game player pins the state its claims are rebuilt from (the
    /// block before the first of the oldest claim not yet final, or with a
    /// game still open). Lowering the pin does not bring pruned state back;
    /// raising it lets pruning catch up.
    pub fn keep_state_from(&self, block: u64) {
        self.keep_from.store(block, Ordering::SeqCst);
    }

    /// A consistent read-only snapshot of the whole database.
    pub fn reader(&self) -> Result<StateReader<'_>, StorageError> {
        Ok(StateReader { txn: self.db.begin_ro_txn()? })
    }

    /// Writes a sealed block and everything it changed in one write transaction.
    /// The block must be the genesis (number 0) of an empty database or extend the head.
    pub fn commit_block(
        &self,
        block: &SealedBlock,
        state: &StateChanges,
        nodes: &[NodeChange],
    ) -> Result<(), StorageError> {
        let txn = self.db.begin_rw_txn()?;
        let head = read_head(&txn)?;
        let expected = head.map_or(0, |h| h.saturating_add(1));
        if block.number() != expected || (head.is_none() && block.number() != 0) {
            return Err(StorageError::NotNext { number: block.number(), head });
        }
        let number = block.number().to_be_bytes();
        let t = |name| txn.open_table(Some(name));

        let mut header_rlp = Vec::with_capacity(600);
        block.header.encode(&mut header_rlp);
        txn.put(&t(HEADERS)?, number, &header_rlp, WriteFlags::UPSERT)?;
        txn.put(&t(HEADER_HASH)?, block.hash, number, WriteFlags::UPSERT)?;
        txn.put(&t(BODIES)?, number, block.body().encode_to_vec(), WriteFlags::UPSERT)?;
        let lookup = t(TX_LOOKUP)?;
        for (index, hash) in block.tx_hashes().into_iter().enumerate() {
            let loc = TxLocation { block_number: block.number(), index: index as u64 };
            txn.put(&lookup, hash, loc.to_bytes(), WriteFlags::UPSERT)?;
        }
        let meta = t(META)?;
        // Deposits: exactly once, in bridge order, across restarts.
        let cursor = read_deposit_cursor(&txn)?;
        let mut undo = ChangeSet { cursor, ..ChangeSet::default() };
        let mut next = cursor.next_nonce;
        for d in &block.deposits {
            if d.nonce != next {
                return Err(StorageError::DepositOutOfOrder {
                    number: block.number(),
                    expected: next,
                    got: d.nonce,
                });
            }
            next = next.saturating_add(1);
        }
        if let Some(last) = block.deposits.last() {
            txn.put(&meta, META_DEPOSIT_NEXT, next.to_be_bytes(), WriteFlags::UPSERT)?;
            txn.put(&meta, META_DEPOSIT_L1_BLOCK, last.l1_block.to_be_bytes(), WriteFlags::UPSERT)?;
        }

        let accounts = t(ACCOUNTS)?;
        for (address, account) in &state.accounts {
            undo.accounts.push((*address, txn.get::<Vec<u8>>(&accounts, address)?));
            match account {
                Some(a) => txn.put(&accounts, address, encode_account(a), WriteFlags::UPSERT)?,
                None => {
                    txn.del(&accounts, address, None)?;
                }
            }
        }
        let storage = t(STORAGE)?;
        for (address, slot, value) in &state.storage {
            let key = storage_key(address, slot);
            undo.storage.push((key, txn.get::<Vec<u8>>(&storage, key)?));
            if value.is_zero() {
                txn.del(&storage, key, None)?;
            } else {
                txn.put(&storage, key, value.to_be_bytes::<32>(), WriteFlags::UPSERT)?;
            }
        }
        let code = t(CODE)?;
        for (hash, bytes) in &state.code {
            txn.put(&code, hash, bytes, WriteFlags::UPSERT)?;
        }
        let smt = t(SMT_NODES)?;
        let history = t(SMT_HISTORY)?;
        for (pos, node) in nodes {
            let versioned = history_key(pos, block.number());
            // The prior version is in the history table: only the position is kept.
            undo.nodes.push((pos.to_bytes(), None));
            match node {
                Some(n) => {
                    txn.put(&smt, pos.to_bytes(), n.to_bytes(), WriteFlags::UPSERT)?;
                    txn.put(&history, versioned, n.to_bytes(), WriteFlags::UPSERT)?;
                }
                None => {
                    txn.del(&smt, pos.to_bytes(), None)?;
                    txn.put(&history, versioned, [], WriteFlags::UPSERT)?;
                }
            }
        }
        if block.number() == 0 {
            txn.put(&meta, META_GENESIS, block.hash, WriteFlags::UPSERT)?;
            txn.put(&meta, META_STATE_FLOOR, number, WriteFlags::UPSERT)?;
        } else {
            // The history index: each key's value before this block. Newest
            // write last, so a key written twice keeps its first prior.
            let (accounts_h, storage_h) = (t(ACCOUNT_HISTORY)?, t(STORAGE_HISTORY)?);
            for (address, prior) in undo.accounts.iter().rev() {
                let key = account_history_key(address, block.number());
                txn.put(
                    &accounts_h,
                    key,
                    prior.as_deref().unwrap_or_default(),
                    WriteFlags::UPSERT,
                )?;
            }
            for (slot_key, prior) in undo.storage.iter().rev() {
                let key = storage_history_key(slot_key, block.number());
                txn.put(&storage_h, key, prior.as_deref().unwrap_or_default(), WriteFlags::UPSERT)?;
            }
            txn.put(&t(CHANGESETS)?, number, undo.encode(), WriteFlags::UPSERT)?;
            if let StateHistory::Window(window) = self.history {
                let target = block.number().saturating_sub(window);
                prune_history(&txn, target.min(self.keep_from.load(Ordering::SeqCst)))?;
            }
        }
        txn.put(&meta, META_HEAD, number, WriteFlags::UPSERT)?;
        txn.commit()?;
        Ok(())
    }

    /// Removes every block above `target` (the head becomes `target`), restoring
    /// the flat state, the tree and the deposit cursor as they were after
    /// `target`, in one write transaction: a crash leaves either the old chain or
    /// the unwound one. Returns the hashes of the removed blocks, newest first.
    pub fn unwind_to(&self, target: u64) -> Result<Vec<B256>, StorageError> {
        let txn = self.db.begin_rw_txn()?;
        let fail = |reason: String| StorageError::Unwind { target, reason };
        let head = read_head(&txn)?.ok_or_else(|| fail("the database is empty".into()))?;
        if target > head {
            return Err(fail(format!("the head is block {head}")));
        }
        let floor = read_state_floor(&txn)?;
        if target < floor {
            return Err(fail(format!(
                "the state history starts at block {floor} (older history was pruned: --state.history)"
            )));
        }
        let t = |name| txn.open_table(Some(name));
        let (headers, hashes, bodies, lookup) =
            (t(HEADERS)?, t(HEADER_HASH)?, t(BODIES)?, t(TX_LOOKUP)?);
        let (accounts, storage, smt, history, changesets, meta) =
            (t(ACCOUNTS)?, t(STORAGE)?, t(SMT_NODES)?, t(SMT_HISTORY)?, t(CHANGESETS)?, t(META)?);
        let (accounts_h, storage_h) = (t(ACCOUNT_HISTORY)?, t(STORAGE_HISTORY)?);
        let mut removed = Vec::new();
        for number in (target.saturating_add(1)..=head).rev() {
            let key = number.to_be_bytes();
            let raw: Vec<u8> = txn.get(&changesets, key)?.ok_or_else(|| {
                fail(format!("block {number} has no change set (written by an older version)"))
            })?;
            let undo = ChangeSet::decode(&raw)?;
            for (pos, _) in &undo.nodes {
                let mut versioned = [0u8; 42];
                versioned[..34].copy_from_slice(pos);
                versioned[34..].copy_from_slice(&key);
                txn.del(&history, versioned, None)?;
            }
            // Each node goes back to its newest version before this block.
            for (pos, _) in &undo.nodes {
                let mut cursor = txn.cursor(&history)?;
                let mut seek = [0u8; 42];
                seek[..34].copy_from_slice(pos);
                seek[34..].copy_from_slice(&key);
                let before = match cursor.set_range::<Vec<u8>, Vec<u8>>(&seek)? {
                    Some(_) => cursor.prev::<Vec<u8>, Vec<u8>>()?,
                    None => cursor.last::<Vec<u8>, Vec<u8>>()?,
                };
                let prior = match before {
                    Some((k, v)) if k.get(..34) == Some(pos.as_slice()) && !v.is_empty() => Some(v),
                    _ => None,
                };
                restore(&txn, &smt, pos, prior.as_deref())?;
            }
            for (key, prior) in undo.storage.iter().rev() {
                restore(&txn, &storage, key, prior.as_deref())?;
                txn.del(&storage_h, storage_history_key(key, number), None)?;
            }
            for (address, prior) in undo.accounts.iter().rev() {
                restore(&txn, &accounts, address, prior.as_deref())?;
                txn.del(&accounts_h, account_history_key(address, number), None)?;
            }
            let header_rlp: Vec<u8> = txn
                .get(&headers, key)?
                .ok_or_else(|| StorageError::Corrupt(format!("block {number} has no header")))?;
            let body: Vec<u8> = txn
                .get(&bodies, key)?
                .ok_or_else(|| StorageError::Corrupt(format!("block {number} has no body")))?;
            let block = SealedBlock::from_parts(
                Header::decode(&mut header_rlp.as_slice())?,
                BlockBody::decode_from(&body)?,
            )?;
            for hash in block.tx_hashes() {
                txn.del(&lookup, hash, None)?;
            }
            txn.del(&hashes, block.hash, None)?;
            txn.del(&headers, key, None)?;
            txn.del(&bodies, key, None)?;
            txn.del(&changesets, key, None)?;
            let cursor = undo.cursor;
            txn.put(&meta, META_DEPOSIT_NEXT, cursor.next_nonce.to_be_bytes(), WriteFlags::UPSERT)?;
            match cursor.l1_block {
                Some(b) => {
                    txn.put(&meta, META_DEPOSIT_L1_BLOCK, b.to_be_bytes(), WriteFlags::UPSERT)?
                }
                None => {
                    txn.del(&meta, META_DEPOSIT_L1_BLOCK, None)?;
                }
            }
            removed.push(block.hash);
        }
        txn.put(&meta, META_HEAD, target.to_be_bytes(), WriteFlags::UPSERT)?;
        txn.commit()?;
        Ok(removed)
    }
}

/// Puts back `prior` under `key` (`None`: the key did not exist).
fn restore(
    txn: &Transaction<'_, libmdbx::RW, NoWriteMap>,
    table: &Table<'_>,
    key: impl AsRef<[u8]>,
    prior: Option<&[u8]>,
) -> Result<(), StorageError> {
    match prior {
        Some(v) => txn.put(table, key, v, WriteFlags::UPSERT)?,
        None => {
            txn.del(table, key, None)?;
        }
    }
    Ok(())
}

/// What one block's commit overwrote: raw prior values (`None`: absent). Tree
/// nodes keep only their position (their prior version is in `SmtHistory`).
#[derive(Debug, Default)]
struct ChangeSet {
    cursor: DepositCursor,
    accounts: Vec<(Address, Option<Vec<u8>>)>,
    storage: Vec<([u8; 52], Option<Vec<u8>>)>,
    nodes: Vec<([u8; 34], Option<Vec<u8>>)>,
}

impl ChangeSet {
    fn encode(&self) -> Vec<u8> {
        fn entry(out: &mut Vec<u8>, key: &[u8], value: &Option<Vec<u8>>) {
            out.extend_from_slice(key);
            match value {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    out.extend_from_slice(v);
                }
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&self.cursor.next_nonce.to_be_bytes());
        out.extend_from_slice(&self.cursor.l1_block.map_or(u64::MAX, |b| b).to_be_bytes());
        for n in [self.accounts.len(), self.storage.len(), self.nodes.len()] {
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        for (k, v) in &self.accounts {
            entry(&mut out, k.as_slice(), v);
        }
        for (k, v) in &self.storage {
            entry(&mut out, k, v);
        }
        for (k, v) in &self.nodes {
            entry(&mut out, k, v);
        }
        out
    }

    fn decode(mut raw: &[u8]) -> Result<Self, StorageError> {
        fn take<'a>(raw: &mut &'a [u8], n: usize) -> Result<&'a [u8], StorageError> {
            if raw.len() < n {
                return Err(StorageError::Corrupt("truncated change set".into()));
            }
            let (head, rest) = raw.split_at(n);
            *raw = rest;
            Ok(head)
        }
        fn u64_(raw: &mut &[u8]) -> Result<u64, StorageError> {
            Ok(u64::from_be_bytes(take(raw, 8)?.try_into().unwrap_or_default()))
        }
        fn u32_(raw: &mut &[u8]) -> Result<u32, StorageError> {
            Ok(u32::from_be_bytes(take(raw, 4)?.try_into().unwrap_or_default()))
        }
        fn entry<const K: usize>(
            raw: &mut &[u8],
        ) -> Result<([u8; K], Option<Vec<u8>>), StorageError> {
            let key: [u8; K] = take(raw, K)?.try_into().unwrap_or([0; K]);
            let len = u32_(raw)?;
            let value =
                if len == u32::MAX { None } else { Some(take(raw, len as usize)?.to_vec()) };
            Ok((key, value))
        }
        let next_nonce = u64_(&mut raw)?;
        let l1 = u64_(&mut raw)?;
        let cursor = DepositCursor { next_nonce, l1_block: (l1 != u64::MAX).then_some(l1) };
        let (na, ns, nn) = (u32_(&mut raw)?, u32_(&mut raw)?, u32_(&mut raw)?);
        let mut out = Self { cursor, ..Self::default() };
        for _ in 0..na {
            let (k, v) = entry::<20>(&mut raw)?;
            out.accounts.push((Address::from(k), v));
        }
        for _ in 0..ns {
            out.storage.push(entry::<52>(&mut raw)?);
        }
        for _ in 0..nn {
            out.nodes.push(entry::<34>(&mut raw)?);
        }
        Ok(out)
    }
}

impl Store {
    /// Keeps the sequencer's signature of block `number` (hash `hash`).
    pub fn put_block_signature(
        &self,
        number: u64,
        hash: B256,
        signature: &[u8; 65],
    ) -> Result<(), StorageError> {
        let txn = self.db.begin_rw_txn()?;
        let table = txn.open_table(Some(BLOCK_SIGS))?;
        let value = [hash.as_slice(), signature.as_slice()].concat();
        txn.put(&table, number.to_be_bytes(), value, WriteFlags::UPSERT)?;
        txn.commit()?;
        Ok(())
    }

    /// Stores (or replaces) the record of the API key whose secret hashes to `hash`.
    pub fn put_api_key(&self, hash: B256, record: &[u8]) -> Result<(), StorageError> {
        let txn = self.db.begin_rw_txn()?;
        let table = txn.open_table(Some(API_KEYS))?;
        txn.put(&table, hash, record, WriteFlags::UPSERT)?;
        txn.commit()?;
        Ok(())
    }

    /// Stores a component's own small record (a batcher's progress, say) under
    /// `key`, in its own write transaction.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.copy_and_put_metas(&[], &[(key, value)])
    }

    /// In one transaction, all or none: copies the component records `from`
    /// to `to` (one at a time: a record absent is skipped), then writes
    /// `entries`.
    pub fn copy_and_put_metas(
        &self,
        copies: &[(String, String)],
        entries: &[(&str, &[u8])],
    ) -> Result<(), StorageError> {
        let txn = self.db.begin_rw_txn()?;
        let meta = txn.open_table(Some(META))?;
        for (from, to) in copies {
            let value: Option<Vec<u8>> = txn.get(&meta, component_key(from))?;
            if let Some(value) = value {
                txn.put(&meta, component_key(to), value, WriteFlags::UPSERT)?;
            }
        }
        for (key, value) in entries {
            txn.put(&meta, component_key(key), value, WriteFlags::UPSERT)?;
        }
        txn.commit()?;
        Ok(())
    }
}

fn component_key(key: &str) -> Vec<u8> {
    [META_COMPONENT_PREFIX, key.as_bytes()].concat()
}

fn read_deposit_cursor<K: libmdbx::TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
) -> Result<DepositCursor, StorageError> {
    let meta = txn.open_table(Some(META))?;
    let next: Option<[u8; 8]> = txn.get(&meta, META_DEPOSIT_NEXT)?;
    let l1: Option<[u8; 8]> = txn.get(&meta, META_DEPOSIT_L1_BLOCK)?;
    Ok(DepositCursor {
        next_nonce: next.map(u64::from_be_bytes).unwrap_or_default(),
        l1_block: l1.map(u64::from_be_bytes),
    })
}

fn history_key(pos: &Position, block: u64) -> [u8; 42] {
    let mut key = [0u8; 42];
    key[..34].copy_from_slice(&pos.to_bytes());
    key[34..].copy_from_slice(&block.to_be_bytes());
    key
}

fn account_history_key(address: &Address, block: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&block.to_be_bytes());
    key
}

fn storage_history_key(slot_key: &[u8; 52], block: u64) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..52].copy_from_slice(slot_key);
    key[52..].copy_from_slice(&block.to_be_bytes());
    key
}

fn read_state_floor<K: libmdbx::TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
) -> Result<u64, StorageError> {
    let meta = txn.open_table(Some(META))?;
    let raw: Option<[u8; 8]> = txn.get(&meta, META_STATE_FLOOR)?;
    Ok(raw.map(u64::from_be_bytes).unwrap_or_default())
}

/// Raises the state floor towards `target` (by at most [`MAX_PRUNED_PER_BLOCK`]
/// blocks): for each block `b` that becomes the floor, its history entries (the
/// values before `b`, which no state at or after `b` needs), its change set, and
/// the tree versions older than the ones `b` wrote (the version at `b` is the
/// newest at or below any kept block) are deleted.
fn prune_history(
    txn: &Transaction<'_, libmdbx::RW, NoWriteMap>,
    target: u64,
) -> Result<(), StorageError> {
    let floor = read_state_floor(txn)?;
    if target <= floor {
        return Ok(());
    }
    let t = |name| txn.open_table(Some(name));
    let (changesets, history, accounts_h, storage_h, meta) =
        (t(CHANGESETS)?, t(SMT_HISTORY)?, t(ACCOUNT_HISTORY)?, t(STORAGE_HISTORY)?, t(META)?);
    let new_floor = target.min(floor.saturating_add(MAX_PRUNED_PER_BLOCK));
    for b in floor.saturating_add(1)..=new_floor {
        let key = b.to_be_bytes();
        // Written by a version without change sets: nothing of it is indexed.
        let Some(raw) = txn.get::<Vec<u8>>(&changesets, key)? else { continue };
        let undo = ChangeSet::decode(&raw)?;
        for (address, _) in &undo.accounts {
            txn.del(&accounts_h, account_history_key(address, b), None)?;
        }
        for (slot_key, _) in &undo.storage {
            txn.del(&storage_h, storage_history_key(slot_key, b), None)?;
        }
        for (pos, _) in &undo.nodes {
            let mut cursor = txn.cursor(&history)?;
            let mut seek = [0u8; 42];
            seek[..34].copy_from_slice(pos);
            let mut stale = Vec::new();
            let mut entry = cursor.set_range::<Vec<u8>, Vec<u8>>(&seek)?;
            while let Some((k, _)) = entry {
                if k.get(..34) != Some(pos.as_slice()) || k.get(34..) >= Some(key.as_slice()) {
                    break;
                }
                stale.push(k);
                entry = cursor.next::<Vec<u8>, Vec<u8>>()?;
            }
            for k in stale {
                txn.del(&history, k, None)?;
            }
        }
        txn.del(&changesets, key, None)?;
    }
    txn.put(&meta, META_STATE_FLOOR, new_floor.to_be_bytes(), WriteFlags::UPSERT)?;
    Ok(())
}

fn read_head<K: libmdbx::TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
) -> Result<Option<u64>, StorageError> {
    let meta = txn.open_table(Some(META))?;
    let raw: Option<[u8; 8]> = txn.get(&meta, META_HEAD)?;
    Ok(raw.map(u64::from_be_bytes))
}

/// A read-only snapshot: chain data, flat state and tree nodes as of one commit.
pub struct StateReader<'db> {
    txn: Transaction<'db, RO, NoWriteMap>,
}

impl std::fmt::Debug for StateReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReader").finish_non_exhaustive()
    }
}

impl StateReader<'_> {
    fn table(&self, name: &str) -> Result<Table<'_>, StorageError> {
        Ok(self.txn.open_table(Some(name))?)
    }

    fn get<V: for<'a> libmdbx::Decodable<'a>>(
        &self,
        table: &str,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<V>, StorageError> {
        let t = self.table(table)?;
        Ok(self.txn.get(&t, key)?)
    }

    /// The number of the newest sealed block, `None` for an empty database.
    pub fn head(&self) -> Result<Option<u64>, StorageError> {
        read_head(&self.txn)
    }

    /// The oldest block whose state this snapshot can read (see [`StateHistory`]).
    pub fn state_floor(&self) -> Result<u64, StorageError> {
        read_state_floor(&self.txn)
    }

    /// The deposit cursor as of the head block.
    pub fn deposit_cursor(&self) -> Result<DepositCursor, StorageError> {
        read_deposit_cursor(&self.txn)
    }

    /// The deposit cursor as of block `number` (at most the head): the one after
    /// the head, or the one block `number + 1` started from.
    pub fn deposit_cursor_at(&self, number: u64) -> Result<DepositCursor, StorageError> {
        let head = self.head()?.unwrap_or_default();
        if number >= head {
            return self.deposit_cursor();
        }
        let floor = self.state_floor()?;
        if number < floor {
            return Err(StorageError::Pruned { number, floor, head });
        }
        let next = number.saturating_add(1);
        let raw: Vec<u8> = self.get(CHANGESETS, next.to_be_bytes())?.ok_or_else(|| {
            StorageError::Corrupt(format!(
                "block {next} has no change set (written by an older version)"
            ))
        })?;
        Ok(ChangeSet::decode(&raw)?.cursor)
    }

    /// The signature stored for block `number`, if it was made for the block
    /// now stored at that height.
    pub fn block_signature(&self, number: u64) -> Result<Option<[u8; 65]>, StorageError> {
        let Some(raw) = self.get::<Vec<u8>>(BLOCK_SIGS, number.to_be_bytes())? else {
            return Ok(None);
        };
        let (Some(hash), Some(sig)) = (raw.get(..32), raw.get(32..97)) else {
            return Err(StorageError::Corrupt(format!(
                "block {number}: signature record of {} bytes",
                raw.len()
            )));
        };
        let header = self.header(number)?;
        if header.is_none_or(|h| h.hash_slow().as_slice() != hash) {
            return Ok(None);
        }
        Ok(sig.try_into().ok())
    }

    /// What the flat state was after block `number` wherever it changed since:
    /// each account's and slot's value before the first later block that wrote
    /// it (an account `None`: absent then). Read from the change sets, newest
    /// first; anything not listed is as it is now.
    #[allow(clippy::type_complexity)]
    pub fn state_priors_since(
        &self,
        number: u64,
    ) -> Result<
        (
            std::collections::HashMap<Address, Option<AccountState>>,
            std::collections::HashMap<(Address, U256), U256>,
        ),
        StorageError,
    > {
        let head = self.head()?.unwrap_or_default();
        let floor = self.state_floor()?;
        if number < floor {
            return Err(StorageError::Pruned { number, floor, head });
        }
        let (mut accounts, mut slots) =
            (std::collections::HashMap::new(), std::collections::HashMap::new());
        for b in (number.saturating_add(1)..=head).rev() {
            let raw: Vec<u8> = self.get(CHANGESETS, b.to_be_bytes())?.ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "block {b} has no change set (written by an older version)"
                ))
            })?;
            let undo = ChangeSet::decode(&raw)?;
            // Within a block the first write's prior is the value before it.
            for (address, prior) in undo.accounts.iter().rev() {
                accounts.insert(*address, prior.as_deref().map(decode_account).transpose()?);
            }
            for (key, prior) in undo.storage.iter().rev() {
                let address = Address::from_slice(&key[..20]);
                let slot = U256::from_be_slice(&key[20..]);
                slots.insert(
                    (address, slot),
                    prior.as_deref().map(U256::from_be_slice).unwrap_or_default(),
                );
            }
        }
        Ok((accounts, slots))
    }

    /// The record of the API key whose secret hashes to `hash`.
    pub fn api_key(&self, hash: B256) -> Result<Option<Vec<u8>>, StorageError> {
        self.get(API_KEYS, hash)
    }

    /// Every API key record, by secret hash.
    pub fn api_keys(&self) -> Result<Vec<(B256, Vec<u8>)>, StorageError> {
        let t = self.table(API_KEYS)?;
        let mut cursor = self.txn.cursor(&t)?;
        cursor
            .iter_start::<Vec<u8>, Vec<u8>>()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    B256::try_from(k.as_slice())
                        .map_err(|_| StorageError::Corrupt("api key hash".into()))?,
                    v,
                ))
            })
            .collect()
    }

    /// A record stored with [`Store::put_meta`].
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.get(META, component_key(key))
    }

    pub fn genesis_hash(&self) -> Result<Option<B256>, StorageError> {
        Ok(self.get::<[u8; 32]>(META, META_GENESIS)?.map(B256::from))
    }

    pub fn header(&self, number: u64) -> Result<Option<Header>, StorageError> {
        let raw: Option<Vec<u8>> = self.get(HEADERS, number.to_be_bytes())?;
        raw.map(|r| Header::decode(&mut r.as_slice()).map_err(Into::into)).transpose()
    }

    pub fn block_number(&self, hash: B256) -> Result<Option<u64>, StorageError> {
        Ok(self.get::<[u8; 8]>(HEADER_HASH, hash)?.map(u64::from_be_bytes))
    }

    pub fn block(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        let Some(header) = self.header(number)? else { return Ok(None) };
        let raw: Vec<u8> = self
            .get(BODIES, number.to_be_bytes())?
            .ok_or_else(|| StorageError::Corrupt(format!("block {number} has no body")))?;
        Ok(Some(SealedBlock::from_parts(header, BlockBody::decode_from(&raw)?)?))
    }

    /// Block `number`'s body as stored (encoded transactions and receipts), for
    /// readers that need only part of it.
    pub fn block_body(&self, number: u64) -> Result<Option<BlockBody>, StorageError> {
        let raw: Option<Vec<u8>> = self.get(BODIES, number.to_be_bytes())?;
        raw.map(|r| BlockBody::decode_from(&r).map_err(Into::into)).transpose()
    }

    pub fn tx_location(&self, hash: B256) -> Result<Option<TxLocation>, StorageError> {
        Ok(self.get::<[u8; 16]>(TX_LOOKUP, hash)?.map(TxLocation::from_bytes))
    }

    pub fn account(&self, address: Address) -> Result<Option<AccountState>, StorageError> {
        let raw: Option<Vec<u8>> = self.get(ACCOUNTS, address)?;
        raw.map(|r| decode_account(&r)).transpose()
    }

    pub fn storage(&self, address: Address, slot: U256) -> Result<U256, StorageError> {
        let raw: Option<[u8; 32]> = self.get(STORAGE, storage_key(&address, &slot))?;
        Ok(raw.map(|r| U256::from_be_bytes(r)).unwrap_or_default())
    }

    pub fn code(&self, hash: B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self.get::<Vec<u8>>(CODE, hash)?.map(Bytes::from))
    }
}

impl<'db> StateReader<'db> {
    /// The state tree as it was after block `number` (for proofs at past roots).
    /// Blocks committed before the history table existed have no versions.
    pub fn tree_at(&self, number: u64) -> HistoricalTree<'_, 'db> {
        HistoricalTree { reader: self, number }
    }

    /// The flat state as block `number` left it: the flat tables at the head,
    /// the history index below it. Refused beyond the head and below the state
    /// floor (pruned history).
    pub fn state_at(&self, number: u64) -> Result<StateAt<'_, 'db>, StorageError> {
        let head = self.head()?.unwrap_or_default();
        let floor = self.state_floor()?;
        if number > head || number < floor {
            return Err(StorageError::Pruned { number, floor, head });
        }
        Ok(StateAt { reader: self, number, head })
    }
}

/// The flat state after one block; see [`StateReader::state_at`].
pub struct StateAt<'r, 'db> {
    reader: &'r StateReader<'db>,
    number: u64,
    head: u64,
}

impl std::fmt::Debug for StateAt<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateAt").field("number", &self.number).finish_non_exhaustive()
    }
}

impl<'db> StateAt<'_, 'db> {
    /// The block whose post-state this is.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The snapshot this view reads.
    pub fn reader(&self) -> &StateReader<'db> {
        self.reader
    }

    /// The value before the first block above `number` that wrote `key_prefix`
    /// (its history entry), if any block did.
    fn prior(&self, table: &str, key_prefix: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let t = self.reader.table(table)?;
        let mut cursor = self.reader.txn.cursor(&t)?;
        let seek = [key_prefix, &self.number.saturating_add(1).to_be_bytes()].concat();
        Ok(match cursor.set_range::<Vec<u8>, Vec<u8>>(&seek)? {
            Some((k, v)) if k.len() == seek.len() && k.starts_with(key_prefix) => Some(v),
            _ => None,
        })
    }

    pub fn account(&self, address: Address) -> Result<Option<AccountState>, StorageError> {
        if self.number < self.head
            && let Some(prior) = self.prior(ACCOUNT_HISTORY, address.as_slice())?
        {
            return if prior.is_empty() { Ok(None) } else { decode_account(&prior).map(Some) };
        }
        self.reader.account(address)
    }

    pub fn storage(&self, address: Address, slot: U256) -> Result<U256, StorageError> {
        if self.number < self.head
            && let Some(prior) = self.prior(STORAGE_HISTORY, &storage_key(&address, &slot))?
        {
            return Ok(U256::from_be_slice(&prior));
        }
        self.reader.storage(address, slot)
    }

    pub fn code(&self, hash: B256) -> Result<Option<Bytes>, StorageError> {
        self.reader.code(hash)
    }

    /// The state tree as this block left it.
    pub fn tree(&self) -> HistoricalTree<'_, 'db> {
        self.reader.tree_at(self.number)
    }
}

/// The tree nodes as of one past block; see [`StateReader::tree_at`].
pub struct HistoricalTree<'r, 'db> {
    reader: &'r StateReader<'db>,
    number: u64,
}

impl std::fmt::Debug for HistoricalTree<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoricalTree").field("number", &self.number).finish_non_exhaustive()
    }
}

impl NodeStore for HistoricalTree<'_, '_> {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        let store = |e: libmdbx::Error| StateError::Store(e.to_string());
        let table = self.reader.txn.open_table(Some(SMT_HISTORY)).map_err(store)?;
        let mut cursor = self.reader.txn.cursor(&table).map_err(store)?;
        let prefix = position.to_bytes();
        // The first key above (position, number), then one step back: the newest
        // version at or below `number`, if it belongs to this position.
        let found = match self.number.checked_add(1) {
            Some(next) => {
                let seek = history_key(position, next);
                match cursor.set_range::<Vec<u8>, Vec<u8>>(&seek).map_err(store)? {
                    Some(_) => cursor.prev::<Vec<u8>, Vec<u8>>().map_err(store)?,
                    None => cursor.last::<Vec<u8>, Vec<u8>>().map_err(store)?,
                }
            }
            None => cursor.last::<Vec<u8>, Vec<u8>>().map_err(store)?,
        };
        match found {
            Some((key, value)) if key.get(..34) == Some(prefix.as_slice()) => {
                if value.is_empty() {
                    Ok(None)
                } else {
                    Node::from_bytes(&value).map(Some)
                }
            }
            _ => Ok(None),
        }
    }
}

impl NodeStore for StateReader<'_> {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        let raw: Option<Vec<u8>> = self
            .get(SMT_NODES, position.to_bytes())
            .map_err(|e| StateError::Store(e.to_string()))?;
        raw.map(|r| Node::from_bytes(&r)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_state::{Curve, SparseMerkleTree, TreeHasher};

    fn block(number: u64) -> SealedBlock {
        let header = Header { number, ..Default::default() };
        SealedBlock::new(header, vec![], vec![], vec![])
    }

    fn deposit(nonce: u64, l1_block: u64) -> infra_primitives::DepositTx {
        infra_primitives::DepositTx {
            nonce,
            l1_block,
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            value: U256::from(1),
            gas_limit: 21_000,
            data: Bytes::new(),
        }
    }

    fn block_with_deposits(number: u64, nonces: &[u64]) -> SealedBlock {
        let header = Header { number, ..Default::default() };
        let deposits: Vec<_> = nonces.iter().map(|n| deposit(*n, 10 + n)).collect();
        let receipts = deposits
            .iter()
            .map(|_| {
                alloy::consensus::ReceiptWithBloom::from(alloy::consensus::Receipt {
                    status: true.into(),
                    cumulative_gas_used: 0,
                    logs: vec![],
                })
            })
            .collect();
        let nonces = vec![0; deposits.len()];
        SealedBlock::with_deposits(header, deposits, receipts, nonces, vec![], vec![], vec![])
    }

    #[test]
    fn deposits_apply_once_in_order_with_the_cursor_in_the_block_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.commit_block(&block(0), &StateChanges::default(), &[]).unwrap();
        assert_eq!(store.reader().unwrap().deposit_cursor().unwrap(), DepositCursor::default());
        store
            .commit_block(&block_with_deposits(1, &[0, 1]), &StateChanges::default(), &[])
            .unwrap();
        let cursor = store.reader().unwrap().deposit_cursor().unwrap();
        assert_eq!(cursor, DepositCursor { next_nonce: 2, l1_block: Some(11) });
        // A replayed deposit and a gap are both refused, and nothing is written.
        for nonces in [&[1u64][..], &[3], &[2, 2]] {
            let err = store
                .commit_block(&block_with_deposits(2, nonces), &StateChanges::default(), &[])
                .unwrap_err();
            assert!(matches!(err, StorageError::DepositOutOfOrder { .. }), "{err}");
            assert_eq!(store.reader().unwrap().head().unwrap(), Some(1));
        }
        // A block without deposits keeps the cursor.
        store.commit_block(&block(2), &StateChanges::default(), &[]).unwrap();
        store.commit_block(&block_with_deposits(3, &[2]), &StateChanges::default(), &[]).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(
            r.deposit_cursor().unwrap(),
            DepositCursor { next_nonce: 3, l1_block: Some(12) }
        );
        // Deposits are found by hash at their block position.
        let d = deposit(2, 12);
        let loc = r.tx_location(d.hash()).unwrap().unwrap();
        assert_eq!((loc.block_number, loc.index), (3, 0));
        assert_eq!(r.block(3).unwrap().unwrap().deposits, vec![d]);
    }

    #[test]
    fn unwinding_restores_state_tree_cursor_and_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let h = TreeHasher::new(Curve::Bn254);
        let tree = SparseMerkleTree::new(&h);
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let acc =
            |nonce| Some(AccountState { nonce, balance: U256::from(nonce), code_hash: B256::ZERO });
        let key = |i: u8| B256::repeat_byte(i);
        // Block n: account a at nonce n, slot 1 of b = n, leaf n, and a deposit.
        let mut root = B256::ZERO;
        let mut roots = Vec::new();
        let mut blocks = Vec::new();
        for n in 0..4u64 {
            let mut updates = vec![(key(n as u8 + 1), Some(key(100)))];
            if n == 3 {
                updates.push((key(1), None));
            }
            let upd = tree.update(&store.reader().unwrap(), root, updates).unwrap();
            let changes = StateChanges {
                accounts: if n == 3 {
                    vec![(a, acc(3)), (b, None)]
                } else {
                    vec![(a, acc(n)), (b, acc(9))]
                },
                storage: vec![(b, U256::from(1), U256::from(n))],
                code: vec![],
            };
            let blk = if n == 0 { block(0) } else { block_with_deposits(n, &[n - 1]) };
            store.commit_block(&blk, &changes, &upd.changes).unwrap();
            root = upd.root;
            roots.push(root);
            blocks.push(blk);
        }
        let r = store.reader().unwrap();
        assert_eq!(
            r.deposit_cursor_at(1).unwrap(),
            DepositCursor { next_nonce: 1, l1_block: Some(10) }
        );
        assert_eq!(
            r.deposit_cursor_at(3).unwrap(),
            DepositCursor { next_nonce: 3, l1_block: Some(12) }
        );
        drop(r);
        let err = store.unwind_to(5).unwrap_err();
        assert!(err.to_string().contains("the head is block 3"), "{err}");
        assert!(store.unwind_to(3).unwrap().is_empty());
        let removed = store.unwind_to(1).unwrap();
        assert_eq!(removed, vec![blocks[3].hash, blocks[2].hash]);
        let r = store.reader().unwrap();
        assert_eq!(r.head().unwrap(), Some(1));
        assert_eq!(r.account(a).unwrap(), acc(1));
        assert_eq!(r.account(b).unwrap(), acc(9));
        assert_eq!(r.storage(b, U256::from(1)).unwrap(), U256::from(1));
        assert_eq!(tree.stored_root(&r).unwrap(), roots[1]);
        assert_eq!(tree.stored_root(&r.tree_at(3)).unwrap(), roots[1], "history is unwound too");
        assert_eq!(
            r.deposit_cursor().unwrap(),
            DepositCursor { next_nonce: 1, l1_block: Some(10) }
        );
        assert!(r.block(2).unwrap().is_none());
        assert_eq!(r.deposit_cursor_at(0).unwrap(), DepositCursor::default());
        assert_eq!(r.block_number(blocks[2].hash).unwrap(), None);
        assert_eq!(r.tx_location(deposit(1, 11).hash()).unwrap(), None);
        drop(r);
        // The chain continues from the unwound head; unwinding to genesis works.
        store.commit_block(&block_with_deposits(2, &[1]), &StateChanges::default(), &[]).unwrap();
        store.unwind_to(0).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.account(a).unwrap(), acc(0));
        assert_eq!(tree.stored_root(&r).unwrap(), roots[0]);
        assert_eq!(r.deposit_cursor().unwrap(), DepositCursor::default());
    }

    #[test]
    fn component_records_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_meta("batcher", b"abc").unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reader().unwrap().meta("batcher").unwrap(), Some(b"abc".to_vec()));
        assert_eq!(store.reader().unwrap().meta("other").unwrap(), None);
    }

    #[test]
    fn commits_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let h = TreeHasher::new(Curve::Bn254);
        let tree = SparseMerkleTree::new(&h);
        let addr = Address::repeat_byte(7);
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.reader().unwrap().head().unwrap(), None);
            let upd = {
                let r = store.reader().unwrap();
                tree.update(
                    &r,
                    B256::ZERO,
                    vec![(B256::repeat_byte(1), Some(B256::repeat_byte(2)))],
                )
                .unwrap()
            };
            let changes = StateChanges {
                accounts: vec![(
                    addr,
                    Some(AccountState { nonce: 1, balance: U256::from(9), code_hash: B256::ZERO }),
                )],
                storage: vec![(addr, U256::from(1), U256::from(5))],
                code: vec![(B256::repeat_byte(3), Bytes::from_static(b"\x60\x00"))],
            };
            store.commit_block(&block(0), &changes, &upd.changes).unwrap();
            // a gap is refused
            assert!(matches!(
                store.commit_block(&block(2), &StateChanges::default(), &[]),
                Err(StorageError::NotNext { .. })
            ));
            store.commit_block(&block(1), &StateChanges::default(), &[]).unwrap();
            let r = store.reader().unwrap();
            assert_eq!(tree.stored_root(&r).unwrap(), upd.root);
        }
        let store = Store::open(dir.path()).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.head().unwrap(), Some(1));
        assert_eq!(r.account(addr).unwrap().unwrap().nonce, 1);
        assert_eq!(r.storage(addr, U256::from(1)).unwrap(), U256::from(5));
        assert_eq!(r.storage(addr, U256::from(2)).unwrap(), U256::ZERO);
        assert_eq!(r.block(1).unwrap().unwrap().hash, block(1).hash);
        assert_eq!(r.block_number(block(1).hash).unwrap(), Some(1));
        assert_eq!(r.genesis_hash().unwrap(), Some(block(0).hash));
        assert!(r.code(B256::repeat_byte(3)).unwrap().is_some());
    }

    #[test]
    fn tree_history_serves_every_past_root() {
        let dir = tempfile::tempdir().unwrap();
        let h = TreeHasher::new(Curve::Bn254);
        let tree = SparseMerkleTree::new(&h);
        let store = Store::open(dir.path()).unwrap();
        let key = |i: u8| B256::repeat_byte(i);
        let batches: Vec<Vec<(B256, Option<B256>)>> = vec![
            (1..=20u8).map(|i| (key(i), Some(key(100 + i)))).collect(),
            vec![(key(3), Some(key(33))), (key(21), Some(key(121)))],
            vec![(key(21), None), (key(4), None)],
            vec![],
        ];
        let mut roots = Vec::new();
        let mut root = B256::ZERO;
        for (number, updates) in batches.into_iter().enumerate() {
            let upd = tree.update(&store.reader().unwrap(), root, updates).unwrap();
            store
                .commit_block(&block(number as u64), &StateChanges::default(), &upd.changes)
                .unwrap();
            root = upd.root;
            roots.push(root);
        }
        let r = store.reader().unwrap();
        for (number, expected) in roots.iter().enumerate() {
            let past = r.tree_at(number as u64);
            assert_eq!(tree.stored_root(&past).unwrap(), *expected, "root at block {number}");
        }
        // Proofs at block 1 see key 21 and the new value of key 3; at block 2 key 21 is gone.
        let at1 = r.tree_at(1);
        let p = tree.proof(&at1, roots[1], key(21)).unwrap();
        assert!(p.verify(&h, roots[1], key(21), Some(key(121))));
        let p = tree.proof(&at1, roots[1], key(3)).unwrap();
        assert!(p.verify(&h, roots[1], key(3), Some(key(33))));
        let at2 = r.tree_at(2);
        let p = tree.proof(&at2, roots[2], key(21)).unwrap();
        assert!(p.verify(&h, roots[2], key(21), None));
        let p = tree.proof(&r.tree_at(0), roots[0], key(4)).unwrap();
        assert!(p.verify(&h, roots[0], key(4), Some(key(104))));
    }

    fn entries(store: &Store, table: &str) -> usize {
        let txn = store.db.begin_ro_txn().unwrap();
        let t = txn.open_table(Some(table)).unwrap();
        txn.table_stat(&t).unwrap().entries()
    }

    /// Per block: the root, every account written so far, and the three slots.
    type Snapshots =
        (Vec<B256>, Vec<std::collections::HashMap<Address, Option<AccountState>>>, Vec<[U256; 3]>);

    /// Block `n` of a small chain: account `n % 5` and slot `n % 3` of account 9
    /// written each block, one tree leaf per block and one that moves.
    fn history_chain(store: &Store, blocks: u64) -> Snapshots {
        let h = TreeHasher::new(Curve::Bn254);
        let tree = SparseMerkleTree::new(&h);
        let holder = Address::repeat_byte(9);
        let (mut roots, mut accounts, mut slots) = (Vec::new(), Vec::new(), Vec::new());
        let mut acc_now = std::collections::HashMap::new();
        let mut slot_now = [U256::ZERO; 3];
        let mut root = B256::ZERO;
        for n in 0..blocks {
            let a = Address::with_last_byte((n % 5) as u8);
            // Every seventh write deletes the account.
            let value = (n % 7 != 6).then(|| AccountState {
                nonce: n,
                balance: U256::from(n * 1000),
                code_hash: B256::ZERO,
            });
            let slot = U256::from(n % 3);
            let updates = vec![
                (B256::with_last_byte(n as u8 + 1), Some(B256::repeat_byte(n as u8 + 1))),
                (B256::repeat_byte(0xee), Some(B256::with_last_byte(n as u8 + 1))),
            ];
            let upd = tree.update(&store.reader().unwrap(), root, updates).unwrap();
            let changes = StateChanges {
                accounts: vec![(a, value)],
                storage: vec![(holder, slot, U256::from(n))],
                code: vec![],
            };
            store.commit_block(&block(n), &changes, &upd.changes).unwrap();
            root = upd.root;
            acc_now.insert(a, value);
            slot_now[(n % 3) as usize] = U256::from(n);
            roots.push(root);
            accounts.push(acc_now.clone());
            slots.push(slot_now);
        }
        (roots, accounts, slots)
    }

    fn check_state_at(
        r: &StateReader<'_>,
        n: u64,
        roots: &[B256],
        accounts: &[std::collections::HashMap<Address, Option<AccountState>>],
        slots: &[[U256; 3]],
    ) {
        let hasher = TreeHasher::new(Curve::Bn254);
        let tree = SparseMerkleTree::new(&hasher);
        let at = r.state_at(n).unwrap();
        let i = n as usize;
        for k in 0..5u8 {
            let a = Address::with_last_byte(k);
            let want = accounts[i].get(&a).copied().flatten();
            assert_eq!(at.account(a).unwrap(), want, "account {k} after block {n}");
        }
        for k in 0..3u64 {
            let got = at.storage(Address::repeat_byte(9), U256::from(k)).unwrap();
            assert_eq!(got, slots[i][k as usize], "slot {k} after block {n}");
        }
        assert_eq!(tree.stored_root(&at.tree()).unwrap(), roots[i], "root after block {n}");
    }

    #[test]
    fn past_state_is_served_inside_the_window_and_pruned_below_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap().with_history(StateHistory::Window(10));
        let (roots, accounts, slots) = history_chain(&store, 60);
        let r = store.reader().unwrap();
        assert_eq!(r.state_floor().unwrap(), 49, "the newest 10 blocks below the head 59");
        for n in 49..60 {
            check_state_at(&r, n, &roots, &accounts, &slots);
        }
        let err = r.state_at(48).unwrap_err();
        assert!(
            err.to_string().contains("blocks 49..=59")
                && err.to_string().contains("--state.history"),
            "{err}"
        );
        assert!(matches!(r.state_at(60), Err(StorageError::Pruned { .. })));
        drop(r);
        // Bounded: history of about the window, not of the 60 blocks.
        assert!(entries(&store, ACCOUNT_HISTORY) <= 10, "{}", entries(&store, ACCOUNT_HISTORY));
        assert!(entries(&store, STORAGE_HISTORY) <= 10);
        assert!(entries(&store, CHANGESETS) <= 10);
        // Tree versions: far fewer than an archive of the same chain keeps.
        let archive_dir = tempfile::tempdir().unwrap();
        let archive = Store::open(archive_dir.path()).unwrap().with_history(StateHistory::Archive);
        history_chain(&archive, 60);
        let (pruned, all) = (entries(&store, SMT_HISTORY), entries(&archive, SMT_HISTORY));
        assert!(pruned * 2 < all, "tree versions: {pruned} kept of {all}");
        // Unwinding stays inside the window; the state there is still right.
        let err = store.unwind_to(48).unwrap_err();
        assert!(err.to_string().contains("starts at block 49"), "{err}");
        store.unwind_to(52).unwrap();
        let r = store.reader().unwrap();
        for n in 49..=52 {
            check_state_at(&r, n, &roots, &accounts, &slots);
        }
        assert!(r.state_at(53).unwrap_err().to_string().contains("49..=52"));
    }

    #[test]
    fn a_pinned_block_keeps_its_state_below_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap().with_history(StateHistory::Window(10));
        // A fault-game player needs the state after block 20 (a claim from
        // block 21 on not yet final): kept, whatever the 10-block window.
        store.clone().keep_state_from(20);
        let (roots, accounts, slots) = history_chain(&store, 60);
        let r = store.reader().unwrap();
        assert_eq!(r.state_floor().unwrap(), 20);
        for n in 20..60 {
            check_state_at(&r, n, &roots, &accounts, &slots);
        }
        assert!(r.state_at(19).is_err());
        drop(r);
        // The pin moves up (the claim is final): pruning catches up, a
        // bounded number of blocks per new block, to the window.
        store.keep_state_from(u64::MAX);
        let h = TreeHasher::new(Curve::Bn254);
        let mut root = *roots.last().unwrap();
        for n in 60..70 {
            let upd = SparseMerkleTree::new(&h)
                .update(&store.reader().unwrap(), root, vec![(B256::repeat_byte(1), None)])
                .unwrap();
            root = upd.root;
            store.commit_block(&block(n), &StateChanges::default(), &upd.changes).unwrap();
        }
        assert_eq!(store.reader().unwrap().state_floor().unwrap(), 59, "the newest 10 below 69");
    }

    #[test]
    fn an_archive_keeps_every_block_and_a_smaller_window_catches_up_gradually() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap().with_history(StateHistory::Archive);
        let (roots, accounts, slots) = history_chain(&store, 40);
        let r = store.reader().unwrap();
        assert_eq!(r.state_floor().unwrap(), 0);
        for n in 0..40 {
            check_state_at(&r, n, &roots, &accounts, &slots);
        }
        drop(r);
        // Reopened with a window of 5: each new block prunes a bounded number.
        drop(store);
        let store = Store::open(dir.path()).unwrap().with_history(StateHistory::Window(5));
        let h = TreeHasher::new(Curve::Bn254);
        let root = *roots.last().unwrap();
        let upd = SparseMerkleTree::new(&h)
            .update(&store.reader().unwrap(), root, vec![(B256::repeat_byte(1), None)])
            .unwrap();
        store.commit_block(&block(40), &StateChanges::default(), &upd.changes).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.state_floor().unwrap(), MAX_PRUNED_PER_BLOCK);
        for n in MAX_PRUNED_PER_BLOCK..40 {
            check_state_at(&r, n, &roots, &accounts, &slots);
        }
    }

    #[test]
    fn state_history_parses_archive_or_a_positive_window() {
        assert_eq!("archive".parse::<StateHistory>(), Ok(StateHistory::Archive));
        assert_eq!("128".parse::<StateHistory>(), Ok(StateHistory::Window(128)));
        for bad in ["0", "-1", "all", ""] {
            let err = bad.parse::<StateHistory>().unwrap_err();
            assert!(err.contains("state.history") && err.contains("archive"), "{err}");
        }
        assert_eq!(StateHistory::default().to_string(), "10000");
    }
}
