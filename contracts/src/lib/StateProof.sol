// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPoseidon} from "../poseidon/IPoseidon.sol";

/// Checks the node's sparse-Merkle state proofs on L1, with the node's hash and
/// key derivation (crates/state/src/keys.rs):
///   storage key   = P(4; address, P(5; hi(slot), lo(slot)))
///   storage value = P(7; hi(value), lo(value))
///   leaf          = P(2; key, value hash)
///   node          = P(1; left, right)
/// Leaves sit at the shortest prefix of their key that no other key shares; the
/// proof is the list of siblings from the root down to that leaf. Bit `i` of the
/// path is bit `i` of the key, least significant first.
library StateProof {
    uint256 internal constant DOMAIN_NODE = 1;
    uint256 internal constant DOMAIN_LEAF = 2;
    uint256 internal constant DOMAIN_STORAGE_KEY = 4;
    uint256 internal constant DOMAIN_LIMBS = 5;
    uint256 internal constant DOMAIN_STORAGE_VALUE = 7;

    function hashU256(IPoseidon h, uint256 domain, uint256 value) internal pure returns (uint256) {
        return h.hash2(domain, value >> 128, value & type(uint128).max);
    }

    function storageKey(IPoseidon h, address account, uint256 slot) internal pure returns (uint256) {
        return h.hash2(DOMAIN_STORAGE_KEY, uint256(uint160(account)), hashU256(h, DOMAIN_LIMBS, slot));
    }

    function storageValueHash(IPoseidon h, uint256 value) internal pure returns (uint256) {
        return hashU256(h, DOMAIN_STORAGE_VALUE, value);
    }

    /// True when `key` holds `valueHash` in the tree whose root is `root`.
    function verifyInclusion(IPoseidon h, bytes32 root, uint256 key, uint256 valueHash, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        if (siblings.length > 256) return false;
        uint256 acc = h.hash2(DOMAIN_LEAF, key, valueHash);
        for (uint256 i = siblings.length; i > 0; i--) {
            uint256 depth = i - 1;
            uint256 sibling = uint256(siblings[depth]);
            if ((key >> depth) & 1 == 1) {
                acc = h.hash2(DOMAIN_NODE, sibling, acc);
            } else {
                acc = h.hash2(DOMAIN_NODE, acc, sibling);
            }
        }
        return bytes32(acc) == root;
    }

    /// True when storage `slot` of L2 contract `account` holds `value` under `root`.
    function verifyStorage(
        IPoseidon h,
        bytes32 root,
        address account,
        uint256 slot,
        uint256 value,
        bytes32[] calldata siblings
    ) internal pure returns (bool) {
        return verifyInclusion(h, root, storageKey(h, account, slot), storageValueHash(h, value), siblings);
    }
}
