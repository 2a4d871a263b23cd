//! Compiling a generated Solidity source (a PLONK verifier) with the pinned npm
//! `solc` of `contracts/` (`node contracts/solc-one.mjs`), the compiler and
//! settings of the committed contracts. Needs `node` and `contracts/node_modules`
//! (`npm ci` in `contracts/`): for tools and tests run from a checkout.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The `contracts/` directory of this checkout: found from the package being
/// run (`CARGO_MANIFEST_DIR` at run time under cargo) or the working directory,
/// walking up to the folder that holds `contracts/solc-one.mjs`; else the
/// checkout this crate was compiled in.
pub fn contracts_dir() -> PathBuf {
    let starts =
        [std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from), std::env::current_dir().ok()];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let c = dir.join("contracts");
            if c.join("solc-one.mjs").is_file() {
                return c;
            }
        }
    }
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts")).to_path_buf()
}

/// Compiles `source` and returns the creation code of `contract`.
pub fn compile(source: &str, contract: &str) -> Result<Vec<u8>, String> {
    let dir = contracts_dir();
    let mut child = Command::new("node")
        .arg("solc-one.mjs")
        .arg(contract)
        .current_dir(&dir)
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
