use alloy::{genesis::Genesis, primitives::B256};
use infra_state::Curve;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The dev genesis, embedded so `--dev` needs no files.
pub const DEV_GENESIS_JSON: &str = include_str!("../../../genesis/dev.json");
/// The state roots recorded for the dev genesis, one per curve.
pub const DEV_GENESIS_ROOTS_TOML: &str = include_str!("../../../genesis/dev.roots.toml");
/// The mnemonic of the well-known dev accounts (anvil, Hardhat).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Dev account `index` (m/44'/60'/0'/0/index of [`DEV_MNEMONIC`]), as anvil and
/// Hardhat derive it.
pub fn dev_signer(
    index: u32,
) -> Result<alloy::signers::local::PrivateKeySigner, alloy::signers::local::LocalSignerError> {
    use alloy::signers::local::{MnemonicBuilder, coins_bip39::English};
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index)?.build()
}

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis: cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("genesis: {path} is not a valid geth-style genesis file: {message}")]
    Parse { path: String, message: String },
    #[error("genesis: {path} roots file: {message}")]
    Roots { path: String, message: String },
}

/// Parses geth-style genesis JSON (`config.chainId`, `alloc`, ...).
pub fn parse_genesis(json: &str, origin: &str) -> Result<Genesis, GenesisError> {
    serde_json::from_str(json)
        .map_err(|e| GenesisError::Parse { path: origin.into(), message: e.to_string() })
}

/// Loads a genesis file and the roots recorded beside it (`NAME.roots.toml` next to
/// `NAME.json`), if any.
pub fn load_genesis(path: &Path) -> Result<(Genesis, Option<GenesisRoots>), GenesisError> {
    let json = std::fs::read_to_string(path)
        .map_err(|source| GenesisError::Read { path: path.into(), source })?;
    let genesis = parse_genesis(&json, &path.display().to_string())?;
    let roots_path = path.with_extension("roots.toml");
    let roots = match std::fs::read_to_string(&roots_path) {
        Ok(s) => Some(GenesisRoots::parse(&s, &roots_path.display().to_string())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(GenesisError::Read { path: roots_path, source }),
    };
    Ok((genesis, roots))
}

/// The expected genesis state root for each curve.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisRoots {
    pub bn254: Option<B256>,
    #[serde(rename = "bls12-381")]
    pub bls12_381: Option<B256>,
}

impl GenesisRoots {
    pub fn parse(s: &str, origin: &str) -> Result<Self, GenesisError> {
        toml::from_str(s)
            .map_err(|e| GenesisError::Roots { path: origin.into(), message: e.message().into() })
    }

    pub fn dev() -> Result<Self, GenesisError> {
        Self::parse(DEV_GENESIS_ROOTS_TOML, "genesis/dev.roots.toml")
    }

    pub fn get(&self, curve: Curve) -> Option<B256> {
        match curve {
            Curve::Bn254 => self.bn254,
            Curve::Bls12_381 => self.bls12_381,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEV_CHAIN_ID;

    #[test]
    fn dev_sequencer_is_dev_account_9() {
        assert_eq!(dev_signer(9).unwrap().address(), crate::DEV_SEQUENCER);
    }

    #[test]
    fn dev_genesis_parses() {
        let g = parse_genesis(DEV_GENESIS_JSON, "dev.json").unwrap();
        assert_eq!(g.config.chain_id, DEV_CHAIN_ID);
        assert!(g.alloc.len() >= 10);
        GenesisRoots::dev().unwrap();
    }

    #[test]
    fn bad_genesis_names_the_file() {
        let err = parse_genesis("{\"alloc\": 5}", "x.json").unwrap_err();
        assert!(err.to_string().contains("x.json"));
    }
}
