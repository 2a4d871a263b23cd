//! Deploying the L1 contracts from the committed artifacts, and the deployment
//! file a sequencer reads.

use crate::{
    bindings::{
        BatchVerifierBls12381, BatchVerifierBn254, BatchVerifierPlonk, Bridge, DisputeGame,
        PoseidonBls12381, PoseidonBn254, Rollup,
    },
    sender::{L1Tx, SendError, TxSender},
};
use alloy::{
    primitives::{Address, B256, Bytes},
    sol_types::{SolCall, SolConstructor},
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where the contracts of one L2 chain live on its L1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    pub l1_chain_id: u64,
    pub l2_chain_id: u64,
    pub rollup: Address,
    pub bridge: Address,
    /// The Poseidon contract the bridge verifies withdrawal proofs with.
    pub poseidon: Address,
    /// The L1 block of the first deployment transaction: watchers start there.
    pub deploy_block: u64,
    pub owner: Address,
    pub batcher: Address,
    /// "optimistic" or "zk".
    pub settlement: String,
    pub challenge_period_s: u64,
    /// "bn254" or "bls12-381": the state tree's hash, which L1 recomputes.
    pub curve: String,
    pub genesis_state_root: B256,
    pub genesis_block_hash: B256,
    /// zk: the batch verifier (Groth16 over `curve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<Address>,
    /// zk: keccak256 of the verifying key the rollup pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vk_hash: Option<B256>,
    /// optimistic: the dispute game (the rollup's challenger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_game: Option<Address>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("deployment file {path}: {reason}")]
    File { path: String, reason: String },
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("deployment: {0}")]
    Other(String),
}

