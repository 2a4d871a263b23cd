// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {L2Tx} from "../dispute/L2Tx.sol";

/// Exposes the dispute libraries for tests.
contract DisputeHarness {
    function decodeTx(bytes memory raw) external pure returns (L2Tx.Tx memory) {
        return L2Tx.decode(raw);
    }
}
