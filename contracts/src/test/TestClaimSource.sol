// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IClaimSource} from "../fpvm/IClaimSource.sol";

/// For tests only: a claim source whose inputs anyone sets, once per claim id
/// (as the rollup's record of a batch, they never change once set).
contract TestClaimSource is IClaimSource {
    mapping(uint256 claimId => bytes[]) internal inputs;
    mapping(uint256 claimId => bool) public isSet;

    event InputsSet(uint256 indexed claimId, uint256 count);

    /// `set` was already called for this claim id.
    error AlreadySet(uint256 claimId);
    /// `localInputs` of a claim id never set.
    error UnknownClaim(uint256 claimId);

    /// Records the local inputs of `claimId`; a second call for the same id reverts.
    function set(uint256 claimId, bytes[] calldata inputs_) external {
        if (isSet[claimId]) revert AlreadySet(claimId);
        isSet[claimId] = true;
        bytes[] storage stored = inputs[claimId];
        for (uint256 i = 0; i < inputs_.length; i++) {
            stored.push(inputs_[i]);
        }
        emit InputsSet(claimId, inputs_.length);
    }

    /// @inheritdoc IClaimSource
    function localInputs(uint256 claimId) public view returns (bytes[] memory) {
        if (!isSet[claimId]) revert UnknownClaim(claimId);
        return inputs[claimId];
    }

    /// Games opened per claim, and the ones the challenger won.
    mapping(uint256 claimId => uint256) public opened;
    mapping(uint256 claimId => uint256) public challengerWins;
    mapping(uint256 claimId => uint256) public defenderWins;

    /// @inheritdoc IClaimSource
    function openGame(uint256 claimId, uint256) external returns (bytes[] memory) {
        opened[claimId] += 1;
        return localInputs(claimId);
    }

    /// @inheritdoc IClaimSource
    function gameResolved(uint256 claimId, uint256, bool challengerWon, address) external {
        if (challengerWon) challengerWins[claimId] += 1;
        else defenderWins[claimId] += 1;
    }
}
