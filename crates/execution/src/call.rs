use crate::{
    BlockContext, DbError, ExecConfig, InspectContext, SourceDb, SourceError, StateSource,
};
use alloy::{
    primitives::{Address, Bytes, TxKind, U256},
    rpc::types::{TransactionRequest, state::StateOverride},
    sol_types::{Revert, SolError},
};
use revm::{
    Context, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::TxEnv,
    context_interface::result::{EVMError, ExecutionResult},
    database::CacheDB,
};

/// The largest gas limit of one transaction (EIP-7825, active since Osaka).
pub const TX_GAS_LIMIT_CAP: u64 = 1 << 24;

pub type CallRequest = TransactionRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub output: Bytes,
    pub gas_used: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `reason` is the decoded `Error(string)` if there is one.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted { output: Bytes, reason: Option<String> },
    #[error("{0}")]
    Halted(String),
    /// The transaction itself is invalid (insufficient funds, fee too low...).
    #[error("{0}")]
    Invalid(String),
    /// A state override the node cannot apply (invalid params).
    #[error("{0}")]
    Override(String),
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
    #[error(transparent)]
    State(#[from] SourceError),
    #[error("evm: {0}")]
    Evm(String),
}

fn call_env(cfg: &ExecConfig, req: &TransactionRequest, gas_limit: u64, nonce: u64) -> TxEnv {
    let dynamic = req.max_fee_per_gas.is_some() || req.max_priority_fee_per_gas.is_some();
    let (tx_type, gas_price, tip) = if dynamic {
        (
            2u8,
            req.max_fee_per_gas.unwrap_or_default(),
            Some(req.max_priority_fee_per_gas.unwrap_or_default()),
        )
    } else if req.access_list.is_some() {
        (1, req.gas_price.unwrap_or_default(), None)
    } else {
        (0, req.gas_price.unwrap_or_default(), None)
    };
    // EIP-4844: the blob hashes `BLOBHASH` reads (the blobs themselves never
    // reach the EVM).
    let blob_hashes = req.blob_versioned_hashes.clone().unwrap_or_default();
    let (tx_type, tip) = if blob_hashes.is_empty() { (tx_type, tip) } else { (3, tip.or(Some(0))) };
    TxEnv {
        tx_type,
        blob_hashes,
        max_fee_per_blob_gas: req.max_fee_per_blob_gas.unwrap_or(1),
        caller: req.from.unwrap_or_default(),
        gas_limit,
        gas_price,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: req.input.input().cloned().unwrap_or_default(),
        nonce,
        chain_id: Some(cfg.chain_id),
        access_list: req.access_list.clone().unwrap_or_default(),
        gas_priority_fee: tip,
        ..Default::default()
    }
}

/// Applies `eth_call`'s state overrides (geth's set: per account `balance`,
/// `nonce`, `code`, and `state`, which replaces the whole storage, or
/// `stateDiff`, which sets single slots) to the call's state; nothing reaches
/// the source.
fn apply_overrides<S: StateSource + ?Sized>(
    db: &mut CacheDB<SourceDb<'_, S>>,
    overrides: &StateOverride,
) -> Result<(), CallError> {
    for (address, o) in overrides {
        if o.state.is_some() && o.state_diff.is_some() {
            return Err(CallError::Override(format!(
                "account {address} has both 'state' and 'stateDiff'"
            )));
        }
        if o.move_precompile_to.is_some() {
            return Err(CallError::Override("movePrecompileToAddress is not supported".into()));
        }
        let mut info = db.load_account(*address).map_err(db_error)?.info.clone();
        if let Some(balance) = o.balance {
            info.balance = balance;
        }
        if let Some(nonce) = o.nonce {
            info.nonce = nonce;
        }
        if let Some(code) = &o.code {
            // (Checked: bytes that start like an EIP-7702 delegation but are
            // not one are refused, not a panic.)
            let code = Bytecode::new_raw_checked(code.clone()).map_err(|e| {
                CallError::Override(format!("account {address}: invalid code: {e}"))
            })?;
            info.code_hash = code.hash_slow();
            info.code = Some(code);
        }
        db.insert_account_info(*address, info);
        let word = |b: &alloy::primitives::B256| U256::from_be_bytes(b.0);
        if let Some(state) = &o.state {
            let storage = state.iter().map(|(k, v)| (word(k), word(v))).collect();
            db.replace_account_storage(*address, storage).map_err(db_error)?;
        }
        for (k, v) in o.state_diff.iter().flatten() {
            db.insert_account_storage(*address, word(k), word(v)).map_err(db_error)?;
        }
    }
    Ok(())
}

