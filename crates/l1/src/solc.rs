//! Compiling a generated Solidity source (a PLONK verifier) with the pinned npm
//! `solc` of `contracts/` (`node contracts/solc-one.mjs`), the compiler and
//! settings of the committed contracts. Needs `node` and `contracts/node_modules`
//! (`npm ci` in `contracts/`): for tools and tests run from a checkout.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

/// The `contracts/` directory of this checkout.
pub fn contracts_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts"))
}

/// Compiles `source` and returns the creation code of `contract`.
pub fn compile(source: &str, contract: &str) -> Result<Vec<u8>, String> {
    let dir = contracts_dir();
    let mut child = Command::new("node")
        .arg("solc-one.mjs")
        .arg(contract)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running node in {}: {e}", dir.display()))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| format!("writing the source to solc: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("solc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "solc failed ({}; is `npm ci` done in {}?): {}",
            out.status,
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let artifact: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("solc's output: {e}"))?;
    let hex = artifact["bytecode"].as_str().ok_or("solc's output has no bytecode")?;
    alloy::primitives::hex::decode(hex).map_err(|e| format!("solc's bytecode: {e}"))
}
