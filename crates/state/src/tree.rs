//! The sparse Merkle tree with shortcut leaves. See the crate docs for the shape.

use crate::{
    TreeHasher,
    keys::{leaf_hash, node_hash},
};
use alloc::{collections::BTreeMap, format, string::String, vec::Vec};
use alloy_primitives::B256;

/// A map for node stores: hashed with std, ordered without.
#[cfg(feature = "std")]
type Map<K, V> = std::collections::HashMap<K, V>;
#[cfg(not(feature = "std"))]
type Map<K, V> = BTreeMap<K, V>;

/// Both closures, in parallel where there are threads.
#[cfg(feature = "std")]
fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    rayon::join(a, b)
}
#[cfg(not(feature = "std"))]
fn join<A, B>(a: impl FnOnce() -> A, b: impl FnOnce() -> B) -> (A, B) {
    (a(), b())
}

/// Updates below this many keys are processed on one thread.
const PARALLEL_THRESHOLD: usize = 48;
/// Key length in bits: no position is deeper.
const KEY_BITS: u16 = 256;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state tree storage: {0}")]
    Store(String),
    #[error("state tree is corrupt: {0}")]
    Corrupt(String),
}

/// A node's place in the tree: its depth and the key bits that lead to it
/// (bit `i` of a key is bit `i` of its big-endian 256-bit value, least significant first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub depth: u16,
    pub prefix: B256,
}

impl Position {
    pub const ROOT: Self = Self { depth: 0, prefix: B256::ZERO };

    fn child(&self, right: bool) -> Result<Self, StateError> {
        if self.depth >= KEY_BITS {
            return Err(StateError::Corrupt("path deeper than 256 bits".into()));
        }
        let mut prefix = self.prefix;
        if right {
            set_bit(&mut prefix, self.depth);
        }
        Ok(Self { depth: self.depth.saturating_add(1), prefix })
    }

    /// The position at `depth` on the path of `key`: its first `depth` bits.
    pub fn on_path(key: &B256, depth: u16) -> Self {
        let mut prefix = B256::ZERO;
        for i in 0..depth.min(KEY_BITS) {
            if bit(key, i) {
                set_bit(&mut prefix, i);
            }
        }
        Self { depth, prefix }
    }

    /// The other child of this position's parent (the root has none).
    pub fn sibling(&self) -> Option<Self> {
        let last = self.depth.checked_sub(1)?;
        let mut prefix = self.prefix;
        if let Some(byte) = prefix.0.get_mut(31usize.wrapping_sub(usize::from(last) / 8)) {
            *byte ^= 1 << (last % 8);
        }
        Some(Self { depth: self.depth, prefix })
    }

    /// Storage key: depth (2 bytes, big-endian) then the prefix.
    pub fn to_bytes(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[..2].copy_from_slice(&self.depth.to_be_bytes());
        out[2..].copy_from_slice(self.prefix.as_slice());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 34 {
            return None;
        }
        let depth = u16::from_be_bytes([bytes[0], bytes[1]]);
        Some(Self { depth, prefix: B256::from_slice(&bytes[2..]) })
    }
}

/// Bit `i` (least significant first) of a 256-bit big-endian word.
#[inline]
pub(crate) fn bit(key: &B256, i: u16) -> bool {
    let i = usize::from(i);
    key.0.get(31usize.wrapping_sub(i / 8)).is_some_and(|byte| (byte >> (i % 8)) & 1 == 1)
}

fn set_bit(key: &mut B256, i: u16) {
    let i = usize::from(i);
    if let Some(byte) = key.0.get_mut(31usize.wrapping_sub(i / 8)) {
        *byte |= 1 << (i % 8);
    }
}

/// A stored tree node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Internal { left: B256, right: B256 },
    Leaf { key: B256, value: B256 },
}

impl Node {
    pub fn hash(&self, h: &TreeHasher) -> B256 {
        match self {
            Self::Internal { left, right } => node_hash(h, left, right),
            Self::Leaf { key, value } => leaf_hash(h, key, value),
        }
    }

    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let (tag, a, b) = match self {
            Self::Internal { left, right } => (1u8, left, right),
            Self::Leaf { key, value } => (2u8, key, value),
        };
        out[0] = tag;
        out[1..33].copy_from_slice(a.as_slice());
        out[33..].copy_from_slice(b.as_slice());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        if bytes.len() != 65 {
            return Err(StateError::Corrupt(format!("node of {} bytes", bytes.len())));
        }
        let a = B256::from_slice(&bytes[1..33]);
        let b = B256::from_slice(&bytes[33..]);
        match bytes[0] {
            1 => Ok(Self::Internal { left: a, right: b }),
            2 => Ok(Self::Leaf { key: a, value: b }),
            t => Err(StateError::Corrupt(format!("node tag {t}"))),
        }
    }
}

