use crate::{
    BlockContext, DbError, ExecConfig, InspectContext, SourceDb, SourceError, StateSource,
};
use alloy::{
    primitives::{Address, Bytes, TxKind, U256},
    rpc::types::TransactionRequest,
    sol_types::{Revert, SolError},
};
use revm::{
    Context, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
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

/// The EVM context and transaction of a call: nonce checks off, and the base
/// fee too when the request sets no price (as `eth_call` does on geth).
fn setup<'a, S: StateSource + ?Sized>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    gas_limit: u64,
) -> Result<(InspectContext<'a, S>, TxEnv), CallError> {
    let from = req.from.unwrap_or_default();
    let nonce = source.account(from)?.map(|a| a.nonce).unwrap_or_default();
    let free =
        req.gas_price.unwrap_or_default() == 0 && req.max_fee_per_gas.unwrap_or_default() == 0;
    let mut cfg_env = cfg.cfg_env();
    cfg_env.disable_nonce_check = true;
    if free {
        cfg_env.disable_base_fee = true;
    }
    let ctx = Context::mainnet()
        .with_db(CacheDB::new(SourceDb(source)))
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
) -> Result<ExecutionResult, CallError> {
    let (ctx, env) = setup(source, cfg, block, req, gas_limit)?;
    evm_result(ctx.build_mainnet().transact(env)).map(|r| r.result)
}

/// Runs `req` like [`call`] (nothing committed) under `inspector` (a tracer, an
/// access-list collector); returns the EVM's result and the inspector.
pub fn inspect_call<'a, S, I>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
    inspector: I,
) -> Result<(ExecutionResult, I), CallError>
where
    S: StateSource + ?Sized,
    I: Inspector<InspectContext<'a, S>>,
{
    let gas = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    let (ctx, env) = setup(source, cfg, block, req, gas)?;
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

/// `eth_call`: runs `req` on `source` without committing anything.
pub fn call<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
) -> Result<CallOutcome, CallError> {
    let gas = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    outcome(run(source, cfg, block, req, gas)?)
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

/// `eth_estimateGas`: the smallest gas limit with which `req` succeeds, found by
/// binary search between the gas it used and the allowance.
pub fn estimate_gas<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    req: &TransactionRequest,
) -> Result<u64, CallError> {
    let mut hi = req.gas.unwrap_or_else(|| default_gas(block)).min(default_gas(block));
    // With a fee set, the sender's balance bounds the gas it can pay for.
    let price = req.max_fee_per_gas.or(req.gas_price).unwrap_or_default();
    if price > 0 {
        let from: Address = req.from.unwrap_or_default();
        let balance = source.account(from)?.map(|a| a.balance).unwrap_or_default();
        let available = balance.saturating_sub(req.value.unwrap_or_default());
        let affordable = available / U256::from(price);
        hi = hi.min(u64::try_from(affordable).unwrap_or(u64::MAX));
    }
    let first = run(source, cfg, block, req, hi)?;
    let used = match first {
        ExecutionResult::Success { .. } => first.tx_gas_used(),
        ExecutionResult::Revert { .. } => return outcome(first).map(|_| 0),
        ExecutionResult::Halt { .. } => return Err(CallError::GasExceedsAllowance(hi)),
    };
    let mut lo = used.saturating_sub(1).max(20_999);
    // Most calls succeed with what they used plus the 63/64 reserve: try that first.
    let guess = used.saturating_mul(64) / 63 + 2_300;
    if guess < hi && matches!(run(source, cfg, block, req, guess)?, ExecutionResult::Success { .. })
    {
        hi = guess;
    }
    while lo.saturating_add(1) < hi {
        let mid = lo + (hi - lo) / 2;
        match run(source, cfg, block, req, mid) {
            Ok(ExecutionResult::Success { .. }) => hi = mid,
            Ok(_) | Err(CallError::Invalid(_)) => lo = mid,
            Err(e) => return Err(e),
        }
    }
    Ok(hi)
}
