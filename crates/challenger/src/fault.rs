//! Playing the dispute game over the fault-proof program's trace
//! (`contracts/src/fpvm/FaultGame.sol`): the trace of one claim (state hashes
//! at any index, step proofs) and the honest player's moves, as pure
//! functions of the game's claims. Sending them to L1 is the caller's part.
//!
//! Trace index `t` is the VM's state after `t + 1` instructions (the exit
//! state from the program's end on); a claim at generalized position `p`
//! (depth `d = floor(log2 p)`) speaks for index
//! `((p - 2^d + 1) << (max_depth - d)) - 1`.

use alloy::primitives::{Address, B256};
use infra_fpvm::{ElfError, OracleError, Preimages, StepProof, Vm};
use std::collections::BTreeMap;

/// The depth of a generalized position.
pub fn depth(position: u128) -> u64 {
    127 - u64::from(position.leading_zeros())
}

/// The trace index a claim at `position` speaks for, in a game of `max_depth`.
pub fn trace_index(position: u128, max_depth: u64) -> u64 {
    let d = depth(position);
    let index_at_depth = position - (1u128 << d);
    (((index_at_depth + 1) << (max_depth - d)) - 1) as u64
}

/// State hashes along a trace: the honest program's, or (in tests) a liar's.
pub trait TraceValues {
    /// The state hash at trace index `t`.
    fn at(&mut self, t: u64) -> B256;
}

/// The fault-proof program's trace of one claim.
pub struct ProgramTrace {
    vm: Vm<Preimages>,
    /// The number of instructions the program runs.
    pub end: u64,
    cache: BTreeMap<u64, B256>,
}

impl ProgramTrace {
    /// Runs the program (`elf`) on `preimages` to its end, keeping snapshots
    /// so any state is found fast.
    pub fn new(elf: &[u8], preimages: Preimages) -> Result<Self, TraceError> {
        Ok(Self::within(elf, preimages, u64::MAX, &|| false)?.expect("never stopped"))
    }

    /// [`ProgramTrace::new`], run at most `limit` instructions (`end` is
    /// `limit` when the program has not exited by then), and given up (`None`)
    /// once `stop` says so (asked every 2^24 instructions).
    pub fn within(
        elf: &[u8],
        preimages: Preimages,
        limit: u64,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Self>, TraceError> {
        let mut vm = Vm::from_elf(elf, preimages)?;
        // From every 2^18 instructions, thinned to at most 256 snapshots on a
        // long run (each copies the page table): a seek replays at most
        // 1/128 of the trace.
        vm.snapshot_every = 1 << 18;
        vm.max_snapshots = 256;
        // In stretches of 2^24 instructions (a fraction of a second), looking
        // at `stop` between them.
        let mut end = 0;
        while end < limit {
            if stop() {
                return Ok(None);
            }
            let run = vm.run_to(limit.min(end.saturating_add(1 << 24)))?;
            end = run.steps;
            if run.exit.is_some() {
                break;
            }
        }
        Ok(Some(Self { vm, end, cache: BTreeMap::new() }))
    }

    /// The state hash after `n` instructions (the exit state from the end on).
    pub fn after(&mut self, n: u64) -> Result<B256, TraceError> {
        let n = n.min(self.end);
        if let Some(h) = self.cache.get(&n) {
            return Ok(*h);
        }
        self.vm.seek(n)?;
        let h = self.vm.state().hash();
        self.cache.insert(n, h);
        Ok(h)
    }

    /// The absolute prestate: the state before the first instruction.
    pub fn prestate(&mut self) -> Result<B256, TraceError> {
        self.after(0)
    }

    /// The proof of the instruction run from the state after `n` instructions.
    pub fn proof_from(&mut self, n: u64) -> Result<StepProof, TraceError> {
        self.vm.seek(n.min(self.end))?;
        Ok(self.vm.prove_step()?)
    }

    /// The status of the final state (0 the claim holds, 1 it does not).
    pub fn exit_status(&mut self) -> Result<u8, TraceError> {
        self.vm.seek(self.end)?;
        Ok(self.vm.state().status())
    }

    /// The machine, for callers that look at its oracle or memory.
    pub fn vm(&self) -> &Vm<Preimages> {
        &self.vm
    }
}

impl TraceValues for ProgramTrace {
    /// # Panics
    /// When the VM cannot reach the state: every preimage was there when the
    /// trace was made, so it always can.
    fn at(&mut self, t: u64) -> B256 {
        #[allow(clippy::expect_used)]
        self.after(t.saturating_add(1)).expect("a state of a trace already run")
    }
}

/// A made-up trace, for fault injection in tests only
/// (`--sequencer.test-lying-defence`): the program's values before index
/// `from`, made-up hashes from it on, the last one (index `last`) with the
/// status it wants (0: the claim holds, 1: it does not). Played with
/// [`honest_moves`], it bisects down to the instruction that makes index
/// `from`, which L1 then runs against it.
pub struct Lying<'a, T: TraceValues> {
    pub trace: &'a mut T,
    pub from: u64,
    pub last: u64,
    pub final_status: u8,
}

