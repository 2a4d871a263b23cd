#![doc = include_str!("../README.md")]

pub mod chunk;
pub mod diff;
pub mod plonk;
pub mod poseidon;
pub mod witness;

pub use chunk::{ChunkCircuit, ChunkPublic, PUBLIC_INPUTS};
pub use diff::{diff_elements, diff_eval, diff_hash};
pub use witness::{ChunkWitness, Op, SlotWitness, WitnessError, chunk_witnesses, witness_nodes};

/// The fixed size of one chunk circuit: how many state writes it proves and how
/// deep a leaf may sit in the tree. Both are baked into the proving key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// State writes per proof (a batch's diff is split into chunks of this many).
    pub writes: usize,
    /// Maximum depth of a written leaf (a write deeper than this cannot be proven
    /// with this shape: the witness builder says so).
    pub depth: usize,
}

impl Shape {
    pub const fn new(writes: usize, depth: usize) -> Self {
        Self { writes, depth }
    }
}
