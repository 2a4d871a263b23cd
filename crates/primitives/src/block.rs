use crate::DepositTx;
use alloc::{vec, vec::Vec};
use alloy_consensus::{Header, ReceiptEnvelope, ReceiptWithBloom, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// An L2 block as sealed by the sequencer: the header (whose `state_root` is the
/// sparse-Merkle root after the block), its hash, the L1 deposits it applied
/// (first, each with its receipt), then the transactions in order with their
/// recovered senders, and one receipt per transaction.
///
/// Block-level positions (transaction index, cumulative gas, log index) count the
/// deposits first: transaction `i` of `transactions` sits at index
/// `deposits.len() + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    pub header: Header,
    pub hash: B256,
    pub deposits: Vec<DepositTx>,
    pub deposit_receipts: Vec<ReceiptWithBloom>,
    /// The L2 account nonce of its `from` that each deposit used.
    pub deposit_nonces: Vec<u64>,
    pub transactions: Vec<TxEnvelope>,
    pub senders: Vec<Address>,
    pub receipts: Vec<ReceiptEnvelope>,
}

impl SealedBlock {
    /// Seals a header: computes its keccak hash.
    pub fn new(
        header: Header,
        transactions: Vec<TxEnvelope>,
        senders: Vec<Address>,
        receipts: Vec<ReceiptEnvelope>,
    ) -> Self {
        Self::with_deposits(header, vec![], vec![], vec![], transactions, senders, receipts)
    }

    /// Seals a header over a body that starts with deposits.
    pub fn with_deposits(
        header: Header,
        deposits: Vec<DepositTx>,
        deposit_receipts: Vec<ReceiptWithBloom>,
        deposit_nonces: Vec<u64>,
        transactions: Vec<TxEnvelope>,
        senders: Vec<Address>,
        receipts: Vec<ReceiptEnvelope>,
    ) -> Self {
        let hash = header.hash_slow();
        Self {
            header,
            hash,
            deposits,
            deposit_receipts,
            deposit_nonces,
            transactions,
            senders,
            receipts,
        }
    }

    /// Deposits and transactions together.
    pub fn tx_count(&self) -> usize {
        self.deposits.len() + self.transactions.len()
    }

    /// The hashes of the deposits then the transactions, in block order.
    pub fn tx_hashes(&self) -> Vec<B256> {
        self.deposits
            .iter()
            .map(DepositTx::hash)
            .chain(self.transactions.iter().map(|t| *t.tx_hash()))
            .collect()
    }

    /// The next bridge deposit nonce after this block, given the one before it.
    pub fn deposits_end(&self, before: u64) -> u64 {
        self.deposits.last().map_or(before, |d| d.nonce.saturating_add(1))
    }

    /// The header's `transactions_root`: the ordered trie of the EIP-2718
    /// encodings of the deposits then the transactions.
    pub fn compute_transactions_root(deposits: &[DepositTx], transactions: &[TxEnvelope]) -> B256 {
        let encoded: Vec<Vec<u8>> = deposits
            .iter()
            .map(Encodable2718::encoded_2718)
            .chain(transactions.iter().map(Encodable2718::encoded_2718))
            .collect();
        alloy_consensus::proofs::ordered_trie_root_encoded(&encoded)
    }

    /// The header's `receipts_root`: deposit receipts are encoded
    /// `0x7e || rlp(receipt)`, transaction receipts by their EIP-2718 envelope.
    pub fn compute_receipts_root(
        deposit_receipts: &[ReceiptWithBloom],
        receipts: &[ReceiptEnvelope],
    ) -> B256 {
        let encoded: Vec<Vec<u8>> = deposit_receipts
            .iter()
            .map(deposit_receipt_2718)
            .chain(receipts.iter().map(Encodable2718::encoded_2718))
            .collect();
        alloy_consensus::proofs::ordered_trie_root_encoded(&encoded)
    }

    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The body in its storage encoding.
    pub fn body(&self) -> BlockBody {
        BlockBody {
            deposits: self.deposits.clone(),
            deposit_receipts: self
                .deposit_receipts
                .iter()
                .map(|r| alloy_rlp::encode(r).into())
                .collect(),
            deposit_nonces: self.deposit_nonces.clone(),
            transactions: self.transactions.iter().map(|tx| tx.encoded_2718().into()).collect(),
            senders: self.senders.clone(),
            receipts: self.receipts.iter().map(|r| r.encoded_2718().into()).collect(),
        }
    }

