// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// L2 predeploy (in genesis at 0x4200000000000000000000000000000000000016): starts
/// withdrawals to L1. Each withdrawal's hash is written to `sentMessages` and never
/// removed, so the L1 bridge can check it with a storage proof against any later
/// final state root. The ETH sent with a withdrawal stays locked here: it leaves L2
/// and is paid out on L1 by the bridge.
///
/// Storage layout (the L1 bridge depends on it): slot 0 `messageNonce`, slot 1
/// `sentMessages` (a mapping: the entry for hash `h` is at keccak256(h, 1)).
contract L2Withdrawals {
    uint256 public messageNonce;
    mapping(bytes32 => bool) public sentMessages;

    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// The hash the L1 bridge recomputes.
    function hashWithdrawal(
        uint256 nonce,
        address sender,
        address target,
        uint256 value,
        uint256 gasLimit,
        bytes memory data
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(nonce, sender, target, value, gasLimit, data));
    }

    /// Withdraws `msg.value` to `target` on L1, calling it with `data` and at least
    /// `gasLimit` gas there.
    function initiateWithdrawal(address target, uint256 gasLimit, bytes calldata data) external payable {
        _initiate(target, gasLimit, data);
    }

    /// Plain ETH sent here is withdrawn to the sender's own address on L1.
    receive() external payable {
        _initiate(msg.sender, 100_000, "");
    }

    function _initiate(address target, uint256 gasLimit, bytes memory data) internal {
        uint256 nonce = messageNonce;
        bytes32 h = hashWithdrawal(nonce, msg.sender, target, msg.value, gasLimit, data);
        sentMessages[h] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, target, msg.value, gasLimit, data, h);
    }
}
