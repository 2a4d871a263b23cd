// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Two-step ownership and a pause switch, with an event for every change.
abstract contract Owned {
    address public owner;
    address public pendingOwner;
    bool public paused;

    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Paused(address indexed by);
    event Unpaused(address indexed by);

    error NotOwner(address caller);
    error NotPendingOwner(address caller);
    error IsPaused();
    error ZeroAddress(string what);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier whenNotPaused() {
        if (paused) revert IsPaused();
        _;
    }

    constructor(address owner_) {
        if (owner_ == address(0)) revert ZeroAddress("owner");
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    /// Starts a transfer; the new owner must call `acceptOwnership`.
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner(msg.sender);
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpaused(msg.sender);
    }
}
