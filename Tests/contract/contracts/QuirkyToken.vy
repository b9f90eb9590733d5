# pragma version 0.4.3
"""
@title QuirkyToken: ERC-20s that misbehave in the ways real ones do, for the contract tests
@notice mode 0: plain; 1: takes a 1% fee on every transfer (the fee is burnt); 2: transfer and
        transferFrom return nothing (USDT-style); 3: they return false instead of reverting.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
mode: public(uint256)


@deploy
def __init__(mode: uint256):
    self.mode = mode


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@internal
def _move(sender: address, receiver: address, amount: uint256) -> bool:
    if self.mode == 3 and self.balanceOf[sender] < amount:
        return False
    self.balanceOf[sender] -= amount
    fee: uint256 = 0
    if self.mode == 1:
        fee = amount // 100
    self.balanceOf[receiver] += amount - fee
    return True


@external
@raw_return
def transfer(receiver: address, amount: uint256) -> Bytes[32]:
    ok: bool = self._move(msg.sender, receiver, amount)
    if self.mode == 2:
        return b""
    return abi_encode(ok)


@external
@raw_return
def transferFrom(sender: address, receiver: address, amount: uint256) -> Bytes[32]:
    if self.mode == 3 and self.allowance[sender][msg.sender] < amount:
        return abi_encode(False)
    self.allowance[sender][msg.sender] -= amount
    ok: bool = self._move(sender, receiver, amount)
    if self.mode == 2:
        return b""
    return abi_encode(ok)
