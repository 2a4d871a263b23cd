//! The reference step verifier: given a pre-state and a step proof, the
//! post-state. Written apart from the interpreter (which is fast, and generic
//! over memory) to be mirrored line by line by the Solidity verifier: word-sized
//! integers only (u128/i128 stand for Solidity's uint256/int256), memory only
//! through proofs, no allocation, one function per instruction class. The
//! differential tests run both on the same steps and compare state hashes.
//!
//! For the Solidity mirror:
//! - every u64 here wraps where Rust's `wrapping_*`, `<<`, `as u64` or `as i64`
//!   is used: `pc + 4` (an honest step at pc `2^64-4` wraps to 0), every address
//!   sum, shifts, the truncated products and the step counter. A checked
//!   `uint64` addition would revert on an honest step: use `unchecked` and masks.
//! - local keys (type 1) name an input of the disputed claim: L1's oracle must
//!   bind them to the game that asks (Cannon's `localize(key, localContext)`),
//!   or whoever loads local key 1 first would choose its value.
//! - the oracle must answer `(zero, 0)` for a part at or past the end of a
//!   stream (`offset >= 8 + length`): the program may read until it gets 0.
//! - a step on an exited state changes nothing and needs no proof; the step
//!   number a proof starts from is the state's step count, which for a trace
//!   index past the exit is the exit step, not the index.

// Written as the Solidity will be, not as idiomatic Rust.
#![allow(
    clippy::manual_is_multiple_of,
    clippy::manual_checked_ops,
    clippy::needless_range_loop,
    clippy::collapsible_match
)]

use alloy::primitives::B256;

use crate::memory::{LEAF_MASK, MEM_PROOF_SIZE, root_from};
use crate::oracle::{OracleError, PreimageSource};
use crate::state::{STATE_SIZE, VmState};
use crate::{
    FAULT_EXIT_CODE, SYS_EXIT, SYS_PREIMAGE_KEY, SYS_PREIMAGE_READ, SYS_WRITE, key_type_supported,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the pre-state is not a valid {STATE_SIZE}-byte state encoding")]
    BadState,
    #[error("memory proof {index} is missing")]
    MissingProof { index: usize },
    #[error("memory proof {index} (leaf {leaf:#x}) does not match the memory root")]
    BadProof { index: usize, leaf: u64 },
    #[error(transparent)]
    Oracle(#[from] OracleError),
}

/// A fault: the instruction has no effect but to stop the machine.
struct Faulted;

enum Fail {
    Fault,
    Verify(VerifyError),
}

impl From<VerifyError> for Fail {
    fn from(e: VerifyError) -> Self {
        Fail::Verify(e)
    }
}

impl From<Faulted> for Fail {
    fn from(_: Faulted) -> Self {
        Fail::Fault
    }
}

struct Step<'a, O> {
    s: VmState,
    proofs: &'a [u8],
    next_proof: usize,
    oracle: &'a mut O,
}

/// Executes the one instruction at `pre_state`'s pc with `mem_proofs`; returns
/// the post-state and its hash. Unused trailing proofs are ignored.
pub fn verify_step(
    pre_state: &[u8],
    mem_proofs: &[u8],
    oracle: &mut impl PreimageSource,
) -> Result<(VmState, B256), VerifyError> {
    let s = VmState::decode(pre_state).ok_or(VerifyError::BadState)?;
    if s.exited {
        return Ok((s, s.hash()));
    }
    let mut st = Step { s, proofs: mem_proofs, next_proof: 0, oracle };
    match st.execute() {
        Ok(()) => {}
        Err(Fail::Fault) => {
            // Discard every effect but the exit: pc, registers, memory as before.
            st.s = s;
            st.s.exited = true;
            st.s.exit_code = FAULT_EXIT_CODE;
        }
        Err(Fail::Verify(e)) => return Err(e),
    }
    st.s.steps = s.steps.wrapping_add(1);
    Ok((st.s, st.s.hash()))
}

fn sign_extend(v: u64, bits: u32) -> u64 {
    let sign = (v >> (bits - 1)) & 1;
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    if sign == 1 { (v & mask) | !mask } else { v & mask }
}

