//! The VM's memory: 4 KiB pages made on first write, and the binary keccak
//! tree over the whole 2^64-byte address space that L1 checks accesses against.
//!
//! Tree: leaves are the 32-byte words of memory (leaf `i` holds bytes
//! `32*i .. 32*i + 32`), so there are 2^59 leaves and 59 levels above them; an
//! inner node is `keccak256(left ‖ right)`. A memory proof for one leaf is the
//! leaf's 32 bytes followed by its 59 siblings from the bottom up: 1,920 bytes.
//! Unwritten memory is zero, so an untouched subtree of height `h` hashes to
//! `zero_hash(h)`.
//!
//! Pages are shared (`Arc`) between snapshots and copied on first write, and each
//! page remembers its subtree hash until written, so the root after a run costs
//! only the pages that run wrote.

use std::sync::{Arc, OnceLock};

use alloy::primitives::B256;
use rustc_hash::FxHashMap;
use sha3::{Digest, Keccak256};

use crate::Memory;

pub const PAGE_SIZE: u64 = 4096;
/// Bytes in one leaf of the memory tree.
pub const LEAF_SIZE: u64 = 32;
/// Levels above the leaves: 2^64 bytes / 32-byte leaves = 2^59 leaves.
pub const TREE_DEPTH: usize = 59;
/// Levels inside one page (128 leaves).
const PAGE_DEPTH: usize = 7;
/// One memory proof: the leaf and its 59 siblings.
pub const MEM_PROOF_SIZE: usize = 32 * (TREE_DEPTH + 1);
/// Mask of a leaf index (59 bits).
pub const LEAF_MASK: u64 = (1 << TREE_DEPTH) - 1;

/// keccak256, hashed in this (optimised) crate.
pub fn keccak(data: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(Keccak256::digest(data)))
}

/// `keccak256(a ‖ b)`.
pub fn hash_pair(a: &B256, b: &B256) -> B256 {
    let mut h = Keccak256::new();
    h.update(a.as_slice());
    h.update(b.as_slice());
    B256::from(<[u8; 32]>::from(h.finalize()))
}

/// The hash of an all-zero subtree of height `h` (0: a zero leaf).
pub fn zero_hash(h: usize) -> B256 {
    static ZEROS: OnceLock<[B256; TREE_DEPTH + 1]> = OnceLock::new();
    ZEROS.get_or_init(|| {
        let mut z = [B256::ZERO; TREE_DEPTH + 1];
        for i in 1..=TREE_DEPTH {
            z[i] = hash_pair(&z[i - 1], &z[i - 1]);
        }
        z
    })[h]
}

/// The leaves an access of `n` (1..=32) bytes at `addr` touches, in order: its
/// first leaf, and the next one (wrapping) when the access crosses into it.
pub fn touched_leaves(addr: u64, n: u64) -> (u64, Option<u64>) {
    let first = addr >> 5;
    if (addr & 31) + n > LEAF_SIZE { (first, Some((first + 1) & LEAF_MASK)) } else { (first, None) }
}

#[derive(Clone)]
struct Page {
    data: Arc<[u8; PAGE_SIZE as usize]>,
    /// The page's subtree hash, until the page is written.
    hash: Option<B256>,
}

/// Sparse, merkleizable memory. Cloning is cheap (pages are shared until written).
#[derive(Clone, Default)]
pub struct SparseMemory {
    slots: FxHashMap<u64, usize>,
    pages: Vec<Page>,
    page_numbers: Vec<u64>,
    /// The last page read or written, and the last page an instruction was
    /// fetched from: (page number, slot).
    data_cache: Option<(u64, usize)>,
    code_cache: Option<(u64, usize)>,
}

impl std::fmt::Debug for SparseMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SparseMemory({} pages)", self.pages.len())
    }
}

impl SparseMemory {
    /// Copies `bytes` to `addr`.
    pub fn load(&mut self, addr: u64, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(PAGE_SIZE as usize).enumerate() {
            self.write_bytes(addr.wrapping_add((i as u64) * PAGE_SIZE), chunk);
        }
    }

    /// How many pages have been written.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    #[inline(always)]
    fn slot(&mut self, page: u64) -> Option<usize> {
        if let Some((p, s)) = self.data_cache
            && p == page
        {
            return Some(s);
        }
        let s = *self.slots.get(&page)?;
        self.data_cache = Some((page, s));
        Some(s)
    }

