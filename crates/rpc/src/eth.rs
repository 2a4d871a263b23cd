use crate::convert::{pending_tx, rpc_block, rpc_receipt, rpc_tx};
use alloy::{
    consensus::transaction::SignerRecoverable,
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U64, U256, keccak256},
    rpc::types::{
        FeeHistory, Filter, FilterBlockOption, Log, TransactionRequest, state::StateOverride,
    },
};
use infra_bus::Bus;
use infra_config::ChainConfig;
use infra_execution::{
    BlockContext, CallError, ExecConfig, blob_gas_price, call, estimate_gas, next_base_fee,
};
use infra_mempool::Mempool;
use infra_primitives::SealedBlock;
use infra_storage::{StateAt, StateReader, StorageError, Store};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest block range one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Most blob gas a block may use at the chain's fork (Osaka: 9 blobs), the
/// denominator of `eth_feeHistory`'s `blobGasUsedRatio`.
const MAX_BLOB_GAS_PER_BLOCK: u64 =
    alloy::eips::eip7840::BlobParams::osaka().max_blob_gas_per_block();
/// Largest `eth_feeHistory` block count.
const MAX_FEE_HISTORY: u64 = 1_024;

/// Everything the RPC handlers read.
#[derive(Debug, Clone)]
pub struct RpcContext {
    pub store: Store,
    pub pool: Arc<Mempool>,
    pub chain: ChainConfig,
    pub bus: Bus,
    pub client_version: String,
    /// The state tree's hash (the chain's curve), for proofs.
    pub hasher: infra_state::TreeHasher,
    /// Set on the embedded dev L1 only: accepts blob transactions and serves
    /// their blobs.
    pub blobs: Option<crate::BlobStore>,
    /// Installed polled filters.
    pub filters: Arc<crate::filters::Filters>,
    /// The node's components' status and the metrics.
    pub ops: Arc<crate::ops::Ops>,
    /// Most blocks one `eth_getLogs` may span.
    pub max_logs_range: u64,
}

impl RpcContext {
    /// A context with no blob store, no filters yet and default limits.
    pub fn new(
        store: Store,
        pool: Arc<Mempool>,
        chain: ChainConfig,
        bus: Bus,
        hasher: infra_state::TreeHasher,
    ) -> Self {
        Self {
            store,
            pool,
            chain,
            bus,
            client_version: format!("infra-node/v{}", env!("CARGO_PKG_VERSION")),
            hasher,
            blobs: None,
            filters: Arc::default(),
            ops: Arc::default(),
            max_logs_range: MAX_LOG_RANGE,
        }
    }
}

pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// The state after block `n`, or the error a wallet sees for pruned history.
pub(crate) fn state_at<'r, 'db>(r: &'r StateReader<'db>, n: u64) -> RpcResult<StateAt<'r, 'db>> {
    r.state_at(n).map_err(|e| match e {
        StorageError::Pruned { .. } => err(-32000, e.to_string()),
        other => internal(other),
    })
}

pub fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

pub fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(-32603, format!("internal error: {e}"))
}

pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    err(-32602, msg)
}

