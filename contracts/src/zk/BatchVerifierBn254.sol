// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BatchVerifier} from "./BatchVerifier.sol";

/// Groth16 over BN254 with the EIP-196/197 precompiles (ecAdd 0x06, ecMul 0x07,
/// ecPairing 0x08). Points: 32-byte big-endian coordinates, G2 `Fp2` elements
/// imaginary part first.
contract BatchVerifierBn254 is BatchVerifier {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    constructor(bytes memory vk) BatchVerifier(vk) {}

    function _unit() internal pure override returns (uint256) {
        return 32;
    }

    function _r() internal pure override returns (uint256) {
        return R;
    }

    function _groth16(bytes memory vk, uint256[INPUTS] memory input, bytes memory proof)
        internal
        view
        override
        returns (bool ok)
    {
        // vk words: alpha 0..1, beta 2..5, gamma 6..9, delta 10..13, IC_j 14+2j..15+2j.
        // proof words: A 0..1, B 2..5, C 6..7.
        uint256 ay;
        assembly {
            ay := mload(add(proof, 64))
        }
        if (ay >= Q) return false;
        uint256 negAy = ay == 0 ? 0 : Q - ay;
        assembly {
            let f := mload(0x40)
            // vk_x = IC_0 + sum input_j * IC_{j+1}, accumulated at f (2 words);
            // f+64: the product scratch (IC point, scalar).
            let v := add(vk, 32)
            mstore(f, mload(add(v, mul(14, 32))))
            mstore(add(f, 32), mload(add(v, mul(15, 32))))
            ok := 1
            for { let j := 0 } lt(j, 5) { j := add(j, 1) } {
                let ic := add(v, mul(add(16, mul(2, j)), 32))
                mstore(add(f, 64), mload(ic))
                mstore(add(f, 96), mload(add(ic, 32)))
                mstore(add(f, 128), mload(add(input, mul(j, 32))))
                // A call to an address without code succeeds and returns nothing:
                // every result's size is checked, not just the success flag.
                ok := and(ok, staticcall(gas(), 0x07, add(f, 64), 96, add(f, 64), 64))
                ok := and(ok, eq(returndatasize(), 64))
                ok := and(ok, staticcall(gas(), 0x06, f, 128, f, 64))
                ok := and(ok, eq(returndatasize(), 64))
            }
            // Pairing input: (-A, B), (alpha, beta), (vk_x, gamma), (C, delta).
            let p := add(f, 128)
            let pr := add(proof, 32)
            mstore(p, mload(pr))
            mstore(add(p, 32), negAy)
            mstore(add(p, 64), mload(add(pr, 64)))
            mstore(add(p, 96), mload(add(pr, 96)))
            mstore(add(p, 128), mload(add(pr, 128)))
            mstore(add(p, 160), mload(add(pr, 160)))
            mstore(add(p, 192), mload(v))
            mstore(add(p, 224), mload(add(v, 32)))
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                mstore(add(p, add(256, mul(k, 32))), mload(add(v, add(64, mul(k, 32)))))
            }
            mstore(add(p, 384), mload(f))
            mstore(add(p, 416), mload(add(f, 32)))
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                mstore(add(p, add(448, mul(k, 32))), mload(add(v, add(192, mul(k, 32)))))
            }
            mstore(add(p, 576), mload(add(pr, 192)))
            mstore(add(p, 608), mload(add(pr, 224)))
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                mstore(add(p, add(640, mul(k, 32))), mload(add(v, add(320, mul(k, 32)))))
            }
            mstore(add(p, 768), 0)
            ok := and(ok, staticcall(gas(), 0x08, p, 768, add(p, 768), 32))
            ok := and(ok, eq(returndatasize(), 32))
            ok := and(ok, eq(mload(add(p, 768)), 1))
        }
    }
}
