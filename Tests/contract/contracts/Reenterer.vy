# pragma version 0.4.3
"""
@title Reenterer: a hostile payee for the contract tests
@notice Receives ETH (or a token's callback) and tries once to call back into Paratii with calldata
        prepared by the test; records whether that inner call succeeded, then accepts the payment.
"""

target: public(address)
payload: public(Bytes[4096])
attempted: public(bool)
reentered: public(bool)


@external
def arm(target: address, payload: Bytes[4096]):
    self.target = target
    self.payload = payload
    self.attempted = False
    self.reentered = False


@external
@payable
def __default__():
    if not self.attempted and self.target != empty(address):
        self.attempted = True
        self.reentered = raw_call(self.target, self.payload, revert_on_failure=False)
