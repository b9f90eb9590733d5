"""A JSON-RPC endpoint over py-evm (eth-tester's PyEVMBackend) for the Swift chain client's tests.

It answers exactly the methods the client uses, and executes what it is sent for real: raw signed
transactions are decoded, checked and applied by py-evm, every transaction is mined in a block of its
own, and receipts carry the real status, gas and logs. It deploys nothing unless asked:

    .venv/bin/python Tests/chain/rpc_server.py [--port 0] [--fund ADDRESS=WEI …]
        [--deploy --delay SECONDS --grace SECONDS --mint ADDRESS=AMOUNT …]

The first line on stdout is JSON: {"url", "chainId", "paratii", "token"} (the last two only with
--deploy). Deployment and funding come from eth-tester's prefunded account, never from the keys
under test. Test only: no authentication, loopback only.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import rlp
from eth_abi import decode, encode
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed, ValidationError
from eth_utils import to_checksum_address

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "contracts" / "build"
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


def q(value: int) -> str:
    return hex(value)


def h(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def unhex(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise RPCError(-32602, f"not 0x-hex: {text!r}")
    return bytes.fromhex(text[2:])


def quantity(text: str) -> int:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise RPCError(-32602, f"not a quantity: {text!r}")
    return int(text, 16)


class RPCError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class Node:
    """eth-tester with auto-mining: one block per transaction."""

    def __init__(self) -> None:
        self.backend = PyEVMBackend()
        self.tester = EthereumTester(self.backend)
        self.funder = self.tester.get_accounts()[0]
        self.lock = threading.Lock()

    @property
    def chain_id(self) -> int:
        return self.backend.chain.chain_id

    # Helpers for the command line: value moved from eth-tester's own prefunded account.
    def transact(self, to: str | None, value: int = 0, data: bytes = b"", gas: int = 5_000_000) -> dict:
        tx = {"from": self.funder, "value": value, "gas": gas, "data": h(data)}
        if to is not None:
            tx["to"] = to
        receipt = self.tester.get_transaction_receipt(self.tester.send_transaction(tx))
        if receipt["status"] != 1:
            raise SystemExit(f"setup transaction to {to} reverted")
        return receipt

    def deploy(self, name: str, types: list[str], args: list) -> str:
        artifact = json.loads((BUILD / f"{name}.json").read_text())
        code = bytes.fromhex(artifact["bytecode"].removeprefix("0x")) + encode(types, args)
        return to_checksum_address(self.transact(None, data=code)["contract_address"])

    # The JSON-RPC methods.
    def dispatch(self, method: str, params: list):
        handler = getattr(self, "rpc_" + method, None)
        if handler is None:
            raise RPCError(-32601, f"method {method} not supported by this test node")
        with self.lock:
            return handler(*params)

    def rpc_eth_chainId(self):
        return q(self.chain_id)

    def rpc_eth_blockNumber(self):
        return q(self.tester.get_block_by_number("latest")["number"])

    def rpc_eth_getTransactionCount(self, address, block="latest"):
        return q(self.tester.get_nonce(to_checksum_address(address)))

    def rpc_eth_getBalance(self, address, block="latest"):
        return q(self.tester.get_balance(to_checksum_address(address)))

    def rpc_eth_getCode(self, address, block="latest"):
        return h(self.tester.get_code(to_checksum_address(address)))

    def rpc_eth_feeHistory(self, count, newest, percentiles=()):
        latest = self.tester.get_block_by_number("latest")["number"]
        count = min(quantity(count) if isinstance(count, str) else int(count), latest + 1, 1024)
        first = latest - count + 1
        bases, ratios, rewards = [], [], []
        for number in range(first, latest + 1):
            block = self.tester.get_block_by_number(number, full_transactions=True)
            bases.append(q(block["base_fee_per_gas"]))
            ratios.append(block["gas_used"] / block["gas_limit"])
            tips = sorted(min(tx.get("max_priority_fee_per_gas", 0), tx.get("max_fee_per_gas", 0) - block["base_fee_per_gas"])
                          for tx in block["transactions"] if "max_fee_per_gas" in tx)
            rewards.append([q(tips[min(len(tips) - 1, int(len(tips) * p / 100))] if tips else 0) for p in percentiles])
        # The next block's base fee, as py-evm will set it.
        bases.append(q(self.backend.chain.header.base_fee_per_gas))
        return {"oldestBlock": q(first), "baseFeePerGas": bases, "gasUsedRatio": ratios, "reward": rewards}

    def _call_tx(self, tx: dict) -> dict:
        out = {"from": to_checksum_address(tx.get("from") or self.funder), "to": to_checksum_address(tx["to"]),
               "data": tx.get("data", "0x"), "value": quantity(tx.get("value", "0x0")), "gas": quantity(tx.get("gas", "0x1c9c380"))}
        return out

    def _revert(self, error: Exception) -> RPCError:
        reason = str(error.args[0]) if error.args else "execution reverted"
        # eth-tester sometimes hands the revert data over as the text of a bytes literal: decode Error(string).
        if reason.startswith(("b'", 'b"')):
            raw = ast.literal_eval(reason)
            if raw[:4] == ERROR_SELECTOR:
                reason = decode(["string"], raw[4:])[0]
        if isinstance(error.args[0] if error.args else None, (bytes, bytearray)):
            raw = bytes(error.args[0])
            return RPCError(3, "execution reverted", h(raw))
        data = h(ERROR_SELECTOR + encode(["string"], [reason]))
        return RPCError(3, f"execution reverted: {reason}", data)

    def rpc_eth_call(self, tx, block="latest"):
        try:
            result = self.tester.call(self._call_tx(tx), block)
            return result if isinstance(result, str) else h(result)
        except TransactionFailed as error:
            raise self._revert(error) from None

    def rpc_eth_estimateGas(self, tx, block="latest"):
        try:
            return q(self.tester.estimate_gas(self._call_tx(tx), block))
        except TransactionFailed as error:
            raise self._revert(error) from None

    def rpc_eth_sendRawTransaction(self, raw):
        try:
            return self.tester.send_raw_transaction(raw)
        except (ValidationError, ValueError, rlp.exceptions.DecodingError) as error:
            raise RPCError(-32000, f"invalid transaction: {error}") from None
        except TransactionFailed as error:
            raise self._revert(error) from None

    def rpc_evm_increaseTime(self, seconds):
        """Test-only (as Ganache and Hardhat name it): mines a block `seconds` later than the latest."""
        later = self.tester.get_block_by_number("latest")["timestamp"] + (quantity(seconds) if isinstance(seconds, str) else int(seconds))
        self.tester.time_travel(later + 1)  # eth-tester mines the latest block one second before the target
        return q(later)

    def rpc_eth_getTransactionReceipt(self, tx_hash):
        try:
            r = self.tester.get_transaction_receipt(tx_hash)
        except Exception:  # eth-tester raises TransactionNotFound
            return None
        if r.get("block_number") is None:
            return None
        block = self.tester.get_block_by_number(r["block_number"])
        tx = self.tester.get_transaction_by_hash(tx_hash)
        base = block["base_fee_per_gas"]
        price = (min(tx["max_fee_per_gas"], base + tx["max_priority_fee_per_gas"]) if "max_fee_per_gas" in tx else tx["gas_price"])
        return {
            "transactionHash": r["transaction_hash"], "blockNumber": q(r["block_number"]), "blockHash": r["block_hash"],
            "from": tx["from"], "to": tx["to"] or None, "status": q(r["status"]), "gasUsed": q(r["gas_used"]),
            "cumulativeGasUsed": q(r["cumulative_gas_used"]), "effectiveGasPrice": q(price),
            "contractAddress": r["contract_address"],
            "logs": [{"address": log["address"], "topics": [h(t) if isinstance(t, bytes) else t for t in log["topics"]],
                      "data": h(log["data"]) if isinstance(log["data"], bytes) else log["data"],
                      "logIndex": q(log["log_index"]), "transactionHash": r["transaction_hash"]} for log in r["logs"]],
        }


def handler_for(node: Node):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            request_id = None
            try:
                request = json.loads(self.rfile.read(min(length, 1 << 20)))
                request_id = request.get("id")
                result = node.dispatch(request["method"], request.get("params", []))
                reply = {"jsonrpc": "2.0", "id": request_id, "result": result}
            except RPCError as error:
                body = {"code": error.code, "message": error.message}
                if error.data is not None:
                    body["data"] = error.data
                reply = {"jsonrpc": "2.0", "id": request_id, "error": body}
            except Exception as error:  # anything else is the client's bad request, said as JSON-RPC does
                reply = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"{type(error).__name__}: {error}"}}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet: the tests read stdout
            pass

    return Handler


def pairs(items: list[str]) -> list[tuple[str, int]]:
    out = []
    for item in items:
        address, _, amount = item.partition("=")
        out.append((to_checksum_address(address), int(amount)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fund", action="append", default=[], metavar="ADDRESS=WEI")
    parser.add_argument("--deploy", action="store_true", help="deploy Paratii and TestToken from contracts/build")
    parser.add_argument("--delay", type=int, default=3 * 86400)
    parser.add_argument("--grace", type=int, default=7 * 86400)
    parser.add_argument("--mint", action="append", default=[], metavar="ADDRESS=AMOUNT", help="TestToken base units (with --deploy)")
    args = parser.parse_args()

    node = Node()
    for address, wei in pairs(args.fund):
        node.transact(address, value=wei, gas=21000)
    info = {"chainId": node.chain_id}
    if args.deploy:
        info["paratii"] = node.deploy("Paratii", ["uint256", "uint256"], [args.delay, args.grace])
        info["token"] = node.deploy("TestToken", ["string", "string"], ["Paratii test token", "PTI"])
        for address, amount in pairs(args.mint):
            selector = bytes.fromhex("40c10f19")  # mint(address,uint256)
            node.transact(info["token"], data=selector + encode(["address", "uint256"], [address, amount]), gas=200_000)
    elif args.mint:
        parser.error("--mint needs --deploy")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(node))
    info["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps(info), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
