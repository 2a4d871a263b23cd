//! `infra-node fpvm run`: the fault-proof program for one batch of a stopped
//! node's datadir, in the VM.

use crate::{Failure, usage};
use alloy::primitives::keccak256;
use infra_derivation::witness::{WitnessError, witness};
use infra_fpvm::{Preimages, Vm};
use infra_stf::{BatchData, Output, claim::reported_output};
use std::{path::Path, path::PathBuf, time::Instant};

/// The committed build of the program (its hash and the VM's start state).
const PRESTATE: &str = include_str!("../../../program/PRESTATE");

/// Where scripts/build-program.sh leaves the program.
fn default_elf() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(
        ".cache/infra-node/program-target/riscv64imac-unknown-none-elf/program/infra-program",
    ))
}

fn committed_elf_hash() -> Option<&'static str> {
    PRESTATE
        .lines()
        .find_map(|l| l.strip_prefix("elf_keccak256 = \"").and_then(|r| r.strip_suffix('"')))
}

fn show(o: &Output) -> String {
    format!(
        "state root {}, block {} ({}), next base fee {}, next deposit nonce {}",
        o.state_root, o.block_number, o.block_hash, o.next_base_fee, o.next_deposit_nonce
    )
}

/// Runs batch `batch` of `datadir`; the exit code is the command's.
pub fn run(
    datadir: &Path,
    batch: u64,
    step: Option<u64>,
    elf: Option<&Path>,
) -> Result<u8, Failure> {
    let db = datadir.join("db");
    if !db.join("mdbx.dat").is_file() {
        return Err(usage(format!(
            "--datadir {}: no node database there (db/mdbx.dat is missing)",
            datadir.display()
        )));
    }
    let elf_path = match elf.map(Path::to_path_buf).or_else(default_elf) {
        Some(p) if p.is_file() => p,
        other => {
            return Err(usage(format!(
                "--elf {}: the program is not built there; build it with scripts/build-program.sh \
                 (or set INFRA_PROGRAM_ELF)",
                other.map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".into())
            )));
        }
    };
    let elf = std::fs::read(&elf_path)
        .map_err(|e| usage(format!("--elf {}: {e}", elf_path.display())))?;
    let hash = keccak256(&elf).to_string();
    if committed_elf_hash() != Some(hash.as_str()) {
        return Err(usage(format!(
            "--elf {}: keccak256 {hash} is not the committed program's ({}, program/PRESTATE)",
            elf_path.display(),
            committed_elf_hash().unwrap_or("unknown")
        )));
    }
    let store = infra_storage::Store::open(&db)
        .map_err(|e| usage(format!("--datadir {}: {e}", datadir.display())))?;
    let prepared = Instant::now();
    let w = match witness(&store, batch) {
        Ok(w) => w,
        Err(e @ WitnessError::NoBatch { .. }) => {
            return Err(usage(format!("--batch {batch}: {e}")));
        }
        Err(e) => return Err(Failure::Runtime(eyre::eyre!(e))),
    };
    let host_time = prepared.elapsed();
    drop(store);
    let mut preimages = Preimages::default();
    let count = w.preimages.len();
    for (k, v) in w.preimages {
        preimages.insert(k, v);
    }
    let mut vm = Vm::from_elf(&elf, preimages)
        .map_err(|e| usage(format!("--elf {}: {e}", elf_path.display())))?;
    if let Some(k) = step {
        vm.snapshot_every = 1 << 22;
        vm.seek(k).map_err(|e| Failure::Runtime(eyre::eyre!(e)))?;
        let state = vm.state();
        if state.steps < k {
            // (Step `steps` exists: an exited machine is a fixed point.)
            return Err(usage(format!(
                "--step {k}: the program exits after {} steps (0..={})",
                state.steps, state.steps
            )));
        }
        let proof = vm.prove_step().map_err(|e| Failure::Runtime(eyre::eyre!(e)))?;
        let json = serde_json::json!({
            "batch": batch,
            "step": k,
            "state": {
                "hash": state.hash(),
                "status": state.status(),
                "pc": format!("{:#x}", state.pc),
                "memRoot": state.mem_root,
                "preimageKey": state.preimage_key,
                "preimageOffset": state.preimage_offset,
                "exited": state.exited,
                "exitCode": state.exit_code,
                "steps": state.steps,
                "registers": state.regs.iter().map(|r| format!("{r:#x}")).collect::<Vec<_>>(),
                "encoded": alloy::primitives::hex::encode_prefixed(state.encode()),
            },
            "proof": proof,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| Failure::Runtime(e.into()))?
        );
        return Ok(0);
    }
    vm.snapshot_every = 0;
    let start = Instant::now();
    let end = vm.run_to(u64::MAX).map_err(|e| Failure::Runtime(eyre::eyre!(e)))?;
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&vm.output).to_string();
    let data = match &w.data {
        BatchData::Calldata(d) => format!("{} bytes of calldata", d.len()),
        BatchData::Blobs(b) => format!("{} blob{}", b.len(), if b.len() == 1 { "" } else { "s" }),
    };
    println!(
        "batch {batch}: blocks {}..={}, data in {data} (commitment {})",
        w.applied.headers.first().map_or(w.pre.block_number + 1, |h| h.number),
        w.claimed.block_number,
        w.data.commitment()
    );
    println!("pre-output:      {}", show(&w.pre));
    println!("claimed on L1:   {}", show(&w.claimed));
    println!("node's output:   {}", show(&w.derived));
    let computed = reported_output(&text);
    match &computed {
        Some(o) => println!("program (VM):    {}", show(o)),
        None => println!("program (VM):    no output ({})", text.trim()),
    }
    if let Some(why) = text.lines().find_map(|l| l.strip_prefix("invalid ")) {
        println!("the batch is invalid: {why}");
    }
    println!(
        "instructions: {}; VM time {:.3} s ({:.1} M instructions/s); {count} preimages prepared in {:.3} s",
        end.steps,
        took.as_secs_f64(),
        end.steps as f64 / took.as_secs_f64().max(1e-9) / 1e6,
        host_time.as_secs_f64()
    );
    println!(
        "exit code {} (claim on L1 {})",
        end.exit.map_or("none".into(), |c| c.to_string()),
        match end.exit {
            Some(0) => "holds",
            Some(1) => "is wrong",
            _ => "undecided",
        }
    );
    let matches = computed == Some(w.derived) && end.exit.is_some_and(|c| c <= 1);
    println!("output matches the node: {}", if matches { "yes" } else { "no" });
    Ok(if matches { 0 } else { 1 })
}
