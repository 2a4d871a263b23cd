//! Deploying the L1 contracts from the committed artifacts, and the deployment
//! file a sequencer reads.

use crate::{
    bindings::{
        BatchVerifierBls12381, BatchVerifierBn254, BatchVerifierPlonk, Bridge, FaultGame,
        PoseidonBls12381, PoseidonBn254, PreimageOracle, RiscV, Rollup,
    },
    sender::{L1Tx, SendError, TxSender},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolConstructor,
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
    /// optimistic: the fault game and what it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_game: Option<GameAddresses>,
}

/// The fault-proof contracts of an optimistic chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GameAddresses {
    /// `FaultGame`: disputes the rollup's claims.
    pub game: Address,
    /// `RiscV`: one instruction of the VM.
    pub vm: Address,
    /// `PreimageOracle`: what the VM reads.
    pub oracle: Address,
    /// The program's state before its first instruction (`program/PRESTATE`).
    pub absolute_prestate: B256,
    pub max_depth: u64,
    pub max_clock_s: u64,
    /// The time a side has left after a move in its clock's last seconds
    /// (`FaultGame.clockExtension`; 0 in files written before it existed).
    #[serde(default)]
    pub clock_extension_s: u64,
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
    /// optimistic: the fault game's settings (required when optimistic).
    pub game: Option<FaultGameParams>,
    /// Local input 4 of every claim (`infra_stf::claim::ClaimChain::encode`).
    pub chain_input: Bytes,
}

/// The fault game of an optimistic chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultGameParams {
    pub absolute_prestate: B256,
    pub max_depth: u64,
    pub max_clock_s: u64,
    /// `FaultGame.clockExtension`: a side moving in its clock's last
    /// `clock_extension_s` seconds has that long left for its next move.
    pub clock_extension_s: u64,
    /// The root claim's bond (a claim at depth d bonds `base_bond * (d + 1)`).
    pub base_bond: U256,
    /// The bond of each output.
    pub output_bond: U256,
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

/// The scalar field the oracle's Poseidon hashes over (`PreimageOracle`'s check).
fn field_modulus(bls12_381: bool) -> U256 {
    let hex = if bls12_381 {
        "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001"
    } else {
        "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001"
    };
    U256::from_str_radix(hex, 16).unwrap_or_default()
}

async fn next_nonce(
    provider: &alloy::providers::DynProvider,
    who: Address,
) -> Result<u64, DeploymentError> {
    use alloy::providers::Provider;
    provider
        .get_transaction_count(who)
        .pending()
        .await
        .map_err(|e| DeploymentError::Other(format!("reading the deployer's nonce: {e}")))
}

/// Deploys Poseidon, (optimistic) the preimage oracle, the VM and the fault
/// game, then Rollup and Bridge, with `sender`'s key.
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
    // Rollup, FaultGame and Bridge name each other immutably: the game and the
    // bridge are deployed at the addresses computed from this key's nonces.
    let provider = sender.provider();
    let me = sender.address();
    let (game, rollup_nonce) = match (&p.game, p.optimistic) {
        (Some(g), true) => {
            let (oracle, _) = create(
                sender,
                [
                    PreimageOracle::BYTECODE.to_vec(),
                    PreimageOracle::constructorCall {
                        poseidon_: poseidon,
                        fieldModulus_: field_modulus(p.bls12_381),
                    }
                    .abi_encode(),
                ]
                .concat(),
            )
            .await?;
            let vm_args = RiscV::constructorCall { oracle_: oracle }.abi_encode();
            let (vm, _) = create(sender, [RiscV::BYTECODE.to_vec(), vm_args].concat()).await?;
            let nonce = next_nonce(provider, me).await?;
            let rollup_at = me.create(nonce + 1);
            let args = FaultGame::constructorCall {
                vm_: vm,
                oracle_: oracle,
                source_: rollup_at,
                absolutePrestate_: g.absolute_prestate,
                maxDepth_: U256::from(g.max_depth),
                maxClockDuration_: g.max_clock_s,
                clockExtension_: g.clock_extension_s,
                baseBond_: g.base_bond,
            }
            .abi_encode();
            let (game, _) = create(sender, [FaultGame::BYTECODE.to_vec(), args].concat()).await?;
            let addresses = GameAddresses {
                game,
                vm,
                oracle,
                absolute_prestate: g.absolute_prestate,
                max_depth: g.max_depth,
                max_clock_s: g.max_clock_s,
                clock_extension_s: g.clock_extension_s,
            };
            (Some((addresses, g.output_bond)), nonce + 1)
        }
        (None, true) => {
            return Err(DeploymentError::Other(
                "an optimistic chain needs its fault game's parameters".into(),
            ));
        }
        _ => (None, next_nonce(provider, me).await?),
    };
    let rollup_at = me.create(rollup_nonce);
    let bridge_at = me.create(rollup_nonce + 1);
    let rollup_args = Rollup::constructorCall {
        owner_: p.owner,
        batcher_: p.batcher,
        mode_: if p.optimistic { 0 } else { 1 },
        challengePeriod_: p.challenge_period_s,
        genesis: Rollup::Output {
            stateRoot: p.genesis_state_root,
            l2BlockNumber: 0,
            l2BlockHash: p.genesis_block_hash,
            nextBaseFee: p.genesis_next_base_fee,
            nextDepositNonce: 0,
        },
        verifier_: verifier.unwrap_or_default(),
        game_: game.as_ref().map(|(g, _)| g.game).unwrap_or_default(),
        outputBond_: game.as_ref().map(|(_, b)| *b).unwrap_or_default(),
        bridge_: bridge_at,
        chainInput_: p.chain_input.clone(),
    }
    .abi_encode();
    let (rollup, _) = create(sender, [Rollup::BYTECODE.to_vec(), rollup_args].concat()).await?;
    let bridge_args =
        Bridge::constructorCall { owner_: p.owner, rollup_: rollup, hasher_: poseidon }
            .abi_encode();
    let (bridge, _) = create(sender, [Bridge::BYTECODE.to_vec(), bridge_args].concat()).await?;
    if (rollup, bridge) != (rollup_at, bridge_at) {
        return Err(DeploymentError::Other(format!(
            "the rollup and bridge landed at {rollup} and {bridge}, not at {rollup_at} and {bridge_at} \
             as the game and the rollup were told: was the deployer key used elsewhere meanwhile?"
        )));
    }
    let fault_game = game.map(|(g, _)| g);
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
        fault_game,
    };
    tracing::info!(target: "l1", %rollup, %bridge, %poseidon, ?verifier, deploy_block, "deployed the L1 contracts");
    Ok(deployment)
}