fn bits(word: u64, lo: u32, n: u32) -> u64 {
    (word >> lo) & ((1u64 << n) - 1)
}

impl<O: PreimageSource> Step<'_, O> {
    // ---- memory, through proofs ----

    fn take_proof(&mut self) -> Result<&[u8], VerifyError> {
        let index = self.next_proof;
        let start = index * MEM_PROOF_SIZE;
        if self.proofs.len() < start + MEM_PROOF_SIZE {
            return Err(VerifyError::MissingProof { index });
        }
        self.next_proof += 1;
        Ok(&self.proofs[start..start + MEM_PROOF_SIZE])
    }

    /// Checks the next proof is of `leaf` under the current root; returns the
    /// leaf's bytes and the proof's position.
    fn proven_leaf(&mut self, leaf: u64) -> Result<([u8; 32], usize), VerifyError> {
        let index = self.next_proof;
        let root = self.s.mem_root;
        let proof = self.take_proof()?;
        let value: [u8; 32] = proof[..32].try_into().expect("32 bytes");
        if root_from(leaf, &value, proof) != root {
            return Err(VerifyError::BadProof { index, leaf });
        }
        Ok((value, index))
    }

    /// `n` (1..=32) bytes at `addr`.
    fn load_bytes(&mut self, addr: u64, n: u64) -> Result<[u8; 32], VerifyError> {
        let leaf = addr >> 5;
        let (a, _) = self.proven_leaf(leaf)?;
        let mut pair = [0u8; 64];
        pair[..32].copy_from_slice(&a);
        if (addr & 31) + n > 32 {
            let (b, _) = self.proven_leaf((leaf + 1) & LEAF_MASK)?;
            pair[32..].copy_from_slice(&b);
        }
        let off = (addr & 31) as usize;
        let mut out = [0u8; 32];
        out[..n as usize].copy_from_slice(&pair[off..off + n as usize]);
        Ok(out)
    }

    /// `bytes` written at `addr`, all within one leaf.
    fn store_in_leaf(&mut self, addr: u64, bytes: &[u8]) -> Result<(), VerifyError> {
        let leaf = addr >> 5;
        let (mut value, index) = self.proven_leaf(leaf)?;
        let off = (addr & 31) as usize;
        value[off..off + bytes.len()].copy_from_slice(bytes);
        let start = index * MEM_PROOF_SIZE;
        let proof = &self.proofs[start..start + MEM_PROOF_SIZE];
        self.s.mem_root = root_from(leaf, &value, proof);
        Ok(())
    }

    /// `bytes` (1..=32) written at `addr`, split at the leaf boundary.
    fn store_bytes(&mut self, addr: u64, bytes: &[u8]) -> Result<(), VerifyError> {
        let first = ((32 - (addr & 31)) as usize).min(bytes.len());
        self.store_in_leaf(addr, &bytes[..first])?;
        if first < bytes.len() {
            self.store_in_leaf(addr.wrapping_add(first as u64), &bytes[first..])?;
        }
        Ok(())
    }

    fn load(&mut self, addr: u64, n: u64) -> Result<u64, VerifyError> {
        let b = self.load_bytes(addr, n)?;
        let mut v = 0u64;
        for i in 0..n as usize {
            v |= u64::from(b[i]) << (8 * i);
        }
        Ok(v)
    }

    fn store(&mut self, addr: u64, n: u64, value: u64) -> Result<(), VerifyError> {
        let le = value.to_le_bytes();
        self.store_bytes(addr, &le[..n as usize])
    }

    // ---- registers ----

    fn reg(&self, r: u64) -> u64 {
        self.s.regs[r as usize]
    }

    fn set_reg(&mut self, r: u64, v: u64) {
        if r != 0 {
            self.s.regs[r as usize] = v;
        }
    }

    // ---- one instruction ----

    fn execute(&mut self) -> Result<(), Fail> {
        let pc = self.s.pc;
        if pc % 4 != 0 {
            return Err(Faulted.into());
        }
        let word = self.load(pc, 4)?;
        if word & 3 != 3 {
            return Err(Faulted.into());
        }
        let opcode = bits(word, 0, 7);
        let rd = bits(word, 7, 5);
        let funct3 = bits(word, 12, 3);
        let rs1 = bits(word, 15, 5);
        let rs2 = bits(word, 20, 5);
        let funct7 = bits(word, 25, 7);
        let mut next_pc = pc.wrapping_add(4);
        match opcode {
            0x37 => self.set_reg(rd, sign_extend(word & 0xffff_f000, 32)),
            0x17 => self.set_reg(rd, pc.wrapping_add(sign_extend(word & 0xffff_f000, 32))),
            0x6f => {
                let imm = (bits(word, 31, 1) << 20)
                    | (bits(word, 12, 8) << 12)
                    | (bits(word, 20, 1) << 11)
                    | (bits(word, 21, 10) << 1);
                next_pc = pc.wrapping_add(sign_extend(imm, 21));
                if next_pc % 4 != 0 {
                    return Err(Faulted.into());
                }
                self.set_reg(rd, pc.wrapping_add(4));
            }
            0x67 => {
                if funct3 != 0 {
                    return Err(Faulted.into());
                }
                next_pc = self.reg(rs1).wrapping_add(sign_extend(bits(word, 20, 12), 12)) & !1;
                if next_pc % 4 != 0 {
                    return Err(Faulted.into());
                }
                self.set_reg(rd, pc.wrapping_add(4));
            }
            0x63 => {
                let (a, b) = (self.reg(rs1), self.reg(rs2));
                let taken = match funct3 {
                    0 => a == b,
                    1 => a != b,
                    4 => (a as i64) < (b as i64),
                    5 => (a as i64) >= (b as i64),
                    6 => a < b,
                    7 => a >= b,
                    _ => return Err(Faulted.into()),
                };
                if taken {
                    let imm = (bits(word, 31, 1) << 12)
                        | (bits(word, 7, 1) << 11)
                        | (bits(word, 25, 6) << 5)
                        | (bits(word, 8, 4) << 1);
                    next_pc = pc.wrapping_add(sign_extend(imm, 13));
                    if next_pc % 4 != 0 {
                        return Err(Faulted.into());
                    }
                }
            }
            0x03 => {
                let addr = self.reg(rs1).wrapping_add(sign_extend(bits(word, 20, 12), 12));
                let (size, signed) = match funct3 {
                    0 => (1, true),
                    1 => (2, true),
                    2 => (4, true),
                    3 => (8, false),
                    4 => (1, false),
                    5 => (2, false),
                    6 => (4, false),
                    _ => return Err(Faulted.into()),
                };
                let v = self.load(addr, size)?;
                self.set_reg(rd, if signed { sign_extend(v, 8 * size as u32) } else { v });
            }
            0x23 => {
                if funct3 > 3 {
                    return Err(Faulted.into());
                }
                let imm = (bits(word, 25, 7) << 5) | bits(word, 7, 5);
                let addr = self.reg(rs1).wrapping_add(sign_extend(imm, 12));
                self.store(addr, 1 << funct3, self.reg(rs2))?;
            }
            0x13 => self.op_imm(word, rd, funct3, rs1)?,
            0x33 => self.op(rd, funct3, funct7, self.reg(rs1), self.reg(rs2))?,
            0x1b => self.op_imm32(word, rd, funct3, funct7, rs1)?,
            0x3b => self.op32(rd, funct3, funct7, self.reg(rs1), self.reg(rs2))?,
            0x0f => {}
            0x73 => {
                if word == 0x73 {
                    self.ecall()?;
                } else {
                    return Err(Faulted.into());
                }
            }
            0x2f => self.amo(word, rd, funct3, rs1, rs2)?,
            _ => return Err(Faulted.into()),
        }
        self.s.pc = next_pc;
        Ok(())
    }

    fn op_imm(&mut self, word: u64, rd: u64, funct3: u64, rs1: u64) -> Result<(), Faulted> {
        let a = self.reg(rs1);
        let imm = sign_extend(bits(word, 20, 12), 12);
        let shamt = bits(word, 20, 6);
        let top = bits(word, 26, 6);
        let v = match funct3 {
            0 => a.wrapping_add(imm),
            2 => u64::from((a as i64) < (imm as i64)),
            3 => u64::from(a < imm),
            4 => a ^ imm,
            6 => a | imm,
            7 => a & imm,
            1 if top == 0 => a << shamt,
            5 if top == 0 => a >> shamt,
            5 if top == 0x10 => ((a as i64) >> shamt) as u64,
            _ => return Err(Faulted),
        };
        self.set_reg(rd, v);
        Ok(())
    }

    fn op(&mut self, rd: u64, funct3: u64, funct7: u64, a: u64, b: u64) -> Result<(), Faulted> {
        let shamt = b & 63;
        let v = match (funct7, funct3) {
            (0, 0) => a.wrapping_add(b),
            (0x20, 0) => a.wrapping_sub(b),
            (0, 1) => a << shamt,
            (0, 2) => u64::from((a as i64) < (b as i64)),
            (0, 3) => u64::from(a < b),
            (0, 4) => a ^ b,
            (0, 5) => a >> shamt,
            (0x20, 5) => ((a as i64) >> shamt) as u64,
            (0, 6) => a | b,
            (0, 7) => a & b,
            (1, 0) => (u128::from(a) * u128::from(b)) as u64,
            (1, 1) => ((i128::from(a as i64) * i128::from(b as i64)) >> 64) as u64,
            (1, 2) => ((i128::from(a as i64) * i128::from(b)) >> 64) as u64,
            (1, 3) => ((u128::from(a) * u128::from(b)) >> 64) as u64,
            (1, 4) => {
                if b == 0 {
                    u64::MAX
                } else if a == 1 << 63 && b == u64::MAX {
                    a
                } else {
                    ((a as i64) / (b as i64)) as u64
                }
            }
            (1, 5) => {
                if b == 0 {
                    u64::MAX
                } else {
                    a / b
                }
            }
            (1, 6) => {
                if b == 0 {
                    a
                } else if a == 1 << 63 && b == u64::MAX {
                    0
                } else {
                    ((a as i64) % (b as i64)) as u64
                }
            }
            (1, 7) => {
                if b == 0 {
                    a
                } else {
                    a % b
                }
            }
            _ => return Err(Faulted),
        };
        self.set_reg(rd, v);
        Ok(())
    }

    fn op_imm32(
        &mut self,
        word: u64,
        rd: u64,
        funct3: u64,
        funct7: u64,
        rs1: u64,
    ) -> Result<(), Faulted> {
        let a = self.reg(rs1) & 0xffff_ffff;
        let shamt = bits(word, 20, 5);
        let v = match (funct3, funct7) {
            (0, _) => a.wrapping_add(sign_extend(bits(word, 20, 12), 12)),
            (1, 0) => a << shamt,
            (5, 0) => a >> shamt,
            (5, 0x20) => ((sign_extend(a, 32) as i64) >> shamt) as u64,
            _ => return Err(Faulted),
        };
        self.set_reg(rd, sign_extend(v & 0xffff_ffff, 32));
        Ok(())
    }

    fn op32(&mut self, rd: u64, funct3: u64, funct7: u64, a: u64, b: u64) -> Result<(), Faulted> {
        let (a, b) = (a & 0xffff_ffff, b & 0xffff_ffff);
        let shamt = b & 31;
        let (sa, sb) = (sign_extend(a, 32) as i64, sign_extend(b, 32) as i64);
        let v = match (funct7, funct3) {
            (0, 0) => a.wrapping_add(b),
            (0x20, 0) => a.wrapping_sub(b),
            (0, 1) => a << shamt,
            (0, 5) => a >> shamt,
            (0x20, 5) => (sa >> shamt) as u64,
            (1, 0) => a.wrapping_mul(b),
            (1, 4) => {
                if b == 0 {
                    u64::MAX
                } else if a == 0x8000_0000 && b == 0xffff_ffff {
                    a
                } else {
                    (sa / sb) as u64
                }
            }
            (1, 5) => {
                if b == 0 {
                    u64::MAX
                } else {
                    a / b
                }
            }
            (1, 6) => {
                if b == 0 {
                    a
                } else if a == 0x8000_0000 && b == 0xffff_ffff {
                    0
                } else {
                    (sa % sb) as u64
                }
            }
            (1, 7) => {
                if b == 0 {
                    a
                } else {
                    a % b
                }
            }
            _ => return Err(Faulted),
        };
        self.set_reg(rd, sign_extend(v & 0xffff_ffff, 32));
        Ok(())
    }

    fn amo(&mut self, word: u64, rd: u64, funct3: u64, rs1: u64, rs2: u64) -> Result<(), Fail> {
        let size = match funct3 {
            2 => 4,
            3 => 8,
            _ => return Err(Faulted.into()),
        };
        let addr = self.reg(rs1);
        let funct5 = bits(word, 27, 5);
        let is_lr = funct5 == 0x02;
        if is_lr && rs2 != 0 {
            return Err(Faulted.into());
        }
        if !matches!(funct5, 0x00..=0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c) {
            return Err(Faulted.into());
        }
        if addr % size != 0 {
            return Err(Faulted.into());
        }
        let src = self.reg(rs2);
        if is_lr {
            let v = self.load(addr, size)?;
            self.s.reservation = Some(addr);
            self.set_reg(rd, sign_extend(v, 8 * size as u32));
            return Ok(());
        }
        if funct5 == 0x03 {
            let held = self.s.reservation == Some(addr);
            self.s.reservation = None;
            if held {
                self.store(addr, size, src)?;
            }
            self.set_reg(rd, u64::from(!held));
            return Ok(());
        }
        let old = sign_extend(self.load(addr, size)?, 8 * size as u32);
        let arg = sign_extend(src & (u64::MAX >> (64 - 8 * size)), 8 * size as u32);
        let mask = u64::MAX >> (64 - 8 * size);
        let new = match funct5 {
            0x01 => arg,
            0x00 => old.wrapping_add(arg),
            0x04 => old ^ arg,
            0x0c => old & arg,
            0x08 => old | arg,
            0x10 => (old as i64).min(arg as i64) as u64,
            0x14 => (old as i64).max(arg as i64) as u64,
            0x18 => {
                if (old & mask) < (arg & mask) {
                    old
                } else {
                    arg
                }
            }
            _ => {
                if (old & mask) > (arg & mask) {
                    old
                } else {
                    arg
                }
            }
        };
        self.store(addr, size, new)?;
        self.set_reg(rd, old);
        Ok(())
    }

    fn ecall(&mut self) -> Result<(), Fail> {
        let (a0, a1, a2) = (self.reg(10), self.reg(11), self.reg(12));
        match self.reg(17) {
            SYS_EXIT => {
                self.s.exited = true;
                self.s.exit_code = a0;
            }
            SYS_WRITE => self.set_reg(10, a2),
            SYS_PREIMAGE_KEY => {
                let key = self.load_bytes(a0, 32)?;
                self.s.preimage_key = B256::from(key);
                self.s.preimage_offset = 0;
                self.set_reg(10, 0);
            }
            SYS_PREIMAGE_READ => {
                if !key_type_supported(&self.s.preimage_key) {
                    return Err(Faulted.into());
                }
                // Asking for nothing reads nothing: no oracle part is needed.
                let (part, len) = if a1 == 0 {
                    ([0u8; 32], 0)
                } else {
                    self.oracle
                        .part(&self.s.preimage_key, self.s.preimage_offset)
                        .map_err(VerifyError::from)?
                };
                let n = a1.min(len).min(32 - (a0 & 31));
                if n > 0 {
                    self.store_in_leaf(a0, &part[..n as usize])?;
                }
                self.s.preimage_offset += n;
                self.set_reg(10, n);
            }
            _ => return Err(Faulted.into()),
        }
        Ok(())
    }
}
