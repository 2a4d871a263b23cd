use alloy::primitives::{Address, U256};
pub use infra_primitives::BaseFeeConfig;
use infra_state::Curve;
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// The fixed chain id of `--dev` chains.
pub const DEV_CHAIN_ID: u64 = 13370;
/// The dev chain's sequencer (block signer): dev account 9 of the well-known
/// mnemonic. Anyone can sign with it: never use it outside dev chains.
pub const DEV_SEQUENCER: Address =
    alloy::primitives::address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720");
/// The largest chain id wallets accept (MetaMask: 2^52 - 20, a JS-safe integer).
const MAX_CHAIN_ID: u64 = 4_503_599_627_370_476;

/// A configuration error naming the field, its value and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config: {field} = {value}, {expected}")]
pub struct ConfigError {
    pub field: String,
    pub value: String,
    pub expected: String,
}

impl ConfigError {
    pub fn new(field: &str, value: impl Display, expected: impl Display) -> Self {
        Self { field: field.into(), value: value.to_string(), expected: expected.to_string() }
    }
}

fn range<T: PartialOrd + Display + Copy>(
    field: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::new(field, value, format!("must be {lo}..={hi}")));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Settlement {
    /// A batch's state root is accepted on L1 only with a validity proof.
    #[default]
    Zk,
    /// Claimed roots finalize after an unchallenged challenge period.
    Optimistic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProofSystem {
    #[default]
    Groth16,
    Plonk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProofBackend {
    #[default]
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProofConfig {
    pub system: ProofSystem,
    pub curve: Curve,
    pub backend: ProofBackend,
    /// State writes per chunk proof (the circuit's fixed size; a batch's diff is
    /// proven in chunks of this many). Part of the proving key.
    pub chunk_writes: u32,
    /// The deepest tree level a chunk proof reaches (part of the proving key). A
    /// leaf deeper than this cannot be proven: with N leaves, two keys share a
    /// d-bit prefix with probability about N^2 / 2^(d+1), so size it to the chain
    /// (32: fine for thousands of leaves; 64: for billions).
    pub depth: u16,
}

impl Default for ProofConfig {
    fn default() -> Self {
        // 7 writes at depth 32 fill a 2^17-constraint circuit (7 x 18,233 + 244).
        Self {
            system: ProofSystem::default(),
            curve: Curve::default(),
            backend: ProofBackend::default(),
            chunk_writes: 7,
            depth: 32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    pub max_txs: u64,
    pub max_bytes: u64,
    pub max_latency_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_txs: 2_000, max_bytes: 120_000, max_latency_ms: 10_000 }
    }
}

/// `Bridge.MAX_DEPOSIT_GAS`: the most gas one deposit may ask for.
pub const MAX_DEPOSIT_GAS: u64 = 5_000_000;

/// `infra_stf::MAX_BATCH_BLOCKS`: the most blocks one batch may span.
pub const MAX_BATCH_BLOCKS: u64 = 8192;

/// The most fault-VM instructions the program spends per gas of execution,
/// with margin. Measured (`the_trace_bound_covers_adversarial_blocks` in
/// `crates/stf/tests/batch.rs`, every precompile and cold access): the worst
/// is a loop of ecrecover calls, 1,030 per gas on a small state tree and
/// 1,090 with 65,536 more leaves (16 levels deeper: about 3.75 more per level;
/// a new storage slot's write, 144 -> 332, about 12 more per level). The
/// margin covers paths about 120 levels deep, past what grinding Poseidon
/// keys (some 2^80 hashes) could reach.
pub const WORST_INSTRUCTIONS_PER_GAS: u64 = 1_500;

/// `infra_stf::BLOCK_GAS`: what the gas budget charges each block for itself
/// (the program's ~0.8 M instructions per empty block are covered by it at
/// the worst rate).
pub const BLOCK_GAS: u64 = 1_000;

/// What the program spends to start (reading its inputs, the pre-output's
/// header) and on a batch's first block, measured the same way (14.2 M).
pub const PROGRAM_START_INSTRUCTIONS: u64 = 20_000_000;

/// What a posted transaction the EVM refuses costs the program (its signature
/// recovered, its sender read) though it uses no gas; a batch lists at most
/// `batch_gas / 21,000` transactions.
/// Measured: 3.49 M.
pub const INSTRUCTIONS_PER_POSTED_TX: u64 = 5_000_000;

/// What the program spends on each deposit L1 held past the pre-output's
/// nonce (walking the bridge's chain back over it, a 64-byte preimage), of
/// which `Rollup` records at most `batch_gas / 21,000` for a claim (a batch
/// can apply no more), measured the same way (`the_trace_bound_covers_...`):
/// 1,108.
pub const DEPOSIT_LINK_INSTRUCTIONS: u64 = 5_000;

/// What the program spends on a batch's bytes at most: decompressing the
/// largest payload (`MAX_PAYLOAD_BYTES`, 1 MiB) and hashing a transaction of
/// that size twice (its signature hash and its hash), measured the same way
/// (263 instructions per byte: 276 M).
pub const PAYLOAD_INSTRUCTIONS: u64 = 400_000_000;

/// The honest player's tracing speed on the reference machine (2 cores, the
/// fpvm bench's "honest player" row: 108 M instructions/s with snapshots),
/// rounded down.
pub const REFERENCE_TRACE_RATE: u64 = 100_000_000;

/// The worst-case trace of one batch ([`ChainConfig::trace_bound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceBound {
    /// Instructions of the program's longest run over a valid batch.
    pub instructions: u64,
    /// Seconds to trace them at [`REFERENCE_TRACE_RATE`].
    pub seconds: u64,
    /// Each side's clock in a fault game.
    pub clock_s: u64,
}

impl TraceBound {
    /// Whether tracing the worst batch takes at most half a side's clock (the
    /// rest is for the moves, ~31 L1 transactions, and a slower machine).
    pub fn fits_clock(&self) -> bool {
        self.seconds.saturating_mul(2) <= self.clock_s
    }
}

/// Gas per second L2 makes at full blocks, and the most the batcher posts
/// ([`ChainConfig::posting_capacity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingCapacity {
    pub l2_gas_per_s: u64,
    pub posted_gas_per_s: u64,
}

impl PostingCapacity {
    pub fn keeps_up(&self) -> bool {
        self.posted_gas_per_s >= self.l2_gas_per_s
    }
}

/// The chain: what every node of it must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    pub chain_id: u64,
    pub name: String,
    pub block_time_ms: u64,
    pub gas_limit: u64,
    /// The batch gas budget (a rule of the state-transition function): a batch
    /// may start a block only while the gas its earlier blocks used leaves
    /// room for a full block, else it is invalid. It bounds the work of
    /// deciding any batch, which a fault game's clock must cover
    /// ([`ChainConfig::trace_bound`]). At least `gas_limit`.
    pub batch_gas: u64,
    pub base_fee: BaseFeeConfig,
    /// Receives every fee paid on L2 (priority fee and base fee; nothing is burned).
    pub fee_recipient: Address,
    /// The sequencer's block-signing address: peers relay and import only blocks
    /// it signed.
    pub sequencer: Address,
    pub settlement: Settlement,
    pub proof: ProofConfig,
    pub batch: BatchConfig,
    pub challenge_period_s: u64,
    /// Optimistic settlement: the bond the proposer posts with each output, in
    /// wei (decimal string or integer in TOML); it goes to whoever proves the
    /// output wrong, else back to the proposer at finalization.
    pub output_bond: U256,
    /// The fault game's bond of a root claim, in wei; a claim at depth d bonds
    /// `game_bond * (d + 1)`.
    pub game_bond: U256,
    /// The fault game's trace holds 2^game_max_depth instructions: it must
    /// exceed any batch's run of the fault-proof program.
    pub game_max_depth: u64,
    /// Each side's time in a fault game (its chess clock), in seconds; 0: half
    /// the challenge period (the most allowed).
    pub game_clock_s: u64,
    /// The fault game's clock extension, in seconds: a side that moves in the
    /// last `game_clock_extension_s` of its clock has that long left for its
    /// next move (twice that before its step). It lengthens a game's bound by
    /// `game_max_depth + 1` times it, which must stay within twice the
    /// challenge period. Absent: at most a sixteenth of the clock, and at most
    /// half a period over all levels ([`ChainConfig::game_clock_extension`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game_clock_extension_s: Option<u64>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self::dev()
    }
}

