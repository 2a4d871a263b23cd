#![doc = include_str!("../README.md")]

mod elf;
mod memory;
mod oracle;
mod proof;
mod state;
pub mod testing;
mod verify;
mod vm;

pub use elf::{ElfError, load_elf};
pub use memory::{
    LEAF_SIZE, MEM_PROOF_SIZE, PAGE_SIZE, SparseMemory, TREE_DEPTH, hash_pair, root_from,
    touched_leaves, verify_leaf, zero_hash,
};
pub use oracle::{
    KEY_BLOB, KEY_KECCAK256, KEY_LOCAL, KEY_POSEIDON, OracleError, PreimageSource, Preimages,
    keccak_key, local_key, stream_part, typed_key,
};
pub use proof::{ProvingMemory, StepProof};
pub use state::{
    STATE_SIZE, STATUS_INVALID, STATUS_PANIC, STATUS_UNFINISHED, STATUS_VALID, VmState,
    hash_encoded, status,
};
pub use verify::{VerifyError, verify_step};
pub use vm::{RunEnd, Vm};

use alloy::primitives::B256;

/// Memory as the interpreter uses it. Every access is one of these calls, so a
/// wrapper sees each access whole (the step prover records one memory proof per
/// 32-byte leaf an access touches).
pub trait Memory {
    /// `n` (1, 2, 4 or 8) bytes at `addr` (wrapping), little-endian.
    fn read(&mut self, addr: u64, n: u32) -> u64;
    /// The low `n` bytes of `value` at `addr` (wrapping), little-endian.
    fn write(&mut self, addr: u64, n: u32, value: u64);
    /// The instruction word at a 4-aligned `pc`.
    fn fetch(&mut self, pc: u64) -> u32 {
        self.read(pc, 4) as u32
    }
    /// `out.len()` (at most 32) bytes at `addr`.
    fn read_bytes(&mut self, addr: u64, out: &mut [u8]);
    /// `bytes` (at most 32) at `addr`.
    fn write_bytes(&mut self, addr: u64, bytes: &[u8]);
}

/// Why the machine stopped by itself. A fault is a state transition like any
/// other: the machine exits with [`FAULT_EXIT_CODE`] (status "panic"), pc and
/// registers as they were, so every step is decidable on L1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("illegal instruction {word:#010x} at pc {pc:#x}")]
    IllegalInstruction { pc: u64, word: u32 },
    #[error("misaligned jump target {target:#x} at pc {pc:#x}")]
    MisalignedJump { pc: u64, target: u64 },
    #[error("misaligned atomic access at {addr:#x} (pc {pc:#x})")]
    MisalignedAtomic { pc: u64, addr: u64 },
    #[error("pc {pc:#x} is not 4-aligned")]
    MisalignedPc { pc: u64 },
    #[error("ebreak at pc {pc:#x}")]
    Breakpoint { pc: u64 },
    #[error("system call {number} is not one of the VM's (pc {pc:#x})")]
    UnknownSyscall { pc: u64, number: u64 },
    #[error("preimage_read of key {key}, whose type L1's oracle does not serve (pc {pc:#x})")]
    UnsupportedKey { pc: u64, key: B256 },
}

/// Whether L1's oracle serves keys of this type (the key's first byte): local,
/// keccak256, Poseidon, blob. Reading any other key faults, so no honest trace
/// holds a step L1 cannot execute.
pub fn key_type_supported(key: &B256) -> bool {
    matches!(key[0], KEY_LOCAL | KEY_KECCAK256 | KEY_POSEIDON | KEY_BLOB)
}

/// The exit code of a machine stopped by a [`Fault`].
pub const FAULT_EXIT_CODE: u64 = u64::MAX;

