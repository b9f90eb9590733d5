# pragma version 0.4.3
"""
@title Paratii settlement: escrow and voucher redemption
@notice A master (the card's address, the user's bigWallet) escrows ETH or ERC-20 tokens here.
        Its spending key's vouchers are redeemed against that escrow. This contract is the
        `verifyingContract` of the EIP-712 domain every Paratii message is signed under, and it
        checks the very messages the wallet, the bridge and the payees sign and verify off chain
        (DESIGN.md, "Typed messages"): nothing new to sign.

        What it binds: across all payees, what is redeemed under a delegation and token never
        exceeds that allowance's `total`, nor the master's escrow. This is the bound that still
        holds when the spending key is stolen and the whole total is promised to every payee.
        `perPayment`, `period` and `perPeriod` are wallet-side bounds: vouchers carry cumulative
        amounts, so the chain cannot see single payments and does not try.

        Channels: a channel is (delegation id, payee, token). A voucher carries the channel's
        cumulative amount; the contract pays the payee the difference between it and what the
        channel has been paid so far, capped by what the delegation's total and the escrow still
        allow. A capped payment is recorded as what was actually paid, so the rest of the same
        voucher can be redeemed later if the escrow is topped up, and no cumulative is ever paid
        twice.

        Delays: a withdrawal or a revocation takes effect DELAY seconds after it is submitted, so
        payees can redeem what they hold in the meantime (as µRaiden's challenge period and
        x402's withdrawDelay). Redemption stays open GRACE seconds after a delegation's
        validUntil, for vouchers issued before it.

        Recovery (a lost card): a master names a recovery address (a second card kept apart) and a
        delay of at least DELAY. The recovery address may start a takeover; the master may cancel it
        until the delay has passed; after it, the recovery address completes it: the master's escrow
        moves to the recovery address's escrow and the master is marked recovered. Its delegations
        stop as a revocation stops them: payees redeemed what they held during the delay (at least
        DELAY, as after a revocation), and afterwards nothing can fund them, since the escrow is gone
        and a recovered master can deposit no more. Redemption itself reads nothing new (its gas is
        unchanged).
"""

# ---------------------------------------------------------------------------------------------
# The typed messages, field for field as in DESIGN.md. Changing a field, its type or its order
# changes every digest: keep them identical to Sources/Delegation.

struct Allowance:
    token: address       # empty(address) means ETH
    total: uint256
    perPayment: uint256  # wallet-side bound, not enforced here
    period: uint64       # wallet-side bound, not enforced here
    perPeriod: uint256   # wallet-side bound, not enforced here

struct SpendingDelegation:
    master: address
    spender: address
    allowances: DynArray[Allowance, MAX_ALLOWANCES]
    payees: DynArray[address, MAX_PAYEES]  # empty means any payee
    validAfter: uint64
    validUntil: uint64
    salt: uint256

struct Voucher:
    delegation: bytes32  # the SpendingDelegation's id: its EIP-712 digest
    payee: address
    token: address
    cumulative: uint256  # running total of the channel (delegation, payee, token)
    sequence: uint64
    memo: bytes32

struct Revocation:
    issuer: address
    target: bytes32
    issuedAt: uint64

struct Withdrawal:
    amount: uint256
    readyAt: uint256     # 0 means none pending

struct Recovery:
    account: address     # the recovery address; empty: none named
    delay: uint256       # seconds a takeover waits for the master to cancel it (>= DELAY)
    readyAt: uint256     # 0: no takeover pending; else when it can be completed

# Bounds of the on-chain arrays: `delegate spending` and the bridge refuse larger delegations,
# so every delegation a card signs can be redeemed here. They also bound every loop below.
MAX_ALLOWANCES: constant(uint256) = 8
MAX_PAYEES: constant(uint256) = 32
MAX_BATCH: constant(uint256) = 64

