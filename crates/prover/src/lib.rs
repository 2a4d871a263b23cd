#![doc = include_str!("../README.md")]

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod evm;
pub mod gpu;
pub mod plonk;
pub mod service;

pub use plonk::PlonkProver;

pub use infra_circuits::Shape;

use alloy::primitives::{B256, keccak256};
use ark_ff::PrimeField;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::SeedableRng;
use evm::EvmPairing;
use infra_circuits::{
    ChunkCircuit, ChunkPublic, ChunkWitness, PUBLIC_INPUTS, WitnessError, chunk_witnesses,
    diff_eval, diff_hash,
};
use infra_config::{ProofBackend, ProofConfig, ProofSystem};
use infra_state::{Curve, NodeStore, Poseidon, TreeHasher, to_b256, to_field as fe};
use std::{path::Path, sync::Arc};

#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    #[error(transparent)]
    Witness(#[from] WitnessError),
    #[error("proving: {0}")]
    Synthesis(String),
    #[error("proving key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("proof bytes: {0}")]
    Encoding(String),
}

fn synthesis(e: impl std::fmt::Display) -> ProverError {
    ProverError::Synthesis(e.to_string())
}

/// One chunk's proof as L1 takes it: the public inputs (big-endian field
/// elements: pre root, post root, diff hash, z, y), the chunk's diff (key, new
/// value hash; 0 deletes) and the proof in the curve's precompile encoding (A, B, C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkProof {
    pub public: [B256; PUBLIC_INPUTS],
    pub diff: Vec<(B256, B256)>,
    pub proof: Vec<u8>,
}

impl ChunkProof {
    /// The chunk as `BatchVerifier` decodes it (L1 recomputes `z` and `y` from
    /// the diff and takes the pre root from the previous chunk).
    pub fn to_l1(&self) -> infra_l1::ZkChunk {
        infra_l1::ZkChunk {
            postRoot: self.public[1],
            diffHash: self.public[2],
            diff: self.diff.iter().flat_map(|(k, v)| [*k, *v]).collect(),
            proof: self.proof.clone().into(),
        }
    }
}

/// The `proof` argument of `Rollup.proveBatches` for these chunks.
pub fn l1_proof(chunks: &[ChunkProof]) -> alloy::primitives::Bytes {
    infra_l1::encode_zk_proof(&chunks.iter().map(ChunkProof::to_l1).collect::<Vec<_>>())
}

/// Derives a chunk's challenge `z` from what L1 holds: `keccak256(binding ||
/// chunk index (32 bytes) || key_0 || value_0 || ... || diff_hash)` reduced
/// modulo the curve's scalar field. `binding` ties it to one batch (the batch's
/// data commitment); `diff_hash` is the prover's commitment, so the prover's
/// writes were fixed before `z`.
pub fn challenge(
    curve: Curve,
    binding: B256,
    chunk: usize,
    writes: &[(B256, B256)],
    diff_hash: B256,
) -> B256 {
    let mut data = Vec::with_capacity(96 + 64 * writes.len());
    data.extend_from_slice(binding.as_slice());
    data.extend_from_slice(B256::from(alloy::primitives::U256::from(chunk)).as_slice());
    for (k, v) in writes {
        data.extend_from_slice(k.as_slice());
        data.extend_from_slice(v.as_slice());
    }
    data.extend_from_slice(diff_hash.as_slice());
    let h = keccak256(&data);
    match curve {
        Curve::Bn254 => to_b256(ark_bn254::Fr::from_be_bytes_mod_order(h.as_slice())),
        Curve::Bls12_381 => to_b256(ark_bls12_381::Fr::from_be_bytes_mod_order(h.as_slice())),
    }
}

/// Proves batches: the state diff of a batch, in chunks of [`Prover::shape`].
pub trait Prover: Send + Sync {
    fn curve(&self) -> Curve;
    fn shape(&self) -> Shape;
    /// Proves the writes (sorted by key; `None` deletes) applied to the tree that
    /// `store` holds at `pre_root`. `binding` is the batch's data commitment
    /// (see [`challenge`]).
    fn prove_batch(
        &self,
        hasher: &TreeHasher,
        store: &dyn NodeStore,
        pre_root: B256,
        writes: &[(B256, Option<B256>)],
        binding: B256,
    ) -> Result<Vec<ChunkProof>, ProverError>;
    /// Checks a chunk proof as L1 would (same bytes, same public inputs).
    fn verify(&self, proof: &ChunkProof) -> Result<bool, ProverError>;
    /// The verifying key. Groth16: the precompile encoding (alpha (G1), beta,
    /// gamma, delta (G2), then one G1 point per public input plus one), which
    /// the L1 verifier takes. PLONK: see [`PlonkProver`]'s.
    fn verifying_key_bytes(&self) -> Vec<u8>;
    /// `keccak256` of [`Prover::verifying_key_bytes`]: what L1 pins.
    fn verifying_key_hash(&self) -> B256 {
        keccak256(self.verifying_key_bytes())
    }
    /// What to deploy on L1 to check this prover's proofs.
    fn l1_verifier(&self) -> Result<infra_l1::ZkVerifier, ProverError>;
}

