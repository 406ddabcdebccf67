# pragma version ~=0.4.3
"""
@title ledgerml governance
@notice k-of-n governance of the ledger (ledgerml.vocab.governance on chain): a policy (threshold, members, the
        governed actions), proposals of one exact governed call (its keccak, and the sha256 digest members
        approve), one vote per member, rejection once the threshold is out of reach, expiry, and execution of the
        proposed call with the proposer as actor once the approvals reach the threshold. Every accepted call is
        one ledger event, recorded by Ledger.vy (`record`: the caller's nonce, the body's envelope, the log);
        readers check bodies and payloads as for any event. A rejected call reverts with "<ErrorClass>: reason".
        Action bits: GovernancePolicySet 1, RoleGranted 2, RoleRevoked 4, TokensMinted 8, TaskCreated 16.
"""

interface Ledger:
    def record(actor: address, nonce: uint256, kind: Bytes[24], body: Bytes[16384], governed: uint256): nonpayable
    def roles(who: address) -> uint256: view

MAX_BODY: constant(uint256) = 16384
MAX_MEMBERS: constant(uint256) = 64
MAX_CALL: constant(uint256) = 2400
MAX_TTL: constant(uint256) = 7776000000  # 90 days in ms, ledgerml.vocab.governance.MAX_TTL_MS
POLICY: constant(uint256) = 1
ALL_ACTIONS: constant(uint256) = 31
OPEN: constant(uint256) = 1
EXECUTED: constant(uint256) = 2
REJECTED: constant(uint256) = 3

struct Proposal:
    digest: bytes32
    call_hash: bytes32
    action: uint256
    proposer: address
    expires: uint256
    version: uint256
    approvals: uint256
    rejections: uint256
    status: uint256

ledger: public(Ledger)
deployer: address
version: public(uint256)
threshold: public(uint256)
member_count: public(uint256)
actions: public(uint256)
# the policy version an account is a member of
member_of: public(HashMap[address, uint256])
proposal_count: public(uint256)
proposals: public(HashMap[uint256, Proposal])
voted: public(HashMap[uint256, HashMap[address, bool]])


@deploy
def __init__():
    self.deployer = msg.sender


@external
def set_ledger(ledger: address):
    """
    @notice Once, by the deployer: the Ledger contract this contract governs.
    """
    assert msg.sender == self.deployer and self.ledger.address == empty(address), "Unauthorized: the ledger is set"
    self.ledger = Ledger(ledger)


@internal
@view
def _check_policy(threshold: uint256, members: DynArray[address, MAX_MEMBERS], actions: uint256):
    assert threshold >= 1 and threshold <= len(members), "MalformedEvent: the threshold is more than the members"
    assert actions & POLICY != 0 and actions & ALL_ACTIONS == actions, "MalformedEvent: not a policy's actions"
    previous: uint256 = 0
    for member: address in members:
        assert convert(member, uint256) > previous, "MalformedEvent: members must be sorted and must not repeat"
        previous = convert(member, uint256)


@internal
def _set_policy(threshold: uint256, members: DynArray[address, MAX_MEMBERS], actions: uint256):
    self._check_policy(threshold, members, actions)
    version: uint256 = self.version + 1
    for member: address in members:
        self.member_of[member] = version
    self.version = version
    self.threshold = threshold
    self.member_count = len(members)
    self.actions = actions


@internal
@pure
def _selector(action: uint256) -> Bytes[4]:
    if action == 2:
        return method_id("grant_role(uint256,address,uint256,bytes)")
    if action == 4:
        return method_id("revoke_role(uint256,address,uint256,bytes)")
    if action == 8:
        return method_id("mint(uint256,address,bytes32,uint256,bytes)")
    return method_id(
        "create_task(uint256,bytes32,bytes32,uint256,(address,uint256,uint256,uint256,uint256),bytes32,bytes32[],bytes)"
    )


@internal
@view
def _require_member(who: address):
    assert self.member_of[who] == self.version, "Unauthorized: the actor is not a member of the governance policy"


@external
@nonreentrant
def set_policy(
    nonce: uint256, threshold: uint256, members: DynArray[address, MAX_MEMBERS], actions: uint256, body: Bytes[MAX_BODY]
):
    """
    @notice GovernancePolicySet: an admin sets the first policy (`members` ascending); later ones need a proposal.
    """
    assert self.version == 0, "Unauthorized: the governance policy needs approvals for GovernancePolicySet: propose it"
    assert (staticcall self.ledger.roles(msg.sender)) & 1 != 0, "Unauthorized: the actor lacks the role"
    self._set_policy(threshold, members, actions)
    extcall self.ledger.record(msg.sender, nonce, b"GovernancePolicySet", body, actions)


@external
def probe(call: Bytes[MAX_CALL]):
    """
    @notice Internal (callable by this contract only): run a proposed ledger call and always revert, with b"ok" when
            it would succeed, else with its own revert reason.
    """
    assert msg.sender == self, "Unauthorized: only the governance contract probes a call"
    raw_call(self.ledger.address, call)
    raw_revert(b"ok")


