//! The VM as a host runs it: interpreter + memory + oracle, with snapshots so
//! the state at any step of a long trace is found by replaying from the nearest
//! one, and step proofs at any step.

use crate::elf::{ElfError, load_elf};
use crate::memory::SparseMemory;
use crate::oracle::{OracleError, PreimageSource};
use crate::proof::{ProvingMemory, RecordingOracle, StepProof};
use crate::state::VmState;
use crate::{Cpu, Effect, Fault, Memory};
use alloy::primitives::B256;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The exit code, or `None` when the step budget ran out first.
    pub exit: Option<u64>,
    pub steps: u64,
    pub fault: Option<Fault>,
}

/// Most bytes of program output kept.
const OUTPUT_LIMIT: usize = 1 << 20;

pub struct Vm<O> {
    pub cpu: Cpu,
    pub mem: SparseMemory,
    pub oracle: O,
    /// A snapshot is kept every this many steps (0: none).
    pub snapshot_every: u64,
    /// Past this many snapshots every other one is dropped and the interval
    /// doubles, so a long run keeps between half and all of this many (each
    /// holds a copy of the page table) and a seek replays at most the interval.
    pub max_snapshots: usize,
    /// (machine, memory, output length) every `snapshot_every` steps.
    pub(crate) snapshots: Vec<(Cpu, SparseMemory, usize)>,
    /// What the program wrote to fds 1 and 2 (the first MiB).
    pub output: Vec<u8>,
}

impl<O: PreimageSource> Vm<O> {
    pub fn new(cpu: Cpu, mem: SparseMemory, oracle: O) -> Self {
        let mut vm = Self {
            cpu,
            mem,
            oracle,
            snapshot_every: 1 << 24,
            max_snapshots: usize::MAX,
            snapshots: Vec::new(),
            output: Vec::new(),
        };
        vm.snapshots.push((vm.cpu.clone(), vm.mem.clone(), 0));
        vm
    }

    /// The VM at the start of `elf`.
    pub fn from_elf(elf: &[u8], oracle: O) -> Result<Self, ElfError> {
        let mut mem = SparseMemory::default();
        let entry = load_elf(elf, &mut mem)?;
        Ok(Self::new(Cpu::new(entry), mem, oracle))
    }

    /// The state as L1 sees it (computes the memory root).
    pub fn state(&mut self) -> VmState {
        VmState {
            mem_root: self.mem.root(),
            preimage_key: self.cpu.preimage_key,
            preimage_offset: self.cpu.preimage_offset,
            pc: self.cpu.pc,
            exited: self.cpu.exit.is_some(),
            exit_code: self.cpu.exit.unwrap_or(0),
            steps: self.cpu.steps,
            reservation: self.cpu.reservation,
            regs: self.cpu.regs,
        }
    }

    fn capture(&mut self, effect: Effect) {
        if let Effect::Output { fd: 1 | 2, addr, len } = effect {
            let room = OUTPUT_LIMIT.saturating_sub(self.output.len()) as u64;
            let mut left = len.min(room);
            let mut at = addr;
            let mut buf = [0u8; 32];
            while left > 0 {
                let n = left.min(32) as usize;
                self.mem.read_bytes(at, &mut buf[..n]);
                self.output.extend_from_slice(&buf[..n]);
                at = at.wrapping_add(n as u64);
                left -= n as u64;
            }
        }
    }

    /// Runs until exit or until the step count reaches `until`.
    pub fn run_to(&mut self, until: u64) -> Result<RunEnd, OracleError> {
        Ok(self.run(until, None)?.0)
    }

    /// [`Vm::run_to`], stopping before the first preimage read (an `ecall`
    /// with a7 = `SYS_PREIMAGE_READ`) whose key `wanted` accepts; `true` when
    /// it stopped there (the read not yet executed).
    pub fn run_to_read(
        &mut self,
        until: u64,
        wanted: &mut dyn FnMut(&B256) -> bool,
    ) -> Result<(RunEnd, bool), OracleError> {
        self.run(until, Some(wanted))
    }