impl ChainConfig {
    /// The `--dev` chain.
    pub fn dev() -> Self {
        Self {
            chain_id: DEV_CHAIN_ID,
            name: "infra-dev".into(),
            block_time_ms: 1_000,
            // Sized with the challenge period below so that an honest player
            // on a 2-core machine traces any valid batch within its clock
            // (README, "The dev chain's challenge period").
            gas_limit: 6_000_000,
            batch_gas: 11_001_000,
            base_fee: BaseFeeConfig::default(),
            fee_recipient: Address::repeat_byte(0xfe),
            sequencer: DEV_SEQUENCER,
            // Optimistic until the prover lands: zk outputs would never finalize.
            settlement: Settlement::Optimistic,
            proof: ProofConfig::default(),
            // Batches every 2 s of at most 30 KB (about 260 ETH transfers) and
            // the gas budget; outputs final 16 min later: each side of a fault
            // game has 480 s, time for an honest player on a 2-core machine to
            // trace the heaviest batch the budget admits (`trace_bound`: 237 s)
            // with as much again for the moves and a slower machine (README,
            // "The dev chain's challenge period").
            batch: BatchConfig {
                max_latency_ms: 2_000,
                max_bytes: 30_000,
                ..BatchConfig::default()
            },
            challenge_period_s: 960,
            // Small bonds: a dev chain posts a batch every 2 s and each bond
            // waits the period.
            output_bond: U256::from(10_000_000_000_000_000u128),
            game_bond: U256::from(1_000_000_000_000_000u128),
            // The most: a chain configured with a larger gas budget still
            // holds its worst trace (23.7 G instructions here need 35).
            game_max_depth: 62,
            game_clock_s: 0,
            // 7 s (960 / (2 x 63): extensions add at most half a period to a
            // game), several dev L1 blocks for each move after a late one,
            // 14 s for a step's loads and the step.
            game_clock_extension_s: None,
        }
    }