/// One chunk as the circuits take it: public inputs, witness, and the chunk's
/// diff as L1 receives it (key, new value hash).
pub type ChunkInputs<F> = (ChunkPublic<F>, ChunkWitness<F>, Vec<(B256, B256)>);

/// The chunks of a batch as the circuits take them: each chunk's witness and its
/// public inputs derived as L1 will (`diff_hash`, the challenge `z` and `y`),
/// with the chunk's diff as L1 receives it.
#[allow(clippy::too_many_arguments)]
pub fn chunk_inputs<F: PrimeField>(
    curve: Curve,
    poseidon: &Poseidon<F>,
    shape: Shape,
    hasher: &TreeHasher,
    store: &dyn NodeStore,
    pre_root: B256,
    writes: &[(B256, Option<B256>)],
    binding: B256,
) -> Result<Vec<ChunkInputs<F>>, ProverError> {
    if hasher.curve() != curve {
        return Err(ProverError::Unsupported(format!(
            "the state tree hashes over {}, this prover proves over {curve}",
            hasher.curve()
        )));
    }
    let chunks = chunk_witnesses::<F, _>(hasher, store, pre_root, writes, shape)?;
    let mut out = Vec::with_capacity(chunks.len());
    for (i, witness) in chunks.into_iter().enumerate() {
        let writes = witness.writes();
        let h = diff_hash(poseidon, &writes);
        let as_bytes: Vec<(B256, B256)> =
            writes.iter().map(|(k, v)| (to_b256(*k), to_b256(*v))).collect();
        let z = fe(&challenge(curve, binding, i, &as_bytes, to_b256(h)));
        let public = ChunkPublic {
            pre_root: witness.pre_root,
            post_root: witness.post_root,
            diff_hash: h,
            z,
            y: diff_eval(z, &writes),
        };
        out.push((public, witness, as_bytes));
    }
    Ok(out)
}

/// The chunk proofs of a batch, whatever the proof system: `prove` on each of
/// its [`chunk_inputs`].
pub(crate) fn prove_chunks<F: PrimeField>(
    chunks: Vec<ChunkInputs<F>>,
    mut prove: impl FnMut(ChunkPublic<F>, ChunkWitness<F>) -> Result<Vec<u8>, ProverError>,
) -> Result<Vec<ChunkProof>, ProverError> {
    let mut out = Vec::with_capacity(chunks.len());
    for (public, witness, diff) in chunks {
        let encoded = public.to_vec().iter().map(|x| to_b256(*x)).collect::<Vec<_>>();
        let proof = prove(public, witness)?;
        out.push(ChunkProof {
            public: encoded.try_into().unwrap_or_else(|_| unreachable!("{PUBLIC_INPUTS} inputs")),
            diff,
            proof,
        });
    }
    Ok(out)
}

/// Groth16 over a pairing-friendly curve, on the CPU (arkworks, rayon).
pub struct Groth16Prover<E: EvmPairing> {
    shape: Shape,
    poseidon: Arc<Poseidon<E::ScalarField>>,
    pk: ProvingKey<E>,
    pvk: PreparedVerifyingKey<E>,
    /// `proof.backend = "cuda"`: the key's G1 queries on the GPU.
    #[cfg(feature = "cuda")]
    gpu: Option<Arc<cuda::GpuKey<E::G1Curve>>>,
}

impl<E: EvmPairing> std::fmt::Debug for Groth16Prover<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groth16Prover")
            .field("curve", &E::CURVE)
            .field("shape", &self.shape)
            .finish()
    }
}

impl<E: EvmPairing> Groth16Prover<E> {
    /// Keys from a seed everybody knows: anyone can forge proofs with them. For
    /// dev chains and tests only.
    pub fn insecure_dev_setup(shape: Shape) -> Result<Self, ProverError> {
        tracing::warn!(
            target: "prover",
            curve = %E::CURVE, writes = shape.writes, depth = shape.depth,
            "Groth16 keys from a PUBLIC seed: NOT A PRODUCTION SETUP, anyone can forge proofs"
        );
        Self::setup_from_seed(shape, "infra-node insecure dev Groth16 setup")
    }

