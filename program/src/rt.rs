//! The runtime on the fault-proof VM: entry, stack, heap, the VM's system calls
//! (see crates/fpvm: exit 93, write 64, preimage_key 0x1000, preimage_read 0x1001)
//! and the panic handler (message to fd 2, exit code 2: status "panic").

use alloc::vec::Vec;
use core::{
    alloc::{GlobalAlloc, Layout},
    arch::{asm, global_asm},
    cell::UnsafeCell,
};

// The stack's top; memory is sparse, so it costs only what is used.
global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    "  li sp, 0x7ffffff000",
    "  call {entry}",
    "1: j 1b",
    entry = sym entry,
);

extern "C" fn entry() -> ! {
    exit(crate::program_main())
}

const SYS_EXIT: u64 = 93;
const SYS_WRITE: u64 = 64;
const SYS_PREIMAGE_KEY: u64 = 0x1000;
const SYS_PREIMAGE_READ: u64 = 0x1001;

fn syscall(n: u64, a0: u64, a1: u64, a2: u64) -> u64 {
    let r;
    // SAFETY: the VM's system calls read and write only the memory named.
    unsafe {
        asm!("ecall", inlateout("a0") a0 => r, in("a1") a1, in("a2") a2, in("a7") n,
             options(nostack));
    }
    r
}

pub fn exit(code: u64) -> ! {
    syscall(SYS_EXIT, code, 0, 0);
    loop {}
}

pub fn print(s: &str) {
    syscall(SYS_WRITE, 1, s.as_ptr() as u64, s.len() as u64);
}

#[repr(align(32))]
struct Aligned([u8; 32]);

fn read_exact(out: &mut [u8]) {
    let mut done = 0;
    while done < out.len() {
        let mut buf = Aligned([0; 32]);
        let want = (out.len() - done).min(32) as u64;
        let n = syscall(SYS_PREIMAGE_READ, buf.0.as_mut_ptr() as u64, want, 0) as usize;
        if n == 0 {
            panic!("the preimage ended early");
        }
        out[done..done + n].copy_from_slice(&buf.0[..n]);
        done += n;
    }
}

/// The preimage of `key`.
pub fn preimage(key: &[u8; 32]) -> Vec<u8> {
    let k = Aligned(*key);
    syscall(SYS_PREIMAGE_KEY, k.0.as_ptr() as u64, 0, 0);
    let mut len = [0u8; 8];
    read_exact(&mut len);
    let mut data = alloc::vec![0u8; u64::from_be_bytes(len) as usize];
    read_exact(&mut data);
    data
}

/// A bump allocator from 4 GiB up; nothing is freed (one run, then exit).
struct Bump(UnsafeCell<usize>);

// SAFETY: the VM has one hart and no interrupts.
unsafe impl Sync for Bump {}

const HEAP_START: usize = 0x1_0000_0000;
const HEAP_END: usize = 0x70_0000_0000;

#[global_allocator]
static HEAP: Bump = Bump(UnsafeCell::new(HEAP_START));

// SAFETY: each allocation is a fresh, aligned range below HEAP_END.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one hart: no other reference to the cursor exists.
        let next = unsafe { &mut *self.0.get() };
        let start = (*next + layout.align() - 1) & !(layout.align() - 1);
        let end = start + layout.size();
        if end > HEAP_END {
            return core::ptr::null_mut();
        }
        *next = end;
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let msg = alloc::format!("panic: {info}\n");
    syscall(SYS_WRITE, 2, msg.as_ptr() as u64, msg.len() as u64);
    exit(2)
}