impl RpcContext {
    pub fn reader(&self) -> RpcResult<StateReader<'_>> {
        self.store.reader().map_err(internal)
    }

    pub(crate) fn exec_config(&self) -> ExecConfig {
        ExecConfig { chain_id: self.chain.chain_id, fee_recipient: self.chain.fee_recipient }
    }

    pub fn head(&self, r: &StateReader<'_>) -> RpcResult<u64> {
        r.head().map_err(internal)?.ok_or_else(|| internal("database has no head"))
    }

    /// Resolves a tag or number to a block number (None: beyond the head).
    pub(crate) fn number_of(
        &self,
        r: &StateReader<'_>,
        tag: BlockNumberOrTag,
    ) -> RpcResult<Option<u64>> {
        let head = self.head(r)?;
        Ok(match tag {
            BlockNumberOrTag::Number(n) if n > head => None,
            BlockNumberOrTag::Number(n) => Some(n),
            BlockNumberOrTag::Earliest => Some(0),
            // A validator's safe head: the newest block it derived from L1.
            BlockNumberOrTag::Safe => {
                let safe = r.meta(infra_storage::SAFE_HEAD_KEY).map_err(internal)?;
                match safe.as_deref().and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                    Some(b) => Some(u64::from_be_bytes(b).min(head)),
                    None => Some(head),
                }
            }
            // With settlement on L1: the last block of the newest batch final
            // there (proven, or past its challenge period).
            BlockNumberOrTag::Finalized => {
                let safe = self.number_of(r, BlockNumberOrTag::Safe)?.unwrap_or(head);
                let v = self.ops.view.read();
                match (&v.settlement, &v.l1) {
                    // Never past what this node derived (a validator's safe head).
                    (Some(_), Some(l1)) => Some(l1.finalized_block().unwrap_or(0).min(safe)),
                    (Some(_), None) => Some(0),
                    // No L1: one orderer, no reorgs of sealed blocks.
                    (None, _) => Some(head),
                }
            }
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(head),
        })
    }

    fn block_by_id(&self, r: &StateReader<'_>, id: BlockId) -> RpcResult<Option<SealedBlock>> {
        let number = match id {
            BlockId::Hash(h) => r.block_number(h.block_hash).map_err(internal)?,
            BlockId::Number(tag) => self.number_of(r, tag)?,
        };
        match number {
            Some(n) => r.block(n).map_err(internal),
            None => Ok(None),
        }
    }

    /// The block a state query names (EIP-1898: a number, a tag, or a hash, with
    /// `requireCanonical` always met: this node keeps no side blocks) and whether
    /// it is `pending`.
    pub(crate) fn state_block(
        &self,
        r: &StateReader<'_>,
        id: Option<BlockId>,
    ) -> RpcResult<(u64, bool)> {
        let head = self.head(r)?;
        let pending = matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let n = match id.unwrap_or_default() {
            BlockId::Number(BlockNumberOrTag::Number(n)) => n,
            // Tags name the block they stand for (`safe` and `finalized` may be
            // behind the head).
            BlockId::Number(tag) => self.number_of(r, tag)?.unwrap_or(head),
            BlockId::Hash(h) => r
                .block_number(h.block_hash)
                .map_err(internal)?
                .ok_or_else(|| err(-32001, format!("block not found: {}", h.block_hash)))?,
        };
        if n > head {
            return Err(err(-32001, format!("block not found: {n} (head is {head})")));
        }
        Ok((n, pending))
    }

    /// The state after the block `id` names, within the kept history.
    pub(crate) fn state<'r, 'db>(
        &self,
        r: &'r StateReader<'db>,
        id: Option<BlockId>,
    ) -> RpcResult<(StateAt<'r, 'db>, bool)> {
        let (n, pending) = self.state_block(r, id)?;
        Ok((state_at(r, n)?, pending))
    }

    /// The block a call at `state` runs in: the next block on the head state (as
    /// the sequencer would build it), that block itself on a past state.
    pub(crate) fn call_block(
        &self,
        r: &StateReader<'_>,
        state: &StateAt<'_, '_>,
    ) -> RpcResult<BlockContext> {
        if state.number() == self.head(r)? {
            return self.next_block(r);
        }
        let h = r
            .header(state.number())
            .map_err(internal)?
            .ok_or_else(|| internal(format!("missing header {}", state.number())))?;
        Ok(BlockContext {
            number: h.number,
            timestamp: h.timestamp,
            gas_limit: h.gas_limit,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            parent_hash: h.parent_hash,
            prevrandao: h.mix_hash,
        })
    }

    /// The context of the block the sequencer would build next.
    pub(crate) fn next_block(&self, r: &StateReader<'_>) -> RpcResult<BlockContext> {
        let head = self.head(r)?;
        let parent =
            r.header(head).map_err(internal)?.ok_or_else(|| internal("missing head header"))?;
        let parent_hash = parent.hash_slow();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok(BlockContext {
            number: head + 1,
            timestamp: now.max(parent.timestamp),
            gas_limit: parent.gas_limit,
            base_fee: self.next_base_fee(&parent),
            parent_hash,
            prevrandao: keccak256(parent_hash),
        })
    }

    fn next_base_fee(&self, parent: &alloy::consensus::Header) -> u64 {
        next_base_fee(
            &self.chain.base_fee,
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap_or(self.chain.base_fee.initial_wei),
        )
    }

    // ---- methods ----

    pub fn chain_id(&self) -> U64 {
        U64::from(self.chain.chain_id)
    }

    pub fn block_number(&self) -> RpcResult<U64> {
        let r = self.reader()?;
        Ok(U64::from(self.head(&r)?))
    }

    pub fn get_block(&self, id: BlockId, full: bool) -> RpcResult<Option<Value>> {
        let r = self.reader()?;
        Ok(self.block_by_id(&r, id)?.map(|b| rpc_block(&b, full)))
    }

    pub fn block_tx_count(&self, id: BlockId) -> RpcResult<Option<U64>> {
        let r = self.reader()?;
        Ok(self.block_by_id(&r, id)?.map(|b| U64::from(b.tx_count())))
    }

    /// `eth_getBlockReceipts`: every receipt of a block, deposits first.
    pub fn block_receipts(&self, id: BlockId) -> RpcResult<Option<Vec<Value>>> {
        let r = self.reader()?;
        Ok(self
            .block_by_id(&r, id)?
            .map(|b| (0..b.tx_count()).filter_map(|i| rpc_receipt(&b, i)).collect()))
    }

    pub fn tx_by_block_and_index(&self, id: BlockId, index: U64) -> RpcResult<Option<Value>> {
        let r = self.reader()?;
        Ok(self.block_by_id(&r, id)?.and_then(|b| rpc_tx(&b, index.to::<usize>())))
    }

    pub fn balance(&self, address: Address, id: Option<BlockId>) -> RpcResult<U256> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        Ok(state.account(address).map_err(internal)?.map(|a| a.balance).unwrap_or_default())
    }

    pub fn tx_count(&self, address: Address, id: Option<BlockId>) -> RpcResult<U64> {
        let r = self.reader()?;
        let (state, pending) = self.state(&r, id)?;
        let nonce = state.account(address).map_err(internal)?.map(|a| a.nonce).unwrap_or_default();
        Ok(U64::from(if pending { self.pool.pending_nonce(address, nonce) } else { nonce }))
    }

    pub fn code(&self, address: Address, id: Option<BlockId>) -> RpcResult<Bytes> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        let Some(acc) = state.account(address).map_err(internal)? else {
            return Ok(Bytes::new());
        };
        Ok(state.code(acc.code_hash).map_err(internal)?.unwrap_or_default())
    }

    pub fn storage_at(&self, address: Address, slot: U256, id: Option<BlockId>) -> RpcResult<B256> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        Ok(B256::from(state.storage(address, slot).map_err(internal)?))
    }

    /// Suggested tip: the configured minimum, at least 1 gwei... unless the chain's
    /// pool minimum is lower, in which case 0.001 gwei keeps fees low and valid.
    pub fn max_priority_fee(&self) -> U256 {
        U256::from(self.pool.config().min_tip_wei.max(1_000_000))
    }

    pub fn gas_price(&self) -> RpcResult<U256> {
        let r = self.reader()?;
        let next = self.next_block(&r)?;
        Ok(U256::from(next.base_fee) + self.max_priority_fee())
    }

    pub fn fee_history(
        &self,
        count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let r = self.reader()?;
        let head = self.head(&r)?;
        let count = count.to::<u64>().min(MAX_FEE_HISTORY);
        if let Some(p) = &percentiles
            && (p.len() > 100
                || p.windows(2).any(|w| w[0] > w[1])
                || p.iter().any(|x| !(0.0..=100.0).contains(x)))
        {
            return Err(invalid_params("reward percentiles must be ascending values in 0..=100"));
        }
        let newest = self.number_of(&r, newest)?.unwrap_or(head);
        if count == 0 {
            return Ok(FeeHistory { oldest_block: newest, ..Default::default() });
        }
        let oldest = newest.saturating_sub(count - 1);
        let mut hist = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut last = None;
        for n in oldest..=newest {
            let block = r
                .block(n)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("missing block {n}")))?;
            let h = &block.header;
            let base = h.base_fee_per_gas.unwrap_or_default();
            hist.base_fee_per_gas.push(u128::from(base));
            hist.gas_used_ratio.push(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            });
            // Blob transactions exist on the embedded dev L1 only; every
            // block keeps the excess blob gas at 0, so the blob base fee is
            // EIP-4844's minimum, as `eth_blobBaseFee` answers.
            hist.base_fee_per_blob_gas.push(blob_gas_price(h.excess_blob_gas.unwrap_or_default()));
            hist.blob_gas_used_ratio
                .push(h.blob_gas_used.unwrap_or_default() as f64 / MAX_BLOB_GAS_PER_BLOCK as f64);
            if let Some(p) = &percentiles {
                hist.reward.get_or_insert_with(Vec::new).push(rewards(&block, base, p));
            }
            last = Some(block.header.clone());
        }
        if let Some(h) = last {
            hist.base_fee_per_gas.push(u128::from(self.next_base_fee(&h)));
            hist.base_fee_per_blob_gas.push(blob_gas_price(h.excess_blob_gas.unwrap_or_default()));
        }
        Ok(hist)
    }

    /// `eth_call` at `id`, with geth's state overrides if given.
    pub fn call(
        &self,
        req: TransactionRequest,
        id: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        let ctx = self.call_block(&r, &state)?;
        call(&state, &self.exec_config(), &ctx, &req, overrides.as_ref())
            .map(|o| o.output)
            .map_err(call_error)
    }

    /// `eth_estimateGas` at `id`, with geth's state overrides if given.
    pub fn estimate_gas(
        &self,
        req: TransactionRequest,
        id: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let r = self.reader()?;
        let (state, _) = self.state(&r, id)?;
        let ctx = self.call_block(&r, &state)?;
        estimate_gas(&state, &self.exec_config(), &ctx, &req, overrides.as_ref())
            .map(U64::from)
            .map_err(call_error)
    }

    pub fn send_raw(&self, raw: Bytes) -> RpcResult<B256> {
        let tx = infra_mempool::decode_raw(&raw).map_err(|e| err(-32000, e))?;
        let tx = match &self.blobs {
            Some(store) => store.accept(tx).map_err(|e| err(-32000, e))?,
            None => tx,
        };
        let sender = tx
            .recover_signer()
            .map_err(|_| err(-32000, "invalid sender: signature does not recover"))?;
        let r = self.reader()?;
        let acc = r.account(sender).map_err(internal)?.unwrap_or_default();
        let ctx = self.next_block(&r)?;
        drop(r);
        let encoded = alloy::eips::Encodable2718::encoded_2718(&tx);
        let hash = self
            .pool
            .add(tx, sender, acc.nonce, acc.balance, ctx.base_fee)
            .map_err(|e| err(-32000, e.to_string()))?;
        self.bus.publish(infra_bus::Event::PendingTx(encoded.into()));
        Ok(hash)
    }

    pub fn tx_by_hash(&self, hash: B256) -> RpcResult<Option<Value>> {
        let r = self.reader()?;
        if let Some(loc) = r.tx_location(hash).map_err(internal)? {
            let block = r.block(loc.block_number).map_err(internal)?;
            return Ok(block.and_then(|b| rpc_tx(&b, loc.index as usize)));
        }
        Ok(self
            .pool
            .get(&hash)
            .and_then(|(tx, sender)| serde_json::to_value(pending_tx(tx, sender)).ok()))
    }

    pub fn receipt(&self, hash: B256) -> RpcResult<Option<Value>> {
        let r = self.reader()?;
        let Some(loc) = r.tx_location(hash).map_err(internal)? else { return Ok(None) };
        let block = r.block(loc.block_number).map_err(internal)?;
        Ok(block.and_then(|b| rpc_receipt(&b, loc.index as usize)))
    }

    pub fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let r = self.reader()?;
        let head = self.head(&r)?;
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = r
                    .block_number(hash)
                    .map_err(internal)?
                    .ok_or_else(|| err(-32001, format!("unknown block {hash}")))?;
                (n, n)
            }
            FilterBlockOption::Range { from_block, to_block } => {
                let resolve = |t: Option<BlockNumberOrTag>| -> RpcResult<u64> {
                    match t.unwrap_or(BlockNumberOrTag::Latest) {
                        BlockNumberOrTag::Number(n) => Ok(n),
                        other => Ok(self.number_of(&r, other)?.unwrap_or(head)),
                    }
                };
                (resolve(from_block)?, resolve(to_block)?)
            }
        };
        if from > to {
            return Ok(vec![]);
        }
        // The range asked for counts, also where it reaches past the head.
        if to - from >= self.max_logs_range {
            return Err(err(
                -32005,
                format!(
                    "query exceeds max block range {}: blocks {from}..={to} asked ({} blocks); split the range",
                    self.max_logs_range,
                    (to - from).saturating_add(1)
                ),
            ));
        }
        let mut out = Vec::new();
        for n in from..=to.min(head) {
            let Some(header) = r.header(n).map_err(internal)? else { break };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let body = r
                .block_body(n)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("missing block {n}")))?;
            out.extend(
                crate::convert::filtered_block_logs(&header, &body, &filter).map_err(internal)?,
            );
        }
        Ok(out)
    }

    /// The blob base fee of the next block (EIP-4844/7516).
    pub fn blob_base_fee(&self) -> RpcResult<U256> {
        let r = self.reader()?;
        let head = self.head(&r)?;
        let header = r.header(head).map_err(internal)?.ok_or_else(|| internal("missing head"))?;
        let excess = header.excess_blob_gas.unwrap_or_default();
        Ok(U256::from(blob_gas_price(excess)))
    }

    /// The blobs of a mined blob transaction (dev L1), as anvil's
    /// `anvil_getBlobsByTransactionHash` returns them.
    pub fn blobs_by_tx(&self, hash: B256) -> RpcResult<Option<Vec<Bytes>>> {
        let Some(store) = &self.blobs else {
            return Err(err(
                -32601,
                "this chain has no blobs (only the embedded dev L1 serves them)",
            ));
        };
        let r = self.reader()?;
        if r.tx_location(hash).map_err(internal)?.is_none() {
            return Ok(None);
        }
        Ok(store.blobs(&hash))
    }

    pub fn syncing(&self) -> Value {
        // A sequencer is the source of its chain: it is never behind.
        json!(false)
    }
}

fn rewards(block: &SealedBlock, base_fee: u64, percentiles: &[f64]) -> Vec<u128> {
    use alloy::consensus::Transaction as _;
    let mut tips: Vec<(u128, u64)> = Vec::new();
    let mut prev = 0u64;
    for (tx, receipt) in block.transactions.iter().zip(&block.receipts) {
        let used = receipt.cumulative_gas_used() - prev;
        prev = receipt.cumulative_gas_used();
        tips.push((tx.effective_tip_per_gas(base_fee).unwrap_or_default(), used));
    }
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|t| t.1).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut acc = 0u64;
            for (tip, used) in &tips {
                acc += used;
                if acc >= threshold {
                    return *tip;
                }
            }
            tips.last().map(|t| t.0).unwrap_or_default()
        })
        .collect()
}

pub(crate) fn call_error(e: CallError) -> ErrorObjectOwned {
    match e {
        CallError::Reverted { output, reason } => {
            let msg = match reason {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".into(),
            };
            ErrorObjectOwned::owned(3, msg, Some(output.to_string()))
        }
        CallError::Override(e) => invalid_params(e),
        CallError::State(e) => internal(e),
        CallError::Evm(e) => internal(e),
        other => err(-32000, other.to_string()),
    }
}
