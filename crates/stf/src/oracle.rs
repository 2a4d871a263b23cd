//! The state as the fault-proof program reads it: every value through
//! [`Preimages`], by the hash that commits to it, starting from the pre-output's
//! state root and block hash; the batch's own writes kept in memory on top.
//!
//! The flat state is read from the tree: an account or a slot is the leaf its
//! key leads to (nodes fetched by hash from the root), then the leaf's value
//! hash opened. Nothing read is hashed again here: the preimage oracle only
//! answers with a preimage of the hash asked for (L1 checks that when a
//! preimage is loaded, the host when it records one).

use crate::{BatchState, BuiltBlock};
use alloc::{collections::BTreeMap, format};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use infra_primitives::{AccountState, SourceError, StateSource};
use infra_state::{
    Node, NodeStore, Position, StateError, TreeHasher,
    keys::{account_key, storage_key},
};

/// What the program reads, each by the hash that commits to it. The other
/// arguments are hints: the program's implementation ignores them (it asks the
/// oracle by hash); the host's uses them to find the value in its database
/// (and records the preimage for the VM).
pub trait Preimages: Sync {
    /// The tree node hashing to `hash` (found at `position`).
    fn node(&self, position: &Position, hash: &B256) -> Result<Node, SourceError>;
    /// The account whose leaf value hash is `value_hash`.
    fn account(&self, address: Address, value_hash: &B256) -> Result<AccountState, SourceError>;
    /// The storage value whose leaf value hash is `value_hash`.
    fn storage(&self, address: Address, slot: U256, value_hash: &B256)
    -> Result<U256, SourceError>;
    /// The code whose keccak256 is `hash`.
    fn code(&self, hash: &B256) -> Result<Bytes, SourceError>;
    /// The block header whose hash is `hash`.
    fn header(&self, hash: &B256) -> Result<Header, SourceError>;
}

/// The flat state and tree of one pre-output, plus the writes of the blocks
/// committed on top ([`BatchState`]).
pub struct OracleState<'p, P: Preimages> {
    oracle: &'p P,
    hasher: TreeHasher,
    /// The root reads below the writes start from (the pre-output's).
    root: B256,
    accounts: BTreeMap<Address, Option<AccountState>>,
    storage: BTreeMap<(Address, U256), U256>,
    code: BTreeMap<B256, Bytes>,
    /// Tree nodes written by the committed blocks, by hash.
    nodes: BTreeMap<B256, Node>,
    /// Block hashes by number: the pre-output's block and the 255 before it
    /// (read once, when the state is made: BLOCKHASH reaches 256 blocks back),
    /// then the batch's blocks as they are committed.
    hashes: BTreeMap<u64, B256>,
}

impl<'p, P: Preimages> OracleState<'p, P> {
    /// The state after `parent` (whose state root reads start from). Reads
    /// the headers of the 255 blocks before `parent` (fewer near genesis):
    /// every hash BLOCKHASH can ask for in the batch is then known, and no
    /// header is read twice however often a block asks.
    pub fn new(oracle: &'p P, hasher: &TreeHasher, parent: &Header) -> Result<Self, SourceError> {
        let mut hashes = BTreeMap::from([(parent.number, parent.hash_slow())]);
        let (mut number, mut hash) = (parent.number, parent.parent_hash);
        while number > parent.number.saturating_sub(255) {
            let header = oracle.header(&hash)?;
            if header.number.checked_add(1) != Some(number) {
                return Err(SourceError(format!("header {hash} is not block {}", number - 1)));
            }
            hashes.insert(header.number, hash);
            (number, hash) = (header.number, header.parent_hash);
        }
        Ok(Self {
            oracle,
            hasher: hasher.clone(),
            root: parent.state_root,
            accounts: BTreeMap::new(),
            storage: BTreeMap::new(),
            code: BTreeMap::new(),
            nodes: BTreeMap::new(),
            hashes,
        })
    }