impl<T: TraceValues> TraceValues for Lying<'_, T> {
    fn at(&mut self, t: u64) -> B256 {
        if t < self.from {
            return self.trace.at(t);
        }
        let mut h = alloy::primitives::keccak256([b"lie".as_slice(), &t.to_be_bytes()].concat());
        // (A state's first byte is its status: 3 while running.)
        h.0[0] = if t == self.last { self.final_status } else { 3 };
        h
    }
}

/// The number of instructions the program (`elf`, on `preimages`) runs
/// before the first read of a preimage that `wanted` accepts (called with
/// the key at each read, in order; `None`: it accepts none), from the start.
pub fn first_read(
    elf: &[u8],
    preimages: Preimages,
    wanted: impl Fn(&B256) -> bool,
) -> Result<Option<u64>, TraceError> {
    let mut vm = Vm::from_elf(elf, preimages)?;
    vm.snapshot_every = 0;
    let (end, at_read) = vm.run_to_read(u64::MAX, &mut |key| wanted(key))?;
    if at_read {
        return Ok(Some(end.steps));
    }
    Ok(None)
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("the program's ELF: {0}")]
    Elf(#[from] ElfError),
    #[error("the program's trace: {0}")]
    Oracle(#[from] OracleError),
}

/// A claim of a game as the player sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimView {
    /// `None` for the root.
    pub parent: Option<usize>,
    pub position: u128,
    pub value: B256,
    pub claimant: Address,
    pub countered: bool,
}

impl From<&infra_l1::FaultGame::Claim> for ClaimView {
    /// A claim as `FaultGame.getClaim` returns it.
    fn from(c: &infra_l1::FaultGame::Claim) -> Self {
        Self {
            parent: (c.parentIndex != u64::MAX).then_some(c.parentIndex as usize),
            position: c.position,
            value: c.value,
            claimant: c.claimant,
            countered: c.counteredBy != Address::ZERO,
        }
    }
}

/// A move the honest player makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    Attack {
        parent: usize,
        value: B256,
    },
    Defend {
        parent: usize,
        value: B256,
    },
    /// Counter the claim at the deepest level with one instruction on L1,
    /// run from the state after `from` instructions.
    Step {
        claim: usize,
        is_attack: bool,
        from: u64,
    },
}

