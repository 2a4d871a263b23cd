#![doc = include_str!("../README.md")]

use std::collections::HashMap;

/// Byte-addressed memory the interpreter reads and writes.
pub trait Memory {
    fn read_u8(&mut self, addr: u64) -> u8;
    fn write_u8(&mut self, addr: u64, value: u8);

    /// `n` bytes at `addr` (wrapping), little-endian.
    fn read(&mut self, addr: u64, n: u32) -> u64 {
        (0..n).fold(0u64, |v, i| {
            v | u64::from(self.read_u8(addr.wrapping_add(u64::from(i)))) << (8 * i)
        })
    }

    /// The low `n` bytes of `value` at `addr` (wrapping), little-endian.
    fn write(&mut self, addr: u64, n: u32, value: u64) {
        for i in 0..n {
            self.write_u8(addr.wrapping_add(u64::from(i)), (value >> (8 * i)) as u8);
        }
    }
}

const PAGE: u64 = 4096;

/// Memory as 4 KiB pages made on first write; unwritten bytes read as zero.
#[derive(Debug, Default, Clone)]
pub struct SparseMemory {
    pages: HashMap<u64, Box<[u8; PAGE as usize]>>,
}

impl SparseMemory {
    /// Copies `bytes` to `addr`.
    pub fn load(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u64), *b);
        }
    }
}

impl Memory for SparseMemory {
    fn read_u8(&mut self, addr: u64) -> u8 {
        self.pages.get(&(addr / PAGE)).map_or(0, |p| p[(addr % PAGE) as usize])
    }

    fn write_u8(&mut self, addr: u64, value: u8) {
        let page = self.pages.entry(addr / PAGE).or_insert_with(|| Box::new([0; PAGE as usize]));
        page[(addr % PAGE) as usize] = value;
    }
}

/// Why the machine stopped without exiting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("illegal instruction {word:#010x} at pc {pc:#x}")]
    IllegalInstruction { pc: u64, word: u32 },
    #[error("misaligned jump target {target:#x} at pc {pc:#x}")]
    MisalignedJump { pc: u64, target: u64 },
    #[error("misaligned atomic access at {addr:#x} (pc {pc:#x})")]
    MisalignedAtomic { pc: u64, addr: u64 },
    #[error("ebreak at pc {pc:#x}")]
    Breakpoint { pc: u64 },
    #[error(
        "system call {number} is not supported (pc {pc:#x}): the preimage oracle is not built yet"
    )]
    UnknownSyscall { pc: u64, number: u64 },
    #[error("the machine has exited with {code}")]
    Exited { code: u64 },
}

/// System call numbers (in a7), as Linux's on RISC-V.
pub const SYS_EXIT: u64 = 93;

/// Registers, pc and the LR/SC reservation; memory is separate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpu {
    pub regs: [u64; 32],
    pub pc: u64,
    /// Address reserved by the last LR, if not yet consumed.
    pub reservation: Option<u64>,
    pub exit: Option<u64>,
    pub steps: u64,
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

    /// Runs until exit, a fault or `max_steps` steps; returns the exit code
    /// (`None`: the step budget ran out first).
    pub fn run(&mut self, mem: &mut impl Memory, max_steps: u64) -> Result<Option<u64>, Fault> {
        for _ in 0..max_steps {
            self.step(mem)?;
            if let Some(code) = self.exit {
                return Ok(Some(code));
            }
        }
        Ok(self.exit)
    }

    /// Executes one instruction.
    pub fn step(&mut self, mem: &mut impl Memory) -> Result<(), Fault> {
        if let Some(code) = self.exit {
            return Err(Fault::Exited { code });
        }
        let pc = self.pc;
        let word = mem.read(pc, 4) as u32;
        let illegal = Fault::IllegalInstruction { pc, word };
        if word & 3 != 3 {
            return Err(illegal); // compressed: not in this ISA
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
                    _ => return Err(illegal),
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
                    _ => return Err(illegal),
                };
                self.set(rd, v);
            }
            0x23 => {
                let n = match f3 {
                    0 => 1,
                    1 => 2,
                    2 => 4,
                    3 => 8,
                    _ => return Err(illegal),
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
                    _ => return Err(illegal),
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
                    _ => return Err(illegal),
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
                    _ => return Err(illegal),
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
                    _ => return Err(illegal),
                };
                self.set(rd, v);
            }
            0x0f => {} // FENCE, FENCE.I: one hart, in order
            0x73 => match word {
                0x0000_0073 => self.ecall(pc)?,
                0x0010_0073 => return Err(Fault::Breakpoint { pc }),
                _ => return Err(illegal),
            },
            0x2f => self.atomic(mem, pc, word, rd, f3, a, b)?,
            _ => return Err(illegal),
        }
        self.pc = next;
        self.steps += 1;
        Ok(())
    }

    fn ecall(&mut self, pc: u64) -> Result<(), Fault> {
        match self.regs[17] {
            SYS_EXIT => {
                self.exit = Some(self.regs[10]);
                Ok(())
            }
            number => Err(Fault::UnknownSyscall { pc, number }),
        }
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
    ) -> Result<(), Fault> {
        let illegal = Fault::IllegalInstruction { pc, word };
        let n: u32 = match f3 {
            2 => 4,
            3 => 8,
            _ => return Err(illegal),
        };
        if !addr.is_multiple_of(u64::from(n)) {
            return Err(Fault::MisalignedAtomic { pc, addr });
        }
        let load = |mem: &mut dyn FnMut(u64, u32) -> u64| {
            let v = mem(addr, n);
            if n == 4 { sext(v, 32) } else { v }
        };
        let f5 = word >> 27;
        match f5 {
            0x02 => {
                // LR
                if (word >> 20) & 31 != 0 {
                    return Err(illegal);
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
                    _ => return Err(illegal),
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
mod tests;