impl Deployment {
    pub fn read(path: &Path) -> Result<Self, DeploymentError> {
        let file =
            |reason: String| DeploymentError::File { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| file(e.to_string()))
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub fn write(&self, path: &Path) -> Result<(), DeploymentError> {
        let file =
            |reason: String| DeploymentError::File { path: path.display().to_string(), reason };
        let text = serde_json::to_string_pretty(self).map_err(|e| file(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| file(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| file(e.to_string()))
    }
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployParams {
    pub l2_chain_id: u64,
    pub owner: Address,
    pub batcher: Address,
    /// true: optimistic; false: zk.
    pub optimistic: bool,
    pub challenge_period_s: u64,
    /// true: BLS12-381 Poseidon; false: BN254.
    pub bls12_381: bool,
    pub genesis_state_root: B256,
    pub genesis_block_hash: B256,
    /// The base fee of block 1 (the context the first batch starts from).
    pub genesis_next_base_fee: u64,
    /// zk: what verifies the proofs (see `infra_prover::Prover::l1_verifier`);
    /// required when not optimistic.
    pub verifier: Option<ZkVerifier>,
    /// optimistic: the dispute game's settings (`None`: no game is deployed).
    pub dispute: Option<crate::GameTypes::Config>,
}

/// What checks zk proofs on L1, behind the rollup's `BatchVerifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkVerifier {
    /// Groth16: the verifying key in the precompile encoding; the verifier
    /// stores it and the rollup pins its keccak256.
    Groth16 { vk: Bytes },
    /// PLONK: the creation code of a verifier contract generated for one key
    /// (the key is in its code), and that key's hash, which the rollup pins.
    Plonk { code: Bytes, vk_hash: B256 },
}

impl ZkVerifier {
    /// What the rollup pins.
    pub fn vk_hash(&self) -> B256 {
        match self {
            Self::Groth16 { vk } => alloy::primitives::keccak256(vk),
            Self::Plonk { vk_hash, .. } => *vk_hash,
        }
    }
}

async fn create(sender: &TxSender, code: Vec<u8>) -> Result<(Address, u64), DeploymentError> {
    let receipt = sender.send(L1Tx::create(Bytes::from(code))).await?;
    let address = receipt
        .contract_address
        .ok_or_else(|| DeploymentError::Other("creation receipt has no contract address".into()))?;
    Ok((address, receipt.block_number.unwrap_or_default()))
}

/// Creation code of the batch verifier for a curve (BLS12-381 or BN254) with
/// verifying key `vk` (the precompile encoding, `Prover::verifying_key_bytes`).
pub fn verifier_initcode(bls12_381: bool, vk: Bytes) -> Vec<u8> {
    if bls12_381 {
        [
            BatchVerifierBls12381::BYTECODE.to_vec(),
            BatchVerifierBls12381::constructorCall { vk }.abi_encode(),
        ]
        .concat()
    } else {
        [
            BatchVerifierBn254::BYTECODE.to_vec(),
            BatchVerifierBn254::constructorCall { vk }.abi_encode(),
        ]
        .concat()
    }
}

/// Creation code of the PLONK batch verifier in front of `plonk`, a deployed
/// verifier generated for the key whose hash is `vk_hash`
/// (`Prover::verifying_key_hash`).
pub fn plonk_verifier_initcode(plonk: Address, vk_hash: B256) -> Vec<u8> {
    [
        BatchVerifierPlonk::BYTECODE.to_vec(),
        BatchVerifierPlonk::constructorCall { plonk_: plonk, vkHash_: vk_hash }.abi_encode(),
    ]
    .concat()
}

/// Deploys Poseidon, Rollup and Bridge with `sender`'s key.
pub async fn deploy(sender: &TxSender, p: &DeployParams) -> Result<Deployment, DeploymentError> {
    let poseidon_code = if p.bls12_381 {
        PoseidonBls12381::BYTECODE.to_vec()
    } else {
        PoseidonBn254::BYTECODE.to_vec()
    };
    let (poseidon, deploy_block) = create(sender, poseidon_code).await?;
    let (verifier, vk_hash) = if p.optimistic {
        (None, None)
    } else {
        let spec = p.verifier.clone().ok_or_else(|| {
            DeploymentError::Other("settlement = \"zk\" needs the prover's verifier".into())
        })?;
        let code = match &spec {
            ZkVerifier::Groth16 { vk } => verifier_initcode(p.bls12_381, vk.clone()),
            ZkVerifier::Plonk { code, vk_hash } => {
                if p.bls12_381 {
                    return Err(DeploymentError::Other(
                        "PLONK proofs are over BN254: proof.curve must be \"bn254\"".into(),
                    ));
                }
                let (plonk, _) = create(sender, code.to_vec()).await?;
                plonk_verifier_initcode(plonk, *vk_hash)
            }
        };
        let (verifier, _) = create(sender, code).await?;
        (Some(verifier), Some(spec.vk_hash()))
    };
    let rollup_args = Rollup::constructorCall {
        owner_: p.owner,
        batcher_: p.batcher,
        mode_: if p.optimistic { 0 } else { 1 },
        challengePeriod_: p.challenge_period_s,
        genesisStateRoot: p.genesis_state_root,
        genesisBlockHash: p.genesis_block_hash,
        genesisNextBaseFee: p.genesis_next_base_fee,
        verifier_: verifier.unwrap_or_default(),
    }
    .abi_encode();
    let (rollup, _) = create(sender, [Rollup::BYTECODE.to_vec(), rollup_args].concat()).await?;
    let bridge_args =
        Bridge::constructorCall { owner_: p.owner, rollup_: rollup, hasher_: poseidon }
            .abi_encode();
    let (bridge, _) = create(sender, [Bridge::BYTECODE.to_vec(), bridge_args].concat()).await?;
    let dispute_game = match (&p.dispute, p.optimistic) {
        (Some(config), true) => {
            let (one_step, _) =
                create(sender, crate::bindings::one_step_initcode(bridge, poseidon, config))
                    .await?;
            let args = DisputeGame::constructorCall {
                rollup_: rollup,
                oneStep_: one_step,
                config_: config.clone(),
            }
            .abi_encode();
            let (game, _) = create(sender, [DisputeGame::BYTECODE.to_vec(), args].concat()).await?;
            if p.owner == sender.address() {
                let call = Rollup::setChallengerCall { challenger_: game }.abi_encode();
                sender.send(L1Tx::call(rollup, call.into())).await?;
            } else {
                tracing::warn!(target: "l1", %game, owner = %p.owner, "the owner must call Rollup.setChallenger(game) to attach the dispute game");
            }
            Some(game)
        }
        _ => None,
    };
    let deployment = Deployment {
        l1_chain_id: sender.chain_id(),
        l2_chain_id: p.l2_chain_id,
        rollup,
        bridge,
        poseidon,
        deploy_block,
        owner: p.owner,
        batcher: p.batcher,
        settlement: if p.optimistic { "optimistic" } else { "zk" }.into(),
        challenge_period_s: p.challenge_period_s,
        curve: if p.bls12_381 { "bls12-381" } else { "bn254" }.into(),
        genesis_state_root: p.genesis_state_root,
        genesis_block_hash: p.genesis_block_hash,
        verifier,
        vk_hash,
        dispute_game,
    };
    tracing::info!(target: "l1", %rollup, %bridge, %poseidon, ?verifier, deploy_block, "deployed the L1 contracts");
    Ok(deployment)
}