# EIP-2: only the lower half of s is accepted, so no signature has a second valid form.
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168  # 0x7FFF…681B20A0

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
NAME_HASH: constant(bytes32) = keccak256("Paratii")
VERSION_HASH: constant(bytes32) = keccak256("1")
ALLOWANCE_TYPEHASH: constant(bytes32) = keccak256(
    "Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)"
)
# EIP-712 encodeType: the primary type, then referenced types sorted by name.
SPENDING_DELEGATION_TYPEHASH: constant(bytes32) = keccak256(
    "SpendingDelegation(address master,address spender,Allowance[] allowances,address[] payees,uint64 validAfter,uint64 validUntil,uint256 salt)Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)"
)
VOUCHER_TYPEHASH: constant(bytes32) = keccak256(
    "Voucher(bytes32 delegation,address payee,address token,uint256 cumulative,uint64 sequence,bytes32 memo)"
)
REVOCATION_TYPEHASH: constant(bytes32) = keccak256(
    "Revocation(address issuer,bytes32 target,uint64 issuedAt)"
)

ETH: constant(address) = empty(address)

interface IERC20Balance:
    def balanceOf(owner: address) -> uint256: view

# ---------------------------------------------------------------------------------------------
# State

# master -> token -> amount held for the master's delegations
escrow: public(HashMap[address, HashMap[address, uint256]])
# delegation id -> token -> paid in all under that delegation (never above the allowance's total)
redeemed: public(HashMap[bytes32, HashMap[address, uint256]])
# delegation id -> payee -> token -> paid so far on that channel (never above a signed cumulative)
channelPaid: public(HashMap[bytes32, HashMap[address, HashMap[address, uint256]]])
# issuer -> target id -> time the revocation takes effect (0: not revoked)
revokedFrom: public(HashMap[address, HashMap[bytes32, uint256]])
# master -> token -> the withdrawal waiting for its delay
pendingWithdrawal: public(HashMap[address, HashMap[address, Withdrawal]])
# master -> its recovery address, delay and pending takeover
recovery: public(HashMap[address, Recovery])
# master -> the recovery address that took it over (empty: not recovered)
recoveredTo: public(HashMap[address, address])

MAX_RECOVERY_DELAY: constant(uint256) = 365 * 86400

DELAY: public(immutable(uint256))
GRACE: public(immutable(uint256))

# ---------------------------------------------------------------------------------------------
# Events: one for every change of state.

event Deposited:
    master: indexed(address)
    token: indexed(address)
    amount: uint256
    escrow: uint256

event Redeemed:
    delegation: indexed(bytes32)
    payee: indexed(address)
    token: indexed(address)
    cumulative: uint256
    paid: uint256       # paid now
    shortfall: uint256  # what this voucher claims beyond what was paid (total or escrow ran out)

event Revoked:
    issuer: indexed(address)
    target: indexed(bytes32)
    effectiveAt: uint256

event WithdrawInitiated:
    master: indexed(address)
    token: indexed(address)
    amount: uint256
    readyAt: uint256

event WithdrawFinalized:
    master: indexed(address)
    token: indexed(address)
    amount: uint256

event RecoverySet:
    master: indexed(address)
    account: indexed(address)  # empty: the recovery address was removed
    delay: uint256

event TakeoverStarted:
    master: indexed(address)
    account: indexed(address)
    readyAt: uint256

event TakeoverCancelled:
    master: indexed(address)
    account: indexed(address)

event TakeoverCompleted:
    master: indexed(address)
    account: indexed(address)

event EscrowRecovered:
    master: indexed(address)
    account: indexed(address)
    token: indexed(address)
    amount: uint256


@deploy
def __init__(delay: uint256, grace: uint256):
    # A zero delay would let a master withdraw or revoke under the payees' feet.
    assert delay > 0, "zero delay"
    assert delay <= 365 * 86400 and grace <= 365 * 86400, "delay too long"
    DELAY = delay
    GRACE = grace

# ---------------------------------------------------------------------------------------------
# EIP-712 hashing, exactly as off chain

@internal
@view
def _domain_separator() -> bytes32:
    # Computed on every call (about 100 gas) rather than cached, so a fork's new chain id is
    # picked up and signatures made for the other fork do not replay here.
    return keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self))