/// Where the tree's nodes live (MDBX in the node, a map in tests, the preimage
/// oracle in the fault-proof program).
pub trait NodeStore: Sync {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError>;

    /// The node at `position`, which the caller knows hashes to `hash` (the
    /// tree reads every node this way: from the root it was given, or from
    /// its parent's child hash). A store by position ignores the hash; a store
    /// by hash ([`HashNodeStore`]) ignores the position.
    fn node_with_hash(&self, position: &Position, hash: &B256) -> Result<Option<Node>, StateError> {
        let _ = hash;
        self.node(position)
    }
}

/// Nodes by their hash (content-addressed), as the fault-proof program reads
/// them through the preimage oracle: every node it returns is checked to hash
/// to what was asked for. It cannot be read by position alone.
#[derive(Debug, Clone)]
pub struct HashNodeStore {
    hasher: TreeHasher,
    nodes: BTreeMap<B256, Node>,
}

impl HashNodeStore {
    pub fn new(hasher: &TreeHasher) -> Self {
        Self { hasher: hasher.clone(), nodes: BTreeMap::new() }
    }

    /// Adds `node` under its hash; returns the hash.
    pub fn insert(&mut self, node: Node) -> B256 {
        let hash = node.hash(&self.hasher);
        self.nodes.insert(hash, node);
        hash
    }

    /// Adds a node under a hash of the caller's choice (for tests of a lying source).
    pub fn insert_unchecked(&mut self, hash: B256, node: Node) {
        self.nodes.insert(hash, node);
    }

    /// Adds the nodes an update wrote (deletions change nothing: content is addressed).
    pub fn apply(&mut self, changes: &[NodeChange]) {
        for (_, node) in changes {
            if let Some(n) = node {
                self.insert(*n);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeStore for HashNodeStore {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        Err(StateError::Store(format!(
            "a store by hash is read with the node's hash (asked for depth {} by position)",
            position.depth
        )))
    }

    fn node_with_hash(&self, _: &Position, hash: &B256) -> Result<Option<Node>, StateError> {
        if *hash == B256::ZERO {
            return Ok(None);
        }
        match self.nodes.get(hash) {
            None => Ok(None),
            Some(n) if n.hash(&self.hasher) == *hash => Ok(Some(*n)),
            Some(_) => {
                Err(StateError::Corrupt(format!("the node stored under {hash} hashes otherwise")))
            }
        }
    }
}

/// One write of an update: `None` deletes the node at that position. Apply in order.
pub type NodeChange = (Position, Option<Node>);

/// An in-memory node store, for tests, benches and tools.
#[derive(Debug, Default, Clone)]
pub struct MemoryNodeStore {
    nodes: Map<Position, Node>,
}

impl MemoryNodeStore {
    pub fn apply(&mut self, changes: &[NodeChange]) {
        for (pos, node) in changes {
            match node {
                Some(n) => {
                    self.nodes.insert(*pos, *n);
                }
                None => {
                    self.nodes.remove(pos);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeStore for MemoryNodeStore {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        Ok(self.nodes.get(position).copied())
    }
}

/// Node writes kept in memory over a read-only base store: applying updates one
/// by one without touching the base (the prover replays a batch's writes on top
/// of the state at its first block).
#[derive(Debug)]
pub struct OverlayStore<'a, S: NodeStore + ?Sized> {
    base: &'a S,
    changes: Map<Position, Option<Node>>,
}

impl<'a, S: NodeStore + ?Sized> OverlayStore<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Self { base, changes: Map::new() }
    }

    pub fn apply(&mut self, changes: &[NodeChange]) {
        for (pos, node) in changes {
            self.changes.insert(*pos, *node);
        }
    }
}

impl<S: NodeStore + ?Sized> NodeStore for OverlayStore<'_, S> {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        match self.changes.get(position) {
            Some(n) => Ok(*n),
            None => self.base.node(position),
        }
    }

    fn node_with_hash(&self, position: &Position, hash: &B256) -> Result<Option<Node>, StateError> {
        match self.changes.get(position) {
            Some(n) => Ok(*n),
            None => self.base.node_with_hash(position, hash),
        }
    }
}

/// The result of a batched update: the new root and the node writes to persist.
#[derive(Debug, Clone, Default)]
pub struct TreeUpdate {
    pub root: B256,
    pub changes: Vec<NodeChange>,
    /// Poseidon permutations spent on this update (for benches and metrics).
    pub hashes: usize,
}

/// A subtree after an update.
#[derive(Debug, Clone, Copy)]
enum Sub {
    Empty,
    /// A single leaf, not yet written: its parent decides where it lands.
    Leaf {
        key: B256,
        value: B256,
        hash: B256,
    },
    /// An internal node already written at its position.
    Internal {
        hash: B256,
    },
    /// A child the update did not touch (its hash, non-zero).
    Unchanged {
        hash: B256,
    },
}

impl Sub {
    fn hash(&self) -> B256 {
        match self {
            Self::Empty => B256::ZERO,
            Self::Leaf { hash, .. } | Self::Internal { hash } | Self::Unchanged { hash } => *hash,
        }
    }
}

struct Out {
    changes: Vec<NodeChange>,
    hashes: usize,
}

impl Out {
    fn new() -> Self {
        Self { changes: Vec::new(), hashes: 0 }
    }

