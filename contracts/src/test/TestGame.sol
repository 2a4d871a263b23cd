// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IClaimSource} from "../fpvm/IClaimSource.sol";

/// For tests only: stands in for `FaultGame` in front of a rollup, so a test
/// drives the rollup's game hooks directly (a game opens on a claim, a game ends
/// with the verdict the test chooses).
contract TestGame {
    IClaimSource public immutable source;
    uint64 public immutable maxClockDuration;
    uint256 public immutable maxGameDuration;

    constructor(IClaimSource source_, uint64 maxClockDuration_, uint256 maxGameDuration_) {
        source = source_;
        maxClockDuration = maxClockDuration_;
        maxGameDuration = maxGameDuration_;
    }

    function open(uint256 claimId, uint256 gameId) external returns (bytes[] memory) {
        return source.openGame(claimId, gameId);
    }

    function end(uint256 claimId, uint256 gameId, bool challengerWins, address creator) external {
        source.gameResolved(claimId, gameId, challengerWins, creator);
    }
}
