//! Loading the program: a 64-bit little-endian RISC-V ELF executable's PT_LOAD
//! segments go into memory, its entry point becomes the pc. Everything else
//! (registers, the oracle cursor) starts at zero, so the initial state, and its
//! hash (the chain's "absolute prestate"), is a function of the file alone.

use crate::memory::SparseMemory;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("not a 64-bit little-endian RISC-V executable")]
    WrongKind,
    #[error("a program header or segment lies outside the file")]
    Truncated,
    #[error("malformed program headers or entry point")]
    Malformed,
}

fn bytes_at<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], ElfError> {
    let end = at.checked_add(N).ok_or(ElfError::Truncated)?;
    Ok(b.get(at..end).ok_or(ElfError::Truncated)?.try_into().expect("N bytes"))
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, ElfError> {
    Ok(u16::from_le_bytes(bytes_at(b, at)?))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ElfError> {
    Ok(u32::from_le_bytes(bytes_at(b, at)?))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, ElfError> {
    Ok(u64::from_le_bytes(bytes_at(b, at)?))
}

const PT_LOAD: u32 = 1;
const EM_RISCV: u16 = 243;
const ET_EXEC: u16 = 2;

/// Loads `elf` into `mem`; returns the entry point.
pub fn load_elf(elf: &[u8], mem: &mut SparseMemory) -> Result<u64, ElfError> {
    if elf.len() < 64 || elf[..4] != *b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if elf[4] != 2 || elf[5] != 1 || u16_at(elf, 16)? != ET_EXEC || u16_at(elf, 18)? != EM_RISCV {
        return Err(ElfError::WrongKind);
    }
    let entry = u64_at(elf, 24)?;
    let phoff = usize::try_from(u64_at(elf, 32)?).map_err(|_| ElfError::Truncated)?;
    let phentsize = usize::from(u16_at(elf, 54)?);
    let phnum = usize::from(u16_at(elf, 56)?);
    if phentsize != 56 || !entry.is_multiple_of(4) {
        return Err(ElfError::Malformed);
    }
    if phoff.checked_add(phnum * 56).is_none_or(|end| end > elf.len()) {
        return Err(ElfError::Truncated);
    }
    for i in 0..phnum {
        let ph = phoff
            .checked_add(i.checked_mul(phentsize).ok_or(ElfError::Truncated)?)
            .ok_or(ElfError::Truncated)?;
        if u32_at(elf, ph)? != PT_LOAD {
            continue;
        }
        let offset = usize::try_from(u64_at(elf, ph + 8)?).map_err(|_| ElfError::Truncated)?;
        let vaddr = u64_at(elf, ph + 16)?;
        let filesz = usize::try_from(u64_at(elf, ph + 32)?).map_err(|_| ElfError::Truncated)?;
        if u64_at(elf, ph + 40)? < filesz as u64 {
            return Err(ElfError::Malformed);
        }
        let end = offset.checked_add(filesz).ok_or(ElfError::Truncated)?;
        let bytes = elf.get(offset..end).ok_or(ElfError::Truncated)?;
        mem.load(vaddr, bytes);
    }
    Ok(entry)
}