    fn merge(&mut self, other: Out) {
        self.changes.extend(other.changes);
        self.hashes = self.hashes.saturating_add(other.hashes);
    }
}

type Update = (B256, Option<B256>);

/// The tree algorithm over a [`NodeStore`].
#[derive(Debug, Clone, Copy)]
pub struct SparseMerkleTree<'h> {
    hasher: &'h TreeHasher,
}

impl<'h> SparseMerkleTree<'h> {
    pub fn new(hasher: &'h TreeHasher) -> Self {
        Self { hasher }
    }

    /// The root hash the store currently holds (zero for an empty tree).
    pub fn stored_root<S: NodeStore + ?Sized>(&self, store: &S) -> Result<B256, StateError> {
        Ok(store.node(&Position::ROOT)?.map(|n| n.hash(self.hasher)).unwrap_or_default())
    }

    /// Applies a batch of `(key, Some(value_hash))` inserts/updates and `(key, None)`
    /// deletes to the tree whose root is `root` (which must be the root the store
    /// holds). Later entries for the same key win. Independent subtrees are
    /// updated in parallel.
    pub fn update<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        root: B256,
        mut updates: Vec<Update>,
    ) -> Result<TreeUpdate, StateError> {
        let existing = store.node_with_hash(&Position::ROOT, &root)?;
        let stored = existing.map(|n| n.hash(self.hasher)).unwrap_or_default();
        if stored != root {
            return Err(StateError::Corrupt(format!(
                "stored root {stored} does not match expected root {root}"
            )));
        }
        // Stable sort keeps input order among equal keys; keep the last of each run.
        updates.sort_by_key(|a| a.0);
        let mut deduped: Vec<Update> = Vec::with_capacity(updates.len());
        for u in updates {
            match deduped.last_mut() {
                Some(last) if last.0 == u.0 => *last = u,
                _ => deduped.push(u),
            }
        }
        let mut out = Out::new();
        let sub = self.update_at(store, Position::ROOT, existing, deduped, &mut out)?;
        let root = match sub {
            Sub::Empty => B256::ZERO,
            Sub::Leaf { key, value, hash } => {
                out.changes.push((Position::ROOT, Some(Node::Leaf { key, value })));
                hash
            }
            Sub::Internal { hash } | Sub::Unchanged { hash } => hash,
        };
        Ok(TreeUpdate { root, changes: out.changes, hashes: out.hashes })
    }

    fn update_at<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        pos: Position,
        existing: Option<Node>,
        updates: Vec<Update>,
        out: &mut Out,
    ) -> Result<Sub, StateError> {
        if updates.is_empty() {
            return Ok(match existing {
                None => Sub::Empty,
                Some(Node::Leaf { key, value }) => {
                    Sub::Leaf { key, value, hash: self.hash_leaf(&key, &value, out) }
                }
                Some(n) => Sub::Unchanged { hash: self.hash_node(&n, out) },
            });
        }
        match existing {
            None => self.build(pos, updates, out),
            Some(Node::Leaf { key, value }) => {
                out.changes.push((pos, None));
                let mut updates = updates;
                if let Err(i) = updates.binary_search_by(|u| u.0.cmp(&key)) {
                    updates.insert(i, (key, Some(value)));
                }
                self.build(pos, updates, out)
            }
            Some(Node::Internal { left, right }) => {
                let (lu, ru): (Vec<Update>, Vec<Update>) =
                    updates.into_iter().partition(|u| !bit(&u.0, pos.depth));
                let lpos = pos.child(false)?;
                let rpos = pos.child(true)?;
                let side = |cpos: Position,
                            hash: B256,
                            ups: Vec<Update>|
                 -> Result<(Sub, Out), StateError> {
                    let mut o = Out::new();
                    if ups.is_empty() {
                        let sub =
                            if hash == B256::ZERO { Sub::Empty } else { Sub::Unchanged { hash } };
                        return Ok((sub, o));
                    }
                    let child = if hash == B256::ZERO {
                        None
                    } else {
                        Some(self.load(store, &cpos, &hash)?)
                    };
                    let sub = self.update_at(store, cpos, child, ups, &mut o)?;
                    Ok((sub, o))
                };
                let ((l, lo), (r, ro)) = if lu.len().saturating_add(ru.len()) >= PARALLEL_THRESHOLD
                {
                    let (a, b) = join(|| side(lpos, left, lu), || side(rpos, right, ru));
                    (a?, b?)
                } else {
                    (side(lpos, left, lu)?, side(rpos, right, ru)?)
                };
                out.merge(lo);
                out.merge(ro);
                // The old internal node goes; combine() writes the new one if any.
                out.changes.push((pos, None));
                self.combine(store, pos, (lpos, l), (rpos, r), out)
            }
        }
    }

    /// Builds the subtree at `pos` from scratch (nothing is stored below it).
    fn build(&self, pos: Position, updates: Vec<Update>, out: &mut Out) -> Result<Sub, StateError> {
        let live: Vec<Update> = updates.into_iter().filter(|u| u.1.is_some()).collect();
        match live.as_slice() {
            [] => Ok(Sub::Empty),
            [(key, Some(value))] => {
                Ok(Sub::Leaf { key: *key, value: *value, hash: self.hash_leaf(key, value, out) })
            }
            _ => {
                let (lu, ru): (Vec<Update>, Vec<Update>) =
                    live.into_iter().partition(|u| !bit(&u.0, pos.depth));
                let lpos = pos.child(false)?;
                let rpos = pos.child(true)?;
                let side = |cpos: Position, ups: Vec<Update>| -> Result<(Sub, Out), StateError> {
                    let mut o = Out::new();
                    let sub = self.build(cpos, ups, &mut o)?;
                    Ok((sub, o))
                };
                let ((l, lo), (r, ro)) = if lu.len().saturating_add(ru.len()) >= PARALLEL_THRESHOLD
                {
                    let (a, b) = join(|| side(lpos, lu), || side(rpos, ru));
                    (a?, b?)
                } else {
                    (side(lpos, lu)?, side(rpos, ru)?)
                };
                out.merge(lo);
                out.merge(ro);
                // `combine` never needs the store here: nothing below is Unchanged.
                self.combine(&MemoryNodeStore::default(), pos, (lpos, l), (rpos, r), out)
            }
        }
    }

    /// Joins two updated children into the node at `pos`, writing what must be written.
    fn combine<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        pos: Position,
        (lpos, l): (Position, Sub),
        (rpos, r): (Position, Sub),
        out: &mut Out,
    ) -> Result<Sub, StateError> {
        // A lone leaf (or a lone untouched child that turns out to be a leaf) moves up.
        let lone = match (&l, &r) {
            (Sub::Empty, Sub::Empty) => return Ok(Sub::Empty),
            (other, Sub::Empty) => Some((lpos, *other)),
            (Sub::Empty, other) => Some((rpos, *other)),
            _ => None,
        };
        if let Some((cpos, sub)) = lone {
            match sub {
                Sub::Leaf { .. } => return Ok(sub),
                Sub::Unchanged { .. } => {
                    if let Node::Leaf { key, value } = self.load(store, &cpos, &sub.hash())? {
                        out.changes.push((cpos, None));
                        return Ok(Sub::Leaf { key, value, hash: sub.hash() });
                    }
                }
                Sub::Internal { .. } | Sub::Empty => {}
            }
        }
        for (cpos, sub) in [(lpos, l), (rpos, r)] {
            if let Sub::Leaf { key, value, .. } = sub {
                out.changes.push((cpos, Some(Node::Leaf { key, value })));
            }
        }
        let node = Node::Internal { left: l.hash(), right: r.hash() };
        let hash = self.hash_node(&node, out);
        out.changes.push((pos, Some(node)));
        Ok(Sub::Internal { hash })
    }

    fn load<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        pos: &Position,
        hash: &B256,
    ) -> Result<Node, StateError> {
        store.node_with_hash(pos, hash)?.ok_or_else(|| {
            StateError::Corrupt(format!(
                "missing node at depth {} prefix {}",
                pos.depth, pos.prefix
            ))
        })
    }

    fn hash_leaf(&self, key: &B256, value: &B256, out: &mut Out) -> B256 {
        out.hashes = out.hashes.saturating_add(1);
        leaf_hash(self.hasher, key, value)
    }

    fn hash_node(&self, node: &Node, out: &mut Out) -> B256 {
        out.hashes = out.hashes.saturating_add(1);
        node.hash(self.hasher)
    }

    /// The inclusion or exclusion proof of `key` in the tree whose root is `root`
    /// (the root the store holds).
    pub fn proof<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        root: B256,
        key: B256,
    ) -> Result<SmtProof, StateError> {
        let mut node = store.node_with_hash(&Position::ROOT, &root)?;
        let stored = node.map(|n| n.hash(self.hasher)).unwrap_or_default();
        if stored != root {
            return Err(StateError::Corrupt(format!(
                "proof requested for root {root}, store holds {stored}"
            )));
        }
        let mut siblings = Vec::new();
        let mut pos = Position::ROOT;
        loop {
            match node {
                None => return Ok(SmtProof { siblings, leaf: None }),
                Some(Node::Leaf { key: k, value }) => {
                    return Ok(SmtProof { siblings, leaf: Some((k, value)) });
                }
                Some(Node::Internal { left, right }) => {
                    let right_side = bit(&key, pos.depth);
                    let (next, sibling) = if right_side { (right, left) } else { (left, right) };
                    siblings.push(sibling);
                    pos = pos.child(right_side)?;
                    node = if next == B256::ZERO {
                        None
                    } else {
                        Some(self.load(store, &pos, &next)?)
                    };
                }
            }
        }
    }
}

