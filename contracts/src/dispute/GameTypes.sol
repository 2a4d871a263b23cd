// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StateProof} from "../lib/StateProof.sol";

/// The types the dispute game and its one-step share (docs/fraud-proofs.md).
library GameTypes {
    /// The state after a step of a batch (see docs/fraud-proofs.md).
    struct StepState {
        bytes32 stateRoot;
        uint64 step;
        uint64 blockIndex;
        uint64 txIndex;
        uint64 depositNonce;
        uint64 baseFee;
        uint64 gasUsed;
        uint256 baseFees;
    }

    /// An account as the step reads it, with its proof against the root at that
    /// point of the step (after the writes before it).
    struct Account {
        address addr;
        uint64 nonce;
        uint256 balance;
        bytes32 codeHash;
        StateProof.Proof proof;
    }

    /// A deposit's content (its hash must be the bridge's record).
    struct Deposit {
        address from;
        address to;
        uint256 value;
        uint64 gasLimit;
        bytes data;
    }

    struct Config {
        uint256 l2ChainId;
        address feeRecipient;
        uint64 gasLimit;
        uint64 baseFeeDenominator;
        uint64 baseFeeElasticity;
        uint64 minBaseFee;
        uint256 minStake;
        uint256 slashingPenaltyPct;
        uint64 moveTimeout;
        address arbiter;
    }
}