fn db_error(e: DbError) -> CallError {
    CallError::State(e.0)
}

/// The state a call runs on: `source`, under `overrides` if any.
fn call_db<'a, S: StateSource + ?Sized>(
    source: &'a S,
    overrides: Option<&StateOverride>,
) -> Result<CacheDB<SourceDb<'a, S>>, CallError> {
    let mut db = CacheDB::new(SourceDb(source));
    if let Some(o) = overrides {
        apply_overrides(&mut db, o)?;
    }
    Ok(db)
}

/// The EVM context and transaction of a call: nonce checks off, and the base
/// fee too when the request sets no price (as `eth_call` does on geth).
fn setup<'a, S: StateSource + ?Sized>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    gas_limit: u64,
    overrides: Option<&StateOverride>,
) -> Result<(InspectContext<'a, S>, TxEnv), CallError> {
    let from = req.from.unwrap_or_default();
    let mut db = call_db(source, overrides)?;
    let nonce = db.load_account(from).map_err(db_error)?.info.nonce;
    let free =
        req.gas_price.unwrap_or_default() == 0 && req.max_fee_per_gas.unwrap_or_default() == 0;
    let mut cfg_env = cfg.cfg_env();
    cfg_env.disable_nonce_check = true;
    if free {
        cfg_env.disable_base_fee = true;
    }
    let ctx = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg_env)
        .with_block(block.block_env(cfg.fee_recipient));
    Ok((ctx, call_env(cfg, req, gas_limit, nonce)))
}

fn evm_result<T>(r: Result<T, EVMError<DbError>>) -> Result<T, CallError> {
    match r {
        Ok(res) => Ok(res),
        Err(EVMError::Transaction(e)) => {
            Err(CallError::Invalid(crate::call::invalid_message(&e.to_string())))
        }
        Err(EVMError::Database(e)) => Err(CallError::State(e.0)),
        Err(e) => Err(CallError::Evm(e.to_string())),
    }
}

fn run<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    gas_limit: u64,
    overrides: Option<&StateOverride>,
) -> Result<ExecutionResult, CallError> {
    let (ctx, env) = setup(source, cfg, block, req, gas_limit, overrides)?;
    evm_result(ctx.build_mainnet().transact(env)).map(|r| r.result)
}

/// Runs `req` like [`call`] (nothing committed, with `overrides` if any) under
/// `inspector` (a tracer, an access-list collector); returns the EVM's result
/// and the inspector.
pub fn inspect_call<'a, S, I>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    overrides: Option<&StateOverride>,
    inspector: I,
) -> Result<(ExecutionResult, I), CallError>
where
    S: StateSource + ?Sized,
    I: Inspector<InspectContext<'a, S>>,
{
    let gas = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    let (ctx, env) = setup(source, cfg, block, req, gas, overrides)?;
    let mut evm = ctx.build_mainnet_with_inspector(inspector);
    let result = evm_result(evm.inspect_tx(env))?.result;
    Ok((result, evm.inspector))
}

/// Maps revm's wording to the messages wallets know, where one exists.
pub(crate) fn invalid_message(revm: &str) -> String {
    if revm.contains("lack of funds") {
        "insufficient funds for gas * price + value".into()
    } else {
        revm.into()
    }
}

fn default_gas(block: &BlockContext) -> u64 {
    block.gas_limit.min(TX_GAS_LIMIT_CAP)
}

/// `eth_call`: runs `req` on `source` without committing anything, with the
/// state overrides `overrides` (see [`apply_overrides`]) if any.
pub fn call<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    overrides: Option<&StateOverride>,
) -> Result<CallOutcome, CallError> {
    let gas = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    outcome(run(source, cfg, block, req, gas, overrides)?)
}

fn outcome(result: ExecutionResult) -> Result<CallOutcome, CallError> {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => {
            Ok(CallOutcome { output: output.into_data(), gas_used })
        }
        ExecutionResult::Revert { output, .. } => {
            let reason = Revert::abi_decode(&output).ok().map(|r| r.reason);
            Err(CallError::Reverted { output, reason })
        }
        ExecutionResult::Halt { reason, .. } => {
            Err(CallError::Halted(halt_message(&format!("{reason:?}"))))
        }
    }
}