/// A store that remembers every node it hands out: run an operation over it, and
/// the recorded nodes alone (in a [`MemoryNodeStore`]) are enough to run the same
/// operation again, elsewhere (a prover's state witness).
#[cfg(feature = "std")]
pub struct RecordingStore<'a, S: NodeStore + ?Sized> {
    inner: &'a S,
    seen: std::sync::Mutex<BTreeMap<Position, Node>>,
}

#[cfg(feature = "std")]
impl<'a, S: NodeStore + ?Sized> RecordingStore<'a, S> {
    pub fn new(inner: &'a S) -> Self {
        Self { inner, seen: std::sync::Mutex::new(BTreeMap::new()) }
    }

    /// The nodes read so far, by position.
    pub fn into_nodes(self) -> Vec<(Position, Node)> {
        self.seen.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().collect()
    }
}

#[cfg(feature = "std")]
impl<S: NodeStore + ?Sized> NodeStore for RecordingStore<'_, S> {
    fn node(&self, position: &Position) -> Result<Option<Node>, StateError> {
        let node = self.inner.node(position)?;
        if let Some(n) = node {
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).insert(*position, n);
        }
        Ok(node)
    }
}

/// The leaves in which two trees differ: `(key, Some(value))` for each leaf of
/// `after` that `before` lacks or holds with another value, `(key, None)` for each
/// leaf only `before` holds. Sorted by key: the state diff that turns `before`
/// into `after` (what a validity proof of the transition proves). Descends only
/// where the subtrees' hashes differ.
pub fn diff_leaves<A: NodeStore + ?Sized, B: NodeStore + ?Sized>(
    before: &A,
    after: &B,
) -> Result<Vec<(B256, Option<B256>)>, StateError> {
    let mut out = BTreeMap::new();
    diff_at(before, after, Position::ROOT, &mut out)?;
    Ok(out.into_iter().collect())
}

