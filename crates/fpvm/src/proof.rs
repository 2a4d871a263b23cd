//! Step proofs: everything L1 needs to execute one instruction.

use alloy::primitives::B256;
use serde::Serialize;

use crate::memory::{SparseMemory, touched_leaves};
use crate::{Memory, PreimageSource};

/// One step's proof: the pre-state, one memory proof per 32-byte leaf each
/// memory access touches (in the order the instruction makes its accesses, each
/// against the memory root as it is at that point), and the preimage part the
/// step reads, which must be loaded into L1's oracle before the step is run there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepProof {
    /// The step number the proof starts from.
    pub step: u64,
    /// The encoded pre-state (see [`crate::VmState`]).
    #[serde(serialize_with = "hex_bytes")]
    pub pre_state: Vec<u8>,
    pub pre_hash: B256,
    /// Concatenated memory proofs, 1,920 bytes each.
    #[serde(serialize_with = "hex_bytes")]
    pub mem_proofs: Vec<u8>,
    /// `(key, offset)` of the preimage part the step reads, if it reads one.
    pub preimage: Option<(B256, u64)>,
    pub post_hash: B256,
}

impl StepProof {
    /// Bytes an L1 step transaction carries: the state and the memory proofs.
    pub fn size(&self) -> usize {
        self.pre_state.len() + self.mem_proofs.len()
    }
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", alloy::hex::encode(b)))
}

/// Memory that records a proof of every leaf an access touches, before the access.
pub struct ProvingMemory<'a> {
    pub inner: &'a mut SparseMemory,
    pub proofs: Vec<u8>,
}

impl ProvingMemory<'_> {
    fn prove(&mut self, addr: u64, n: u64) {
        let (first, second) = touched_leaves(addr, n);
        let p = self.inner.proof(first);
        self.proofs.extend_from_slice(&p);
        if let Some(second) = second {
            let p = self.inner.proof(second);
            self.proofs.extend_from_slice(&p);
        }
    }

    /// A write split at the leaf boundary, each part proven before it is made.
    fn write_split(&mut self, addr: u64, bytes: &[u8]) {
        let first_len = ((32 - (addr & 31)) as usize).min(bytes.len());
        let p = self.inner.proof(addr >> 5);
        self.proofs.extend_from_slice(&p);
        self.inner.write_bytes(addr, &bytes[..first_len]);
        if first_len < bytes.len() {
            let next = addr.wrapping_add(first_len as u64);
            let p = self.inner.proof(next >> 5);
            self.proofs.extend_from_slice(&p);
            self.inner.write_bytes(next, &bytes[first_len..]);
        }
    }
}

impl Memory for ProvingMemory<'_> {
    fn read(&mut self, addr: u64, n: u32) -> u64 {
        self.prove(addr, u64::from(n));
        self.inner.read(addr, n)
    }

    fn write(&mut self, addr: u64, n: u32, value: u64) {
        self.write_split(addr, &value.to_le_bytes()[..n as usize]);
    }

    fn read_bytes(&mut self, addr: u64, out: &mut [u8]) {
        if !out.is_empty() {
            self.prove(addr, out.len() as u64);
        }
        self.inner.read_bytes(addr, out);
    }

    fn write_bytes(&mut self, addr: u64, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.write_split(addr, bytes);
        }
    }
}

/// An oracle wrapper that remembers which part a step read.
pub(crate) struct RecordingOracle<'a, O> {
    pub inner: &'a mut O,
    pub read: Option<(B256, u64)>,
}

impl<O: PreimageSource> PreimageSource for RecordingOracle<'_, O> {
    fn part(&mut self, key: &B256, offset: u64) -> Result<([u8; 32], u64), crate::OracleError> {
        self.read = Some((*key, offset));
        self.inner.part(key, offset)
    }
}