@internal
def _dry_run(action: uint256, call: Bytes[MAX_CALL]):
    """
    @notice Revert with what the proposed call's own rules say if it were executed now (nothing changes).
    """
    if action == POLICY:
        threshold: uint256 = 0
        members: DynArray[address, MAX_MEMBERS] = []
        actions: uint256 = 0
        threshold, members, actions = abi_decode(call, (uint256, DynArray[address, MAX_MEMBERS], uint256))
        self._check_policy(threshold, members, actions)
        return
    assert len(call) >= 36 and slice(call, 0, 4) == self._selector(action), "MalformedEvent: the call is not the action's"
    assert extract32(call, 4, output_type=address) == msg.sender, "MalformedEvent: the call must act for the proposer"
    success: bool = False
    response: Bytes[512] = b""
    success, response = raw_call(
        self, abi_encode(call, method_id=method_id("probe(bytes)")), max_outsize=512, revert_on_failure=False
    )
    if response != b"ok":
        raw_revert(response)


@external
@nonreentrant
def propose(
    nonce: uint256,
    action: uint256,
    digest: bytes32,
    call: Bytes[MAX_CALL],
    time: uint256,
    expires: uint256,
    body: Bytes[MAX_BODY],
):
    """
    @notice ProposalCreated: a member proposes one governed call (`call`, ABI-encoded; for a policy the abi_encode of
            threshold, members, actions), `digest` the sha256 of the event it applies, made at `time` (ms).
    """
    assert self.version != 0, "InvalidTransition: no governance policy is set: submit the event directly"
    assert action & self.actions != 0 and action & (action - 1) == 0, "InvalidTransition: the action is not governed by the policy: submit it directly"
    self._require_member(msg.sender)
    assert time < expires and expires <= time + MAX_TTL, "InvalidTransition: a proposal must expire after it is made and within 90 days"
    self._dry_run(action, call)
    number: uint256 = self.proposal_count + 1
    self.proposal_count = number
    self.proposals[number] = Proposal(
        digest=digest,
        call_hash=keccak256(call),
        action=action,
        proposer=msg.sender,
        expires=expires,
        version=self.version,
        approvals=1,
        rejections=0,
        status=OPEN,
    )
    self.voted[number][msg.sender] = True
    extcall self.ledger.record(msg.sender, nonce, b"ProposalCreated", body, self.actions)


@internal
@view
def _open(number: uint256, digest: bytes32, time: uint256) -> Proposal:
    """
    @notice Proposal `number`, open, unexpired (at the event's time and the chain's) and current, with `digest`.
    """
    found: Proposal = self.proposals[number]
    assert found.status != 0, "UnknownReference: the proposal does not exist"
    self._require_member(msg.sender)
    assert found.status == OPEN, "InvalidTransition: the proposal is executed or rejected already"
    assert max(time, block.timestamp * 1000) < found.expires, "InvalidTransition: the proposal expired; propose it again"
    assert found.version == self.version, "InvalidTransition: the proposal was made under an earlier governance policy: propose it again"
    assert digest == found.digest, "MalformedEvent: the digest does not match the proposal's action"
    return found


@internal
def _vote(number: uint256, digest: bytes32, time: uint256) -> Proposal:
    found: Proposal = self._open(number, digest, time)
    assert not self.voted[number][msg.sender], "DuplicateRegistration: the member has voted on the proposal already"
    self.voted[number][msg.sender] = True
    return found


@external
@nonreentrant
def approve(nonce: uint256, number: uint256, digest: bytes32, time: uint256, body: Bytes[MAX_BODY]):
    """
    @notice ProposalApproved: a member approves proposal `number` at `time` (ms).
    """
    self._vote(number, digest, time)
    self.proposals[number].approvals += 1
    extcall self.ledger.record(msg.sender, nonce, b"ProposalApproved", body, self.actions)


@external
@nonreentrant
def reject(nonce: uint256, number: uint256, digest: bytes32, time: uint256, body: Bytes[MAX_BODY]):
    """
    @notice ProposalRejected: a member rejects proposal `number`; it fails once the threshold is out of reach.
    """
    found: Proposal = self._vote(number, digest, time)
    rejections: uint256 = found.rejections + 1
    self.proposals[number].rejections = rejections
    if self.member_count - rejections < self.threshold:
        self.proposals[number].status = REJECTED
    extcall self.ledger.record(msg.sender, nonce, b"ProposalRejected", body, self.actions)


@external
@nonreentrant
def execute(
    nonce: uint256, number: uint256, digest: bytes32, call: Bytes[MAX_CALL], time: uint256, body: Bytes[MAX_BODY]
):
    """
    @notice ProposalExecuted: a member applies proposal `number` (its `call`, exactly) once it has the approvals.
    """
    found: Proposal = self._open(number, digest, time)
    assert found.approvals >= self.threshold, "InvalidTransition: the proposal has fewer approvals than the policy needs"
    assert keccak256(call) == found.call_hash, "MalformedEvent: the call is not the proposed one"
    self.proposals[number].status = EXECUTED
    if found.action == POLICY:
        threshold: uint256 = 0
        members: DynArray[address, MAX_MEMBERS] = []
        actions: uint256 = 0
        threshold, members, actions = abi_decode(call, (uint256, DynArray[address, MAX_MEMBERS], uint256))
        self._set_policy(threshold, members, actions)
    else:
        raw_call(self.ledger.address, call)
    extcall self.ledger.record(msg.sender, nonce, b"ProposalExecuted", body, self.actions)