    /// Keys generated from `seed` (deterministic: the same seed, curve and shape
    /// give the same keys; whoever knows the seed can forge proofs).
    pub fn setup_from_seed(shape: Shape, seed: &str) -> Result<Self, ProverError> {
        let seed =
            keccak256(format!("{seed}/{}/writes {}/depth {}", E::CURVE, shape.writes, shape.depth));
        Self::setup_from_bytes(shape, seed.0)
    }

    /// Keys from this machine's randomness: a setup by one party, who must be
    /// trusted to forget it (the randomness is dropped when this returns; a
    /// multi-party ceremony is the way to need no such trust).
    pub fn setup_random(shape: Shape) -> Result<Self, ProverError> {
        use ark_std::rand::Rng;
        Self::setup_from_bytes(shape, ark_std::rand::thread_rng().r#gen())
    }

    /// The circuit-specific setup with randomness from a ChaCha20 stream seeded by
    /// `seed`.
    fn setup_from_bytes(shape: Shape, seed: [u8; 32]) -> Result<Self, ProverError> {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
        let poseidon = Arc::new(Poseidon::new());
        let (pk, _) = Groth16::<E>::circuit_specific_setup(
            ChunkCircuit::blank(shape, poseidon.clone()),
            &mut rng,
        )
        .map_err(synthesis)?;
        Ok(Self::with_key(shape, poseidon, pk))
    }

    fn with_key(shape: Shape, poseidon: Arc<Poseidon<E::ScalarField>>, pk: ProvingKey<E>) -> Self {
        let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
        Self {
            shape,
            poseidon,
            pk,
            pvk,
            #[cfg(feature = "cuda")]
            gpu: None,
        }
    }

    /// Moves the proofs' G1 multi-scalar multiplications to `device` (the
    /// proving key's G1 queries are uploaded now and stay there). Proofs are
    /// the CPU backend's, bit for bit, for the same randomness.
    #[cfg(feature = "cuda")]
    pub fn with_cuda(mut self, device: Arc<cuda::CudaDevice>) -> Result<Self, ProverError> {
        let started = std::time::Instant::now();
        let pk = &self.pk;
        let key = cuda::GpuKey::upload(device, |q| E::g1_for_gpu(q.bases(pk)).to_vec())?;
        tracing::info!(
            target: "prover",
            gpu = key.device.name(), ms = started.elapsed().as_millis() as u64,
            "Groth16 proving key on the GPU"
        );
        self.gpu = Some(Arc::new(key));
        Ok(self)
    }

    /// Loads a proving key written by [`Self::save`] (arkworks' compressed
    /// serialization, points checked).
    pub fn load(shape: Shape, path: &Path) -> Result<Self, ProverError> {
        let err =
            |reason: String| ProverError::KeyFile { path: path.display().to_string(), reason };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let header = Self::key_header(shape);
        if bytes.get(..header.len()) != Some(header.as_slice()) {
            let found = bytes
                .get(..header.len())
                .map(|h| String::from_utf8_lossy(h).trim_end_matches('\0').to_string())
                .unwrap_or_default();
            return Err(err(format!(
                "not a proving key for {} (found {found:?}): proof.curve, proof.chunk_writes and proof.depth must match the key",
                String::from_utf8_lossy(&header).trim_end_matches('\0')
            )));
        }
        let pk = ProvingKey::<E>::deserialize_compressed(&bytes[header.len()..])
            .map_err(|e| err(e.to_string()))?;
        if pk.vk.gamma_abc_g1.len() != PUBLIC_INPUTS + 1 {
            return Err(err(format!(
                "the key has {} public inputs, the chunk circuit {PUBLIC_INPUTS}",
                pk.vk.gamma_abc_g1.len().saturating_sub(1)
            )));
        }
        Ok(Self::with_key(shape, Arc::new(Poseidon::new()), pk))
    }

    pub fn save(&self, path: &Path) -> Result<(), ProverError> {
        let err =
            |reason: String| ProverError::KeyFile { path: path.display().to_string(), reason };
        let mut bytes = Self::key_header(self.shape);
        self.pk.serialize_compressed(&mut bytes).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, bytes).map_err(|e| err(e.to_string()))
    }

    /// A key file starts with what it is for: 64 bytes, zero-padded text.
    fn key_header(shape: Shape) -> Vec<u8> {
        let mut h = format!(
            "infra-node groth16 key v1 {} writes {} depth {}",
            E::CURVE,
            shape.writes,
            shape.depth
        )
        .into_bytes();
        h.resize(64, 0);
        h
    }

