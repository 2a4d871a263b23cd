// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// The state tree's 2-to-1 hash with a domain tag: `P(domain; a, b)`.
interface IPoseidon {
    function hash2(uint256 domain, uint256 a, uint256 b) external pure returns (uint256);
}
