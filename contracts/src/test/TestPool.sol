// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IPoolToken {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// A constant-product pool of two ERC-20s (x * y = k, 0.3% fee) for the
/// end-to-end workloads and benches: liquidity, swaps, and swaps that revert
/// when the output is below the caller's minimum.
contract TestPool {
    IPoolToken public immutable token0;
    IPoolToken public immutable token1;
    uint256 public reserve0;
    uint256 public reserve1;

    event Liquidity(address indexed provider, uint256 amount0, uint256 amount1);
    event Swap(address indexed trader, bool zeroForOne, uint256 amountIn, uint256 amountOut);

    error Slippage(uint256 amountOut, uint256 minOut);
    error NoLiquidity();

    constructor(IPoolToken a, IPoolToken b) {
        token0 = a;
        token1 = b;
    }

    function addLiquidity(uint256 amount0, uint256 amount1) external {
        require(token0.transferFrom(msg.sender, address(this), amount0), "TestPool: transfer0");
        require(token1.transferFrom(msg.sender, address(this), amount1), "TestPool: transfer1");
        reserve0 += amount0;
        reserve1 += amount1;
        emit Liquidity(msg.sender, amount0, amount1);
    }

    /// The output of swapping `amountIn` of one token for the other.
    function quote(bool zeroForOne, uint256 amountIn) public view returns (uint256) {
        (uint256 rin, uint256 rout) = zeroForOne ? (reserve0, reserve1) : (reserve1, reserve0);
        if (rin == 0 || rout == 0) revert NoLiquidity();
        uint256 inWithFee = amountIn * 997;
        return (inWithFee * rout) / (rin * 1000 + inWithFee);
    }

    function swap(bool zeroForOne, uint256 amountIn, uint256 minOut) external returns (uint256 out) {
        out = quote(zeroForOne, amountIn);
        if (out < minOut) revert Slippage(out, minOut);
        (IPoolToken tin, IPoolToken tout) = zeroForOne ? (token0, token1) : (token1, token0);
        require(tin.transferFrom(msg.sender, address(this), amountIn), "TestPool: transfer in");
        require(tout.transfer(msg.sender, out), "TestPool: transfer out");
        if (zeroForOne) {
            reserve0 += amountIn;
            reserve1 -= out;
        } else {
            reserve1 += amountIn;
            reserve0 -= out;
        }
        emit Swap(msg.sender, zeroForOne, amountIn, out);
    }
}
