//! Stored blocks -> alloy RPC response types.

use alloy::{
    consensus::{ReceiptEnvelope, Transaction as _, transaction::Recovered},
    eips::Encodable2718,
    primitives::{Address, B256, U64, U256},
    rpc::types::{
        Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
    },
};
use infra_primitives::SealedBlock;
use serde_json::{Value, json};

pub fn effective_gas_price(tx: &alloy::consensus::TxEnvelope, base_fee: u64) -> u128 {
    tx.effective_gas_price(Some(base_fee))
}

/// Transaction `index` of `block` in block order: deposits first.
pub fn rpc_tx(block: &SealedBlock, index: usize) -> Option<Value> {
    match index.checked_sub(block.deposits.len()) {
        None => Some(deposit_json(block, index)),
        Some(i) => rpc_eth_tx(block, i).and_then(|t| serde_json::to_value(t).ok()),
    }
}

/// Ethereum transaction `i` of `block.transactions`.
fn rpc_eth_tx(block: &SealedBlock, i: usize) -> Option<Transaction> {
    let tx = block.transactions.get(i)?.clone();
    let sender = *block.senders.get(i)?;
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    Some(Transaction {
        effective_gas_price: Some(effective_gas_price(&tx, base_fee)),
        inner: Recovered::new_unchecked(tx, sender),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        transaction_index: Some((block.deposits.len() + i) as u64),
        block_timestamp: Some(block.header.timestamp),
    })
}

/// A deposit as a JSON-RPC transaction object: type `0x7e` with the fields OP
/// Stack clients know (`mint`, `sourceHash`-less), gas price zero and a zero
/// signature (`v`/`r`/`s` are `0x0`: a deposit is authorised by its L1 event, not
/// by a signature). `nonce` is the L2 nonce of `from` the deposit used;
/// `depositNonce` is the bridge's deposit counter.
fn deposit_json(block: &SealedBlock, index: usize) -> Value {
    let d = &block.deposits[index];
    json!({
        "type": "0x7e",
        "hash": d.hash(),
        "from": d.from,
        "to": d.to,
        "value": d.value,
        "mint": d.value,
        "gas": U64::from(d.gas_limit),
        "gasPrice": "0x0",
        "input": d.data,
        "nonce": U64::from(block.deposit_nonces.get(index).copied().unwrap_or_default()),
        "depositNonce": U64::from(d.nonce),
        "l1BlockNumber": U64::from(d.l1_block),
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
        "blockHash": block.hash,
        "blockNumber": U64::from(block.number()),
        "blockTimestamp": U64::from(block.header.timestamp),
        "transactionIndex": U64::from(index as u64),
    })
}

pub fn pending_tx(tx: alloy::consensus::TxEnvelope, sender: Address) -> Transaction {
    Transaction {
        effective_gas_price: None,
        inner: Recovered::new_unchecked(tx, sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        block_timestamp: None,
    }
}

pub fn rpc_block(block: &SealedBlock, full: bool) -> Value {
    let size = alloy::rlp::Encodable::length(&block.header)
        + block.deposits.iter().map(Encodable2718::encode_2718_len).sum::<usize>()
        + block.transactions.iter().map(Encodable2718::encode_2718_len).sum::<usize>();
    let rpc = Block::<Transaction> {
        header: RpcHeader {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(size)),
        },
        uncles: vec![],
        transactions: BlockTransactions::Hashes(vec![]),
        withdrawals: Some(Default::default()),
    };
    let transactions: Vec<Value> = if full {
        (0..block.tx_count()).filter_map(|i| rpc_tx(block, i)).collect()
    } else {
        block.tx_hashes().into_iter().map(|h| json!(h)).collect()
    };
    let mut value = serde_json::to_value(rpc).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("transactions".into(), Value::Array(transactions));
    }
    value
}

/// The header of `block` as `eth_subscribe("newHeads")` sends it.
pub fn rpc_header(block: &SealedBlock) -> RpcHeader {
    RpcHeader {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: None,
    }
}

/// The receipts of `block` in block order (deposits first), each as
/// (transaction hash, status, cumulative gas, logs).
fn receipts_in_order(block: &SealedBlock) -> Vec<(B256, &[alloy::primitives::Log])> {
    block
        .deposits
        .iter()
        .zip(&block.deposit_receipts)
        .map(|(d, r)| (d.hash(), r.receipt.logs.as_slice()))
        .chain(
            block.transactions.iter().zip(&block.receipts).map(|(t, r)| (*t.tx_hash(), r.logs())),
        )
        .collect()
}