/// System call numbers (in a7). Arguments in a0..a2, the result in a0.
pub const SYS_EXIT: u64 = 93;
/// `write(fd, addr, len)`: output for the host (fd 1 or 2), not part of the
/// state; returns `len`.
pub const SYS_WRITE: u64 = 64;
/// `preimage_key(addr)`: the 32 bytes at `addr` become the preimage key, the
/// offset 0; returns 0.
pub const SYS_PREIMAGE_KEY: u64 = 0x1000;
/// `preimage_read(addr, max)`: copies `n = min(max, part length, 32 - addr % 32)`
/// bytes of the stream at the offset to `addr`, advances the offset by `n`;
/// returns `n` (0 at the end of the stream).
pub const SYS_PREIMAGE_READ: u64 = 0x1001;

/// What a step asks of the host beside the state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The program wrote `len` bytes at `addr` to `fd`.
    Output {
        fd: u64,
        addr: u64,
        len: u64,
    },
}

/// Registers, pc, the LR/SC reservation and the oracle cursor; memory is separate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpu {
    pub regs: [u64; 32],
    pub pc: u64,
    /// Address reserved by the last LR, if not yet consumed.
    pub reservation: Option<u64>,
    pub exit: Option<u64>,
    pub steps: u64,
    pub preimage_key: B256,
    pub preimage_offset: u64,
    /// Why the machine faulted, if it did (for the host; not part of the state).
    pub fault: Option<Fault>,
}

/// Why one instruction did not complete normally.
enum Stop {
    Fault(Fault),
    Oracle(OracleError),
}

impl From<Fault> for Stop {
    fn from(f: Fault) -> Self {
        Stop::Fault(f)
    }
}

fn sext(v: u64, bits: u32) -> u64 {
    let shift = 64 - bits;
    (((v << shift) as i64) >> shift) as u64
}

fn w(v: u64) -> u64 {
    sext(v & 0xffff_ffff, 32)
}

impl Cpu {
    pub fn new(pc: u64) -> Self {
        Self { pc, ..Self::default() }
    }

    fn set(&mut self, rd: usize, v: u64) {
        if rd != 0 {
            self.regs[rd] = v;
        }
    }

    /// Executes one instruction. On an exited machine it does nothing (the last
    /// state is a fixed point, so a trace has a state at every step number). A
    /// fault exits the machine (see [`Fault`]). Only a missing preimage is an
    /// error, and it leaves the state as it was.
    // (Inlined into the interpreter's loop, `vm::span`, with `execute` and the
    // memory's accesses: calls per instruction held a release build to
    // 72.5 M instructions/s on 100 transfers, against 107.8 M/s inlined.)
    #[inline(always)]
    pub fn step(
        &mut self,
        mem: &mut impl Memory,
        oracle: &mut impl PreimageSource,
    ) -> Result<Effect, OracleError> {
        if self.exit.is_some() {
            return Ok(Effect::None);
        }
        match self.execute(mem, oracle) {
            Ok(effect) => {
                self.steps = self.steps.wrapping_add(1);
                Ok(effect)
            }
            Err(Stop::Fault(f)) => {
                self.exit = Some(FAULT_EXIT_CODE);
                self.fault = Some(f);
                self.steps = self.steps.wrapping_add(1);
                Ok(Effect::None)
            }
            Err(Stop::Oracle(e)) => Err(e),
        }
    }

    /// Runs until exit or `max_steps` steps; returns the exit code (`None`: the
    /// step budget ran out first). Output goes nowhere.
    pub fn run(
        &mut self,
        mem: &mut impl Memory,
        oracle: &mut impl PreimageSource,
        max_steps: u64,
    ) -> Result<Option<u64>, OracleError> {
        for _ in 0..max_steps {
            if self.exit.is_some() {
                break;
            }
            self.step(mem, oracle)?;
        }
        Ok(self.exit)
    }