@internal
@pure
def _digest(domain: bytes32, struct_hash: bytes32) -> bytes32:
    return keccak256(concat(b"\x19\x01", domain, struct_hash))


@internal
@pure
def _hash_delegation(d: SpendingDelegation) -> bytes32:
    # An array's encodeData is the keccak of its elements' encodings concatenated: struct hashes
    # for Allowance[], 32-byte left-padded words for address[]. The ABI encoding of a DynArray is
    # its length word followed by exactly those words, so skip the first 32 bytes.
    hashes: DynArray[bytes32, MAX_ALLOWANCES] = []
    for a: Allowance in d.allowances:
        hashes.append(keccak256(abi_encode(ALLOWANCE_TYPEHASH, a.token, a.total, a.perPayment, a.period, a.perPeriod)))
    allowances_hash: bytes32 = keccak256(slice(abi_encode(hashes, ensure_tuple=False), 32, 32 * len(hashes)))
    payees_hash: bytes32 = keccak256(slice(abi_encode(d.payees, ensure_tuple=False), 32, 32 * len(d.payees)))
    return keccak256(abi_encode(
        SPENDING_DELEGATION_TYPEHASH, d.master, d.spender, allowances_hash, payees_hash,
        d.validAfter, d.validUntil, d.salt,
    ))


@internal
@pure
def _hash_voucher(v: Voucher) -> bytes32:
    return keccak256(abi_encode(VOUCHER_TYPEHASH, v.delegation, v.payee, v.token, v.cumulative, v.sequence, v.memo))


@internal
@pure
def _hash_revocation(r: Revocation) -> bytes32:
    return keccak256(abi_encode(REVOCATION_TYPEHASH, r.issuer, r.target, r.issuedAt))


@internal
@view
def _recover(digest: bytes32, sig: Bytes[65]) -> address:
    # r ‖ s ‖ v, v 27 or 28 as ecrecover takes it; the caller compares the result with the signer
    # it expects: a tampered message recovers some other address, not zero.
    assert len(sig) == 65, "bad signature length"
    r: uint256 = extract32(sig, 0, output_type=uint256)
    s: uint256 = extract32(sig, 32, output_type=uint256)
    v: uint256 = convert(slice(sig, 64, 1), uint256)
    assert v == 27 or v == 28, "bad signature v"
    assert s <= SECP256K1_HALF_N, "high s"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "invalid signature"
    return signer

# ---------------------------------------------------------------------------------------------
# Moving value (callers hold the reentrancy lock and have already written their state)

@internal
def _call_token(token: address, data: Bytes[100]):
    # Tolerates tokens that return nothing (USDT-style); refuses a false return or a revert.
    assert token.is_contract, "not a token"
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(token, data, max_outsize=32, revert_on_failure=False)
    assert ok, "token transfer failed"
    if len(response) > 0:
        assert len(response) == 32 and convert(response, uint256) == 1, "token transfer failed"


