// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Rlp} from "./Rlp.sol";

/// Decodes a signed L2 transaction (EIP-2718 encoding, as posted in a batch) and
/// recovers its sender with `ecrecover`, as the L2 does: legacy (with and without
/// EIP-155 replay protection) and EIP-1559. Other types revert with
/// `UnsupportedTxType`: the one-step proof does not decide them in this version.
library L2Tx {
    error UnsupportedTxType(uint256 txType);
    error BadSignature();

    /// secp256k1n / 2: larger `s` values are refused (EIP-2).
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    struct Tx {
        uint256 txType;
        /// 0 for a legacy transaction without replay protection.
        uint256 chainId;
        uint256 nonce;
        /// Legacy: both are the gas price.
        uint256 maxFeePerGas;
        uint256 maxPriorityFeePerGas;
        uint256 gasLimit;
        address to;
        bool create;
        uint256 value;
        uint256 dataLength;
        /// EIP-1559 access list entries (0 for legacy).
        uint256 accessListLength;
        address sender;
        bytes32 hash;
    }

    function decode(bytes memory raw) internal pure returns (Tx memory t) {
        if (raw.length == 0) revert Rlp.RlpInvalid(0);
        t.hash = keccak256(raw);
        uint8 first = uint8(raw[0]);
        bytes32 sighash;
        uint256 v;
        uint256 r;
        uint256 s;
        if (first == 0x02) {
            Rlp.Item memory list = Rlp.item(raw, 1);
            if (Rlp.end(list) != raw.length) revert Rlp.RlpInvalid(1);
            Rlp.Item[] memory f = Rlp.items(raw, list);
            if (f.length != 12) revert Rlp.RlpInvalid(1);
            t.txType = 2;
            t.chainId = Rlp.toUint(raw, f[0]);
            t.nonce = Rlp.toUint(raw, f[1]);
            t.maxPriorityFeePerGas = Rlp.toUint(raw, f[2]);
            t.maxFeePerGas = Rlp.toUint(raw, f[3]);
            t.gasLimit = Rlp.toUint(raw, f[4]);
            (t.to, t.create) = Rlp.toAddress(raw, f[5]);
            t.value = Rlp.toUint(raw, f[6]);
            if (f[7].isList) revert Rlp.RlpInvalid(f[7].start);
            t.dataLength = f[7].length;
            if (!f[8].isList) revert Rlp.RlpInvalid(f[8].start);
            t.accessListLength = Rlp.items(raw, f[8]).length;
            uint256 parity = Rlp.toUint(raw, f[9]);
            if (parity > 1) revert BadSignature();
            v = 27 + parity;
            r = Rlp.toUint(raw, f[10]);
            s = Rlp.toUint(raw, f[11]);
            uint256 from = f[0].start;
            uint256 to = Rlp.end(f[8]);
            sighash = keccak256(abi.encodePacked(uint8(2), Rlp.listHeader(to - from), Rlp.slice(raw, from, to)));
        } else if (first >= 0xc0) {
            Rlp.Item memory list = Rlp.item(raw, 0);
            if (Rlp.end(list) != raw.length) revert Rlp.RlpInvalid(0);
            Rlp.Item[] memory f = Rlp.items(raw, list);
            if (f.length != 9) revert Rlp.RlpInvalid(0);
            t.nonce = Rlp.toUint(raw, f[0]);
            t.maxFeePerGas = Rlp.toUint(raw, f[1]);
            t.maxPriorityFeePerGas = t.maxFeePerGas;
            t.gasLimit = Rlp.toUint(raw, f[2]);
            (t.to, t.create) = Rlp.toAddress(raw, f[3]);
            t.value = Rlp.toUint(raw, f[4]);
            if (f[5].isList) revert Rlp.RlpInvalid(f[5].start);
            t.dataLength = f[5].length;
            uint256 rawV = Rlp.toUint(raw, f[6]);
            r = Rlp.toUint(raw, f[7]);
            s = Rlp.toUint(raw, f[8]);
            uint256 from = f[0].start;
            uint256 to = Rlp.end(f[5]);
            bytes memory fields = Rlp.slice(raw, from, to);
            if (rawV == 27 || rawV == 28) {
                v = rawV;
                sighash = keccak256(abi.encodePacked(Rlp.listHeader(fields.length), fields));
            } else if (rawV >= 35) {
                t.chainId = (rawV - 35) / 2;
                v = 27 + ((rawV - 35) % 2);
                bytes memory tail = abi.encodePacked(Rlp.encodeUint(t.chainId), hex"8080");
                sighash = keccak256(abi.encodePacked(Rlp.listHeader(fields.length + tail.length), fields, tail));
            } else {
                revert BadSignature();
            }
        } else {
            revert UnsupportedTxType(first);
        }
        if (r == 0 || s == 0 || s > HALF_N) revert BadSignature();
        t.sender = ecrecover(sighash, uint8(v), bytes32(r), bytes32(s));
        if (t.sender == address(0)) revert BadSignature();
    }
}
