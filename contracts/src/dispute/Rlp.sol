// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// A minimal RLP reader over a `bytes memory` buffer: item headers, list items,
/// canonical integers and addresses. Every read is bounds-checked; a malformed
/// or non-canonical encoding reverts with `RlpInvalid(offset)`.
library Rlp {
    error RlpInvalid(uint256 offset);

    /// One item: its header starts at `start`, its payload is `length` bytes at
    /// `offset`; `end` is just past it.
    struct Item {
        uint256 start;
        uint256 offset;
        uint256 length;
        bool isList;
    }

    function end(Item memory it) internal pure returns (uint256) {
        return it.offset + it.length;
    }

    function _byte(bytes memory b, uint256 pos) private pure returns (uint256 v) {
        if (pos >= b.length) revert RlpInvalid(pos);
        assembly {
            v := byte(0, mload(add(add(b, 32), pos)))
        }
    }

    /// Big-endian integer of `n` (1..=8) bytes at `pos`, with no leading zero.
    function _len(bytes memory b, uint256 pos, uint256 n) private pure returns (uint256 v) {
        if (_byte(b, pos) == 0) revert RlpInvalid(pos);
        for (uint256 i = 0; i < n; i++) {
            v = (v << 8) | _byte(b, pos + i);
        }
    }

    /// The item whose header starts at `pos`; it must fit in `b`.
    function item(bytes memory b, uint256 pos) internal pure returns (Item memory it) {
        uint256 h = _byte(b, pos);
        it.start = pos;
        if (h < 0x80) {
            it.offset = pos;
            it.length = 1;
        } else if (h < 0xb8) {
            it.offset = pos + 1;
            it.length = h - 0x80;
            // A single byte below 0x80 must be encoded as itself.
            if (it.length == 1 && _byte(b, pos + 1) < 0x80) revert RlpInvalid(pos);
        } else if (h < 0xc0) {
            uint256 n = h - 0xb7;
            it.length = _len(b, pos + 1, n);
            if (it.length < 56) revert RlpInvalid(pos);
            it.offset = pos + 1 + n;
        } else if (h < 0xf8) {
            it.isList = true;
            it.offset = pos + 1;
            it.length = h - 0xc0;
        } else {
            uint256 n = h - 0xf7;
            it.isList = true;
            it.length = _len(b, pos + 1, n);
            if (it.length < 56) revert RlpInvalid(pos);
            it.offset = pos + 1 + n;
        }
        if (it.offset + it.length > b.length) revert RlpInvalid(pos);
    }

    /// The items of list `list`; reverts unless they exactly fill it.
    function items(bytes memory b, Item memory list) internal pure returns (Item[] memory out) {
        if (!list.isList) revert RlpInvalid(list.start);
        uint256 count;
        uint256 pos = list.offset;
        uint256 stop = end(list);
        while (pos < stop) {
            pos = end(item(b, pos));
            count++;
        }
        if (pos != stop) revert RlpInvalid(list.start);
        out = new Item[](count);
        pos = list.offset;
        for (uint256 i = 0; i < count; i++) {
            out[i] = item(b, pos);
            pos = end(out[i]);
        }
    }

    /// A canonical unsigned integer (pos most 32 bytes, no leading zero byte).
    function toUint(bytes memory b, Item memory it) internal pure returns (uint256 v) {
        if (it.isList || it.length > 32) revert RlpInvalid(it.start);
        if (it.length > 0 && _byte(b, it.offset) == 0) revert RlpInvalid(it.start);
        for (uint256 i = 0; i < it.length; i++) {
            v = (v << 8) | _byte(b, it.offset + i);
        }
    }

    /// A 20-byte address; `create` is true for the empty string (contract creation).
    function toAddress(bytes memory b, Item memory it) internal pure returns (address a, bool create) {
        if (it.isList) revert RlpInvalid(it.start);
        if (it.length == 0) return (address(0), true);
        if (it.length != 20) revert RlpInvalid(it.start);
        uint256 v;
        for (uint256 i = 0; i < 20; i++) {
            v = (v << 8) | _byte(b, it.offset + i);
        }
        a = address(uint160(v));
    }

    /// keccak256 of `b[from..to]`.
    function hashRange(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes32 h) {
        if (to < from || to > b.length) revert RlpInvalid(from);
        assembly {
            h := keccak256(add(add(b, 32), from), sub(to, from))
        }
    }

    /// `tag + n` followed by `v` in its `n` big-endian bytes (no leading zero).
    function _prefixed(uint256 tag, uint256 v) private pure returns (bytes memory out) {
        uint256 n;
        for (uint256 x = v; x > 0; x >>= 8) n++;
        out = new bytes(1 + n);
        out[0] = bytes1(uint8(tag + n));
        for (uint256 i = 0; i < n; i++) {
            out[n - i] = bytes1(uint8(v >> (8 * i)));
        }
    }

    /// The RLP list header for a payload of `len` bytes.
    function listHeader(uint256 len) internal pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(0xc0 + len));
        return _prefixed(0xf7, len);
    }

    /// The RLP encoding of an unsigned integer.
    function encodeUint(uint256 v) internal pure returns (bytes memory) {
        if (v == 0) return hex"80";
        if (v < 0x80) return abi.encodePacked(uint8(v));
        return _prefixed(0x80, v);
    }

    /// `b[from..to]` copied.
    function slice(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        if (to < from || to > b.length) revert RlpInvalid(from);
        out = new bytes(to - from);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = b[from + i];
        }
    }
}