fn diff_at<A: NodeStore + ?Sized, B: NodeStore + ?Sized>(
    before: &A,
    after: &B,
    pos: Position,
    out: &mut BTreeMap<B256, Option<B256>>,
) -> Result<(), StateError> {
    let (a, b) = (before.node(&pos)?, after.node(&pos)?);
    if a == b {
        return Ok(());
    }
    if let (
        Some(Node::Internal { left: la, right: ra }),
        Some(Node::Internal { left: lb, right: rb }),
    ) = (a, b)
    {
        if la != lb {
            diff_at(before, after, pos.child(false)?, out)?;
        }
        if ra != rb {
            diff_at(before, after, pos.child(true)?, out)?;
        }
        return Ok(());
    }
    // A leaf or an empty slot on one side: compare the few leaves beneath.
    let mut old = BTreeMap::new();
    leaves_under(before, pos, a, &mut old)?;
    let mut new = BTreeMap::new();
    leaves_under(after, pos, b, &mut new)?;
    for (k, v) in &new {
        if old.get(k) != Some(v) {
            out.insert(*k, Some(*v));
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            out.insert(*k, None);
        }
    }
    Ok(())
}

fn leaves_under<S: NodeStore + ?Sized>(
    store: &S,
    pos: Position,
    node: Option<Node>,
    out: &mut BTreeMap<B256, B256>,
) -> Result<(), StateError> {
    match node {
        None => Ok(()),
        Some(Node::Leaf { key, value }) => {
            out.insert(key, value);
            Ok(())
        }
        Some(Node::Internal { left, right }) => {
            for (right_side, hash) in [(false, left), (true, right)] {
                if hash != B256::ZERO {
                    let child = pos.child(right_side)?;
                    leaves_under(store, child, store.node(&child)?, out)?;
                }
            }
            Ok(())
        }
    }
}