    /// Checks every field's range and the combinations that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        range("chain_id", self.chain_id, 1, MAX_CHAIN_ID)?;
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > 50 {
            return Err(ConfigError::new(
                "name",
                format!("{:?}", self.name),
                "must be 1..=50 characters",
            ));
        }
        range("block_time_ms", self.block_time_ms, 100, 60_000)?;
        // A block holds the largest deposit L1 takes (`Bridge.MAX_DEPOSIT_GAS`).
        range("gas_limit", self.gas_limit, MAX_DEPOSIT_GAS, 2_000_000_000)?;
        let min_batch_gas = self.min_batch_gas();
        range("batch_gas", self.batch_gas, min_batch_gas, 1_000_000_000_000).map_err(|_| {
            ConfigError::new(
                "batch_gas",
                self.batch_gas,
                format!(
                    "must be >= {min_batch_gas} (gas_limit + max(gas_limit / 2, {MAX_DEPOSIT_GAS}) + {BLOCK_GAS}) and <= 1000000000000: a batch holds any one block the sequencer builds, its deposits' gas limits included"
                ),
            )
        })?;
        let bf = &self.base_fee;
        range("base_fee.max_change_denominator", bf.max_change_denominator, 1, 1_000)?;
        range("base_fee.elasticity_multiplier", bf.elasticity_multiplier, 1, 100)?;
        range("base_fee.initial_wei", bf.initial_wei, bf.min_wei, u64::MAX).map_err(|_| {
            ConfigError::new(
                "base_fee.initial_wei",
                bf.initial_wei,
                format!("must be >= base_fee.min_wei ({})", bf.min_wei),
            )
        })?;
        range("batch.max_txs", self.batch.max_txs, 1, 100_000)?;
        // A block must fit one batch, and a batch L1's calldata cap (400,000
        // bytes, `Rollup.MAX_CALLDATA`) with room for one 128 KiB transaction
        // over the limit.
        range("batch.max_bytes", self.batch.max_bytes, 1_000, 250_000)?;
        range("batch.max_latency_ms", self.batch.max_latency_ms, 1, 600_000)?;
        range("challenge_period_s", self.challenge_period_s, 2, 604_800)?;
        for (field, v) in [("output_bond", self.output_bond), ("game_bond", self.game_bond)] {
            if v < U256::from(1_000u64) || v > U256::from(u128::MAX / 64) {
                return Err(ConfigError::new(field, v, "must be >= 1000 wei and < 2^122 wei"));
            }
        }
        range("game_max_depth", self.game_max_depth, 16, 62)?;
        let worst = self.trace_bound().instructions;
        if worst >> self.game_max_depth != 0 {
            return Err(ConfigError::new(
                "game_max_depth",
                self.game_max_depth,
                format!(
                    "must hold the longest trace batch_gas admits ({worst} instructions): at least {}",
                    64 - worst.leading_zeros()
                ),
            ));
        }
        range("game_clock_s", self.game_clock_s, 0, self.challenge_period_s / 2).map_err(|_| {
            ConfigError::new(
                "game_clock_s",
                self.game_clock_s,
                format!(
                    "must be at most half of challenge_period_s ({}), or 0 for half of it",
                    self.challenge_period_s
                ),
            )
        })?;
        if let Some(ext) = self.game_clock_extension_s {
            let most = self.max_clock_extension();
            if ext > most {
                return Err(ConfigError::new(
                    "game_clock_extension_s",
                    ext,
                    format!(
                        "must be at most {most}: twice it under the game's clock ({} s), and a game lasts up to 2 x clock + (game_max_depth + 1) x extension (game_max_depth = {}), which must be at most twice challenge_period_s ({})",
                        self.game_clock(),
                        self.game_max_depth,
                        self.challenge_period_s
                    ),
                ));
            }
        }
        range("proof.chunk_writes", self.proof.chunk_writes, 1, 1_024)?;
        range("proof.depth", self.proof.depth, 1, 256)?;
        if self.proof.system == ProofSystem::Plonk && self.proof.curve != Curve::Bn254 {
            return Err(ConfigError::new(
                "proof.curve",
                self.proof.curve,
                "must be \"bn254\" when proof.system = \"plonk\"",
            ));
        }
        Ok(())
    }

    /// The least `batch_gas` that holds any block the sequencer builds: a full
    /// block of transactions plus its deposits' gas limits (the sequencer
    /// takes deposits up to half the gas limit, or one of at most
    /// [`MAX_DEPOSIT_GAS`]).
    pub fn min_batch_gas(&self) -> u64 {
        self.gas_limit
            .saturating_add((self.gas_limit / 2).max(MAX_DEPOSIT_GAS))
            .saturating_add(BLOCK_GAS)
    }

    /// The longest run of the fault-proof program over any valid batch of
    /// this chain, and the time an honest player needs to trace it on the
    /// reference machine (see [`TraceBound`]).
    pub fn trace_bound(&self) -> TraceBound {
        // Gas used is counted after refunds, which return at most a fifth of
        // the gas spent (EIP-3529): a batch may execute 5/4 of its budget.
        let executed = self.batch_gas.saturating_add(self.batch_gas / 4);
        let instructions = executed
            .saturating_mul(WORST_INSTRUCTIONS_PER_GAS)
            .saturating_add((self.batch_gas / 21_000).saturating_mul(INSTRUCTIONS_PER_POSTED_TX))
            .saturating_add((self.batch_gas / 21_000).saturating_mul(DEPOSIT_LINK_INSTRUCTIONS))
            .saturating_add(PAYLOAD_INSTRUCTIONS)
            .saturating_add(PROGRAM_START_INSTRUCTIONS);
        TraceBound {
            instructions,
            seconds: instructions.div_ceil(REFERENCE_TRACE_RATE),
            clock_s: self.game_clock(),
        }
    }

    /// Whether the batcher keeps up with full L2 blocks when it lands one
    /// batch per L1 block (`l1_block_ms` apart; it sends one at a time and
    /// waits for each to be mined): L2's gas per second at full blocks
    /// against the full blocks one batch admits (a block starts only while
    /// the budget has room for its own charge and a full block; at most
    /// `MAX_BATCH_BLOCKS`) per L1 block. Full blocks of gas; a batch's byte
    /// and transaction caps may bind first.
    pub fn posting_capacity(&self, l1_block_ms: u64) -> PostingCapacity {
        let per_s = |gas: u64, ms: u64| {
            u64::try_from(u128::from(gas) * 1_000 / u128::from(ms.max(1))).unwrap_or(u64::MAX)
        };
        let blocks = (self.batch_gas / self.gas_limit.saturating_add(BLOCK_GAS).max(1))
            .min(MAX_BATCH_BLOCKS);
        PostingCapacity {
            l2_gas_per_s: per_s(self.gas_limit, self.block_time_ms),
            posted_gas_per_s: per_s(blocks.saturating_mul(self.gas_limit), l1_block_ms),
        }
    }

    /// Each side's time in a fault game: `game_clock_s`, or half the challenge period.
    pub fn game_clock(&self) -> u64 {
        if self.game_clock_s == 0 { self.challenge_period_s / 2 } else { self.game_clock_s }
    }

    /// The fault game's clock extension: `game_clock_extension_s`, or a
    /// sixteenth of the clock at most, and so that extensions over every level
    /// (`game_max_depth + 1` of them) add at most half a period to a game.
    pub fn game_clock_extension(&self) -> u64 {
        self.game_clock_extension_s.unwrap_or_else(|| {
            let half_period = self.challenge_period_s / 2 / self.game_max_depth.saturating_add(1);
            (self.game_clock() / 16).min(half_period).min(self.max_clock_extension())
        })
    }

    /// The longest clock extension this chain admits: twice it under the
    /// clock (`FaultGame` refuses more), and a game's bound
    /// (`FaultGame.maxGameDuration`: `2 x clock + (game_max_depth + 1) x
    /// extension`) at most twice the challenge period (`Rollup` refuses a
    /// longer game).
    pub fn max_clock_extension(&self) -> u64 {
        let clock = self.game_clock();
        let room =
            self.challenge_period_s.saturating_mul(2).saturating_sub(clock.saturating_mul(2));
        (room / self.game_max_depth.saturating_add(1)).min(clock.saturating_sub(1) / 2)
    }

    /// The curve the state tree hashes over.
    pub fn state_curve(&self) -> Curve {
        self.proof.curve
    }
}

