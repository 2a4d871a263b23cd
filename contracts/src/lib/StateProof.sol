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
    uint256 internal constant DOMAIN_ACCOUNT_KEY = 3;
    uint256 internal constant DOMAIN_ACCOUNT = 6;
    /// keccak256 of empty code: an account leaf commits 0 for it.
    bytes32 internal constant EMPTY_CODE_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;

    error BadStateProof();

    function hashU256(IPoseidon h, uint256 domain, uint256 value) internal pure returns (uint256) {
        return h.hash2(domain, value >> 128, value & type(uint128).max);
    }

    function storageKey(IPoseidon h, address account, uint256 slot) internal pure returns (uint256) {
        return h.hash2(DOMAIN_STORAGE_KEY, uint256(uint160(account)), hashU256(h, DOMAIN_LIMBS, slot));
    }

    function storageValueHash(IPoseidon h, uint256 value) internal pure returns (uint256) {
        return hashU256(h, DOMAIN_STORAGE_VALUE, value);
    }

    /// The tree key of an L2 account: `P(3; address, 0)`.
    function accountKey(IPoseidon h, address account) internal pure returns (uint256) {
        return h.hash2(DOMAIN_ACCOUNT_KEY, uint256(uint160(account)), 0);
    }

    /// The value an account leaf commits:
    /// `P(6; P(5; nonce, P(5; balance)), P(5; codeHash))`, codeHash 0 for no code.
    function accountValueHash(IPoseidon h, uint64 nonce, uint256 balance, bytes32 codeHash)
        internal
        pure
        returns (uint256)
    {
        if (codeHash == EMPTY_CODE_HASH) codeHash = bytes32(0);
        uint256 left = h.hash2(DOMAIN_LIMBS, nonce, hashU256(h, DOMAIN_LIMBS, balance));
        return h.hash2(DOMAIN_ACCOUNT, left, hashU256(h, DOMAIN_LIMBS, uint256(codeHash)));
    }

    /// A proof of one key, as the node serves it: the siblings from the root down,
    /// and the leaf the path ends in (`hasLeaf` false: an empty subtree).
    struct Proof {
        bytes32[] siblings;
        bool hasLeaf;
        uint256 leafKey;
        uint256 leafValue;
    }

    function _up(IPoseidon h, uint256 acc, uint256 key, bytes32[] memory siblings) private pure returns (uint256) {
        for (uint256 i = siblings.length; i > 0; i--) {
            uint256 depth = i - 1;
            uint256 sibling = uint256(siblings[depth]);
            acc = (key >> depth) & 1 == 1 ? h.hash2(DOMAIN_NODE, sibling, acc) : h.hash2(DOMAIN_NODE, acc, sibling);
        }
        return acc;
    }

    /// Sets `key` to `newValue` (non-zero) in the tree with root `root`, where it
    /// holds `oldValue` (0: absent), proven by `p` against `root`; returns the new
    /// root, built in exactly the shape the node builds (a new key's leaf sits at
    /// the shortest prefix no other key shares). Reverts `BadStateProof` when `p`
    /// does not prove `oldValue` under `root`.
    function update(IPoseidon h, bytes32 root, uint256 key, uint256 oldValue, uint256 newValue, Proof memory p)
        internal
        pure
        returns (bytes32)
    {
        uint256 depth = p.siblings.length;
        if (depth > 256 || newValue == 0) revert BadStateProof();
        uint256 start;
        if (oldValue != 0) {
            if (!p.hasLeaf || p.leafKey != key || p.leafValue != oldValue) revert BadStateProof();
            start = h.hash2(DOMAIN_LEAF, key, oldValue);
        } else if (p.hasLeaf) {
            // Another key's leaf where this key's path ends: they share the path.
            if (p.leafKey == key) revert BadStateProof();
            for (uint256 i = 0; i < depth; i++) {
                if ((p.leafKey >> i) & 1 != (key >> i) & 1) revert BadStateProof();
            }
            start = h.hash2(DOMAIN_LEAF, p.leafKey, p.leafValue);
        }
        if (bytes32(_up(h, start, key, p.siblings)) != root) revert BadStateProof();

        uint256 acc = h.hash2(DOMAIN_LEAF, key, newValue);
        if (oldValue == 0 && p.hasLeaf) {
            // Split: both leaves go one level below the first bit where they differ.
            uint256 split = depth;
            while ((p.leafKey >> split) & 1 == (key >> split) & 1) split++;
            uint256 other = start;
            acc = (key >> split) & 1 == 1 ? h.hash2(DOMAIN_NODE, other, acc) : h.hash2(DOMAIN_NODE, acc, other);
            for (uint256 d = split; d > depth; d--) {
                acc = (key >> (d - 1)) & 1 == 1 ? h.hash2(DOMAIN_NODE, 0, acc) : h.hash2(DOMAIN_NODE, acc, 0);
            }
        }
        return bytes32(_up(h, acc, key, p.siblings));
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