    fn slot_mut(&mut self, page: u64) -> usize {
        let s = match self.slot(page) {
            Some(s) => s,
            None => {
                let s = self.pages.len();
                self.pages.push(Page { data: Arc::new([0; PAGE_SIZE as usize]), hash: None });
                self.page_numbers.push(page);
                self.slots.insert(page, s);
                self.data_cache = Some((page, s));
                s
            }
        };
        self.pages[s].hash = None;
        s
    }

    fn read_u8(&mut self, addr: u64) -> u8 {
        match self.slot(addr / PAGE_SIZE) {
            Some(s) => self.pages[s].data[(addr % PAGE_SIZE) as usize],
            None => 0,
        }
    }

    fn write_u8(&mut self, addr: u64, value: u8) {
        let s = self.slot_mut(addr / PAGE_SIZE);
        Arc::make_mut(&mut self.pages[s].data)[(addr % PAGE_SIZE) as usize] = value;
    }

    /// The 32 bytes of leaf `leaf`.
    pub fn leaf(&mut self, leaf: u64) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.read_bytes((leaf & LEAF_MASK) << 5, &mut out);
        out
    }

    fn page_hash(&mut self, s: usize) -> B256 {
        if let Some(h) = self.pages[s].hash {
            return h;
        }
        let h = page_levels(&self.pages[s].data)[PAGE_DEPTH][0];
        self.pages[s].hash = Some(h);
        h
    }

    /// Every level of the tree above the pages, bottom up: level `k` holds the
    /// non-zero nodes of height `PAGE_DEPTH + k`, sorted by index.
    fn upper_levels(&mut self) -> Vec<Vec<(u64, B256)>> {
        let mut level: Vec<(u64, B256)> =
            (0..self.pages.len()).map(|s| (self.page_numbers[s], self.page_hash(s))).collect();
        level.sort_unstable_by_key(|(i, _)| *i);
        let mut levels = Vec::with_capacity(TREE_DEPTH - PAGE_DEPTH + 1);
        for h in PAGE_DEPTH..TREE_DEPTH {
            let mut next = Vec::with_capacity(level.len() / 2 + 1);
            let mut k = 0;
            while k < level.len() {
                let (i, node) = level[k];
                let pair = if i & 1 == 0 {
                    match level.get(k + 1) {
                        Some(&(j, right)) if j == i + 1 => {
                            k += 1;
                            hash_pair(&node, &right)
                        }
                        _ => hash_pair(&node, &zero_hash(h)),
                    }
                } else {
                    hash_pair(&zero_hash(h), &node)
                };
                next.push((i >> 1, pair));
                k += 1;
            }
            levels.push(level);
            level = next;
        }
        levels.push(level);
        levels
    }

    /// The root of the memory tree.
    pub fn root(&mut self) -> B256 {
        let levels = self.upper_levels();
        levels.last().and_then(|l| l.first()).map_or(zero_hash(TREE_DEPTH), |(_, h)| *h)
    }

    /// The memory proof of leaf `leaf` (its bytes, then 59 siblings bottom up).
    pub fn proof(&mut self, leaf: u64) -> Vec<u8> {
        let leaf = leaf & LEAF_MASK;
        let mut out = Vec::with_capacity(MEM_PROOF_SIZE);
        out.extend_from_slice(&self.leaf(leaf));
        let page = leaf >> PAGE_DEPTH;
        match self.slots.get(&page).copied() {
            Some(s) => {
                let levels = page_levels(&self.pages[s].data);
                for (h, level) in levels.iter().take(PAGE_DEPTH).enumerate() {
                    let idx = ((leaf >> h) ^ 1) as usize & ((1 << (PAGE_DEPTH - h)) - 1);
                    out.extend_from_slice(level[idx].as_slice());
                }
            }
            None => (0..PAGE_DEPTH).for_each(|h| out.extend_from_slice(zero_hash(h).as_slice())),
        }
        let levels = self.upper_levels();
        for (k, level) in levels.iter().take(TREE_DEPTH - PAGE_DEPTH).enumerate() {
            let sibling = (page >> k) ^ 1;
            let node = level
                .binary_search_by_key(&sibling, |(i, _)| *i)
                .map_or(zero_hash(PAGE_DEPTH + k), |p| level[p].1);
            out.extend_from_slice(node.as_slice());
        }
        debug_assert_eq!(out.len(), MEM_PROOF_SIZE);
        out
    }
}