/// The honest player's moves against `claims` (OP Stack's honest actor):
/// it answers the levels of the side it disagrees with (the root's side when
/// it disagrees with the root, the other side otherwise), only under a path
/// whose claims on its own side it would have made itself (a claim under a
/// false one of its side is bait: a step could use the false claim against
/// any answer). It attacks a value it disagrees with and defends one it
/// agrees with; at the deepest level it steps. Moves already made (the same
/// parent, position and value) are not repeated.
pub fn honest_moves(
    claims: &[ClaimView],
    trace: &mut impl TraceValues,
    max_depth: u64,
) -> Vec<Move> {
    let Some(root) = claims.first() else { return Vec::new() };
    let last = (1u64 << max_depth) - 1;
    let agree_root = trace.at(last) == root.value;
    // The depth parity it answers.
    let answers = u64::from(agree_root);
    let mut moves = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        let d = depth(c.position);
        if d % 2 != answers || c.countered {
            continue;
        }
        let mut sound = true;
        let mut ancestor = c.parent;
        while let Some(a) = ancestor.and_then(|a| claims.get(a)) {
            let own_side = depth(a.position) % 2 != answers;
            if own_side && trace.at(trace_index(a.position, max_depth)) != a.value {
                sound = false;
                break;
            }
            ancestor = a.parent;
        }
        if !sound {
            continue;
        }
        let t = trace_index(c.position, max_depth);
        let agree = trace.at(t) == c.value;
        if d == max_depth {
            if agree && t == last {
                continue;
            }
            // Attack: from the state before index t; defend: from index t.
            let from = if agree { t + 1 } else { t };
            moves.push(Move::Step { claim: i, is_attack: !agree, from });
            continue;
        }
        let defend = agree && c.parent.is_some();
        let position = if defend { 2 * (c.position + 1) } else { 2 * c.position };
        if depth(position) != d + 1 {
            continue; // past the last index
        }
        let value = trace.at(trace_index(position, max_depth));
        let made = claims
            .iter()
            .any(|o| o.parent == Some(i) && o.position == position && o.value == value);
        if made {
            continue;
        }
        moves.push(if defend {
            Move::Defend { parent: i, value }
        } else {
            Move::Attack { parent: i, value }
        });
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_speak_for_their_trace_index() {
        assert_eq!(depth(1), 0);
        assert_eq!(trace_index(1, 3), 7);
        assert_eq!(trace_index(2, 3), 3);
        assert_eq!(trace_index(3, 3), 7);
        assert_eq!(
            (8..16).map(|p| trace_index(p, 3)).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
    }

    /// A trace whose value at t is t (as a hash), and a liar from index 5.
    struct Counting(Option<u64>);
    impl TraceValues for Counting {
        fn at(&mut self, t: u64) -> B256 {
            match self.0 {
                Some(from) if t >= from => B256::repeat_byte(0xee),
                _ => B256::from(alloy::primitives::U256::from(t)),
            }
        }
    }

    #[test]
    fn the_honest_player_bisects_to_the_first_lie_and_steps() {
        // Depth 3 (8 states): the honest root; the liar's trace agrees before
        // index 5. Both sides play honest_moves (the liar cannot prove its
        // states, so its steps are dropped) until the honest player steps.
        let max = 3;
        let mut claims = vec![ClaimView {
            parent: None,
            position: 1,
            value: Counting(None).at(7),
            claimant: Address::repeat_byte(1),
            countered: false,
        }];
        let (mut honest, mut liar) = (Counting(None), Counting(Some(5)));
        for _ in 0..8 {
            for (who, trace) in [(1u8, &mut honest as &mut dyn TraceValues), (2, &mut liar)] {
                struct Dyn<'a>(&'a mut dyn TraceValues);
                impl TraceValues for Dyn<'_> {
                    fn at(&mut self, t: u64) -> B256 {
                        self.0.at(t)
                    }
                }
                for m in honest_moves(&claims, &mut Dyn(trace), max) {
                    let (parent, position, value) = match m {
                        Move::Attack { parent, value } => {
                            (parent, 2 * claims[parent].position, value)
                        }
                        Move::Defend { parent, value } => {
                            (parent, 2 * (claims[parent].position + 1), value)
                        }
                        Move::Step { .. } if who == 2 => continue,
                        Move::Step { claim, is_attack, from } => {
                            // The liar's deepest claim is the true index 4, under its
                            // lie at index 5: the honest player defends it with the
                            // instruction from index 4's state (after 5 instructions)
                            // to index 5.
                            assert_eq!(trace_index(claims[claim].position, max), 4);
                            assert!(!is_attack);
                            assert_eq!(from, 5);
                            return;
                        }
                    };
                    claims.push(ClaimView {
                        parent: Some(parent),
                        position,
                        value,
                        claimant: Address::repeat_byte(who),
                        countered: false,
                    });
                }
            }
        }
        panic!("no step reached: {claims:?}");
    }
}
