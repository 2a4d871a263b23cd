//! Bad command lines and config files: the binary exits with code 2 before
//! starting anything, naming the field and what it accepts.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_infra-node");

/// Runs the binary; returns (exit code, stderr).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(args)
        .env("INFRA_DATADIR", dir.path())
        .env_remove("INFRA_L1_RPC")
        .env_remove("INFRA_DEPLOYMENT")
        .env_remove("INFRA_L1_GAME_KEY")
        .output()
        .expect("run infra-node");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn refused(args: &[&str], says: &[&str]) {
    let (code, err) = run(args);
    assert_eq!(code, Some(2), "{args:?} exits with 2; stderr: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: stderr names {s:?}: {err}");
    }
}

#[test]
fn bad_flags_exit_2_naming_the_field() {
    refused(&["--role", "banana"], &["--role", "sequencer", "validator", "prover"]);
    refused(&["--role", "validator"], &["--genesis", "--role validator"]);
    let genesis = concat!(env!("CARGO_MANIFEST_DIR"), "/../../genesis/dev.json");
    refused(
        &["--role", "validator", "--genesis", genesis],
        &["--l1.rpc", "required for --role validator"],
    );
    refused(
        &["--role", "validator", "--genesis", genesis, "--l1.rpc", "http://127.0.0.1:1"],
        &["--deployment", "required for --role validator"],
    );
    refused(
        &["--role", "validator", "--dev"],
        &["--dev runs a sequencer", "--role validator --genesis"],
    );
    refused(&["--dev", "--p2p.listen", "nonsense"], &["p2p.listen = \"nonsense\"", "multiaddr"]);
    refused(&["--dev", "--p2p.bootnode", "127.0.0.1:1"], &["p2p.bootnode", "multiaddr"]);
    refused(&["--dev", "--sequencer.key", "0x01zz"], &["--sequencer.key is not a private key"]);
    refused(
        &["--genesis", genesis, "--p2p.listen", "/ip4/127.0.0.1/tcp/0"],
        &["--sequencer.key", "required for a sequencer on the network"],
    );
    refused(&["--dev", "--sequencer.test-faulty-root-every", "0"], &["test-faulty-root-every = 0"]);
    for flag in ["--sequencer.test-forge-withdrawals", "--sequencer.test-lying-defence"] {
        refused(&["--dev", flag], &[flag, "needs --sequencer.test-faulty-root-every"]);
    }
    refused(&["--role", "prover"], &["--l1.rpc", "required for --role prover"]);
    refused(
        &[
            "--role",
            "prover",
            "--l1.rpc",
            "http://127.0.0.1:1",
            "--deployment",
            "d.json",
            "--l1.key",
            "0x01",
        ],
        &["--prover.sequencer-rpc", "required for --role prover"],
    );
    refused(&["--dev", "--l1.poll-ms", "10"], &["l1.poll_ms = 10", "50..=60000"]);
    refused(&["--dev", "--l1.confirmations", "5000"], &["l1.confirmations = 5000", "0..=1000"]);
    refused(&["--dev", "--l1.max-fee-gwei=0"], &["l1.max_fee_gwei = 0", "gwei"]);
    refused(&["--dev", "--l1.max-blob-fee-gwei=-1"], &["l1.max_blob_fee_gwei = -1"]);
    refused(
        &["--dev", "--batch.da", "carrier-pigeon"],
        &["--batch.da", "calldata", "blob", "auto"],
    );
    refused(
        &["--dev", "--l1.rpc", "http://127.0.0.1:1"],
        &["--l1.rpc and --deployment go together"],
    );
    refused(&["--role", "sequencer"], &["--genesis"]);
    refused(&["--dev", "--l1.game-key", "0x01zz"], &["--l1.game-key is not a private key"]);
    refused(
        &["--genesis", genesis, "--l1.game-key", "0x01"],
        &["--l1.game-key", "with --l1.rpc or --dev"],
    );
    refused(
        &[
            "--role",
            "validator",
            "--genesis",
            genesis,
            "--l1.rpc",
            "http://127.0.0.1:1",
            "--deployment",
            "d.json",
            "--l1.game-key",
            "0x01",
        ],
        &["--l1.game-key", "a validator plays with --l1.key"],
    );
}

#[test]
fn bad_config_files_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write config");
        p.to_string_lossy().into_owned()
    };
    let unknown = write("unknown.toml", "[batch]\nmax_latency_ms = 1\n");
    refused(&["--dev", "--config", &unknown], &["unknown field `batch`", "chain"]);
    let zero = write("zero.toml", "[chain.batch]\nmax_latency_ms = 0\n");
    refused(&["--dev", "--config", &zero], &["batch.max_latency_ms = 0"]);
    refused(&["--dev", "--config", "/nonexistent/infra.toml"], &["/nonexistent/infra.toml"]);
    let other = write("other.toml", "[chain]\nchain_id = 99\n");
    refused(
        &["--dev", "--config", &other, "--sequencer.test-faulty-root-every", "2"],
        &["--sequencer.test-faulty-root-every", "dev chain id 13370", "this chain: 99"],
    );
    // The state history: archive or a positive number of blocks.
    for bad in ["0", "forever"] {
        refused(
            &["--dev", "--state.history", bad],
            &["state.history", "\"archive\" or a number of blocks"],
        );
    }
    let history = write("history.toml", "[state]\nhistory = 0\n");
    refused(&["--dev", "--config", &history], &["state.history = \"0\""]);
    // The pool's limits and lifetime.
    refused(&["--dev", "--mempool.max-queued", "0"], &["mempool.max_queued = 0", "at least 1"]);
    for bad in ["0", "5x", "h"] {
        refused(
            &["--dev", "--mempool.queued-lifetime", bad],
            &["mempool.queued_lifetime", "90s, 30m, 3h"],
        );
    }
    let pool = write("pool.toml", "[mempool]\nmax_total = 5\n");
    refused(&["--dev", "--config", &pool], &["max_total", "max_queued"]);
    // Proof backends that cannot run here are refused at start, never run on
    // something else: a binary without the `cuda` feature, or a machine without
    // an NVIDIA driver, says which. (Where a GPU is, cuda.rs runs the backend.)
    let cuda =
        write("cuda.toml", "[chain]\nsettlement = \"zk\"\n[chain.proof]\nbackend = \"cuda\"\n");
    let why = if !cfg!(feature = "cuda") {
        Some("built without the `cuda` feature")
    } else if !infra_prover::cuda_driver_present() {
        Some("no NVIDIA driver on this machine")
    } else {
        None
    };
    if let Some(why) = why {
        refused(
            &["--dev", "--config", &cuda, "--rpc.port", "0", "--p2p.disable"],
            &["proof.backend = \"cuda\"", why, "proof.backend = \"cpu\""],
        );
    }
    let plonk =
        write("plonk.toml", "[chain]\nsettlement = \"zk\"\n[chain.proof]\nsystem = \"plonk\"\n");
    let out = dir.path().join("k.pk");
    refused(
        &["prover-setup", "--config", &plonk, "--out", &out.to_string_lossy()],
        &["proof.system = \"plonk\"", "powers-of-tau"],
    );
    let plonk_bls = write(
        "plonk-bls.toml",
        "[chain]\nsettlement = \"zk\"\n[chain.proof]\nsystem = \"plonk\"\ncurve = \"bls12-381\"\n",
    );
    refused(
        &["--dev", "--config", &plonk_bls, "--rpc.port", "0", "--p2p.disable"],
        &["proof.curve = bls12-381", "must be \"bn254\" when proof.system = \"plonk\""],
    );
}