/// `[rpc]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcFileConfig {
    pub addr: Option<String>,
    pub port: Option<u16>,
    pub max_request_bytes: Option<u32>,
    pub max_connections: Option<u32>,
    /// Require an API key on every JSON-RPC request.
    pub api_keys: Option<bool>,
    /// Origins browsers may call from (`"*"`: any).
    pub cors: Option<Vec<String>>,
    pub ip_rps: Option<u32>,
    pub ip_burst: Option<u32>,
    pub key_rps: Option<u32>,
    pub key_burst: Option<u32>,
    pub max_batch: Option<u32>,
    pub max_response_bytes: Option<u32>,
    pub max_logs_range: Option<u64>,
}

/// `[sequencer]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequencerFileConfig {
    pub empty_blocks: Option<bool>,
}

/// `[mempool]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolFileConfig {
    pub min_tip_wei: Option<u64>,
    pub max_pending: Option<usize>,
    pub max_queued: Option<usize>,
    pub max_pending_per_sender: Option<usize>,
    pub max_queued_per_sender: Option<usize>,
    /// `"3h"`, `"30m"`, `"90s"` or seconds as a string.
    pub queued_lifetime: Option<String>,
}

/// `[state]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateFileConfig {
    /// `"archive"` or a number of blocks (as `--state.history`).
    pub history: Option<StateHistoryValue>,
}

