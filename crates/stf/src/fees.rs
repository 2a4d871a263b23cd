use alloy_eips::eip1559::{BaseFeeParams, calc_next_block_base_fee};
pub use infra_primitives::BaseFeeConfig;

/// EIP-1559: the base fee of the block after one with `gas_used` of `gas_limit`
/// at `base_fee`, never below the configured minimum.
pub fn next_base_fee(cfg: &BaseFeeConfig, gas_used: u64, gas_limit: u64, base_fee: u64) -> u64 {
    let params = BaseFeeParams {
        max_change_denominator: u128::from(cfg.max_change_denominator),
        elasticity_multiplier: u128::from(cfg.elasticity_multiplier),
    };
    calc_next_block_base_fee(gas_used, gas_limit, base_fee, params).max(cfg.min_wei)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_eip1559() {
        let cfg = BaseFeeConfig { min_wei: 7, ..Default::default() };
        // at target: unchanged; full: +12.5%; empty: -12.5%
        assert_eq!(next_base_fee(&cfg, 15_000_000, 30_000_000, 1_000_000_000), 1_000_000_000);
        assert_eq!(next_base_fee(&cfg, 30_000_000, 30_000_000, 1_000_000_000), 1_125_000_000);
        assert_eq!(next_base_fee(&cfg, 0, 30_000_000, 1_000_000_000), 875_000_000);
        assert_eq!(next_base_fee(&cfg, 0, 30_000_000, 7), 7);
    }
}