/// The logs of one block with their positions, in order.
pub fn block_logs(block: &SealedBlock) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (i, (hash, logs)) in receipts_in_order(block).into_iter().enumerate() {
        for log in logs {
            out.push(Log {
                inner: log.clone(),
                block_hash: Some(block.hash),
                block_number: Some(block.number()),
                block_timestamp: Some(block.header.timestamp),
                transaction_hash: Some(hash),
                transaction_index: Some(i as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    out
}

/// The receipt of transaction `index` of `block` in block order (deposits first).
pub fn rpc_receipt(block: &SealedBlock, index: usize) -> Option<Value> {
    let deposits = block.deposits.len();
    let cumulative_at = |i: usize| -> u64 {
        match i.checked_sub(deposits) {
            None => block.deposit_receipts.get(i).map_or(0, |r| r.receipt.cumulative_gas_used),
            Some(j) => block.receipts.get(j).map_or(0, |r| r.cumulative_gas_used()),
        }
    };
    let cumulative = cumulative_at(index);
    let prev = index.checked_sub(1).map_or(0, cumulative_at);
    let order = receipts_in_order(block);
    let logs_before: usize = order.iter().take(index).map(|(_, l)| l.len()).sum();
    let own_logs = order.get(index)?.1.len();
    let logs: Vec<Log> = block_logs(block).into_iter().skip(logs_before).take(own_logs).collect();
    let Some(j) = index.checked_sub(deposits) else {
        let d = block.deposits.get(index)?;
        let r = block.deposit_receipts.get(index)?;
        return Some(json!({
            "type": "0x7e",
            "transactionHash": d.hash(),
            "transactionIndex": U64::from(index as u64),
            "blockHash": block.hash,
            "blockNumber": U64::from(block.number()),
            "from": d.from,
            "to": d.to,
            "cumulativeGasUsed": U64::from(cumulative),
            "gasUsed": U64::from(cumulative.saturating_sub(prev)),
            "effectiveGasPrice": "0x0",
            "contractAddress": null,
            "logs": logs,
            "logsBloom": r.logs_bloom,
            "status": if r.receipt.status.coerce_status() { "0x1" } else { "0x0" },
            "depositNonce": U64::from(d.nonce),
        }));
    };
    let tx = block.transactions.get(j)?;
    let receipt = block.receipts.get(j)?;
    let sender = *block.senders.get(j)?;
    let mut it = logs.into_iter();
    let inner: ReceiptEnvelope<Log> = receipt.clone().map_logs(|_| it.next().unwrap_or_default());
    let to = tx.to();
    let contract_address = if to.is_none() { Some(sender.create(tx.nonce())) } else { None };
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    serde_json::to_value(TransactionReceipt {
        inner,
        transaction_hash: *tx.tx_hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: cumulative.saturating_sub(prev),
        effective_gas_price: effective_gas_price(tx, base_fee),
        blob_gas_used: None,
        blob_gas_price: None,
        from: sender,
        to,
        contract_address,
    })
    .ok()
}

/// The logs `filter` selects in a stored block, read from its encoded body:
/// only receipts are decoded, and transaction hashes are the keccak256 of the
/// stored encodings (what `eth_getLogs` needs, without decoding transactions).
pub fn filtered_block_logs(
    header: &alloy::consensus::Header,
    body: &infra_primitives::BlockBody,
    filter: &alloy::rpc::types::Filter,
) -> Result<Vec<Log>, alloy::rlp::Error> {
    use alloy::{
        consensus::{ReceiptEnvelope, ReceiptWithBloom},
        eips::Decodable2718,
        rlp::Decodable,
    };
    let hash = header.hash_slow();
    let mut out = Vec::new();
    let mut log_index = 0u64;
    let mut push = |tx_hash: B256, i: usize, logs: &[alloy::primitives::Log]| {
        for log in logs {
            if filter.matches(log) {
                out.push(Log {
                    inner: log.clone(),
                    block_hash: Some(hash),
                    block_number: Some(header.number),
                    block_timestamp: Some(header.timestamp),
                    transaction_hash: Some(tx_hash),
                    transaction_index: Some(i as u64),
                    log_index: Some(log_index),
                    removed: false,
                });
            }
            log_index += 1;
        }
    };
    for (i, (d, raw)) in body.deposits.iter().zip(&body.deposit_receipts).enumerate() {
        let r: ReceiptWithBloom = ReceiptWithBloom::decode(&mut raw.as_ref())?;
        push(d.hash(), i, &r.receipt.logs);
    }
    let deposits = body.deposits.len();
    for (i, (tx, raw)) in body.transactions.iter().zip(&body.receipts).enumerate() {
        let r = ReceiptEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|_| alloy::rlp::Error::Custom("stored receipt"))?;
        if r.logs().is_empty() {
            continue;
        }
        push(alloy::primitives::keccak256(tx), deposits + i, r.logs());
    }
    Ok(out)
}