/// `state.history` as written in TOML: `"archive"` or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StateHistoryValue {
    Blocks(u64),
    Text(String),
}

impl std::fmt::Display for StateHistoryValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Blocks(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// The `--config` TOML file: `[chain]` plus optional per-component sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub chain: ChainConfig,
    pub rpc: RpcFileConfig,
    pub sequencer: SequencerFileConfig,
    pub mempool: MempoolFileConfig,
    pub state: StateFileConfig,
}

impl ConfigFile {
    pub fn from_toml_str(s: &str) -> Result<Self, ConfigError> {
        toml::from_str(s).map_err(|e| {
            let msg = e.message().to_string();
            ConfigError::new("config file", "(toml)", msg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_capacity_compares_full_blocks_with_one_batch_per_l1_block() {
        let dev = ChainConfig::dev();
        // 6 M gas a second at full blocks; an 11 M budget admits one full
        // 6 M block a batch (a second needs room for another whole one).
        let c = dev.posting_capacity(1_000);
        assert_eq!(c.l2_gas_per_s, 6_000_000);
        assert_eq!(c.posted_gas_per_s, 6_000_000);
        assert!(c.keeps_up());
        // A 1.9 s L1: one full block per 1.9 s, about 3.2 M gas a second.
        let c = dev.posting_capacity(1_900);
        assert_eq!(c.posted_gas_per_s, 6_000_000_000 / 1_900);
        assert!(!c.keeps_up());
        // A 12 s L1 needs 12 full blocks a batch: 80 M admits 13.
        assert!(!dev.posting_capacity(12_000).keeps_up());
        let big = ChainConfig { batch_gas: 80_000_000, ..ChainConfig::dev() };
        assert_eq!(big.posting_capacity(12_000).posted_gas_per_s, 13 * 6_000_000 / 12);
        assert!(big.posting_capacity(12_000).keeps_up());
    }

    #[test]
    fn dev_is_valid() {
        ChainConfig::dev().validate().unwrap();
    }

    /// The dev chain's clock covers tracing the heaviest batch its gas budget
    /// admits (with half the clock to spare for the moves).
    #[test]
    fn the_dev_clock_covers_the_worst_batch() {
        let dev = ChainConfig::dev();
        let bound = dev.trace_bound();
        assert!(bound.fits_clock(), "{bound:?}");
        // A budget ten times larger does not fit: the check is not vacuous.
        let heavy = ChainConfig { batch_gas: dev.batch_gas * 10, ..dev };
        assert!(!heavy.trace_bound().fits_clock(), "{:?}", heavy.trace_bound());
    }

    #[test]
    fn the_batch_gas_budget_holds_a_block_and_the_game_holds_the_trace() {
        let dev = ChainConfig::dev();
        let min = dev.gas_limit + (dev.gas_limit / 2).max(MAX_DEPOSIT_GAS) + BLOCK_GAS;
        let c = ChainConfig { batch_gas: min - 1, ..ChainConfig::dev() };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("config: batch_gas = {}, must be >= {min}", min - 1)),
            "{err}"
        );
        ChainConfig { batch_gas: min, ..ChainConfig::dev() }.validate().unwrap();
        let c = ChainConfig { gas_limit: 4_999_999, ..ChainConfig::dev() };
        assert!(c.validate().unwrap_err().to_string().contains("gas_limit = 4999999"));
        // 2^33 instructions are less than the dev budget's worst trace.
        let c = ChainConfig { game_max_depth: 33, ..ChainConfig::dev() };
        assert!(c.validate().unwrap_err().to_string().contains("game_max_depth = 33"));
        ChainConfig { game_max_depth: 36, ..ChainConfig::dev() }.validate().unwrap();
    }

    /// The clock extension keeps a game within twice the challenge period:
    /// `2 x clock + game_max_depth x extension`, the bound `Rollup` checks.
    #[test]
    fn the_clock_extension_keeps_a_game_within_twice_the_period() {
        let dev = ChainConfig::dev();
        let bound = |c: &ChainConfig| {
            2 * c.game_clock() + (c.game_max_depth + 1) * c.game_clock_extension()
        };
        // Dev: 7 s, extensions adding at most half a period.
        assert_eq!(dev.game_clock_extension(), 7);
        assert!(bound(&dev) - 2 * dev.game_clock() <= dev.challenge_period_s / 2);
        // Explicit: the most that fits is taken, one more second is refused.
        let most = dev.max_clock_extension();
        assert_eq!(most, 960 / 63);
        let c = ChainConfig { game_clock_extension_s: Some(most), ..dev.clone() };
        c.validate().unwrap();
        assert!(bound(&c) <= 2 * c.challenge_period_s);
        let c = ChainConfig { game_clock_extension_s: Some(most + 1), ..dev.clone() };
        assert!(bound(&c) > 2 * c.challenge_period_s);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("game_clock_extension_s = {}", most + 1)), "{err}");
        assert!(err.contains(&format!("at most {most}")), "{err}");
        // 0 turns it off. Twice the extension stays under the clock: with a
        // 40 s clock and a long period, 19 s at most.
        ChainConfig { game_clock_extension_s: Some(0), ..dev.clone() }.validate().unwrap();
        let short = ChainConfig { game_clock_s: 40, challenge_period_s: 100_000, ..dev.clone() };
        assert_eq!(short.max_clock_extension(), 19);
        assert_eq!(short.game_clock_extension(), 40 / 16);
        // A 3 s period (1 s clock) leaves none.
        let tiny = ChainConfig { challenge_period_s: 3, ..dev };
        assert_eq!(tiny.game_clock_extension(), 0);
        tiny.validate().unwrap();
    }