    #[inline(always)]
    fn execute(
        &mut self,
        mem: &mut impl Memory,
        oracle: &mut impl PreimageSource,
    ) -> Result<Effect, Stop> {
        let pc = self.pc;
        if !pc.is_multiple_of(4) {
            return Err(Fault::MisalignedPc { pc }.into());
        }
        let word = mem.fetch(pc);
        let illegal = Fault::IllegalInstruction { pc, word };
        if word & 3 != 3 {
            return Err(illegal.into()); // compressed: not in this ISA
        }
        let opcode = word & 0x7f;
        let rd = ((word >> 7) & 31) as usize;
        let f3 = (word >> 12) & 7;
        let rs1 = ((word >> 15) & 31) as usize;
        let rs2 = ((word >> 20) & 31) as usize;
        let f7 = word >> 25;
        let a = self.regs[rs1];
        let b = self.regs[rs2];
        let imm_i = sext(u64::from(word >> 20), 12);
        let imm_s = sext(u64::from(((word >> 25) << 5) | ((word >> 7) & 31)), 12);
        let imm_b = sext(
            u64::from(
                ((word >> 31) << 12)
                    | (((word >> 7) & 1) << 11)
                    | (((word >> 25) & 0x3f) << 5)
                    | (((word >> 8) & 0xf) << 1),
            ),
            13,
        );
        let imm_u = sext(u64::from(word & 0xffff_f000), 32);
        let imm_j = sext(
            u64::from(
                ((word >> 31) << 20)
                    | (((word >> 12) & 0xff) << 12)
                    | (((word >> 20) & 1) << 11)
                    | (((word >> 21) & 0x3ff) << 1),
            ),
            21,
        );
        let mut next = pc.wrapping_add(4);
        let mut effect = Effect::None;
        let jump = |target: u64| {
            if !target.is_multiple_of(4) {
                Err(Fault::MisalignedJump { pc, target })
            } else {
                Ok(target)
            }
        };
        match opcode {
            0x37 => self.set(rd, imm_u),                  // LUI
            0x17 => self.set(rd, pc.wrapping_add(imm_u)), // AUIPC
            0x6f => {
                // JAL
                next = jump(pc.wrapping_add(imm_j))?;
                self.set(rd, pc.wrapping_add(4));
            }
            0x67 if f3 == 0 => {
                // JALR
                next = jump(a.wrapping_add(imm_i) & !1)?;
                self.set(rd, pc.wrapping_add(4));
            }
            0x63 => {
                let taken = match f3 {
                    0 => a == b,
                    1 => a != b,
                    4 => (a as i64) < (b as i64),
                    5 => (a as i64) >= (b as i64),
                    6 => a < b,
                    7 => a >= b,
                    _ => return Err(illegal.into()),
                };
                if taken {
                    next = jump(pc.wrapping_add(imm_b))?;
                }
            }
            0x03 => {
                let addr = a.wrapping_add(imm_i);
                let v = match f3 {
                    0 => sext(mem.read(addr, 1), 8),
                    1 => sext(mem.read(addr, 2), 16),
                    2 => sext(mem.read(addr, 4), 32),
                    3 => mem.read(addr, 8),
                    4 => mem.read(addr, 1),
                    5 => mem.read(addr, 2),
                    6 => mem.read(addr, 4),
                    _ => return Err(illegal.into()),
                };
                self.set(rd, v);
            }
            0x23 => {
                let n = match f3 {
                    0 => 1,
                    1 => 2,
                    2 => 4,
                    3 => 8,
                    _ => return Err(illegal.into()),
                };
                mem.write(a.wrapping_add(imm_s), n, b);
            }
            0x13 => {
                let shamt = (word >> 20) & 0x3f;
                let v = match f3 {
                    0 => a.wrapping_add(imm_i),
                    2 => u64::from((a as i64) < (imm_i as i64)),
                    3 => u64::from(a < imm_i),
                    4 => a ^ imm_i,
                    6 => a | imm_i,
                    7 => a & imm_i,
                    1 if word >> 26 == 0 => a << shamt,
                    5 if word >> 26 == 0 => a >> shamt,
                    5 if word >> 26 == 0x10 => ((a as i64) >> shamt) as u64,
                    _ => return Err(illegal.into()),
                };
                self.set(rd, v);
            }
            0x33 => {
                let v = match (f7, f3) {
                    (0, 0) => a.wrapping_add(b),
                    (0x20, 0) => a.wrapping_sub(b),
                    (0, 1) => a << (b & 63),
                    (0, 2) => u64::from((a as i64) < (b as i64)),
                    (0, 3) => u64::from(a < b),
                    (0, 4) => a ^ b,
                    (0, 5) => a >> (b & 63),
                    (0x20, 5) => ((a as i64) >> (b & 63)) as u64,
                    (0, 6) => a | b,
                    (0, 7) => a & b,
                    (1, 0) => a.wrapping_mul(b),
                    (1, 1) => ((i128::from(a as i64) * i128::from(b as i64)) >> 64) as u64,
                    (1, 2) => ((i128::from(a as i64) * (u128::from(b) as i128)) >> 64) as u64,
                    (1, 3) => ((u128::from(a) * u128::from(b)) >> 64) as u64,
                    (1, 4) => div(a as i64, b as i64) as u64,
                    (1, 5) => a.checked_div(b).unwrap_or(u64::MAX),
                    (1, 6) => rem(a as i64, b as i64) as u64,
                    (1, 7) => {
                        if b == 0 {
                            a
                        } else {
                            a % b
                        }
                    }
                    _ => return Err(illegal.into()),
                };
                self.set(rd, v);
            }
            0x1b => {
                let shamt = (word >> 20) & 0x1f;
                let v = match (f3, f7) {
                    (0, _) => w(a.wrapping_add(imm_i)),
                    (1, 0) => w(a << shamt),
                    (5, 0) => w((a & 0xffff_ffff) >> shamt),
                    (5, 0x20) => (((a as i32) >> shamt) as i64) as u64,
                    _ => return Err(illegal.into()),
                };
                self.set(rd, v);
            }
            0x3b => {
                let (x, y) = (a as i32, b as i32);
                let v = match (f7, f3) {
                    (0, 0) => w(a.wrapping_add(b)),
                    (0x20, 0) => w(a.wrapping_sub(b)),
                    (0, 1) => w(a << (b & 31)),
                    (0, 5) => w((a & 0xffff_ffff) >> (b & 31)),
                    (0x20, 5) => ((x >> (b & 31)) as i64) as u64,
                    (1, 0) => w(a.wrapping_mul(b)),
                    (1, 4) => (div32(x, y) as i64) as u64,
                    (1, 5) => w(u64::from((x as u32).checked_div(y as u32).unwrap_or(u32::MAX))),
                    (1, 6) => (rem32(x, y) as i64) as u64,
                    (1, 7) => {
                        let (p, q) = (x as u32, y as u32);
                        w(u64::from(if q == 0 { p } else { p % q }))
                    }
                    _ => return Err(illegal.into()),
                };
                self.set(rd, v);
            }
            0x0f => {} // FENCE, FENCE.I: one hart, in order
            0x73 => match word {
                0x0000_0073 => effect = self.ecall(mem, oracle, pc)?,
                0x0010_0073 => return Err(Fault::Breakpoint { pc }.into()),
                _ => return Err(illegal.into()),
            },
            0x2f => self.atomic(mem, pc, word, rd, f3, a, b)?,
            _ => return Err(illegal.into()),
        }
        self.pc = next;
        Ok(effect)
    }

