#![doc = include_str!("../README.md")]

pub mod fault;
pub mod player;

pub use player::{FaultPlayer, PlayError, PlayerSettings, PlayerStatus};

/// The committed build of the fault-proof program (`program/PRESTATE`).
pub const PRESTATE: &str = include_str!("../../../program/PRESTATE");

fn prestate_field(name: &str) -> Option<alloy::primitives::B256> {
    PRESTATE
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(" = \"")?.strip_suffix('"')?.parse().ok())
}

/// The keccak256 of the committed program's ELF.
pub fn committed_elf_hash() -> Option<alloy::primitives::B256> {
    prestate_field("elf_keccak256")
}

/// The VM's state hash before the committed program's first instruction: the
/// `absolutePrestate` every fault game is deployed with.
pub fn committed_prestate() -> Option<alloy::primitives::B256> {
    prestate_field("absolute_prestate")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_program_hashes_parse() {
        assert!(super::committed_elf_hash().is_some());
        assert!(super::committed_prestate().is_some());
    }
}
