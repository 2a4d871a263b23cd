//! `debug_traceTransaction`, `debug_traceCall` (geth's call tracer and struct
//! logger, from revm-inspectors) and `eth_createAccessList`.

use crate::eth::{RpcContext, RpcResult, call_error, err, internal, invalid_params};
use alloy::{
    eips::BlockId,
    primitives::B256,
    rpc::types::{
        AccessList, AccessListResult, TransactionRequest,
        trace::geth::{
            CallConfig, GethDebugBuiltInTracerType, GethDebugTracerType,
            GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, NoopFrame,
        },
    },
};
use infra_execution::{
    BlockContext, ExecConfig, inspect_call,
    revm::{context_interface::result::ExecutionResult, inspector::NoOpInspector},
    trace_block_tx,
};
use infra_storage::PastState;
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{TracingInspector, TracingInspectorConfig},
};

/// How far behind the head a traced transaction may be: tracing rebuilds the
/// parent's state from the change sets of every block since.
pub const MAX_TRACE_DEPTH: u64 = 10_000;

/// What the caller asked to trace with.
enum Tracer {
    Call(CallConfig),
    Struct(alloy::rpc::types::trace::geth::GethDefaultTracingOptions),
    Noop,
}

fn tracer(opts: &GethDebugTracingOptions) -> RpcResult<Tracer> {
    match &opts.tracer {
        None => Ok(Tracer::Struct(opts.config)),
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => {
            let cfg = opts
                .tracer_config
                .clone()
                .into_call_config()
                .map_err(|e| invalid_params(format!("callTracer config: {e}")))?;
            Ok(Tracer::Call(cfg))
        }
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::NoopTracer)) => {
            Ok(Tracer::Noop)
        }
        Some(other) => Err(err(
            -32602,
            format!(
                "tracer {other:?} is not supported; supported: the default struct logger, \"callTracer\", \"noopTracer\""
            ),
        )),
    }
}

fn inspector_for(t: &Tracer) -> TracingInspector {
    match t {
        Tracer::Call(_) => TracingInspector::new(TracingInspectorConfig::from_geth_call_config(
            &CallConfig::default().with_log(),
        )),
        Tracer::Struct(o) => TracingInspector::new(TracingInspectorConfig::from_geth_config(o)),
        Tracer::Noop => TracingInspector::new(TracingInspectorConfig::none()),
    }
}

fn build(t: Tracer, inspector: TracingInspector, result: &ExecutionResult) -> GethTrace {
    let gas_used = result.tx_gas_used();
    match t {
        Tracer::Call(cfg) => inspector
            .with_transaction_gas_used(gas_used)
            .geth_builder()
            .geth_call_traces(cfg, gas_used)
            .into(),
        Tracer::Struct(o) => {
            let output = result.output().cloned().unwrap_or_default();
            inspector.geth_builder().geth_traces(gas_used, output, o).into()
        }
        Tracer::Noop => GethTrace::NoopTracer(NoopFrame::default()),
    }
}

impl RpcContext {
    /// `debug_traceTransaction`: replays the transaction's block on its parent's
    /// state up to it, then runs it under the tracer.
    pub fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let opts = opts.unwrap_or_default();
        let t = tracer(&opts)?;
        let r = self.reader()?;
        let loc = r
            .tx_location(hash)
            .map_err(internal)?
            .ok_or_else(|| err(-32000, format!("transaction {hash} not found")))?;
        let block = r
            .block(loc.block_number)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("missing block {}", loc.block_number)))?;
        let index = (loc.index as usize).checked_sub(block.deposits.len()).ok_or_else(|| {
            err(-32000, "tracing an L1 deposit is not supported: trace its L1 transaction")
        })?;
        let parent = block
            .number()
            .checked_sub(1)
            .ok_or_else(|| err(-32000, "genesis has no transactions"))?;
        let head = self.head(&r)?;
        if head - parent > MAX_TRACE_DEPTH {
            return Err(err(
                -32000,
                format!(
                    "block {} is {} blocks behind the head: this node replays at most {MAX_TRACE_DEPTH} blocks of history to trace",
                    block.number(),
                    head - block.number()
                ),
            ));
        }
        let past = PastState::after(&r, parent).map_err(|e| {
            err(-32000, format!("the state before block {} is not available: {e}", block.number()))
        })?;
        let ctx = BlockContext {
            number: block.number(),
            timestamp: block.header.timestamp,
            gas_limit: block.header.gas_limit,
            base_fee: block.header.base_fee_per_gas.unwrap_or_default(),
            parent_hash: block.header.parent_hash,
            prevrandao: block.header.mix_hash,
        };
        let txs = block.transactions.iter().cloned().zip(block.senders.iter().copied());
        let inspector = inspector_for(&t);
        // The fees went where the block says.
        let cfg = ExecConfig { fee_recipient: block.header.beneficiary, ..self.exec_config() };
        let (result, inspector) =
            trace_block_tx(&past, &cfg, &ctx, &block.deposits, txs, index, inspector)
                .map_err(internal)?;
        Ok(build(t, inspector, &result))
    }

    /// `debug_traceCall`: runs `req` at `id` under the tracer, with geth's
    /// `stateOverrides` if given (`blockOverrides` and `txIndex` are refused,
    /// never ignored).
    pub fn trace_call(
        &self,
        req: TransactionRequest,
        id: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let opts = opts.unwrap_or_default();
        if opts.block_overrides.is_some() {
            return Err(invalid_params("block overrides are not supported"));
        }
        if opts.tx_index.is_some() {
            return Err(invalid_params("txIndex is not supported"));
        }
        let overrides = opts.state_overrides;
        let opts = opts.tracing_options;
        let t = tracer(&opts)?;
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        let ctx = self.call_block(&r, &state)?;
        let inspector = inspector_for(&t);
        let (result, inspector) =
            inspect_call(&state, &self.exec_config(), &ctx, &req, overrides.as_ref(), inspector)
                .map_err(call_error)?;
        Ok(build(t, inspector, &result))
    }

    /// `eth_createAccessList`: the addresses and slots `req` touches (the sender,
    /// the recipient and precompiles only for the slots they use, as geth does),
    /// and the gas it uses with that list.
    pub fn create_access_list(
        &self,
        mut req: TransactionRequest,
        id: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        let ctx = self.call_block(&r, &state)?;
        let cfg = self.exec_config();
        let initial = req.access_list.clone().unwrap_or_default();
        // The list changes what the call costs, never what it touches: one run to
        // collect, one with the list for the gas.
        let (_, collected) =
            inspect_call(&state, &cfg, &ctx, &req, None, AccessListInspector::new(initial))
                .map_err(call_error)?;
        let list: AccessList = collected.into_access_list();
        req.access_list = Some(list.clone());
        let (result, _) =
            inspect_call(&state, &cfg, &ctx, &req, None, NoOpInspector).map_err(call_error)?;
        let error = match &result {
            ExecutionResult::Success { .. } => None,
            ExecutionResult::Revert { .. } => Some("execution reverted".to_string()),
            ExecutionResult::Halt { reason, .. } => Some(format!("{reason:?}")),
        };
        Ok(AccessListResult {
            access_list: list,
            gas_used: alloy::primitives::U256::from(result.tx_gas_used()),
            error,
        })
    }
}