/// A proof for one key: the sibling hashes from the root down, and the leaf the
/// path ends in (absent when it ends in an empty subtree).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmtProof {
    pub siblings: Vec<B256>,
    pub leaf: Option<(B256, B256)>,
}

impl SmtProof {
    /// Checks that `key` maps to `value` (`None`: is absent) under `root`.
    pub fn verify(&self, h: &TreeHasher, root: B256, key: B256, value: Option<B256>) -> bool {
        let depth = match u16::try_from(self.siblings.len()) {
            Ok(d) if d <= KEY_BITS => d,
            _ => return false,
        };
        let start = match (value, self.leaf) {
            (Some(v), Some((k, lv))) if k == key && lv == v => leaf_hash(h, &k, &lv),
            (None, None) => B256::ZERO,
            (None, Some((k, lv))) if k != key && (0..depth).all(|i| bit(&k, i) == bit(&key, i)) => {
                leaf_hash(h, &k, &lv)
            }
            _ => return false,
        };
        let mut acc = start;
        for (i, sibling) in self.siblings.iter().enumerate().rev() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            acc = if bit(&key, i) {
                node_hash(h, sibling, &acc)
            } else {
                node_hash(h, &acc, sibling)
            };
        }
        // An empty root has no siblings; otherwise the path must not end right at the root
        // with a non-empty sibling set that hashes to zero.
        acc == root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Curve;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn hasher() -> TreeHasher {
        TreeHasher::new(Curve::Bn254)
    }

    fn k(i: u64) -> B256 {
        // distinct, spread-out keys
        alloy_primitives::keccak256(i.to_be_bytes())
    }

    /// Reference root: build the whole set from scratch in one update.
    fn reference_root(h: &TreeHasher, set: &BTreeMap<B256, B256>) -> B256 {
        let tree = SparseMerkleTree::new(h);
        let store = MemoryNodeStore::default();
        let ups = set.iter().map(|(k, v)| (*k, Some(*v))).collect();
        tree.update(&store, B256::ZERO, ups).unwrap().root
    }

