"""web3.py v7 end-to-end tests against any Ethereum JSON-RPC node.

    RPC_URL=http://127.0.0.1:8545 python3 -m pytest -q web3_test.py

Uses web3's default nonce handling: the SignAndSendRawMiddleware fills the
nonce from eth_getTransactionCount(address, "pending") on every send (no cache),
plus gas (eth_estimateGas) and EIP-1559 fees. The TestToken artifact is read from
build/TestToken.json; if missing it is produced by `node compile.mjs` (pinned solc).
"""

import json
import os
import pathlib
import subprocess

import pytest
import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.middleware import SignAndSendRawMiddlewareBuilder

HERE = pathlib.Path(__file__).resolve().parent
ARTIFACT = HERE / "build" / "TestToken.json"

RPC_URL = os.environ.get("RPC_URL")
DEV_KEY = os.environ.get("DEV_KEY") or "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_KEY2 = os.environ.get("DEV_KEY2") or "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TIMEOUT = float(os.environ.get("WALLET_TEST_TIMEOUT_MS", "60000")) / 1000
POLL = float(os.environ.get("WALLET_TEST_POLL_MS", "250")) / 1000
INITIAL_SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = Web3.keccak(text="Transfer(address,address,uint256)")

if not RPC_URL:
    raise RuntimeError("RPC_URL must be set (e.g. http://127.0.0.1:8545)")


def raw_rpc(method, params=()):
    """JSON-RPC over plain HTTP, bypassing web3.py entirely."""
    resp = requests.post(
        RPC_URL, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    )
    return resp.json()


def node_nonce(address, tag="pending"):
    return int(raw_rpc("eth_getTransactionCount", [address, tag])["result"], 16)


def random_address():
    return Account.create().address


def wait(w3, tx_hash):
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=TIMEOUT, poll_latency=POLL)


def node_message(err):
    """The node's own JSON-RPC error message as web3.py keeps it."""
    resp = getattr(err, "rpc_response", None) or {}
    return (resp.get("error") or {}).get("message", "")


@pytest.fixture(scope="module")
def dev():
    return Account.from_key(DEV_KEY)


@pytest.fixture(scope="module")
def w3(dev):
    w3 = Web3(Web3.HTTPProvider(RPC_URL, request_kwargs={"timeout": 30}))
    assert w3.is_connected(), f"cannot reach {RPC_URL}"
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(dev), layer=0)
    w3.eth.default_account = dev.address
    return w3


@pytest.fixture(scope="module")
def artifact():
    if not ARTIFACT.exists():
        subprocess.run(["node", "compile.mjs"], cwd=HERE, check=True)
    data = json.loads(ARTIFACT.read_text())
    assert data["bytecode"].startswith("0x") and len(data["bytecode"]) > 2
    return data


@pytest.fixture(scope="module")
def token(w3, dev, artifact):
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = factory.constructor("Test Token", "TST", INITIAL_SUPPLY).transact({"from": dev.address})
    receipt = wait(w3, tx_hash)
    assert receipt.status == 1
    assert receipt.contractAddress
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])


def test_chain_id_and_balances(w3, dev):
    assert w3.eth.chain_id == int(raw_rpc("eth_chainId")["result"], 16)
    assert w3.eth.block_number >= 0
    assert w3.eth.get_balance(dev.address) > Web3.to_wei(1, "ether")
    assert w3.eth.get_balance(random_address()) == 0


def test_eip1559_transfer(w3, dev):
    to = random_address()
    value = Web3.to_wei("0.0123", "ether")
    tx_hash = w3.eth.send_transaction({"from": dev.address, "to": to, "value": value})
    receipt = wait(w3, tx_hash)
    assert receipt.status == 1
    assert receipt.type == 2
    tx = w3.eth.get_transaction(tx_hash)
    assert tx.type == 2
    assert tx.chainId == w3.eth.chain_id
    assert tx.maxFeePerGas > 0
    assert w3.eth.get_balance(to) == value


def test_sequential_transfers_awaiting_receipts(w3, dev):
    start = node_nonce(dev.address)
    for i in range(5):
        to = random_address()
        receipt = wait(w3, w3.eth.send_transaction({"from": dev.address, "to": to, "value": 1000 + i}))
        assert receipt.status == 1
        assert w3.eth.get_transaction(receipt.transactionHash).nonce == start + i
        assert w3.eth.get_balance(to) == 1000 + i
    assert node_nonce(dev.address) == start + 5


def test_back_to_back_transfers_without_awaiting(w3, dev):
    start = node_nonce(dev.address)
    hashes = [w3.eth.send_transaction({"from": dev.address, "to": random_address(), "value": 1}) for _ in range(5)]
    assert node_nonce(dev.address) == start + 5
    receipts = [wait(w3, h) for h in hashes]
    assert all(r.status == 1 for r in receipts)
    assert sorted(w3.eth.get_transaction(h).nonce for h in hashes) == list(range(start, start + 5))


