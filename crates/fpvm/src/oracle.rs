//! The preimage oracle: the program's only input.
//!
//! The program names a 32-byte key and reads its preimage as a stream: the
//! preimage's length as 8 bytes big-endian, then the preimage (OP Stack's
//! layout). The key's first byte says how L1 checks a preimage before it
//! serves it:
//!
//! | type | key | checked on L1 by |
//! |---|---|---|
//! | 1 local | an input of the disputed claim (pre-output, batch number, claimed output) | the game that asks |
//! | 2 keccak256 | `keccak256(preimage)` with byte 0 set to 2 | hashing it |
//! | 3 Poseidon | a sparse-Merkle-tree node's Poseidon hash with byte 0 set to 3 | the Poseidon contract |
//! | 5 blob | `keccak256(versioned hash ‖ field element index as 8 bytes BE)` with byte 0 set to 5 (a 32-byte field element) | the point-evaluation precompile |
//!
//! The VM reads at most 32 bytes of the stream per step, from a 32-byte window
//! at the current offset, so L1 needs one 32-byte part of one preimage per step.

use std::collections::HashMap;

use alloy::primitives::B256;

use crate::memory::keccak;

pub const KEY_LOCAL: u8 = 1;
pub const KEY_KECCAK256: u8 = 2;
pub const KEY_POSEIDON: u8 = 3;
pub const KEY_BLOB: u8 = 5;

/// `hash` with its first byte set to `kind`: the oracle key of a preimage.
pub fn typed_key(kind: u8, hash: B256) -> B256 {
    let mut k = hash;
    k.0[0] = kind;
    k
}

/// The keccak256 key of `data`.
pub fn keccak_key(data: &[u8]) -> B256 {
    typed_key(KEY_KECCAK256, keccak(data))
}

/// The key of local input `n` of a claim.
pub fn local_key(n: u64) -> B256 {
    let mut k = B256::ZERO;
    k.0[0] = KEY_LOCAL;
    k.0[24..].copy_from_slice(&n.to_be_bytes());
    k
}

/// What an oracle could not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    #[error("no preimage is known for key {0}")]
    Missing(B256),
}

/// Serves 32-byte parts of preimage streams; the VM and the reference verifier
/// read through it (on L1, the oracle contract plays this part).
pub trait PreimageSource {
    /// The 32 bytes of `key`'s stream at `offset` (zero past the end) and how
    /// many of them are in the stream (`min(32, stream length - offset)`, 0 at or past the end).
    fn part(&mut self, key: &B256, offset: u64) -> Result<([u8; 32], u64), OracleError>;
}

impl PreimageSource for &mut dyn PreimageSource {
    fn part(&mut self, key: &B256, offset: u64) -> Result<([u8; 32], u64), OracleError> {
        (**self).part(key, offset)
    }
}

/// A part of a stream `8-byte big-endian length ‖ data`.
pub fn stream_part(data: &[u8], offset: u64) -> ([u8; 32], u64) {
    let len = data.len() as u64 + 8;
    let mut out = [0u8; 32];
    if offset >= len {
        return (out, 0);
    }
    let n = (len - offset).min(32);
    let prefix = (data.len() as u64).to_be_bytes();
    for (i, b) in out.iter_mut().enumerate().take(n as usize) {
        let pos = offset + i as u64;
        *b = if pos < 8 { prefix[pos as usize] } else { data[(pos - 8) as usize] };
    }
    (out, n)
}

/// A host's preimages, by key.
#[derive(Debug, Default, Clone)]
pub struct Preimages {
    map: HashMap<B256, Vec<u8>>,
}

impl Preimages {
    pub fn insert(&mut self, key: B256, data: Vec<u8>) {
        self.map.insert(key, data);
    }

    /// Adds `data` under its keccak256 key; returns the key.
    pub fn insert_keccak(&mut self, data: Vec<u8>) -> B256 {
        let key = keccak_key(&data);
        self.map.insert(key, data);
        key
    }

    pub fn get(&self, key: &B256) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl PreimageSource for Preimages {
    fn part(&mut self, key: &B256, offset: u64) -> Result<([u8; 32], u64), OracleError> {
        let data = self.map.get(key).ok_or(OracleError::Missing(*key))?;
        Ok(stream_part(data, offset))
    }
}