    fn run(
        &mut self,
        until: u64,
        mut wanted: Option<&mut dyn FnMut(&B256) -> bool>,
    ) -> Result<(RunEnd, bool), OracleError> {
        while self.cpu.exit.is_none() && self.cpu.steps < until {
            let stop = match self.cpu.steps.checked_div(self.snapshot_every) {
                None => until,
                Some(k) => until.min((k + 1).saturating_mul(self.snapshot_every)),
            };
            while self.cpu.steps < stop && self.cpu.exit.is_none() {
                match span(
                    &mut self.cpu,
                    &mut self.mem,
                    &mut self.oracle,
                    stop,
                    wanted.as_deref_mut(),
                )? {
                    Span::Effect(effect) => self.capture(effect),
                    Span::Read => return Ok((self.end(), true)),
                    Span::Done => {}
                }
            }
            if self.snapshot_every != 0
                && self.cpu.exit.is_none()
                && self.cpu.steps.is_multiple_of(self.snapshot_every)
                && self.snapshots.last().is_none_or(|(c, ..)| c.steps < self.cpu.steps)
            {
                self.snapshots.push((self.cpu.clone(), self.mem.clone(), self.output.len()));
                if self.snapshots.len() > self.max_snapshots.max(2) {
                    let every = self.snapshot_every.saturating_mul(2);
                    self.snapshots.retain(|(c, ..)| c.steps.is_multiple_of(every));
                    self.snapshot_every = every;
                }
            }
        }
        Ok((self.end(), false))
    }

    fn end(&self) -> RunEnd {
        RunEnd { exit: self.cpu.exit, steps: self.cpu.steps, fault: self.cpu.fault.clone() }
    }

    /// Puts the VM at step `step` (or at its exit, if it exits before), from the
    /// nearest snapshot at or before it.
    pub fn seek(&mut self, step: u64) -> Result<(), OracleError> {
        if step < self.cpu.steps {
            let at = self.snapshots.partition_point(|(c, ..)| c.steps <= step);
            let (cpu, mem, output) = self.snapshots[at.saturating_sub(1)].clone();
            self.cpu = cpu;
            self.mem = mem;
            self.output.truncate(output);
        }
        self.run_to(step)?;
        Ok(())
    }

    /// The proof of the step from the current state; executes that step.
    pub fn prove_step(&mut self) -> Result<StepProof, OracleError> {
        let pre = self.state();
        let pre_state = pre.encode().to_vec();
        let mut mem = ProvingMemory { inner: &mut self.mem, proofs: Vec::new() };
        let mut oracle = RecordingOracle { inner: &mut self.oracle, read: None };
        let step = self.cpu.steps;
        let effect = self.cpu.step(&mut mem, &mut oracle)?;
        let (proofs, read) = (mem.proofs, oracle.read);
        if effect != Effect::None {
            self.capture(effect);
        }
        let post_hash = self.state().hash();
        Ok(StepProof {
            step,
            pre_state,
            pre_hash: pre.hash(),
            mem_proofs: proofs,
            preimage: read,
            post_hash,
        })
    }
}

/// What ended a [`span`].
enum Span {
    /// `stop` reached, or the machine exited.
    Done,
    /// The last step had this effect.
    Effect(Effect),
    /// The next instruction is a wanted preimage read.
    Read,
}

/// The interpreter's loop: steps until `stop` steps, an exit, an effect, or
/// (with `wanted`) a wanted preimage read. Not generic (the oracle is called
/// through a `dyn`, once per preimage read), so it is compiled here, with
/// this crate's optimisation, whatever crate runs a [`Vm`]: a generic loop
/// would be compiled in each caller, unoptimised in a dev build.
fn span<'w>(
    cpu: &mut Cpu,
    mem: &mut SparseMemory,
    mut oracle: &mut dyn PreimageSource,
    stop: u64,
    mut wanted: Option<&mut (dyn FnMut(&B256) -> bool + 'w)>,
) -> Result<Span, OracleError> {
    // `ecall`
    const ECALL: u64 = 0x73;
    while cpu.steps < stop && cpu.exit.is_none() {
        if let Some(wanted) = wanted.as_deref_mut()
            && cpu.regs[17] == crate::SYS_PREIMAGE_READ
            && mem.read(cpu.pc, 4) == ECALL
            && wanted(&cpu.preimage_key)
        {
            return Ok(Span::Read);
        }
        let effect = cpu.step(mem, &mut oracle)?;
        if effect != Effect::None {
            return Ok(Span::Effect(effect));
        }
    }
    Ok(Span::Done)
}