def test_token_deploy_call_transfer_and_logs(w3, dev, token):
    assert token.functions.name().call() == "Test Token"
    assert token.functions.symbol().call() == "TST"
    assert token.functions.decimals().call() == 18
    assert token.functions.totalSupply().call() == INITIAL_SUPPLY
    assert token.functions.balanceOf(dev.address).call() == INITIAL_SUPPLY

    recipient = random_address()
    amount = 425 * 10**17
    estimate = token.functions.transfer(recipient, amount).estimate_gas({"from": dev.address})
    receipt = wait(w3, token.functions.transfer(recipient, amount).transact({"from": dev.address}))
    assert receipt.status == 1
    assert estimate >= receipt.gasUsed, f"estimate {estimate} >= gasUsed {receipt.gasUsed}"
    assert token.functions.balanceOf(recipient).call() == amount

    # Event decoded from the receipt.
    events = token.events.Transfer().process_receipt(receipt)
    assert len(events) == 1
    assert events[0].args["from"] == dev.address
    assert events[0].args["to"] == recipient
    assert events[0].args["value"] == amount

    # eth_getLogs filtered by address + topic.
    logs = w3.eth.get_logs(
        {
            "address": token.address,
            "topics": [TRANSFER_TOPIC.to_0x_hex()],
            "fromBlock": receipt.blockNumber,
            "toBlock": receipt.blockNumber,
        }
    )
    mine = [lg for lg in logs if lg["transactionHash"] == receipt.transactionHash]
    assert len(mine) == 1
    assert mine[0]["topics"][0] == TRANSFER_TOPIC
    assert mine[0]["blockHash"] == receipt.blockHash
    decoded = token.events.Transfer().process_log(mine[0])
    assert decoded.args["to"] == recipient and decoded.args["value"] == amount

    # Same via the contract event API with an indexed-argument filter.
    got = token.events.Transfer.get_logs(
        argument_filters={"to": recipient}, from_block=receipt.blockNumber, to_block=receipt.blockNumber
    )
    assert len(got) == 1
    assert got[0].transactionHash == receipt.transactionHash
    assert got[0].args["value"] == amount


def test_state_at_past_blocks(w3, dev, token):
    holder = random_address()
    b1 = wait(w3, token.functions.transfer(holder, 5).transact({"from": dev.address})).blockNumber
    b2 = wait(w3, token.functions.transfer(holder, 7).transact({"from": dev.address})).blockNumber
    assert b2 > b1
    balance_of = token.functions.balanceOf(holder)
    assert balance_of.call(block_identifier=b1 - 1) == 0
    assert balance_of.call(block_identifier=b1) == 5
    assert balance_of.call(block_identifier=b2) == 12
    # EIP-1898: the block by hash.
    assert balance_of.call(block_identifier=w3.eth.get_block(b1)["hash"]) == 5
    assert w3.eth.get_transaction_count(dev.address, b2) > w3.eth.get_transaction_count(dev.address, b1)
    assert w3.eth.get_balance(dev.address, b2) < w3.eth.get_balance(dev.address, b1)
    assert w3.eth.get_code(token.address, b1) == w3.eth.get_code(token.address)
    assert w3.eth.get_storage_at(token.address, 0, b1) == w3.eth.get_storage_at(token.address, 0, b2)


# Runtime code returning (SLOAD(0), SELFBALANCE).
PROBE = "0x6000546000524760205260406000f3"


def test_call_with_state_overrides(w3, token):
    at = random_address()
    word = lambda n: "0x" + n.to_bytes(32, "big").hex()  # noqa: E731
    out = w3.eth.call(
        {"to": at}, "latest", {at: {"code": PROBE, "balance": 0x1234, "stateDiff": {word(0): word(42)}}}
    )
    assert (int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big")) == (42, 0x1234)
    # `state` replaces the token's whole storage: its total supply reads 0.
    assert token.functions.totalSupply().call() == INITIAL_SUPPLY
    assert token.functions.totalSupply().call(state_override={token.address: {"state": {}}}) == 0
    # A sender without ETH pays 1 ETH only under a balance override.
    poor = random_address()
    tx = {"from": poor, "to": at, "value": Web3.to_wei(1, "ether")}
    with pytest.raises(Web3RPCError):
        w3.eth.call(tx)
    assert w3.eth.call(tx, "latest", {poor: {"balance": Web3.to_wei(2, "ether")}}) == b""


def test_nonce_too_low(w3, dev):
    if node_nonce(dev.address, "latest") == 0:
        wait(w3, w3.eth.send_transaction({"from": dev.address, "to": random_address(), "value": 1}))
    stale = node_nonce(dev.address, "latest") - 1
    with pytest.raises(Web3RPCError) as exc:
        w3.eth.send_transaction(
            {"from": dev.address, "to": random_address(), "value": 1, "nonce": stale, "gas": 21000}
        )
    assert "nonce too low" in node_message(exc.value).lower(), exc.value.rpc_response


def test_insufficient_funds():
    acct2 = Account.from_key(DEV_KEY2)
    w3b = Web3(Web3.HTTPProvider(RPC_URL, request_kwargs={"timeout": 30}))
    w3b.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(acct2), layer=0)
    balance = w3b.eth.get_balance(acct2.address)
    # gas given so the error comes from eth_sendRawTransaction, not eth_estimateGas.
    tx = {"from": acct2.address, "to": random_address(), "value": balance + Web3.to_wei(1, "ether"), "gas": 21000}
    with pytest.raises(Web3RPCError) as exc:
        w3b.eth.send_transaction(tx)
    assert "insufficient funds" in node_message(exc.value).lower(), exc.value.rpc_response


def test_unknown_method(w3):
    body = raw_rpc("eth_thisMethodDoesNotExist")
    assert "result" not in body
    assert body["error"]["code"] == -32601, body
    resp = w3.provider.make_request("eth_thisMethodDoesNotExist", [])
    assert resp["error"]["code"] == -32601, resp