fn halt_message(debug: &str) -> String {
    if debug.contains("OutOfGas") {
        "out of gas".into()
    } else {
        format!("execution halted: {debug}")
    }
}

/// `eth_estimateGas`: the smallest gas limit with which `req` succeeds (under
/// `overrides`, as [`call`]), found by binary search between the gas it used
/// and the allowance.
pub fn estimate_gas<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    overrides: Option<&StateOverride>,
) -> Result<u64, CallError> {
    let mut hi = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    // With a fee set, the sender's balance bounds the gas it can pay for.
    let price = req.max_fee_per_gas.or(req.gas_price).unwrap_or_default();
    if price > 0 {
        let from: Address = req.from.unwrap_or_default();
        let balance =
            call_db(source, overrides)?.load_account(from).map_err(db_error)?.info.balance;
        let available = balance.saturating_sub(req.value.unwrap_or_default());
        let affordable = available / U256::from(price);
        hi = hi.min(u64::try_from(affordable).unwrap_or(u64::MAX));
    }
    let first = run(source, cfg, block, req, hi, overrides)?;
    let used = match first {
        ExecutionResult::Success { .. } => first.tx_gas_used(),
        ExecutionResult::Revert { .. } => return outcome(first).map(|_| 0),
        ExecutionResult::Halt { .. } => return Err(CallError::GasExceedsAllowance(hi)),
    };
    let mut lo = used.saturating_sub(1).max(20_999);
    // Most calls succeed with what they used plus the 63/64 reserve: try that first.
    let guess = used.saturating_mul(64) / 63 + 2_300;
    if guess < hi
        && matches!(
            run(source, cfg, block, req, guess, overrides)?,
            ExecutionResult::Success { .. }
        )
    {
        hi = guess;
    }
    while lo.saturating_add(1) < hi {
        let mid = lo + (hi - lo) / 2;
        match run(source, cfg, block, req, mid, overrides) {
            Ok(ExecutionResult::Success { .. }) => hi = mid,
            Ok(_) | Err(CallError::Invalid(_)) => lo = mid,
            Err(e) => return Err(e),
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;
    use alloy::{
        primitives::{B256, address},
        rpc::types::state::AccountOverride,
    };

    /// Runtime code returning `(SLOAD(0), SELFBALANCE)`.
    const PROBE: [u8; 15] =
        [0x60, 0, 0x54, 0x60, 0, 0x52, 0x47, 0x60, 0x20, 0x52, 0x60, 0x40, 0x60, 0, 0xf3];
    const AT: Address = address!("0x00000000000000000000000000000000000000aa");
    const POOR: Address = address!("0x00000000000000000000000000000000000000bb");

    fn env() -> (ExecConfig, BlockContext) {
        let cfg = ExecConfig { chain_id: 13370, fee_recipient: Address::ZERO };
        let block = BlockContext {
            number: 1,
            timestamp: 1,
            gas_limit: 30_000_000,
            base_fee: 1,
            parent_hash: B256::ZERO,
            prevrandao: B256::ZERO,
        };
        (cfg, block)
    }

    fn probe(source: &MemorySource, overrides: Option<&StateOverride>) -> (U256, U256) {
        let (cfg, block) = env();
        let req = TransactionRequest { to: Some(TxKind::Call(AT)), ..Default::default() };
        let out = call(source, &cfg, &block, &req, overrides).expect("the probe runs").output;
        (U256::from_be_slice(&out[..32]), U256::from_be_slice(&out[32..]))
    }

    fn slot(n: u64) -> B256 {
        B256::from(U256::from(n))
    }

    #[test]
    fn state_overrides_change_only_the_call() {
        let mut source = MemorySource::default();
        source.insert_account(AT, 1, U256::from(5), Some(PROBE.to_vec().into()));
        source.storage.insert((AT, U256::ZERO), U256::from(7));
        source.storage.insert((AT, U256::from(1)), U256::from(8));
        assert_eq!(probe(&source, None), (U256::from(7), U256::from(5)));

        // stateDiff sets one slot and keeps the others; balance replaces.
        let diff = AccountOverride {
            balance: Some(U256::from(99)),
            state_diff: Some([(slot(0), slot(42))].into_iter().collect()),
            ..Default::default()
        };
        let o: StateOverride = [(AT, diff)].into_iter().collect();
        assert_eq!(probe(&source, Some(&o)), (U256::from(42), U256::from(99)));

        // state replaces the whole storage: slot 0 is not in it, so reads 0.
        let full = AccountOverride {
            state: Some([(slot(1), slot(3))].into_iter().collect()),
            ..Default::default()
        };
        let o: StateOverride = [(AT, full)].into_iter().collect();
        assert_eq!(probe(&source, Some(&o)), (U256::ZERO, U256::from(5)));

        // Code at an address that has none.
        let other = address!("0x00000000000000000000000000000000000000cc");
        let code = AccountOverride { code: Some(PROBE.to_vec().into()), ..Default::default() };
        let o: StateOverride = [(other, code)].into_iter().collect();
        let (cfg, block) = env();
        let req = TransactionRequest { to: Some(TxKind::Call(other)), ..Default::default() };
        let out = call(&source, &cfg, &block, &req, Some(&o)).expect("runs").output;
        assert_eq!(out.len(), 64, "the overriding code ran");
        let out = call(&source, &cfg, &block, &req, None).expect("runs").output;
        assert!(out.is_empty(), "without the override the address has no code");

        // Nothing reached the source.
        assert_eq!(probe(&source, None), (U256::from(7), U256::from(5)));
    }

    #[test]
    fn a_balance_override_pays_for_a_call_and_its_gas_estimate() {
        let source = MemorySource::default();
        let (cfg, block) = env();
        let req = TransactionRequest {
            from: Some(POOR),
            to: Some(TxKind::Call(AT)),
            value: Some(U256::from(10u64.pow(18))),
            max_fee_per_gas: Some(2),
            ..Default::default()
        };
        let err = call(&source, &cfg, &block, &req, None).expect_err("no funds");
        assert!(err.to_string().contains("insufficient funds"), "{err}");
        let rich =
            AccountOverride { balance: Some(U256::from(10u64.pow(19))), ..Default::default() };
        let o: StateOverride = [(POOR, rich)].into_iter().collect();
        call(&source, &cfg, &block, &req, Some(&o)).expect("paid by the override");
        assert_eq!(estimate_gas(&source, &cfg, &block, &req, Some(&o)).expect("estimated"), 21_000);
        // The overridden nonce is the call's (a contract it creates gets the
        // address for that nonce).
        let nonce = AccountOverride { nonce: Some(9), ..Default::default() };
        let o: StateOverride = [(POOR, nonce)].into_iter().collect();
        let create = TransactionRequest {
            from: Some(POOR),
            to: Some(TxKind::Create),
            input: Bytes::from_static(&[0x30, 0x60, 0, 0x52, 0x60, 0x14, 0x60, 0x0c, 0xf3]).into(),
            ..Default::default()
        };
        let out = call(&source, &cfg, &block, &create, Some(&o)).expect("created").output;
        assert_eq!(out.as_ref(), POOR.create(9).as_slice(), "ADDRESS in the constructor");
    }

    #[test]
    fn overrides_the_node_cannot_apply_are_refused() {
        let source = MemorySource::default();
        let (cfg, block) = env();
        let req = TransactionRequest { to: Some(TxKind::Call(AT)), ..Default::default() };
        let both = AccountOverride {
            state: Some(Default::default()),
            state_diff: Some(Default::default()),
            ..Default::default()
        };
        let o: StateOverride = [(AT, both)].into_iter().collect();
        let err = call(&source, &cfg, &block, &req, Some(&o)).expect_err("refused");
        assert!(matches!(err, CallError::Override(_)), "{err}");
        // Bytes that start like an EIP-7702 delegation but are not one.
        let bad_code =
            AccountOverride { code: Some(Bytes::from_static(&[0xef, 0x01])), ..Default::default() };
        let o: StateOverride = [(AT, bad_code)].into_iter().collect();
        let err = call(&source, &cfg, &block, &req, Some(&o)).expect_err("refused");
        assert!(matches!(err, CallError::Override(_)), "{err}");
        let moved = AccountOverride { move_precompile_to: Some(POOR), ..Default::default() };
        let o: StateOverride = [(AT, moved)].into_iter().collect();
        let err = call(&source, &cfg, &block, &req, Some(&o)).expect_err("refused");
        assert!(matches!(err, CallError::Override(_)), "{err}");
    }
}