    pub fn verifying_key(&self) -> &VerifyingKey<E> {
        &self.pk.vk
    }

    /// The proving key (benches time its multi-scalar multiplications alone).
    pub fn proving_key(&self) -> &ProvingKey<E> {
        &self.pk
    }

    pub fn poseidon(&self) -> &Arc<Poseidon<E::ScalarField>> {
        &self.poseidon
    }

    /// Proves one chunk.
    pub fn prove_chunk(
        &self,
        public: ChunkPublic<E::ScalarField>,
        witness: ChunkWitness<E::ScalarField>,
    ) -> Result<Proof<E>, ProverError> {
        let (r, s) = gpu::proof_randomness(&mut ark_std::rand::thread_rng());
        self.prove_chunk_with(public, witness, r, s)
    }

    /// Proves one chunk with the randomness `r`, `s` given (a proof is a
    /// function of them: the CPU and GPU backends give the same bytes).
    pub fn prove_chunk_with(
        &self,
        public: ChunkPublic<E::ScalarField>,
        witness: ChunkWitness<E::ScalarField>,
        r: E::ScalarField,
        s: E::ScalarField,
    ) -> Result<Proof<E>, ProverError> {
        let circuit = ChunkCircuit {
            shape: self.shape,
            poseidon: self.poseidon.clone(),
            public: Some(public),
            witness: Some(witness),
        };
        #[cfg(feature = "cuda")]
        if let Some(key) = &self.gpu {
            return gpu::prove_with_msm(&self.pk, circuit, r, s, &|q, scalars| {
                Ok(E::g1_from_gpu(key.msm(q, scalars)?))
            });
        }
        Groth16::<E>::create_proof_with_reduction(circuit, &self.pk, r, s).map_err(synthesis)
    }

    pub fn verify_chunk(
        &self,
        public: &ChunkPublic<E::ScalarField>,
        proof: &Proof<E>,
    ) -> Result<bool, ProverError> {
        Groth16::<E>::verify_with_processed_vk(&self.pvk, &public.to_vec(), proof)
            .map_err(synthesis)
    }

    /// A proof in the precompile encoding: A, B, C.
    pub fn proof_bytes(proof: &Proof<E>) -> Vec<u8> {
        [E::g1_bytes(&proof.a), E::g2_bytes(&proof.b), E::g1_bytes(&proof.c)].concat()
    }

    pub fn proof_from_bytes(bytes: &[u8]) -> Option<Proof<E>> {
        let w = E::WIDTH;
        if bytes.len() != 8 * w {
            return None;
        }
        Some(Proof {
            a: E::g1_from(&bytes[..2 * w])?,
            b: E::g2_from(&bytes[2 * w..6 * w])?,
            c: E::g1_from(&bytes[6 * w..])?,
        })
    }
}

impl<E: EvmPairing> Prover for Groth16Prover<E> {
    fn curve(&self) -> Curve {
        E::CURVE
    }

    fn shape(&self) -> Shape {
        self.shape
    }

    fn prove_batch(
        &self,
        hasher: &TreeHasher,
        store: &dyn NodeStore,
        pre_root: B256,
        writes: &[(B256, Option<B256>)],
        binding: B256,
    ) -> Result<Vec<ChunkProof>, ProverError> {
        let chunks = chunk_inputs(
            E::CURVE,
            &self.poseidon,
            self.shape,
            hasher,
            store,
            pre_root,
            writes,
            binding,
        )?;
        prove_chunks(chunks, |public, witness| {
            Ok(Self::proof_bytes(&self.prove_chunk(public, witness)?))
        })
    }

    fn verify(&self, proof: &ChunkProof) -> Result<bool, ProverError> {
        let Some(p) = Self::proof_from_bytes(&proof.proof) else {
            return Ok(false);
        };
        let inputs: Vec<E::ScalarField> = proof.public.iter().map(fe).collect();
        // Inputs must be canonical field elements, as L1 requires.
        if inputs.iter().zip(proof.public.iter()).any(|(x, b)| to_b256(*x) != *b) {
            return Ok(false);
        }
        Groth16::<E>::verify_with_processed_vk(&self.pvk, &inputs, &p).map_err(synthesis)
    }

    fn l1_verifier(&self) -> Result<infra_l1::ZkVerifier, ProverError> {
        Ok(infra_l1::ZkVerifier::Groth16 { vk: self.verifying_key_bytes().into() })
    }

