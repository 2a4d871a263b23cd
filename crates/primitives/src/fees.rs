//! The chain's EIP-1559 parameters: one type for the config and the STF.

/// EIP-1559 base-fee parameters of a chain (the `[chain.base_fee]` table of
/// its config; read by the state-transition function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseFeeConfig {
    /// Base fee of the first block after genesis (unless genesis sets one), in wei.
    pub initial_wei: u64,
    /// The base fee never drops below this, in wei.
    pub min_wei: u64,
    /// EIP-1559's BASE_FEE_MAX_CHANGE_DENOMINATOR (8 on L1).
    pub max_change_denominator: u64,
    /// EIP-1559's ELASTICITY_MULTIPLIER (2 on L1): gas target = gas_limit / this.
    pub elasticity_multiplier: u64,
}

impl Default for BaseFeeConfig {
    fn default() -> Self {
        Self {
            initial_wei: 1_000_000_000,
            min_wei: 1_000_000,
            max_change_denominator: 8,
            elasticity_multiplier: 2,
        }
    }
}
