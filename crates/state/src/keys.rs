//! Key and value derivation for the state tree's leaves.

use crate::TreeHasher;
use alloy_primitives::{Address, B256, U256};

pub const DOMAIN_NODE: u64 = 1;
pub const DOMAIN_LEAF: u64 = 2;
pub const DOMAIN_ACCOUNT_KEY: u64 = 3;
pub const DOMAIN_STORAGE_KEY: u64 = 4;
pub const DOMAIN_LIMBS: u64 = 5;
pub const DOMAIN_ACCOUNT: u64 = 6;
pub const DOMAIN_STORAGE_VALUE: u64 = 7;
/// Capacity element of the sponge that hashes a batch's state diff (the prover's
/// commitment to the writes it proves).
pub const DOMAIN_DIFF: u64 = 8;

fn address_word(address: Address) -> B256 {
    address.into_word()
}

/// The tree key of an account: `P(DOMAIN_ACCOUNT_KEY; address, 0)`.
pub fn account_key(h: &TreeHasher, address: Address) -> B256 {
    h.hash(DOMAIN_ACCOUNT_KEY, &address_word(address), &B256::ZERO)
}

/// The tree key of a storage slot: `P(DOMAIN_STORAGE_KEY; address, P(DOMAIN_LIMBS; slot))`.
pub fn storage_key(h: &TreeHasher, address: Address, slot: U256) -> B256 {
    let slot = h.hash_u256(DOMAIN_LIMBS, slot);
    h.hash(DOMAIN_STORAGE_KEY, &address_word(address), &slot)
}

/// The value committed by an account leaf:
/// `P(DOMAIN_ACCOUNT; P(DOMAIN_LIMBS; nonce, P(DOMAIN_LIMBS; balance)), P(DOMAIN_LIMBS; code_hash))`.
pub fn account_value_hash(h: &TreeHasher, nonce: u64, balance: U256, code_hash: B256) -> B256 {
    let balance = h.hash_u256(DOMAIN_LIMBS, balance);
    let nonce_word = B256::from(U256::from(nonce));
    let left = h.hash(DOMAIN_LIMBS, &nonce_word, &balance);
    let code = h.hash_u256(DOMAIN_LIMBS, U256::from_be_bytes(code_hash.0));
    h.hash(DOMAIN_ACCOUNT, &left, &code)
}

/// The value committed by a storage leaf: `P(DOMAIN_STORAGE_VALUE; value)` as limbs.
pub fn storage_value_hash(h: &TreeHasher, value: U256) -> B256 {
    h.hash_u256(DOMAIN_STORAGE_VALUE, value)
}

/// The hash of a leaf node: `P(DOMAIN_LEAF; key, value_hash)`.
pub fn leaf_hash(h: &TreeHasher, key: &B256, value_hash: &B256) -> B256 {
    h.hash(DOMAIN_LEAF, key, value_hash)
}

/// The hash of an internal node: `P(DOMAIN_NODE; left, right)`.
pub fn node_hash(h: &TreeHasher, left: &B256, right: &B256) -> B256 {
    h.hash(DOMAIN_NODE, left, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Curve;

    #[test]
    fn keys_are_distinct() {
        let h = TreeHasher::new(Curve::Bn254);
        let a = Address::repeat_byte(1);
        assert_ne!(account_key(&h, a), storage_key(&h, a, U256::ZERO));
        assert_ne!(storage_key(&h, a, U256::from(1)), storage_key(&h, a, U256::from(2)));
        assert_ne!(account_key(&h, a), account_key(&h, Address::repeat_byte(2)));
    }

    #[test]
    fn account_value_commits_to_every_field() {
        let h = TreeHasher::new(Curve::Bn254);
        let base = account_value_hash(&h, 1, U256::from(2), B256::repeat_byte(3));
        assert_ne!(base, account_value_hash(&h, 2, U256::from(2), B256::repeat_byte(3)));
        assert_ne!(base, account_value_hash(&h, 1, U256::from(3), B256::repeat_byte(3)));
        assert_ne!(base, account_value_hash(&h, 1, U256::from(2), B256::repeat_byte(4)));
        // high limb of the balance matters too
        assert_ne!(
            base,
            account_value_hash(&h, 1, U256::from(2) | (U256::from(1) << 200), B256::repeat_byte(3))
        );
    }
}