    fn verifying_key_bytes(&self) -> Vec<u8> {
        let vk = &self.pk.vk;
        let mut out = E::g1_bytes(&vk.alpha_g1);
        for g2 in [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2] {
            out.extend(E::g2_bytes(g2));
        }
        for g1 in &vk.gamma_abc_g1 {
            out.extend(E::g1_bytes(g1));
        }
        out
    }
}

/// The prover the chain config asks for. `keys`: Groth16, a proving key file
/// written by `Groth16Prover::save`; PLONK, a KZG parameters file (see
/// [`PlonkProver::from_params_file`]). `None` generates insecure dev keys (loudly).
pub fn from_config(
    proof: &ProofConfig,
    shape: Shape,
    keys: Option<&Path>,
) -> Result<Box<dyn Prover>, ProverError> {
    // (`()` without the `cuda` feature.)
    #[allow(clippy::let_unit_value)]
    let device: Device = match proof.backend {
        ProofBackend::Cpu => Default::default(),
        ProofBackend::Cuda => {
            if proof.system == ProofSystem::Plonk {
                return Err(ProverError::Unsupported(
                    "proof.backend = \"cuda\" runs Groth16's multi-scalar multiplications on the GPU; proof.system = \"plonk\" proves on the CPU in this version: use proof.backend = \"cpu\" with plonk, or proof.system = \"groth16\" with cuda".into(),
                ));
            }
            #[cfg(not(feature = "cuda"))]
            return Err(ProverError::Unsupported(
                "proof.backend = \"cuda\": this infra-node was built without the `cuda` feature; rebuild with `cargo build --release --features cuda` (it needs an NVIDIA GPU, its driver and NVRTC at run time), or use proof.backend = \"cpu\"".into(),
            ));
            // The GPU is opened first: a machine without one fails before any key is made.
            #[cfg(feature = "cuda")]
            Some(cuda::CudaDevice::open()?)
        }
    };
    if proof.system == ProofSystem::Plonk {
        if proof.curve != Curve::Bn254 {
            return Err(ProverError::Unsupported(format!(
                "proof.system = \"plonk\" proves over BN254 (KZG checked with the EVM's BN254 precompiles); proof.curve = \"{}\" is for groth16 only",
                proof.curve
            )));
        }
        return Ok(Box::new(match keys {
            None => PlonkProver::insecure_dev_setup(shape)?,
            Some(p) => PlonkProver::from_params_file(shape, p)?,
        }));
    }
    match proof.curve {
        Curve::Bn254 => groth16::<ark_bn254::Bn254>(shape, keys, device),
        Curve::Bls12_381 => groth16::<ark_bls12_381::Bls12_381>(shape, keys, device),
    }
}

/// The GPU a prover runs on (`cuda` builds), if any.
#[cfg(feature = "cuda")]
type Device = Option<Arc<cuda::CudaDevice>>;
/// No GPU without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
type Device = ();

fn groth16<E: EvmPairing + 'static>(
    shape: Shape,
    keys: Option<&Path>,
    device: Device,
) -> Result<Box<dyn Prover>, ProverError> {
    let prover = match keys {
        None => Groth16Prover::<E>::insecure_dev_setup(shape)?,
        Some(p) => Groth16Prover::<E>::load(shape, p)?,
    };
    #[cfg(feature = "cuda")]
    let prover = match device {
        Some(d) => prover.with_cuda(d)?,
        None => prover,
    };
    #[cfg(not(feature = "cuda"))]
    let () = device;
    Ok(Box::new(prover))
}

/// Whether this machine has NVIDIA's driver library (`libcuda.so.1`), without
/// loading it: without it `proof.backend = "cuda"` cannot run.
pub fn cuda_driver_present() -> bool {
    gpu::library_present(&["libcuda.so.1", "libcuda.so"])
}

/// Generates keys for `curve` and `shape` from this machine's randomness (see
/// [`Groth16Prover::setup_random`]), writes the proving key to `path` and returns
/// the verifying key's hash.
pub fn setup_random_to_file(curve: Curve, shape: Shape, path: &Path) -> Result<B256, ProverError> {
    Ok(match curve {
        Curve::Bn254 => {
            let p = Groth16Prover::<ark_bn254::Bn254>::setup_random(shape)?;
            p.save(path)?;
            p.verifying_key_hash()
        }
        Curve::Bls12_381 => {
            let p = Groth16Prover::<ark_bls12_381::Bls12_381>::setup_random(shape)?;
            p.save(path)?;
            p.verifying_key_hash()
        }
    })
}