    /// The tree run from nodes by hash (as the fault-proof program reads them
    /// from the oracle) gives the same roots, writes and proofs as from nodes
    /// by position; a node served under the wrong hash is refused.
    #[test]
    fn nodes_by_hash_give_the_same_tree() {
        let h = hasher();
        let tree = SparseMerkleTree::new(&h);
        let mut by_pos = MemoryNodeStore::default();
        let mut by_hash = HashNodeStore::new(&h);
        let mut root = B256::ZERO;
        for round in 0..6u64 {
            let ups: Vec<_> = (0..40u64)
                .map(|i| {
                    let key = k((i * 7 + round * 3) % 97);
                    let value = if (i + round) % 5 == 0 { None } else { Some(k(1000 + i + round)) };
                    (key, value)
                })
                .collect();
            let a = tree.update(&by_pos, root, ups.clone()).unwrap();
            let b = tree.update(&by_hash, root, ups).unwrap();
            assert_eq!(
                (a.root, a.hashes, &a.changes),
                (b.root, b.hashes, &b.changes),
                "round {round}"
            );
            by_pos.apply(&a.changes);
            by_hash.apply(&b.changes);
            root = a.root;
            for i in [0u64, 5, 50, 96, 200] {
                let p = tree.proof(&by_pos, root, k(i)).unwrap();
                assert_eq!(tree.proof(&by_hash, root, k(i)).unwrap(), p);
            }
        }
        // A by-hash store cannot be read by position...
        assert!(by_hash.node(&Position::ROOT).is_err());
        // ...and a node under another node's hash (a lying oracle) is refused.
        let mut liar = HashNodeStore::new(&h);
        liar.insert_unchecked(root, Node::Leaf { key: k(1), value: k(2) });
        assert!(matches!(
            tree.update(&liar, root, vec![(k(3), Some(k(4)))]),
            Err(StateError::Corrupt(_))
        ));
        // A missing node is an error, not an empty subtree.
        let empty = HashNodeStore::new(&h);
        assert!(tree.proof(&empty, root, k(1)).is_err());
    }

    #[test]
    fn empty_tree_and_single_leaf() {
        let h = hasher();
        let tree = SparseMerkleTree::new(&h);
        let mut store = MemoryNodeStore::default();
        let u = tree.update(&store, B256::ZERO, vec![(k(1), Some(k(2)))]).unwrap();
        assert_eq!(u.root, leaf_hash(&h, &k(1), &k(2)));
        store.apply(&u.changes);
        let d = tree.update(&store, u.root, vec![(k(1), None)]).unwrap();
        assert_eq!(d.root, B256::ZERO);
        store.apply(&d.changes);
        assert!(store.is_empty());
    }

    #[test]
    fn positions_on_a_path_and_their_siblings() {
        let key = B256::with_last_byte(0b1011);
        let p = Position::on_path(&key, 3);
        assert_eq!(p, Position { depth: 3, prefix: B256::with_last_byte(0b011) });
        assert_eq!(p.sibling(), Some(Position { depth: 3, prefix: B256::with_last_byte(0b111) }));
        assert_eq!(Position::ROOT.sibling(), None);
        assert_eq!(Position::on_path(&key, 0), Position::ROOT);
    }

    #[test]
    fn overlay_reads_through_and_shadows_the_base() {
        let h = hasher();
        let tree = SparseMerkleTree::new(&h);
        let mut base = MemoryNodeStore::default();
        let u = tree
            .update(&base, B256::ZERO, (0..20).map(|i| (k(i), Some(k(i + 50)))).collect())
            .unwrap();
        base.apply(&u.changes);
        let mut overlay = OverlayStore::new(&base);
        let v = tree.update(&overlay, u.root, vec![(k(3), None), (k(99), Some(k(1)))]).unwrap();
        overlay.apply(&v.changes);
        assert_eq!(tree.stored_root(&overlay).unwrap(), v.root);
        assert_eq!(tree.stored_root(&base).unwrap(), u.root, "the base is untouched");
        assert!(tree.proof(&overlay, v.root, k(99)).unwrap().verify(&h, v.root, k(99), Some(k(1))));
        assert!(tree.proof(&overlay, v.root, k(3)).unwrap().verify(&h, v.root, k(3), None));
    }

    #[test]
    fn rejects_wrong_root() {
        let h = hasher();
        let tree = SparseMerkleTree::new(&h);
        let store = MemoryNodeStore::default();
        assert!(tree.update(&store, k(9), vec![]).is_err());
    }

