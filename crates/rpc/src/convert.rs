//! Stored blocks -> alloy RPC response types.

use alloy::{
    consensus::{ReceiptEnvelope, Transaction as _, transaction::Recovered},
    primitives::{Address, U256},
    rpc::types::{
        Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
    },
};
use infra_primitives::SealedBlock;

pub fn effective_gas_price(tx: &alloy::consensus::TxEnvelope, base_fee: u64) -> u128 {
    tx.effective_gas_price(Some(base_fee))
}

pub fn rpc_tx(block: &SealedBlock, index: usize) -> Option<Transaction> {
    let tx = block.transactions.get(index)?.clone();
    let sender = *block.senders.get(index)?;
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    Some(Transaction {
        effective_gas_price: Some(effective_gas_price(&tx, base_fee)),
        inner: Recovered::new_unchecked(tx, sender),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        transaction_index: Some(index as u64),
        block_timestamp: Some(block.header.timestamp),
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

pub fn rpc_block(block: &SealedBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.transactions.len()).filter_map(|i| rpc_tx(block, i)).collect(),
        )
    } else {
        BlockTransactions::Hashes(block.transactions.iter().map(|t| *t.tx_hash()).collect())
    };
    let size = alloy::rlp::Encodable::length(&block.header)
        + block.transactions.iter().map(alloy::eips::Encodable2718::encode_2718_len).sum::<usize>();
    Block {
        header: RpcHeader {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(size)),
        },
        uncles: vec![],
        transactions,
        withdrawals: Some(Default::default()),
    }
}

/// The logs of one block with their positions, in order.
pub fn block_logs(block: &SealedBlock) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (i, (tx, receipt)) in block.transactions.iter().zip(&block.receipts).enumerate() {
        for log in receipt.logs() {
            out.push(Log {
                inner: log.clone(),
                block_hash: Some(block.hash),
                block_number: Some(block.number()),
                block_timestamp: Some(block.header.timestamp),
                transaction_hash: Some(*tx.tx_hash()),
                transaction_index: Some(i as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    out
}

pub fn rpc_receipt(block: &SealedBlock, index: usize) -> Option<TransactionReceipt> {
    let tx = block.transactions.get(index)?;
    let receipt = block.receipts.get(index)?;
    let sender = *block.senders.get(index)?;
    let cumulative = receipt.cumulative_gas_used();
    let prev = index
        .checked_sub(1)
        .and_then(|i| block.receipts.get(i))
        .map(|r| r.cumulative_gas_used())
        .unwrap_or(0);
    let logs_before: usize = block.receipts.iter().take(index).map(|r| r.logs().len()).sum();
    let logs: Vec<Log> =
        block_logs(block).into_iter().skip(logs_before).take(receipt.logs().len()).collect();
    let mut it = logs.into_iter();
    let inner: ReceiptEnvelope<Log> = receipt.clone().map_logs(|_| it.next().unwrap_or_default());
    let to = tx.to();
    let contract_address = if to.is_none() { Some(sender.create(tx.nonce())) } else { None };
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    Some(TransactionReceipt {
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
}
