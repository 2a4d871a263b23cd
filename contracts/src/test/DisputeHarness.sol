// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {L2Tx} from "../dispute/L2Tx.sol";
import {IPoseidon} from "../poseidon/IPoseidon.sol";
import {StateProof} from "../lib/StateProof.sol";

/// Exposes the dispute libraries for tests.
contract DisputeHarness {
    function decodeTx(bytes memory raw) external pure returns (L2Tx.Tx memory) {
        return L2Tx.decode(raw);
    }

    function smtUpdate(
        IPoseidon h,
        bytes32 root,
        uint256 key,
        uint256 oldValue,
        uint256 newValue,
        StateProof.Proof memory p
    ) external pure returns (bytes32) {
        return StateProof.update(h, root, key, oldValue, newValue, p);
    }

    function accountLeaf(IPoseidon h, address account, uint64 nonce, uint256 balance, bytes32 codeHash)
        external
        pure
        returns (uint256 key, uint256 value)
    {
        return (StateProof.accountKey(h, account), StateProof.accountValueHash(h, nonce, balance, codeHash));
    }
}
