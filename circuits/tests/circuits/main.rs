//! The circuits' integration tests, in one test binary (the crate is optimised
//! in dev builds, so each test binary compiles its generic gadgets again):
//! - `chunk`: the R1CS chunk circuit on real trees and against every tampering;
//! - `plonk`: the halo2 chunk circuit against the R1CS one, verdict for verdict;
//! - `cases`: the witnesses both use.

mod cases;
mod chunk;
mod plonk;