    fn ecall(
        &mut self,
        mem: &mut impl Memory,
        oracle: &mut impl PreimageSource,
        pc: u64,
    ) -> Result<Effect, Stop> {
        let (a0, a1, a2) = (self.regs[10], self.regs[11], self.regs[12]);
        match self.regs[17] {
            SYS_EXIT => self.exit = Some(a0),
            SYS_WRITE => {
                self.regs[10] = a2;
                return Ok(Effect::Output { fd: a0, addr: a1, len: a2 });
            }
            SYS_PREIMAGE_KEY => {
                let mut key = [0u8; 32];
                mem.read_bytes(a0, &mut key);
                self.preimage_key = B256::from(key);
                self.preimage_offset = 0;
                self.regs[10] = 0;
            }
            SYS_PREIMAGE_READ => {
                if !key_type_supported(&self.preimage_key) {
                    return Err(Fault::UnsupportedKey { pc, key: self.preimage_key }.into());
                }
                let (part, len) = if a1 == 0 {
                    ([0u8; 32], 0)
                } else {
                    oracle.part(&self.preimage_key, self.preimage_offset).map_err(Stop::Oracle)?
                };
                let n = a1.min(len).min(32 - (a0 & 31));
                if n > 0 {
                    mem.write_bytes(a0, &part[..n as usize]);
                }
                self.preimage_offset += n;
                self.regs[10] = n;
            }
            number => return Err(Fault::UnknownSyscall { pc, number }.into()),
        }
        Ok(Effect::None)
    }

