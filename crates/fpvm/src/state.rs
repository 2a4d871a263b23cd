//! The VM's state as L1 sees it: a fixed 362-byte encoding and its hash.
//!
//! | bytes | field |
//! |---|---|
//! | 0..32 | memory root |
//! | 32..64 | preimage key |
//! | 64..72 | preimage offset |
//! | 72..80 | pc |
//! | 80 | exited (0 or 1) |
//! | 81..89 | exit code |
//! | 89..97 | step count |
//! | 97 | reservation held (0 or 1) |
//! | 98..106 | reservation address |
//! | 106..362 | x0..x31, 8 bytes each |
//!
//! Integers are big-endian. The state hash is `keccak256(encoding)` with its first
//! byte replaced by the status (Cannon's convention), so a claim's hash alone
//! says whether the program finished and how: 0 exited with 0 (the claim the
//! program checked holds), 1 exited with 1 (it does not), 2 exited otherwise
//! (a fault or a panic), 3 still running.

use alloy::primitives::B256;

use crate::memory::keccak;

pub const STATE_SIZE: usize = 362;

pub const STATUS_VALID: u8 = 0;
pub const STATUS_INVALID: u8 = 1;
pub const STATUS_PANIC: u8 = 2;
pub const STATUS_UNFINISHED: u8 = 3;

/// Every field of the VM's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmState {
    pub mem_root: B256,
    pub preimage_key: B256,
    pub preimage_offset: u64,
    pub pc: u64,
    pub exited: bool,
    pub exit_code: u64,
    pub steps: u64,
    pub reservation: Option<u64>,
    pub regs: [u64; 32],
}

/// The status byte of a state.
pub fn status(exited: bool, exit_code: u64) -> u8 {
    match (exited, exit_code) {
        (false, _) => STATUS_UNFINISHED,
        (true, 0) => STATUS_VALID,
        (true, 1) => STATUS_INVALID,
        (true, _) => STATUS_PANIC,
    }
}

impl VmState {
    pub fn encode(&self) -> [u8; STATE_SIZE] {
        let mut out = [0u8; STATE_SIZE];
        out[0..32].copy_from_slice(self.mem_root.as_slice());
        out[32..64].copy_from_slice(self.preimage_key.as_slice());
        out[64..72].copy_from_slice(&self.preimage_offset.to_be_bytes());
        out[72..80].copy_from_slice(&self.pc.to_be_bytes());
        out[80] = u8::from(self.exited);
        out[81..89].copy_from_slice(&self.exit_code.to_be_bytes());
        out[89..97].copy_from_slice(&self.steps.to_be_bytes());
        out[97] = u8::from(self.reservation.is_some());
        out[98..106].copy_from_slice(&self.reservation.unwrap_or(0).to_be_bytes());
        for (i, r) in self.regs.iter().enumerate() {
            out[106 + 8 * i..114 + 8 * i].copy_from_slice(&r.to_be_bytes());
        }
        out
    }

    /// Decodes a state; refuses a wrong length, a flag other than 0 or 1, a
    /// non-zero x0 or a reservation address without the flag.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != STATE_SIZE || b[80] > 1 || b[97] > 1 {
            return None;
        }
        let u = |r: std::ops::Range<usize>| u64::from_be_bytes(b[r].try_into().expect("8 bytes"));
        let mut regs = [0u64; 32];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u(106 + 8 * i..114 + 8 * i);
        }
        let reservation_addr = u(98..106);
        let exit_code = u(81..89);
        // One encoding per state: a running machine's exit code is 0, a
        // reservation is at an aligned address (LR only makes those).
        if regs[0] != 0
            || (b[97] == 0 && reservation_addr != 0)
            || (b[80] == 0 && exit_code != 0)
            || !reservation_addr.is_multiple_of(4)
        {
            return None;
        }
        Some(Self {
            mem_root: B256::from_slice(&b[0..32]),
            preimage_key: B256::from_slice(&b[32..64]),
            preimage_offset: u(64..72),
            pc: u(72..80),
            exited: b[80] == 1,
            exit_code,
            steps: u(89..97),
            reservation: (b[97] == 1).then_some(reservation_addr),
            regs,
        })
    }

    pub fn status(&self) -> u8 {
        status(self.exited, self.exit_code)
    }

    /// The state hash: keccak256 of the encoding, first byte the status.
    pub fn hash(&self) -> B256 {
        hash_encoded(&self.encode(), self.status())
    }
}

/// The state hash of an encoded state whose status is `status`.
pub fn hash_encoded(encoded: &[u8], status: u8) -> B256 {
    let mut h = keccak(encoded);
    h.0[0] = status;
    h
}