@internal
def _pay(token: address, to: address, amount: uint256):
    if token == ETH:
        # All gas forwarded so contract wallets can receive; the lock stops reentry.
        assert raw_call(to, b"", value=amount, revert_on_failure=False), "ETH transfer failed"
    else:
        self._call_token(token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")))

# ---------------------------------------------------------------------------------------------
# Escrow

@external
@payable
@nonreentrant
def deposit():
    """@notice Escrow ETH for the sender's (the master's) delegations."""
    assert msg.value > 0, "zero deposit"
    assert self.recoveredTo[msg.sender] == empty(address), "master recovered"
    balance: uint256 = self.escrow[msg.sender][ETH] + msg.value
    self.escrow[msg.sender][ETH] = balance
    log Deposited(master=msg.sender, token=ETH, amount=msg.value, escrow=balance)


@external
@nonreentrant
def depositToken(token: address, amount: uint256):
    """@notice Escrow `amount` of an ERC-20 (approved to this contract beforehand) for the sender."""
    assert token != ETH, "use deposit for ETH"
    assert amount > 0, "zero deposit"
    assert token.is_contract, "not a token"
    assert self.recoveredTo[msg.sender] == empty(address), "master recovered"
    # The transfer comes before the credit because the credit is what actually arrived (a token
    # taking a fee on transfer must not leave the escrows larger than the balance); the lock
    # stops a token's callback from re-entering.
    before: uint256 = staticcall IERC20Balance(token).balanceOf(self)
    self._call_token(token, abi_encode(msg.sender, self, amount, method_id=method_id("transferFrom(address,address,uint256)")))
    received: uint256 = staticcall IERC20Balance(token).balanceOf(self) - before
    assert received > 0, "zero deposit"
    balance: uint256 = self.escrow[msg.sender][token] + received
    self.escrow[msg.sender][token] = balance
    log Deposited(master=msg.sender, token=token, amount=received, escrow=balance)


@external
@nonreentrant
def initiateWithdraw(token: address, amount: uint256):
    """
    @notice Announce a withdrawal of the sender's escrow; it can be finalized DELAY seconds
            from now. Payees keep redeeming meanwhile. A new call replaces the pending one and
            restarts its delay.
    """
    assert amount > 0, "zero amount"
    assert amount <= self.escrow[msg.sender][token], "over escrow"
    ready_at: uint256 = block.timestamp + DELAY
    self.pendingWithdrawal[msg.sender][token] = Withdrawal(amount=amount, readyAt=ready_at)
    log WithdrawInitiated(master=msg.sender, token=token, amount=amount, readyAt=ready_at)


@external
@nonreentrant
def finalizeWithdraw(token: address) -> uint256:
    """
    @notice Pay out a withdrawal whose delay has passed: the announced amount, or what is left
            of the escrow if payees redeemed part of it meanwhile.
    """
    w: Withdrawal = self.pendingWithdrawal[msg.sender][token]
    assert w.readyAt != 0, "no pending withdrawal"
    assert block.timestamp >= w.readyAt, "withdrawal not ready"
    amount: uint256 = min(w.amount, self.escrow[msg.sender][token])
    self.pendingWithdrawal[msg.sender][token] = empty(Withdrawal)
    self.escrow[msg.sender][token] -= amount
    log WithdrawFinalized(master=msg.sender, token=token, amount=amount)
    if amount > 0:
        self._pay(token, msg.sender, amount)
    return amount

# ---------------------------------------------------------------------------------------------
# Revocation

@external
@nonreentrant
def revoke(revocation: Revocation, signature: Bytes[65]):
    """
    @notice Record a Revocation signed by its issuer (for a spending delegation: its master).
            Anyone may submit it. It takes effect DELAY seconds from now (or at its issuedAt, if
            later), so payees redeem what they accepted before.
    """
    digest: bytes32 = self._digest(self._domain_separator(), self._hash_revocation(revocation))
    assert self._recover(digest, signature) == revocation.issuer, "not signed by issuer"
    effective: uint256 = max(block.timestamp + DELAY, convert(revocation.issuedAt, uint256))
    current: uint256 = self.revokedFrom[revocation.issuer][revocation.target]
    # A second submission must not postpone the first.
    assert current == 0 or effective < current, "already revoked"
    self.revokedFrom[revocation.issuer][revocation.target] = effective
    log Revoked(issuer=revocation.issuer, target=revocation.target, effectiveAt=effective)

# ---------------------------------------------------------------------------------------------
# Recovery

@external
@nonreentrant
def setRecovery(account: address, delay: uint256):
    """
    @notice Name (or, with the empty address and a zero delay, remove) the sender's recovery
            address and the delay a takeover waits. Replacing it cancels a pending takeover: the
            master is evidently not lost.
    """
    assert self.recoveredTo[msg.sender] == empty(address), "master recovered"
    if account == empty(address):
        assert delay == 0, "delay without recovery address"
    else:
        assert account != msg.sender, "recovery address is the master"
        assert account != self, "recovery address is this contract"
        assert delay >= DELAY, "recovery delay below withdrawal delay"
        assert delay <= MAX_RECOVERY_DELAY, "recovery delay too long"
    old: Recovery = self.recovery[msg.sender]
    if old.readyAt != 0:
        log TakeoverCancelled(master=msg.sender, account=old.account)
    self.recovery[msg.sender] = Recovery(account=account, delay=delay, readyAt=0)
    log RecoverySet(master=msg.sender, account=account, delay=delay)


@external
@nonreentrant
def startTakeover(master: address):
    """@notice Start taking `master` over; only its recovery address may, once at a time."""
    r: Recovery = self.recovery[master]
    assert r.account != empty(address), "no recovery address"
    assert msg.sender == r.account, "not the recovery address"
    assert self.recoveredTo[master] == empty(address), "master recovered"
    assert r.readyAt == 0, "takeover pending"
    ready_at: uint256 = block.timestamp + r.delay
    self.recovery[master].readyAt = ready_at
    log TakeoverStarted(master=master, account=r.account, readyAt=ready_at)


@external
@nonreentrant
def cancelTakeover():
    """@notice The master cancels a takeover of itself (any time before it is completed)."""
    r: Recovery = self.recovery[msg.sender]
    assert r.readyAt != 0, "no takeover pending"
    self.recovery[msg.sender].readyAt = 0
    log TakeoverCancelled(master=msg.sender, account=r.account)


@external
@nonreentrant
def completeTakeover(master: address, tokens: DynArray[address, MAX_ALLOWANCES]):
    """
    @notice After the delay, the recovery address completes the takeover: `master` is recovered
            and its escrow in ETH and in each of `tokens` moves to the recovery address's escrow
            (withdrawals pending on them are dropped). Once recovered, the recovery address may
            call again to move tokens it did not name the first time.
    """
    r: Recovery = self.recovery[master]
    assert r.account != empty(address), "no recovery address"
    assert msg.sender == r.account, "not the recovery address"
    if self.recoveredTo[master] == empty(address):
        assert r.readyAt != 0, "no takeover pending"
        assert block.timestamp >= r.readyAt, "takeover not ready"
        self.recoveredTo[master] = r.account
        self.recovery[master].readyAt = 0
        log TakeoverCompleted(master=master, account=r.account)
        self._move_escrow(master, r.account, ETH)
    for token: address in tokens:
        self._move_escrow(master, r.account, token)


@internal
def _move_escrow(master: address, account: address, token: address):
    amount: uint256 = self.escrow[master][token]
    self.pendingWithdrawal[master][token] = empty(Withdrawal)
    if amount == 0:
        return
    self.escrow[master][token] = 0
    self.escrow[account][token] += amount
    log EscrowRecovered(master=master, account=account, token=token, amount=amount)

# ---------------------------------------------------------------------------------------------
# Redemption

@internal
def _redeem(
    delegation: SpendingDelegation,
    master_signature: Bytes[65],
    vouchers: DynArray[Voucher, MAX_BATCH],
    spender_signatures: DynArray[Bytes[65], MAX_BATCH],
    strict: bool,
) -> uint256:
    assert len(vouchers) > 0, "empty batch"
    assert len(vouchers) == len(spender_signatures), "batch lengths differ"

    # The delegation: signed by its master under this contract's domain (a delegation signed
    # for another chain or contract recovers another address), in its window, not revoked.
    domain: bytes32 = self._domain_separator()
    id: bytes32 = self._digest(domain, self._hash_delegation(delegation))
    assert self._recover(id, master_signature) == delegation.master, "not signed by master"
    assert delegation.validAfter <= delegation.validUntil, "window ends before it starts"
    assert block.timestamp >= convert(delegation.validAfter, uint256), "not yet valid"
    assert block.timestamp <= convert(delegation.validUntil, uint256) + GRACE, "expired"
    revoked_from: uint256 = self.revokedFrom[delegation.master][id]
    assert revoked_from == 0 or block.timestamp < revoked_from, "delegation revoked"

    paid_in_all: uint256 = 0
    for i: uint256 in range(len(vouchers), bound=MAX_BATCH):
        v: Voucher = vouchers[i]
        # Checks: every voucher is fully valid, or the whole call reverts.
        assert v.delegation == id, "voucher of another delegation"
        assert self._recover(self._digest(domain, self._hash_voucher(v)), spender_signatures[i]) == delegation.spender, "not signed by spender"
        assert v.payee != empty(address), "zero payee"
        # Paid to itself, a token would stay here with no escrow owning it.
        assert v.payee != self, "payee is this contract"
        assert len(delegation.payees) == 0 or v.payee in delegation.payees, "payee not allowed"
        # The first allowance for the token counts, as off chain (SpendingDelegation.allowance(for:)).
        total: uint256 = 0
        found: bool = False
        for a: Allowance in delegation.allowances:
            if a.token == v.token:
                total = a.total
                found = True
                break
        assert found, "token not allowed"

        # The amount: the channel's increase, capped by what the total and the escrow still allow.
        channel: uint256 = self.channelPaid[id][v.payee][v.token]
        spent: uint256 = self.redeemed[id][v.token]
        funds: uint256 = self.escrow[delegation.master][v.token]
        owed: uint256 = 0
        if v.cumulative > channel:
            owed = v.cumulative - channel
        room: uint256 = total - spent  # spent never exceeds total: it only grows by amounts <= room
        if strict:
            # A single redemption that would pay nothing says why; a batch carries on.
            assert owed > 0, "nothing to redeem"
            assert room > 0, "total exhausted"
            assert funds > 0, "escrow empty"
        amount: uint256 = min(owed, min(room, funds))

        # Effects before the interaction.
        if amount > 0:
            self.channelPaid[id][v.payee][v.token] = channel + amount
            self.redeemed[id][v.token] = spent + amount
            self.escrow[delegation.master][v.token] = funds - amount
        log Redeemed(delegation=id, payee=v.payee, token=v.token, cumulative=v.cumulative, paid=amount, shortfall=owed - amount)
        if amount > 0:
            self._pay(v.token, v.payee, amount)
        paid_in_all += amount
    return paid_in_all


@external
@nonreentrant
def redeem(delegation: SpendingDelegation, masterSignature: Bytes[65], voucher: Voucher, spenderSignature: Bytes[65]) -> uint256:
    """
    @notice Pay `voucher.payee` its channel's increase. Anyone may submit. Reverts with the
            reason when the voucher is invalid or when nothing at all can be paid ("nothing to
            redeem", "total exhausted", "escrow empty"); pays what is left when only part can.
    @return the amount paid
    """
    return self._redeem(delegation, masterSignature, [voucher], [spenderSignature], True)


@external
@nonreentrant
def redeemBatch(
    delegation: SpendingDelegation,
    masterSignature: Bytes[65],
    vouchers: DynArray[Voucher, MAX_BATCH],
    spenderSignatures: DynArray[Bytes[65], MAX_BATCH],
) -> uint256:
    """
    @notice Redeem many vouchers of one delegation, in order. An invalid voucher reverts the
            whole call (simulate first and drop it); a voucher the total or the escrow can no
            longer cover is paid what is left, possibly zero, and the batch goes on.
    @return the amount paid in all (summed across tokens)
    """
    return self._redeem(delegation, masterSignature, vouchers, spenderSignatures, False)

# ---------------------------------------------------------------------------------------------
# Views: the digests as this contract computes them (ids, for clients and tests)

@external
@view
def domainSeparator() -> bytes32:
    return self._domain_separator()


@external
@view
def delegationId(delegation: SpendingDelegation) -> bytes32:
    return self._digest(self._domain_separator(), self._hash_delegation(delegation))


@external
@view
def voucherDigest(voucher: Voucher) -> bytes32:
    return self._digest(self._domain_separator(), self._hash_voucher(voucher))


@external
@view
def revocationDigest(revocation: Revocation) -> bytes32:
    return self._digest(self._domain_separator(), self._hash_revocation(revocation))
