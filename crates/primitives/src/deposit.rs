//! L1 -> L2 deposits: system transactions at the start of an L2 block.

use alloy_eips::{Encodable2718, Typed2718};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{BufMut, Encodable};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// A deposit made on L1 through the `Bridge` (its `DepositInitiated` event), as it
/// is applied on L2.
///
/// Applying it: `value` is minted to `from`, then a call from `from` to `to`
/// carrying `value`, `data` and `gas_limit` runs at gas price zero (L1 paid for
/// it). If the call fails, the minted value stays with `from`. Each deposit uses
/// one L2 nonce of `from` (as OP Stack deposits do), recorded with the block.
/// Deposits are applied in bridge-nonce order, each
/// exactly once: a block's deposits continue where the previous block's stopped.
///
/// Encoding (EIP-2718 style, type 0x7e like OP Stack deposits, but with these
/// fields): `0x7e || rlp([nonce, l1_block, from, to, value, gas_limit, data])`. Its
/// hash is the keccak256 of that encoding.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct DepositTx {
    /// The bridge's deposit nonce (0, 1, 2, ... across the chain's life).
    pub nonce: u64,
    /// The L1 block whose `DepositInitiated` log this is.
    pub l1_block: u64,
    /// The L1 sender, aliased (+0x1111...1111) when it was a contract.
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub gas_limit: u64,
    pub data: Bytes,
}

impl DepositTx {
    /// The transaction type byte.
    pub const TYPE: u8 = 0x7e;

    pub fn hash(&self) -> B256 {
        keccak256(self.encoded_2718())
    }
}

impl Typed2718 for DepositTx {
    fn ty(&self) -> u8 {
        Self::TYPE
    }
}

impl Encodable2718 for DepositTx {
    fn encode_2718_len(&self) -> usize {
        1 + self.length()
    }

    fn encode_2718(&self, out: &mut dyn BufMut) {
        out.put_u8(Self::TYPE);
        self.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{eips::Decodable2718 as _, primitives::address};
    use alloy_rlp::Decodable;

    fn sample() -> DepositTx {
        DepositTx {
            nonce: 7,
            l1_block: 120,
            from: address!("0x00000000000000000000000000000000000000aa"),
            to: address!("0x00000000000000000000000000000000000000bb"),
            value: U256::from(10u64.pow(18)),
            gas_limit: 100_000,
            data: Bytes::from_static(b"hi"),
        }
    }

    #[test]
    fn encoding_is_typed_and_round_trips() {
        let d = sample();
        let raw = d.encoded_2718();
        assert_eq!(raw[0], 0x7e);
        assert_eq!(raw.len(), d.encode_2718_len());
        let back = DepositTx::decode(&mut &raw[1..]).unwrap();
        assert_eq!(back, d);
        assert_eq!(d.hash(), keccak256(&raw));
        // An Ethereum envelope decoder refuses it: the type is not Ethereum's.
        assert!(alloy::consensus::TxEnvelope::decode_2718(&mut raw.as_slice()).is_err());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample().hash();
        let mut d = sample();
        d.nonce += 1;
        assert_ne!(d.hash(), base);
        let mut d = sample();
        d.value += U256::from(1);
        assert_ne!(d.hash(), base);
        let mut d = sample();
        d.data = Bytes::new();
        assert_ne!(d.hash(), base);
    }
}