    /// Rebuilds a block from a stored header and body.
    pub fn from_parts(header: Header, body: BlockBody) -> Result<Self, alloy_rlp::Error> {
        let transactions = body
            .transactions
            .iter()
            .map(|raw| TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(eip2718_to_rlp))
            .collect::<Result<Vec<_>, _>>()?;
        let receipts = body
            .receipts
            .iter()
            .map(|raw| ReceiptEnvelope::decode_2718(&mut raw.as_ref()).map_err(eip2718_to_rlp))
            .collect::<Result<Vec<_>, _>>()?;
        let deposit_receipts = body
            .deposit_receipts
            .iter()
            .map(|raw| ReceiptWithBloom::decode(&mut raw.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if transactions.len() != body.senders.len()
            || transactions.len() != receipts.len()
            || body.deposits.len() != deposit_receipts.len()
            || body.deposits.len() != body.deposit_nonces.len()
        {
            return Err(alloy_rlp::Error::Custom("block body: length mismatch"));
        }
        Ok(Self::with_deposits(
            header,
            body.deposits,
            deposit_receipts,
            body.deposit_nonces,
            transactions,
            body.senders,
            receipts,
        ))
    }
}

fn eip2718_to_rlp(err: alloy_eips::eip2718::Eip2718Error) -> alloy_rlp::Error {
    match err {
        alloy_eips::eip2718::Eip2718Error::RlpError(e) => e,
        _ => alloy_rlp::Error::Custom("unexpected EIP-2718 type"),
    }
}

/// A deposit receipt in the receipts trie: `0x7e || rlp(receipt with bloom)`.
pub fn deposit_receipt_2718(receipt: &ReceiptWithBloom) -> Vec<u8> {
    let mut out = vec![DepositTx::TYPE];
    receipt.encode(&mut out);
    out
}

/// The stored form of a block body: the deposits with their RLP receipts, then
/// EIP-2718 encodings of transactions and receipts.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockBody {
    pub deposits: Vec<DepositTx>,
    pub deposit_receipts: Vec<Bytes>,
    pub deposit_nonces: Vec<u64>,
    pub transactions: Vec<Bytes>,
    pub senders: Vec<Address>,
    pub receipts: Vec<Bytes>,
}

impl BlockBody {
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out
    }

    pub fn decode_from(mut buf: &[u8]) -> Result<Self, alloy_rlp::Error> {
        Self::decode(&mut buf)
    }
}

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block_number: u64,
    pub index: u64,
}

impl TxLocation {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.block_number.to_be_bytes());
        out[8..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut number = [0u8; 8];
        let mut index = [0u8; 8];
        number.copy_from_slice(&bytes[..8]);
        index.copy_from_slice(&bytes[8..]);
        Self { block_number: u64::from_be_bytes(number), index: u64::from_be_bytes(index) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{Receipt, ReceiptWithBloom, Signed, TxEip1559},
        primitives::{Signature, TxKind, U256, address},
    };

    #[test]
    fn body_round_trips() {
        let tx = TxEip1559 {
            chain_id: 7,
            nonce: 3,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(address!("0x00000000000000000000000000000000000000aa")),
            value: U256::from(5),
            ..Default::default()
        };
        let sig = Signature::new(U256::from(1), U256::from(2), false);
        let env: TxEnvelope = Signed::new_unhashed(tx, sig).into();
        let receipt = ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(Receipt {
            status: true.into(),
            cumulative_gas_used: 21_000,
            logs: vec![],
        }));
        let header = Header { number: 9, ..Default::default() };
        let deposit = DepositTx {
            nonce: 0,
            l1_block: 3,
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            value: U256::from(9),
            gas_limit: 21_000,
            data: Bytes::new(),
        };
        let deposit_receipt = ReceiptWithBloom::from(Receipt {
            status: true.into(),
            cumulative_gas_used: 21_000,
            logs: vec![],
        });
        let block = SealedBlock::with_deposits(
            header.clone(),
            vec![deposit],
            vec![deposit_receipt],
            vec![5],
            vec![env],
            vec![Address::ZERO],
            vec![receipt],
        );
        let raw = block.body().encode_to_vec();
        let back = SealedBlock::from_parts(header, BlockBody::decode_from(&raw).unwrap()).unwrap();
        assert_eq!(back, block);
    }

    #[test]
    fn tx_location_round_trips() {
        let loc = TxLocation { block_number: 77, index: 3 };
        assert_eq!(TxLocation::from_bytes(loc.to_bytes()), loc);
    }
}
