//! Test support: random instruction streams for differential tests of the
//! step verifiers (the reference one here, the Solidity one on L1). Public so
//! the L1 contract's tests drive the same streams.

use alloy::primitives::{B256, keccak256};

use crate::{
    Cpu, KEY_BLOB, KEY_KECCAK256, KEY_LOCAL, KEY_POSEIDON, Memory, OracleError, PreimageSource,
    SYS_EXIT, SYS_PREIMAGE_KEY, SYS_PREIMAGE_READ, SYS_WRITE, SparseMemory, Vm, stream_part,
};

/// splitmix64: a small deterministic generator, so failures replay.
pub struct Rng(pub u64);

#[allow(clippy::should_implement_trait)]
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// An oracle that knows a preimage for every key: `len = key[1] * 3` bytes of
/// keccak-derived data. Lets random programs read any key.
pub struct AnyKey;

pub fn any_key_data(key: &B256) -> Vec<u8> {
    let len = usize::from(key[1]) * 3;
    (0..len).map(|i| key[i % 32] ^ (i as u8).wrapping_mul(31)).collect()
}

impl PreimageSource for AnyKey {
    fn part(&mut self, key: &B256, offset: u64) -> Result<([u8; 32], u64), OracleError> {
        Ok(stream_part(&any_key_data(key), offset))
    }
}

/// A random instruction word, biased to the encodings the VM knows, with
/// registers 5..=7 as the usual base registers.
pub fn random_word(rng: &mut Rng) -> u32 {
    let rd = rng.below(32) as u32;
    let rs1 = if rng.below(4) == 0 { rng.below(32) as u32 } else { 5 + rng.below(3) as u32 };
    let rs2 = rng.below(32) as u32;
    let f3 = rng.below(8) as u32;
    let imm12 = (rng.below(4096) as u32) << 20;
    let r = |f7: u32, op: u32| (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    match rng.below(16) {
        0 => r(rng.pick(&[0, 0x20, 1, 0x5a]), 0x33),
        1 => r(rng.pick(&[0, 0x20, 1, 0x11]), 0x3b),
        2 => imm12 | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x13,
        3 => {
            let top = rng.pick(&[0u32, 0x10, 0x3f]) << 26;
            (rng.below(64) as u32) << 20
                | top
                | (rs1 << 15)
                | (rng.pick(&[1u32, 5]) << 12)
                | (rd << 7)
                | 0x13
        }
        4 => imm12 | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x1b,
        5 => r(rng.pick(&[0, 0x20]), 0x1b),
        6 | 7 => (rng.below(64) as u32) << 20 | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x03,
        8 | 9 => {
            let imm = rng.below(64) as u32;
            ((imm >> 5) << 25)
                | (rs2 << 20)
                | (rs1 << 15)
                | (rng.below(5) as u32) << 12
                | ((imm & 31) << 7)
                | 0x23
        }
        10 => {
            // branch by a small even offset (some misaligned: a fault)
            let imm = (rng.below(16) as u32) * 2;
            (((imm >> 5) & 0x3f) << 25)
                | (rs2 << 20)
                | (rs1 << 15)
                | (f3 << 12)
                | (((imm >> 1) & 0xf) << 8)
                | 0x63
        }
        11 => {
            let imm = (rng.below(8) as u32) * 4;
            ((imm >> 1) & 0x3ff) << 21 | (rd << 7) | 0x6f
        }
        12 => {
            let f5 = rng.pick(&[0u32, 1, 2, 3, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x1f]);
            let w = rng.pick(&[2u32, 3, 3, 1]);
            let rs2 = if f5 == 2 && rng.below(3) != 0 { 0 } else { rs2 };
            (f5 << 27) | (rs2 << 20) | (rs1 << 15) | (w << 12) | (rd << 7) | 0x2f
        }
        13 => rng.pick(&[ECALL, ECALL, 0x0010_0073, 0x0000_000f, 0x30200073]),
        14 => (rng.next() as u32 & 0xffff_f000) | (rd << 7) | rng.pick(&[0x37, 0x17]),
        _ => rng.next() as u32,
    }
}

fn asm(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

const ECALL: u32 = 0x73;

/// Machine number `program` of a random stream: 48 random instructions (at
/// the top of memory for every seventh, so the pc wraps), a page of random
/// data, random registers with base registers at leaf and page edges, a random
/// system call number, preimage key (of every type, and one no type names)
/// and reservation.
pub fn random_machine(rng: &mut Rng, program: u64) -> Vm<AnyKey> {
    let mut mem = SparseMemory::default();
    let words: Vec<u32> = (0..48).map(|_| random_word(rng)).collect();
    let base = if program.is_multiple_of(7) { 0xffff_ffff_ffff_ff00 } else { 0x1000 };
    mem.load(base, &asm(&words));
    for i in 0..64 {
        mem.write(0x2_0000 + 8 * i, 8, rng.next());
    }
    let mut cpu = Cpu::new(base);
    for r in 1..32 {
        cpu.regs[r] = rng.next();
    }
    // Base registers: inside the data page, at leaf and page edges, at the top of memory.
    let bases: [u64; 5] = [0x2_0000, 0x2_001e, 0x2_0ffd, 0xffff_ffff_ffff_fffd, 0x2_0fe0];
    for r in 5..=7 {
        cpu.regs[r] = rng.pick(&bases).wrapping_add(rng.below(40));
    }
    cpu.regs[10] = rng.pick(&bases).wrapping_add(rng.below(40));
    cpu.regs[11] = rng.below(40);
    cpu.regs[17] =
        rng.pick(&[SYS_EXIT, SYS_WRITE, SYS_PREIMAGE_KEY, SYS_PREIMAGE_READ, SYS_PREIMAGE_READ, 7]);
    if rng.below(4) != 0 {
        let mut key = B256::from(keccak256(program.to_le_bytes()));
        key.0[0] = rng.pick(&[KEY_LOCAL, KEY_KECCAK256, KEY_POSEIDON, KEY_BLOB, 9]);
        cpu.preimage_key = key;
    }
    if rng.below(5) == 0 {
        cpu.reservation = Some(cpu.regs[5] & !7);
    }
    Vm::new(cpu, mem, AnyKey)
}
