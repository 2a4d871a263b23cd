//! The dev genesis carries the L2 predeploys exactly as compiled.

use infra_config::{DEV_GENESIS_JSON, parse_genesis};
use infra_l1::{L2_WITHDRAWALS, L2Withdrawals};

#[test]
fn dev_genesis_holds_the_withdrawals_predeploy_from_the_artifact() {
    let genesis = parse_genesis(DEV_GENESIS_JSON, "genesis/dev.json").expect("dev genesis");
    let account = genesis.alloc.get(&L2_WITHDRAWALS).expect("predeploy in genesis/dev.json");
    assert_eq!(
        account.code.as_ref(),
        Some(&L2Withdrawals::DEPLOYED_BYTECODE),
        "genesis/dev.json code at {L2_WITHDRAWALS} differs from contracts/artifacts/L2Withdrawals.json: \
         update the genesis and its roots (infra-node genesis-root)"
    );
}