/// The levels of one page's subtree: level 0 its 128 leaves, level 7 its root.
fn page_levels(data: &[u8; PAGE_SIZE as usize]) -> Vec<Vec<B256>> {
    let mut levels = Vec::with_capacity(PAGE_DEPTH + 1);
    levels.push(data.chunks_exact(32).map(B256::from_slice).collect::<Vec<_>>());
    for h in 0..PAGE_DEPTH {
        let next = levels[h].chunks_exact(2).map(|p| hash_pair(&p[0], &p[1])).collect();
        levels.push(next);
    }
    levels
}

/// Checks a memory proof of leaf `leaf` against `root`; returns the leaf's bytes.
pub fn verify_leaf(root: &B256, leaf: u64, proof: &[u8]) -> Option<[u8; 32]> {
    if proof.len() != MEM_PROOF_SIZE {
        return None;
    }
    let value: [u8; 32] = proof[..32].try_into().ok()?;
    (root_from(leaf, &value, proof) == *root).then_some(value)
}

/// The root a proof gives for leaf `leaf` holding `value`.
pub fn root_from(leaf: u64, value: &[u8; 32], proof: &[u8]) -> B256 {
    let mut node = B256::from(*value);
    for h in 0..TREE_DEPTH {
        let sibling = B256::from_slice(&proof[32 * (h + 1)..32 * (h + 2)]);
        node = if (leaf >> h) & 1 == 0 {
            hash_pair(&node, &sibling)
        } else {
            hash_pair(&sibling, &node)
        };
    }
    node
}

impl Memory for SparseMemory {
    #[inline(always)]
    fn read(&mut self, addr: u64, n: u32) -> u64 {
        let off = (addr % PAGE_SIZE) as usize;
        if off + n as usize <= PAGE_SIZE as usize {
            let Some(s) = self.slot(addr / PAGE_SIZE) else { return 0 };
            let b = &self.pages[s].data[off..];
            // (Fixed-size copies: a copy of `n` bytes is a call to memmove.)
            return match n {
                1 => u64::from(b[0]),
                2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
                4 => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                8 => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                _ => {
                    let mut buf = [0u8; 8];
                    buf[..n as usize].copy_from_slice(&b[..n as usize]);
                    u64::from_le_bytes(buf)
                }
            };
        }
        (0..n).fold(0u64, |v, i| {
            v | u64::from(self.read_u8(addr.wrapping_add(u64::from(i)))) << (8 * i)
        })
    }

    #[inline(always)]
    fn write(&mut self, addr: u64, n: u32, value: u64) {
        let off = (addr % PAGE_SIZE) as usize;
        if off + n as usize <= PAGE_SIZE as usize {
            let s = self.slot_mut(addr / PAGE_SIZE);
            let data = &mut Arc::make_mut(&mut self.pages[s].data)[off..];
            let bytes = value.to_le_bytes();
            match n {
                1 => data[0] = bytes[0],
                2 => data[..2].copy_from_slice(&bytes[..2]),
                4 => data[..4].copy_from_slice(&bytes[..4]),
                8 => data[..8].copy_from_slice(&bytes),
                _ => data[..n as usize].copy_from_slice(&bytes[..n as usize]),
            }
            return;
        }
        for i in 0..n {
            self.write_u8(addr.wrapping_add(u64::from(i)), (value >> (8 * i)) as u8);
        }
    }

    #[inline(always)]
    fn fetch(&mut self, pc: u64) -> u32 {
        let page = pc / PAGE_SIZE;
        let s = match self.code_cache {
            Some((p, s)) if p == page => s,
            _ => match self.slots.get(&page) {
                Some(&s) => {
                    self.code_cache = Some((page, s));
                    s
                }
                None => return 0,
            },
        };
        let off = (pc % PAGE_SIZE) as usize;
        // pc is 4-aligned (jumps to other targets fault), so the word is in one page.
        u32::from_le_bytes(self.pages[s].data[off..off + 4].try_into().expect("4 bytes"))
    }

    fn read_bytes(&mut self, addr: u64, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.read_u8(addr.wrapping_add(i as u64));
        }
    }

    fn write_bytes(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u64), *b);
        }
    }
}
