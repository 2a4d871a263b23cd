//! The witness of a chunk, built natively from the state tree: the batch's writes
//! are replayed one by one on top of the tree at the batch's pre-state (an
//! overlay: the store is not touched), and for each write the path of its key in
//! the tree that holds the key (after an insert, before an update or a delete) is
//! recorded with the node beside the leaf.

use crate::Shape;
use alloy::primitives::B256;
use ark_ff::PrimeField;
use infra_state::{
    Node, NodeStore, OverlayStore, Position, SparseMerkleTree, StateError, TreeHasher,
    to_field as fe,
};

/// What a write does to its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The leaf exists before and after (its value changes).
    Update,
    /// The leaf is created.
    Insert,
    /// The leaf is removed.
    Delete,
}

/// One proven write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWitness<F> {
    pub op: Op,
    pub key: F,
    /// Value hash before the write (0 for an insert).
    pub old_value: F,
    /// Value hash after the write (0 for a delete).
    pub new_value: F,
    /// Siblings of the key's leaf from the root down, in the tree holding the key;
    /// their count is the leaf's depth.
    pub siblings: Vec<F>,
    /// Whether the node beside the leaf (the last sibling) is a leaf.
    pub sibling_is_leaf: bool,
    /// That node's preimage: (key, value hash) of a leaf, (left, right) of an
    /// internal node; zeros when the leaf is the root.
    pub sibling_preimage: (F, F),
}

/// The writes of one chunk and the roots around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkWitness<F> {
    pub pre_root: F,
    pub post_root: F,
    pub slots: Vec<SlotWitness<F>>,
}

impl<F: PrimeField> ChunkWitness<F> {
    /// The diff as L1 holds it: `(key, new value hash)` per write, in order.
    pub fn writes(&self) -> Vec<(F, F)> {
        self.slots.iter().map(|s| (s.key, s.new_value)).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(
        "state write to key {key} sits at depth {depth} of the tree; the circuit proves depths up to {max} (a larger proof.depth needs new proving keys)"
    )]
    TooDeep { key: B256, depth: usize, max: usize },
    #[error("state write deletes key {0}, which is not in the tree")]
    NothingToDelete(B256),
    #[error("state writes must be sorted by key with no repeats (key {0})")]
    Unsorted(B256),
    #[error("the tree has no node beside the leaf of key {0}")]
    MissingSibling(B256),
    #[error(transparent)]
    State(#[from] StateError),
}

/// A key's siblings, whether the node beside its leaf is a leaf, and that node's preimage.
type Path<F> = (Vec<F>, bool, (F, F));

/// The path of `key` in the tree at `root` (which holds it) and the node beside its leaf.
fn path<F: PrimeField, S: NodeStore + ?Sized>(
    tree: &SparseMerkleTree<'_>,
    store: &S,
    root: B256,
    key: B256,
    max: usize,
) -> Result<Path<F>, WitnessError> {
    let proof = tree.proof(store, root, key)?;
    let depth = proof.siblings.len();
    if depth > max {
        return Err(WitnessError::TooDeep { key, depth, max });
    }
    let siblings = proof.siblings.iter().map(fe).collect();
    let Some(beside) = u16::try_from(depth).ok().and_then(|d| Position::on_path(&key, d).sibling())
    else {
        return Ok((siblings, false, (F::zero(), F::zero())));
    };
    match store.node(&beside)? {
        Some(Node::Leaf { key: k, value }) => Ok((siblings, true, (fe(&k), fe(&value)))),
        Some(Node::Internal { left, right }) => Ok((siblings, false, (fe(&left), fe(&right)))),
        None => Err(WitnessError::MissingSibling(key)),
    }
}

/// Splits `writes` (sorted by key; `None` deletes) into chunks of `shape.writes`
/// and builds each chunk's witness, replaying the writes on top of the tree that
/// `base` holds at `pre_root`. The last chunk's post-root is the tree's root
/// after all writes.
pub fn chunk_witnesses<F: PrimeField, S: NodeStore + ?Sized>(
    hasher: &TreeHasher,
    base: &S,
    pre_root: B256,
    writes: &[(B256, Option<B256>)],
    shape: Shape,
) -> Result<Vec<ChunkWitness<F>>, WitnessError> {
    for pair in writes.windows(2) {
        if pair[0].0 >= pair[1].0 {
            return Err(WitnessError::Unsorted(pair[1].0));
        }
    }
    let tree = SparseMerkleTree::new(hasher);
    let mut overlay = OverlayStore::new(base);
    let mut root = pre_root;
    let mut chunks = Vec::new();
    let groups: Vec<&[(B256, Option<B256>)]> =
        if writes.is_empty() { vec![&[]] } else { writes.chunks(shape.writes.max(1)).collect() };
    for group in groups {
        let chunk_pre = root;
        let mut slots = Vec::with_capacity(group.len());
        for (key, new) in group {
            let before = tree.proof(&overlay, root, *key)?;
            let old = before.leaf.filter(|(k, _)| k == key).map(|(_, v)| v);
            let op = match (old, new) {
                (None, Some(_)) => Op::Insert,
                (Some(_), Some(_)) => Op::Update,
                (Some(_), None) => Op::Delete,
                (None, None) => return Err(WitnessError::NothingToDelete(*key)),
            };
            let held_before = if op == Op::Insert {
                None
            } else {
                Some(path(&tree, &overlay, root, *key, shape.depth)?)
            };
            let update = tree.update(&overlay, root, vec![(*key, *new)])?;
            overlay.apply(&update.changes);
            root = update.root;
            let (siblings, sibling_is_leaf, sibling_preimage) = match held_before {
                Some(p) => p,
                None => path(&tree, &overlay, root, *key, shape.depth)?,
            };
            slots.push(SlotWitness {
                op,
                key: fe(key),
                old_value: old.as_ref().map(fe).unwrap_or_default(),
                new_value: new.as_ref().map(fe).unwrap_or_default(),
                siblings,
                sibling_is_leaf,
                sibling_preimage,
            });
        }
        chunks.push(ChunkWitness { pre_root: fe(&chunk_pre), post_root: fe(&root), slots });
    }
    Ok(chunks)
}

/// The nodes of the tree at `pre_root` (held by `base`) that building the
/// witnesses of `writes` reads: with only these (in a `MemoryNodeStore`),
/// [`chunk_witnesses`] gives the same witnesses for any chunk size and any depth
/// the writes fit. What a sequencer hands a prover that has no state of its own.
pub fn witness_nodes<S: NodeStore + ?Sized>(
    hasher: &TreeHasher,
    base: &S,
    pre_root: B256,
    writes: &[(B256, Option<B256>)],
) -> Result<Vec<(Position, Node)>, WitnessError> {
    let recording = infra_state::RecordingStore::new(base);
    // The reads do not depend on the field, the chunk size or the depth bound.
    let shape = Shape::new(writes.len().max(1), 256);
    chunk_witnesses::<ark_bn254::Fr, _>(hasher, &recording, pre_root, writes, shape)?;
    Ok(recording.into_nodes())
}