    #[allow(clippy::too_many_arguments)]
    fn atomic(
        &mut self,
        mem: &mut impl Memory,
        pc: u64,
        word: u32,
        rd: usize,
        f3: u32,
        addr: u64,
        b: u64,
    ) -> Result<(), Stop> {
        let illegal = Fault::IllegalInstruction { pc, word };
        let n: u32 = match f3 {
            2 => 4,
            3 => 8,
            _ => return Err(illegal.into()),
        };
        let f5 = word >> 27;
        if !matches!(f5, 0x00..=0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c) {
            return Err(illegal.into());
        }
        if !addr.is_multiple_of(u64::from(n)) {
            return Err(Fault::MisalignedAtomic { pc, addr }.into());
        }
        let load = |mem: &mut dyn FnMut(u64, u32) -> u64| {
            let v = mem(addr, n);
            if n == 4 { sext(v, 32) } else { v }
        };
        match f5 {
            0x02 => {
                // LR
                if (word >> 20) & 31 != 0 {
                    return Err(illegal.into());
                }
                let v = load(&mut |a, n| mem.read(a, n));
                self.reservation = Some(addr);
                self.set(rd, v);
            }
            0x03 => {
                // SC
                let ok = self.reservation == Some(addr);
                self.reservation = None;
                if ok {
                    mem.write(addr, n, b);
                }
                self.set(rd, u64::from(!ok));
            }
            _ => {
                let old = load(&mut |a, n| mem.read(a, n));
                let (x, y) = if n == 4 { (old, sext(b, 32)) } else { (old, b) };
                let new = match f5 {
                    0x01 => y,
                    0x00 => x.wrapping_add(y),
                    0x04 => x ^ y,
                    0x0c => x & y,
                    0x08 => x | y,
                    0x10 => {
                        if (x as i64) < (y as i64) {
                            x
                        } else {
                            y
                        }
                    }
                    0x14 => {
                        if (x as i64) > (y as i64) {
                            x
                        } else {
                            y
                        }
                    }
                    0x18 => {
                        if (x & mask(n)) < (y & mask(n)) {
                            x
                        } else {
                            y
                        }
                    }
                    0x1c => {
                        if (x & mask(n)) > (y & mask(n)) {
                            x
                        } else {
                            y
                        }
                    }
                    _ => return Err(illegal.into()),
                };
                mem.write(addr, n, new);
                self.set(rd, old);
            }
        }
        Ok(())
    }
}

fn mask(n: u32) -> u64 {
    if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 }
}

fn div(a: i64, b: i64) -> i64 {
    if b == 0 { -1 } else { a.wrapping_div(b) }
}

fn rem(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { a.wrapping_rem(b) }
}

fn div32(a: i32, b: i32) -> i32 {
    if b == 0 { -1 } else { a.wrapping_div(b) }
}

fn rem32(a: i32, b: i32) -> i32 {
    if b == 0 { a } else { a.wrapping_rem(b) }
}

#[cfg(test)]
mod proof_tests;
#[cfg(test)]
mod tests;
