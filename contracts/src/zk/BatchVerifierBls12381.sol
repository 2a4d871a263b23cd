// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BatchVerifier} from "./BatchVerifier.sol";

/// Groth16 over BLS12-381 with the EIP-2537 precompiles (G1ADD 0x0b, G1MSM 0x0c,
/// PAIRING_CHECK 0x0f; Prague). Points: 64-byte coordinates (16 zero bytes, then
/// the 48-byte big-endian value), G2 `Fp2` elements `c0` first.
contract BatchVerifierBls12381 is BatchVerifier {
    uint256 internal constant R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;
    /// The base field modulus p as two words: the high 16 bytes and the low 32.
    uint256 internal constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    constructor(bytes memory vk) BatchVerifier(vk) {}

    function _unit() internal pure override returns (uint256) {
        return 64;
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
        // vk bytes: alpha 0..128, beta 128..384, gamma 384..640, delta 640..896,
        // IC_j 896 + 128j. proof bytes: A 0..128, B 128..384, C 384..512.
        uint256 yHi;
        uint256 yLo;
        assembly {
            yHi := mload(add(proof, 96))
            yLo := mload(add(proof, 128))
        }
        if (yHi > P_HI || (yHi == P_HI && yLo >= P_LO)) return false;
        uint256 negHi;
        uint256 negLo;
        if (yHi != 0 || yLo != 0) {
            unchecked {
                negLo = P_LO - yLo;
                negHi = P_HI - yHi - (yLo > P_LO ? 1 : 0);
            }
        }
        assembly {
            let f := mload(0x40)
            let v := add(vk, 32)
            let pr := add(proof, 32)
            // G1MSM input at f: (IC_{j+1}, input_j) for j < 5, 160 bytes each.
            for { let j := 0 } lt(j, 5) { j := add(j, 1) } {
                let at := add(f, mul(j, 160))
                mcopy(at, add(v, add(1024, mul(j, 128))), 128)
                mstore(add(at, 128), mload(add(input, mul(j, 32))))
            }
            // G1ADD input at f+800: IC_0, then the MSM's result.
            let s := add(f, 800)
            mcopy(s, add(v, 896), 128)
            // A call to an address without code (a chain without EIP-2537)
            // succeeds and returns nothing: every result's size is checked.
            ok := staticcall(gas(), 0x0c, f, 800, add(s, 128), 128)
            ok := and(ok, eq(returndatasize(), 128))
            ok := and(ok, staticcall(gas(), 0x0b, s, 256, s, 128))
            ok := and(ok, eq(returndatasize(), 128))
            // Pairing input at f+1056: (-A, B), (alpha, beta), (vk_x, gamma), (C, delta).
            let p := add(f, 1056)
            mstore(p, mload(pr))
            mstore(add(p, 32), mload(add(pr, 32)))
            mstore(add(p, 64), negHi)
            mstore(add(p, 96), negLo)
            mcopy(add(p, 128), add(pr, 128), 256)
            mcopy(add(p, 384), v, 384)
            mcopy(add(p, 768), s, 128)
            mcopy(add(p, 896), add(v, 384), 256)
            mcopy(add(p, 1152), add(pr, 384), 128)
            mcopy(add(p, 1280), add(v, 640), 256)
            mstore(add(p, 1536), 0)
            ok := and(ok, staticcall(gas(), 0x0f, p, 1536, add(p, 1536), 32))
            ok := and(ok, eq(returndatasize(), 32))
            ok := and(ok, eq(mload(add(p, 1536)), 1))
        }
    }
}