    #[test]
    fn errors_name_the_field_and_range() {
        let mut c = ChainConfig::dev();
        c.batch.max_latency_ms = 0;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "config: batch.max_latency_ms = 0, must be 1..=600000"
        );
        let mut c = ChainConfig::dev();
        c.game_max_depth = 63;
        assert!(c.validate().unwrap_err().to_string().contains("game_max_depth = 63"));
        c = ChainConfig { game_clock_s: 6, challenge_period_s: 10, ..ChainConfig::dev() };
        assert!(c.validate().unwrap_err().to_string().contains("game_clock_s = 6"));
        let mut c = ChainConfig::dev();
        c.proof.system = ProofSystem::Plonk;
        c.proof.curve = Curve::Bls12_381;
        assert!(
            c.validate().unwrap_err().to_string().starts_with("config: proof.curve = bls12-381")
        );
    }

    #[test]
    fn parses_toml_and_rejects_unknown_values() {
        let f = ConfigFile::from_toml_str(
            r#"
            [chain]
            chain_id = 99
            name = "test"
            settlement = "optimistic"
            output_bond = "5000"
            [chain.proof]
            system = "groth16"
            curve = "bls12-381"
            backend = "cpu"
            [rpc]
            port = 9000
            "#,
        )
        .unwrap();
        assert_eq!(f.chain.chain_id, 99);
        assert_eq!(f.chain.settlement, Settlement::Optimistic);
        assert_eq!(f.chain.proof.curve, Curve::Bls12_381);
        assert_eq!(f.chain.output_bond, U256::from(5000));
        assert_eq!(f.rpc.port, Some(9000));
        let err = ConfigFile::from_toml_str("[chain]\nsettlement = \"fast\"\n").unwrap_err();
        assert!(err.to_string().contains("zk") && err.to_string().contains("optimistic"), "{err}");
        let err = ConfigFile::from_toml_str("[chain]\nblock_tme_ms = 5\n").unwrap_err();
        assert!(err.to_string().contains("block_tme_ms"), "{err}");
    }
}
