//! The prover's integration tests, in one test binary: the crate is optimised in
//! dev builds and its Groth16/PLONK code is generic, so every test binary that
//! calls it compiles that code again at opt-level 3 (about 110 s each, cold, on
//! 2 cores). One binary compiles it once.
//!
//! - `groth16`: Groth16 proofs over both curves, natively.
//! - `plonk`: PLONK proofs natively; the committed verifier is the dev key's.
//! - `l1_verifier`: the verifier contracts on an L1 (revm).
//! - `gpu`: the GPU MSM kernels emulated on the CPU, on every machine.
//! - `cuda`: the same on a real GPU (feature `cuda`; skipped visibly without one:
//!   `cargo test --workspace --test prover -- --nocapture cuda::`).

mod cuda;
mod gpu;
mod groth16;
mod l1_verifier;
mod plonk;