    #[test]
    fn proofs_for_present_and_absent_keys() {
        let h = hasher();
        let tree = SparseMerkleTree::new(&h);
        let mut store = MemoryNodeStore::default();
        let ups: Vec<_> = (0..200).map(|i| (k(i), Some(k(i + 1000)))).collect();
        let u = tree.update(&store, B256::ZERO, ups).unwrap();
        store.apply(&u.changes);
        for i in (0..200).step_by(17) {
            let p = tree.proof(&store, u.root, k(i)).unwrap();
            assert!(p.verify(&h, u.root, k(i), Some(k(i + 1000))));
            assert!(!p.verify(&h, u.root, k(i), Some(k(i + 1001))), "wrong value accepted");
            assert!(!p.verify(&h, u.root, k(i), None), "present key proven absent");
        }
        for i in 500..520 {
            let p = tree.proof(&store, u.root, k(i)).unwrap();
            assert!(p.verify(&h, u.root, k(i), None));
            assert!(!p.verify(&h, u.root, k(i), Some(k(1))), "absent key proven present");
        }
        // a tampered sibling fails
        let mut p = tree.proof(&store, u.root, k(3)).unwrap();
        p.siblings[0] = k(77);
        assert!(!p.verify(&h, u.root, k(3), Some(k(1003))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The diff between two trees is exactly the model's difference, and
        /// applying it to the first tree gives the second.
        #[test]
        fn diff_of_two_trees(
            start in prop::collection::vec((0u64..40, 0u64..4), 0..30),
            change in prop::collection::vec((0u64..40, prop::option::of(0u64..4)), 0..30),
        ) {
            let h = hasher();
            let tree = SparseMerkleTree::new(&h);
            let mut before: BTreeMap<B256, B256> = BTreeMap::new();
            for (key, v) in &start {
                before.insert(k(*key), k(v + 100));
            }
            let mut a = MemoryNodeStore::default();
            let ua = tree.update(&a, B256::ZERO, before.iter().map(|(k, v)| (*k, Some(*v))).collect()).unwrap();
            a.apply(&ua.changes);
            let mut b = a.clone();
            let ups: Vec<_> = change.iter().map(|(key, v)| (k(*key), v.map(|v| k(v + 100)))).collect();
            let ub = tree.update(&b, ua.root, ups).unwrap();
            b.apply(&ub.changes);
            let mut after = before.clone();
            for (key, v) in &change {
                match v { Some(v) => { after.insert(k(*key), k(v + 100)); } None => { after.remove(&k(*key)); } }
            }
            let mut expected: Vec<(B256, Option<B256>)> = after.iter()
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .map(|(k, v)| (*k, Some(*v)))
                .collect();
            expected.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| (*k, None)));
            expected.sort_by_key(|w| w.0);
            let diff = diff_leaves(&a, &b).unwrap();
            prop_assert_eq!(&diff, &expected);
            let replay = tree.update(&a, ua.root, diff).unwrap();
            prop_assert_eq!(replay.root, ub.root);
            prop_assert!(diff_leaves(&b, &b).unwrap().is_empty());
        }

        /// Applying random batches incrementally gives the same root as building the
        /// final set at once, the store holds exactly the nodes of that tree, and
        /// every key has a valid proof.
        #[test]
        fn incremental_equals_rebuild(batches in prop::collection::vec(
            prop::collection::vec((0u64..60, prop::option::of(0u64..5)), 0..40), 1..6)
        ) {
            let h = hasher();
            let tree = SparseMerkleTree::new(&h);
            let mut store = MemoryNodeStore::default();
            let mut root = B256::ZERO;
            let mut model: BTreeMap<B256, B256> = BTreeMap::new();
            for batch in batches {
                let ups: Vec<_> = batch.iter().map(|(key, v)| (k(*key), v.map(|v| k(v + 100)))).collect();
                for (key, v) in &ups {
                    match v { Some(v) => { model.insert(*key, *v); } None => { model.remove(key); } }
                }
                let u = tree.update(&store, root, ups).unwrap();
                store.apply(&u.changes);
                root = u.root;
                prop_assert_eq!(root, reference_root(&h, &model));
                prop_assert_eq!(tree.stored_root(&store).unwrap(), root);
            }
            let mut fresh = MemoryNodeStore::default();
            let u = tree.update(&fresh, B256::ZERO, model.iter().map(|(k, v)| (*k, Some(*v))).collect()).unwrap();
            fresh.apply(&u.changes);
            prop_assert_eq!(fresh.len(), store.len(), "stale nodes left behind");
            for i in 0..60u64 {
                let p = tree.proof(&store, root, k(i)).unwrap();
                prop_assert!(p.verify(&h, root, k(i), model.get(&k(i)).copied()));
            }
        }
    }
}
