#![doc = include_str!("../README.md")]

mod journal;
mod pool;

pub use journal::Journal;
pub use pool::{DropReason, Mempool, PoolConfig, PoolError, PoolLimits, PoolStats};

use alloy::{
    consensus::TxEnvelope,
    eips::{Decodable2718, Encodable2718, eip2718::Eip2718Error},
};

/// Decodes a raw transaction as `eth_sendRawTransaction` takes it: exactly one
/// EIP-2718 envelope in its canonical encoding, nothing after it. The message
/// of each refusal is geth's where geth has one.
pub fn decode_raw(raw: &[u8]) -> Result<TxEnvelope, String> {
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| match e {
        Eip2718Error::UnexpectedType(t) => format!("transaction type not supported: {t}"),
        e => format!("rlp: could not decode transaction: {e}"),
    })?;
    if !buf.is_empty() {
        return Err(format!(
            "rlp: input contains more than one value ({} bytes after the transaction)",
            buf.len()
        ));
    }
    if tx.encoded_2718() != raw {
        return Err("rlp: non-canonical encoding of the transaction".into());
    }
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{SignableTransaction, TxEip1559},
        network::TxSignerSync,
        primitives::{Address, B256, TxKind},
        signers::local::PrivateKeySigner,
    };

    fn raw() -> Vec<u8> {
        let s = PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap();
        let mut t = TxEip1559 {
            chain_id: 1,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            to: TxKind::Call(Address::repeat_byte(9)),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut t).unwrap();
        TxEnvelope::from(t.into_signed(sig)).encoded_2718()
    }

    /// A signed transaction with bytes after it was accepted and mined.
    #[test]
    fn exactly_one_envelope() {
        let good = raw();
        assert!(decode_raw(&good).is_ok());
        for tail in [&[0u8][..], &[0xde, 0xad, 0xbe, 0xef]] {
            let bad = [good.as_slice(), tail].concat();
            let e = decode_raw(&bad).unwrap_err();
            assert!(e.starts_with("rlp: input contains more than one value"), "{e}");
        }
        assert!(decode_raw(&good[..good.len() - 1]).is_err());
        assert!(decode_raw(&[]).is_err());
        assert!(decode_raw(&[0x7f, 0xc0]).is_err());
    }
}