    /// The leaf value hash `key` maps to under the pre-state root.
    fn leaf(&self, key: &B256) -> Result<Option<B256>, SourceError> {
        let mut hash = self.root;
        let mut depth = 0u16;
        loop {
            if hash == B256::ZERO {
                return Ok(None);
            }
            let pos = Position::on_path(key, depth);
            match self.oracle.node(&pos, &hash)? {
                Node::Leaf { key: k, value } => return Ok((k == *key).then_some(value)),
                Node::Internal { left, right } => {
                    hash = if bit(key, depth) { right } else { left };
                    depth = depth
                        .checked_add(1)
                        .filter(|d| *d <= 256)
                        .ok_or_else(|| SourceError("tree path deeper than 256".into()))?;
                }
            }
        }
    }

    /// Indexes the nodes an update wrote by hash, from the new root down
    /// (the parents hold their children's hashes: nothing is hashed again).
    fn index_nodes(&mut self, root: B256, written: &[(Position, Option<Node>)]) {
        let by_pos: BTreeMap<Position, Node> =
            written.iter().filter_map(|(p, n)| n.map(|n| (*p, n))).collect();
        let mut todo = alloc::vec![(Position::ROOT, root)];
        while let Some((pos, hash)) = todo.pop() {
            let Some(node) = by_pos.get(&pos) else { continue };
            self.nodes.insert(hash, *node);
            if let Node::Internal { left, right } = node {
                let l = Position::on_path(&pos.prefix, pos.depth.saturating_add(1));
                if let Some(r) = l.sibling() {
                    todo.push((r, *right));
                }
                todo.push((l, *left));
            }
        }
    }
}

/// Bit `i` (least significant first) of a big-endian 256-bit key, as the tree reads it.
fn bit(key: &B256, i: u16) -> bool {
    let i = usize::from(i);
    key.0.get(31usize.wrapping_sub(i / 8)).is_some_and(|byte| (byte >> (i % 8)) & 1 == 1)
}

impl<P: Preimages> StateSource for OracleState<'_, P> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError> {
        if let Some(a) = self.accounts.get(&address) {
            return Ok(*a);
        }
        match self.leaf(&account_key(&self.hasher, address))? {
            None => Ok(None),
            Some(v) => self.oracle.account(address, &v).map(Some),
        }
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError> {
        if let Some(v) = self.storage.get(&(address, slot)) {
            return Ok(*v);
        }
        match self.leaf(&storage_key(&self.hasher, address, slot))? {
            None => Ok(U256::ZERO),
            Some(v) => self.oracle.storage(address, slot, &v),
        }
    }

    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        if let Some(c) = self.code.get(&hash) {
            return Ok(Some(c.clone()));
        }
        self.oracle.code(&hash).map(Some)
    }

    /// Only the code the batch wrote is known to exist (the oracle cannot
    /// answer "absent"): the executor then lists the code of every contract
    /// it touched as written, which changes no root and no hash.
    fn has_code(&self, hash: B256) -> Result<bool, SourceError> {
        Ok(self.code.contains_key(&hash))
    }

    fn block_hash(&self, number: u64) -> Result<B256, SourceError> {
        Ok(self.hashes.get(&number).copied().unwrap_or(B256::ZERO))
    }
}

impl<P: Preimages> NodeStore for OracleState<'_, P> {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        Err(StateError::Store(format!(
            "the oracle serves nodes by hash (asked for depth {} by position)",
            position.depth
        )))
    }

    fn node_with_hash(&self, position: &Position, hash: &B256) -> Result<Option<Node>, StateError> {
        if *hash == B256::ZERO {
            return Ok(None);
        }
        if let Some(n) = self.nodes.get(hash) {
            return Ok(Some(*n));
        }
        self.oracle.node(position, hash).map(Some).map_err(|e| StateError::Store(e.0))
    }
}

impl<P: Preimages> BatchState for OracleState<'_, P> {
    fn commit(&mut self, built: &BuiltBlock) {
        let c = &built.changes;
        for (address, account) in &c.accounts {
            self.accounts.insert(*address, *account);
        }
        for (address, slot, value) in &c.storage {
            self.storage.insert((*address, *slot), *value);
        }
        for (hash, code) in &c.code {
            self.code.insert(*hash, code.clone());
        }
        let header = &built.block.header;
        self.index_nodes(header.state_root, &built.nodes);
        self.hashes.insert(header.number, built.block.hash);
    }
}
