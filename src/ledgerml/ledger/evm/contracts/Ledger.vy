# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title ledgerml ledger
@notice The rules of ledgerml's state machine (ledgerml.state, ledgerml.tasks, ledgerml.tokens) re-implemented
        on chain: roles, the dataset and model registry with lineage, federated tasks (create, join with a
        stake, commit update digests, finalize rounds, pay rewards, slash, settle) and reward-token movements.
        Every accepted call is one ledger event: the caller is the event's actor, `nonce` its event nonce and
        `body` the actor's signed event (canonical JSON), emitted so that anyone can rebuild the event log.
        The body's envelope is bound to the call: it must start with `{"actor":"0x<the caller>","kind":"<the
        function's kind>","ledger":"<this ledger's id>","nonce":<nonce>,"payload":` (the canonical key order).
        Signatures and payloads are checked by readers, which skip and report a body that does not replay.
        A rejected call reverts with "<ErrorClass>: reason", the class the embedded ledger raises.
        Governance (k-of-n approvals) lives in Governance.vy: it records the governance events through `record`
        and executes approved proposals by calling the governed functions (grant_role, revoke_role, mint,
        create_task) with the proposer as actor; while its policy governs one of them, a direct call reverts.
        Storage changes always happen before the token calls (checks, effects, interactions).
"""

interface RewardToken:
    def mint(owner: address, amount: uint256): nonpayable
    def ledger_transfer(owner: address, to: address, amount: uint256): nonpayable
    def balanceOf(owner: address) -> uint256: view

# role bits, in the order of ledgerml.types.Role
ADMIN: constant(uint256) = 1
VALIDATOR: constant(uint256) = 2
DATA_OWNER: constant(uint256) = 4
TRAINER: constant(uint256) = 8
AGGREGATOR: constant(uint256) = 16
AUDITOR: constant(uint256) = 32
ALL_ROLES: constant(uint256) = 63

MAX_BODY: constant(uint256) = 16384
MAX_LIST: constant(uint256) = 512
MAX_LINEAGE: constant(uint256) = 1024
MAX_PARTICIPANTS: constant(uint256) = 4096
MAX_RECORDS: constant(uint256) = 9007199254740992  # 2**53, ledgerml.state.MAX_RECORDS
MAX_KIND: constant(uint256) = 24
MAX_ENVELOPE: constant(uint256) = 180
ENVELOPE_HEAD: constant(uint256) = 240  # every event body is longer: its signature alone is 130 hex digits
ACCEPTED: constant(bytes32) = 0x0000000000000000000000000000000000000000000000000000000000000001
U64: constant(uint256) = 18446744073709551615
BYTES_1: constant(uint256) = max_value(uint256) // 255  # 0x01 in every byte
LOWER_CASE: constant(uint256) = BYTES_1 * 32  # 0x20 in every byte: lower-cases hex letters
BYTES_6: constant(uint256) = BYTES_1 * 6
BYTES_48: constant(uint256) = BYTES_1 * 48
SPREAD_4: constant(uint256) = BYTES_1 * 15
SPREAD_8: constant(uint256) = max_value(uint256) // 65535 * 255
SPREAD_16: constant(uint256) = max_value(uint256) // 4294967295 * 65535
SPREAD_32: constant(uint256) = max_value(uint256) // 18446744073709551615 * 4294967295
SPREAD_64: constant(uint256) = max_value(uint256) // 340282366920938463463374607431768211455 * 18446744073709551615
ACTOR_PREFIX: constant(Bytes[12]) = b'{"actor":"0x'

event Appended:
    actor: indexed(address)
    nonce: uint256
    body: Bytes[MAX_BODY]

event Committed:
    actor: indexed(address)
    task: bytes32
    update: bytes32
    base: bytes32
    packed: uint256
    r: bytes32
    s: bytes32

event Sealed:
    height: indexed(uint256)
    log_size: uint256
    log_root: bytes32
    time: uint256
    prev_hash: bytes32
    block_hash: bytes32
    proposer: address
    signature: Bytes[65]

struct Task:
    aggregator: address
    min_participants: uint256
    reward_pool: uint256
    min_stake: uint256
    slash_amount: uint256

token: public(RewardToken)
ledger_id: public(bytes16)
LEDGER_HEX: immutable(Bytes[32])
roles: public(HashMap[address, uint256])
holders: public(HashMap[uint256, uint256])
nonces: public(HashMap[address, uint256])
# owner | record count << 160
dataset_info: public(HashMap[bytes32, uint256])
model_owner: public(HashMap[bytes32, address])
minted: public(uint256)

tasks: public(HashMap[bytes32, Task])
# finalized rounds | commits in the open round << 64 | rounds << 128
progress: public(HashMap[bytes32, uint256])
global_model: public(HashMap[bytes32, bytes32])
slash_prefix: public(HashMap[bytes32, HashMap[bytes32, bool]])
# joined (1) | last round committed << 1 | examples the joined datasets hold (sum of record counts) << 128
member: public(HashMap[bytes32, HashMap[address, uint256]])
last_update: public(HashMap[bytes32, HashMap[address, bytes32]])
participant_count: public(HashMap[bytes32, uint256])
participant_at: public(HashMap[bytes32, HashMap[uint256, address]])
stakes: public(HashMap[bytes32, HashMap[address, uint256]])
pools: public(HashMap[bytes32, uint256])
# per round: accepted count | ok << 64 | finalized << 65 | paid << 66
round_info: public(HashMap[bytes32, HashMap[uint256, uint256]])
# per round and participant: ACCEPTED, or keccak(keccak(reason), update digest) when rejected
fate: public(HashMap[bytes32, HashMap[uint256, HashMap[address, bytes32]]])
slashed: public(HashMap[bytes32, HashMap[uint256, HashMap[address, bool]]])
settled: public(HashMap[bytes32, bool])

block_count: public(uint256)
head_hash: public(bytes32)
sealed_size: public(uint256)
head_time: public(uint256)
deployed_at: public(uint256)
governance: public(address)
# Governance.vy's policy: the governed calls' bits (RoleGranted 2, RoleRevoked 4, TokensMinted 8, TaskCreated 16)
governed: public(uint256)


@deploy
def __init__(token: address, ledger_id: bytes16, validator: address, genesis: Bytes[MAX_BODY], governance: address):
    """
    @notice Genesis: the deployer is the admin, `validator` seals blocks; `genesis` is the signed LedgerCreated.
    """
    self.token = RewardToken(token)
    self.governance = governance
    self.ledger_id = ledger_id
    word: uint256 = convert(ledger_id, uint256)
    digits: uint256 = 0
    for i: uint256 in range(32):
        nibble: uint256 = (word >> (124 - 4 * i)) & 15
        digits = (digits << 8) | (nibble + 48 + 39 * convert(nibble > 9, uint256))
    LEDGER_HEX = concat(convert(digits, bytes32), b"")
    self._grant(msg.sender, ADMIN)
    self._grant(validator, VALIDATOR)
    self.nonces[msg.sender] = 1
    self.deployed_at = block.number
    log Appended(actor=msg.sender, nonce=0, body=genesis)


# -- shared checks -----------------------------------------------------------------------------------------


@internal
@pure
def _hex_chars(number: uint256) -> uint256:
    """
    @notice The lower-case hex digits of a 128-bit `number`, one ASCII byte each (32 bytes, no loop).
    """
    v: uint256 = number
    v = (v | (v << 64)) & SPREAD_64
    v = (v | (v << 32)) & SPREAD_32
    v = (v | (v << 16)) & SPREAD_16
    v = (v | (v << 8)) & SPREAD_8
    v = (v | (v << 4)) & SPREAD_4
    letters: uint256 = ((v + BYTES_6) >> 4) & BYTES_1  # 1 in each byte whose nibble is above 9
    return v + BYTES_48 + letters * 39


@internal
@view
def _check_envelope(actor: address, nonce: uint256, head: Bytes[ENVELOPE_HEAD], kind: Bytes[MAX_KIND]):
    """
    @notice The body's envelope names `actor` (the caller, or the member a governance event is from), the function's kind, this ledger and `nonce`.
    @dev `head` is the body's first ENVELOPE_HEAD bytes (a whole body is never passed: each Bytes[MAX_BODY]
         copy costs memory gas). The actor's hex digits are compared case-insensitively (EIP-55).
    """
    assert slice(head, 0, 12) == ACTOR_PREFIX, "MalformedEvent: the body is not a ledger event envelope"
    sender: uint256 = convert(actor, uint256)
    expected: uint256 = self._hex_chars(sender >> 32)  # the first 32 hex digits
    rest: uint256 = self._hex_chars(sender & 4294967295) & 18446744073709551615  # the last 8
    first: uint256 = convert(convert(slice(head, 12, 32), bytes32), uint256) | LOWER_CASE
    second: uint256 = (convert(convert(slice(head, 44, 32), bytes32), uint256) >> 192) | (LOWER_CASE >> 192)
    assert first == expected and second == rest, "MalformedEvent: the body's actor is not the transaction's sender"
    envelope: Bytes[MAX_ENVELOPE] = concat(
        b'","kind":"', kind, b'","ledger":"', LEDGER_HEX, b'","nonce":', convert(uint2str(nonce), Bytes[78]), b',"payload":'
    )
    assert slice(head, 52, len(envelope)) == envelope, "MalformedEvent: the body's kind, ledger or nonce does not match the call"


@internal
def _take_nonce(actor: address, nonce: uint256):
    expected: uint256 = self.nonces[actor]
    assert nonce >= expected, "ReplayedNonce: nonce used already"
    assert nonce == expected, "NonceGap: nonce skips ahead"
    self.nonces[actor] = expected + 1


@internal
def _event(actor: address, nonce: uint256, body: Bytes[MAX_BODY], kind: Bytes[MAX_KIND]):
    self._take_nonce(actor, nonce)
    assert len(body) >= ENVELOPE_HEAD, "MalformedEvent: the body is not a ledger event envelope"
    self._check_envelope(actor, nonce, slice(body, 0, ENVELOPE_HEAD), kind)
    log Appended(actor=actor, nonce=nonce, body=body)


@internal
@view
def _actor(nonce: uint256) -> address:
    """
    @notice Who a governed call acts for: the proposer (in the `nonce` word) when Governance.vy executes, else the caller.
    """
    if msg.sender == self.governance:
        return convert(convert(nonce, uint160), address)
    return msg.sender


@internal
@view
def _ungoverned(action: uint256):
    assert self.governed & action == 0, "Unauthorized: the governance policy needs approvals for this action: propose it"


@internal
@view
def _owner(dataset: bytes32) -> address:
    return convert(self.dataset_info[dataset] & convert(max_value(uint160), uint256), address)


@internal
@view
def _require_role(who: address, allowed: uint256):
    assert self.roles[who] & allowed != 0, "Unauthorized: the actor lacks the role"


@internal
def _grant(who: address, role: uint256):
    self.roles[who] = self.roles[who] | role
    self.holders[role] += 1


@internal
@view
def _task(task: bytes32) -> Task:
    found: Task = self.tasks[task]
    assert found.aggregator != empty(address), "UnknownReference: task does not exist"
    return found


@internal
@view
def _require_aggregator(task: bytes32) -> Task:
    found: Task = self._task(task)
    assert found.aggregator == msg.sender, "Unauthorized: only the task's aggregator does this"
    return found


@internal
@view
def _open_round(state: uint256, round: uint256) -> uint256:
    finalized: uint256 = state & U64
    assert finalized < state >> 128, "InvalidTransition: the task is finished"
    assert round == finalized + 1, "InvalidTransition: the round is not open"
    return finalized


@internal
@view
def _finalized_round(task: bytes32, round: uint256) -> uint256:
    info: uint256 = self.round_info[task][round]
    assert info & (1 << 65) != 0, "InvalidTransition: the round is not finalized"
    return info


@internal
@view
def _require_balance(who: address, amount: uint256):
    held: uint256 = staticcall self.token.balanceOf(who)
    assert held >= amount, "InsufficientFunds: the account holds too little"


@external
@view
def dataset_owner(dataset: bytes32) -> address:
    """
    @notice The account that registered `dataset` (zero if none).
    """
    return self._owner(dataset)


@external
@view
def dataset_records(dataset: bytes32) -> uint256:
    """
    @notice The record count `dataset` was registered with.
    """
    return self.dataset_info[dataset] >> 160


# -- roles ---------------------------------------------------------------------------------------------------


@external
def grant_role(nonce: uint256, subject: address, role: uint256, body: Bytes[MAX_BODY]):
    """
    @notice RoleGranted: an admin grants `role` (one role bit) to `subject`.
    """
    actor: address = self._actor(nonce)
    if actor == msg.sender:
        self._event(msg.sender, nonce, body, b"RoleGranted")
        self._ungoverned(2)
    self._require_role(actor, ADMIN)
    assert role & ALL_ROLES == role and role != 0 and role & (role - 1) == 0, "MalformedEvent: not a role"
    assert self.roles[subject] & role == 0, "DuplicateRegistration: the subject holds the role already"
    self._grant(subject, role)


@external
def revoke_role(nonce: uint256, subject: address, role: uint256, body: Bytes[MAX_BODY]):
    """
    @notice RoleRevoked: an admin revokes `role`; the last admin or validator cannot be revoked.
    """
    actor: address = self._actor(nonce)
    if actor == msg.sender:
        self._event(msg.sender, nonce, body, b"RoleRevoked")
        self._ungoverned(4)
    self._require_role(actor, ADMIN)
    assert self.roles[subject] & role != 0 and role != 0, "InvalidTransition: the subject does not hold the role"
    if role == ADMIN or role == VALIDATOR:
        assert self.holders[role] > 1, "InvalidTransition: cannot revoke the last holder of the role"
    self.roles[subject] = self.roles[subject] & (ALL_ROLES ^ role)
    self.holders[role] -= 1


# -- registry ------------------------------------------------------------------------------------------------


@external
def register_dataset(
    nonce: uint256, dataset: bytes32, parents: DynArray[bytes32, 256], records: uint256, body: Bytes[MAX_BODY]
):
    """
    @notice DatasetRegistered: a data owner registers a dataset (manifest digest) derived from `parents`, holding
            `records` records (its metadata["records"], 0 when not given).
    """
    self._event(msg.sender, nonce, body, b"DatasetRegistered")
    self._require_role(msg.sender, DATA_OWNER)
    assert self.dataset_info[dataset] == 0, "DuplicateRegistration: dataset is registered already"
    for parent: bytes32 in parents:
        assert self.dataset_info[parent] != 0, "UnknownReference: parent dataset is not registered"
    assert records <= MAX_RECORDS, "MalformedEvent: metadata.records is too large"
    self.dataset_info[dataset] = convert(msg.sender, uint256) | (records << 160)


@external
def register_model(
    nonce: uint256,
    model: bytes32,
    parents: DynArray[bytes32, 256],
    datasets: DynArray[bytes32, MAX_LINEAGE],
    body: Bytes[MAX_BODY],
):
    """
    @notice ModelRegistered: a trainer or aggregator registers a model with its parent models and datasets.
    """
    self._event(msg.sender, nonce, body, b"ModelRegistered")
    self._require_role(msg.sender, TRAINER | AGGREGATOR)
    assert self.model_owner[model] == empty(address), "DuplicateRegistration: model is registered already"
    for parent: bytes32 in parents:
        assert self.model_owner[parent] != empty(address), "UnknownReference: parent model is not registered"
    for dataset: bytes32 in datasets:
        assert self.dataset_info[dataset] != 0, "UnknownReference: dataset is not registered"
    self.model_owner[model] = msg.sender


# -- federated tasks -----------------------------------------------------------------------------------------


@external
def create_task(
    nonce: uint256,
    task: bytes32,
    initial_model: bytes32,
    rounds: uint256,
    config: Task,
    validation_dataset: bytes32,
    slash_on: DynArray[bytes32, 32],
    body: Bytes[MAX_BODY],
):
    """
    @notice TaskCreated: an aggregator opens a task (`config.aggregator` is ignored: the caller is it).
    """
    actor: address = self._actor(nonce)
    if actor == msg.sender:
        self._event(msg.sender, nonce, body, b"TaskCreated")
        self._ungoverned(16)
    self._require_role(actor, AGGREGATOR)
    assert self.tasks[task].aggregator == empty(address), "DuplicateRegistration: task exists already"
    if validation_dataset != empty(bytes32):
        assert self.dataset_info[validation_dataset] != 0, "UnknownReference: validation dataset is not registered"
    assert rounds > 0 and rounds <= U64, "MalformedEvent: bad round count"
    self.tasks[task] = Task(
        aggregator=actor,
        min_participants=config.min_participants,
        reward_pool=config.reward_pool,
        min_stake=config.min_stake,
        slash_amount=config.slash_amount,
    )
    self.progress[task] = rounds << 128
    self.global_model[task] = initial_model
    for prefix: bytes32 in slash_on:
        self.slash_prefix[task][prefix] = True


@external
def join(nonce: uint256, task: bytes32, datasets: DynArray[bytes32, 64], stake: uint256, body: Bytes[MAX_BODY]):
    """
    @notice ParticipantJoined: a data owner or trainer joins with datasets it owns and at least the minimum stake.
    """
    self._event(msg.sender, nonce, body, b"ParticipantJoined")
    config: Task = self._task(task)
    self._require_role(msg.sender, DATA_OWNER | TRAINER)
    assert self.member[task][msg.sender] == 0, "DuplicateRegistration: joined the task already"
    state: uint256 = self.progress[task]
    assert state & U64 < state >> 128, "InvalidTransition: the task is finished"
    assert stake >= config.min_stake, "InvalidTransition: the stake is below the task's minimum"
    examples: uint256 = 0
    for dataset: bytes32 in datasets:
        info: uint256 = self.dataset_info[dataset]
        assert info != 0, "UnknownReference: dataset is not registered"
        assert convert(info & convert(max_value(uint160), uint256), address) == msg.sender, "Unauthorized: the dataset is owned by another account"
        examples += info >> 160
    if stake > 0:
        self._require_balance(msg.sender, stake)
    self.member[task][msg.sender] = 1 | (examples << 128)
    self.last_update[task][msg.sender] = ACCEPTED  # a non-zero slot makes every commit an update, not a new slot
    index: uint256 = self.participant_count[task]
    assert index < MAX_PARTICIPANTS, "InvalidTransition: the task has the most participants it can hold"
    self.participant_at[task][index] = msg.sender
    self.participant_count[task] = index + 1
    if stake > 0:
        self.stakes[task][msg.sender] = stake
        extcall self.token.ledger_transfer(msg.sender, self, stake)


@external
def commit_update(packed: uint256, task: bytes32, update: bytes32, base: bytes32, r: bytes32, s: bytes32):
    """
    @notice UpdateCommitted: a participant commits the digest of its update for the open round, trained on at
            most as many examples as the datasets it joined with hold.
    @dev Compact: no body. `packed` is nonce | round << 64 | num_examples << 128 | event time << 192 | v << 248,
         and (r, s, v) the actor's signature; readers rebuild the canonical body from the `Committed` log (the
         task id from its key, named by the task's own TaskCreated body) and check the signature as for any body.
    """
    nonce: uint256 = packed & U64
    round: uint256 = (packed >> 64) & U64
    num_examples: uint256 = (packed >> 128) & U64
    self._take_nonce(msg.sender, nonce)
    log Committed(actor=msg.sender, task=task, update=update, base=base, packed=packed, r=r, s=s)
    joined: uint256 = self.member[task][msg.sender]
    if joined == 0:  # only members of existing tasks pass, so the task is read on this path alone
        self._task(task)
        raise "Unauthorized: the actor has not joined the task"
    state: uint256 = self.progress[task]
    self._open_round(state, round)
    assert (joined >> 1) & U64 != round, "DuplicateRegistration: committed an update for this round already"
    assert base == self.global_model[task], "InvalidTransition: the update was not trained on the current global model"
    assert num_examples <= joined >> 128, "InvalidTransition: num_examples exceeds the records of the datasets the participant joined with"
    self.member[task][msg.sender] = (joined >> 128 << 128) | (round << 1) | 1
    self.last_update[task][msg.sender] = update
    self.progress[task] = state + (1 << 64)


@external
def finalize_round(
    nonce: uint256,
    task: bytes32,
    round: uint256,
    ok: bool,
    aggregate: bytes32,
    accepted: DynArray[address, MAX_LIST],
    rejected: DynArray[address, MAX_LIST],
    reasons: DynArray[bytes32, MAX_LIST],
    body: Bytes[MAX_BODY],
):
    """
    @notice RoundFinalized: the aggregator names every committed update accepted or rejected (with reason hash).
    @dev `accepted` and `rejected` are sorted by address, so a participant listed twice is seen at once.
    """
    self._event(msg.sender, nonce, body, b"RoundFinalized")
    config: Task = self._require_aggregator(task)
    state: uint256 = self.progress[task]
    finalized: uint256 = self._open_round(state, round)
    assert len(reasons) == len(rejected), "MalformedEvent: one reason per rejected participant"
    previous: address = empty(address)
    for who: address in accepted:
        assert convert(who, uint256) > convert(previous, uint256), "InvalidTransition: a participant is listed twice"
        previous = who
        assert (self.member[task][who] >> 1) & U64 == round, "InvalidTransition: the round names an update that was never committed"
        self.fate[task][round][who] = ACCEPTED
    previous = empty(address)
    for i: uint256 in range(len(rejected), bound=MAX_LIST):
        who: address = rejected[i]
        assert convert(who, uint256) > convert(previous, uint256), "InvalidTransition: a participant is listed twice"
        previous = who
        assert (self.member[task][who] >> 1) & U64 == round, "InvalidTransition: the round names an update that was never committed"
        assert self.fate[task][round][who] == empty(bytes32), "InvalidTransition: a participant is listed twice"
        self.fate[task][round][who] = keccak256(concat(reasons[i], self.last_update[task][who]))
    commits: uint256 = (state >> 64) & U64
    assert len(accepted) + len(rejected) == commits, "InvalidTransition: committed updates are neither accepted nor rejected"
    if ok:
        assert len(accepted) >= config.min_participants, "InvalidTransition: fewer accepted updates than the task's minimum"
        self.global_model[task] = aggregate
    self.progress[task] = (state >> 128 << 128) | (finalized + 1)
    self.round_info[task][round] = len(accepted) | (convert(ok, uint256) << 64) | (1 << 65)


@external
def pay_rewards(
    nonce: uint256,
    task: bytes32,
    round: uint256,
    participants: DynArray[address, MAX_LIST],
    contributions: DynArray[int256, MAX_LIST],
    payments: DynArray[uint256, MAX_LIST],
    body: Bytes[MAX_BODY],
):
    """
    @notice RewardPaid: the aggregator pays a round's reward, budget * contribution / total, floored, exactly.
    @dev `participants` (sorted) must be exactly the round's accepted participants.
    """
    self._event(msg.sender, nonce, body, b"RewardPaid")
    config: Task = self._require_aggregator(task)
    info: uint256 = self._finalized_round(task, round)
    assert info & (1 << 66) == 0, "DuplicateRegistration: the round is paid already"
    assert info & (1 << 64) != 0, "InvalidTransition: a failed round pays no reward"
    assert len(contributions) == len(participants) and len(payments) == len(participants), "MalformedEvent: one contribution and payment per participant"
    assert len(participants) == info & U64, "InvalidTransition: contributions must name exactly the accepted participants"
    rounds: uint256 = self.progress[task] >> 128
    budget: uint256 = min(config.reward_pool // rounds, self.pools[task])
    total: uint256 = 0
    previous: address = empty(address)
    for i: uint256 in range(len(participants), bound=MAX_LIST):
        who: address = participants[i]
        assert convert(who, uint256) > convert(previous, uint256), "InvalidTransition: contributions must name exactly the accepted participants"
        previous = who
        assert self.fate[task][round][who] == ACCEPTED, "InvalidTransition: contributions must name exactly the accepted participants"
        if contributions[i] > 0:
            total += convert(contributions[i], uint256)
    paid: uint256 = 0
    for i: uint256 in range(len(participants), bound=MAX_LIST):
        due: uint256 = 0
        if total > 0 and contributions[i] > 0:
            due = budget * convert(contributions[i], uint256) // total
        assert payments[i] == due, "InvalidTransition: payments are not what the contributions give"
        paid += due
    self.pools[task] -= paid
    self.round_info[task][round] = info | (1 << 66)
    for i: uint256 in range(len(participants), bound=MAX_LIST):
        if payments[i] > 0:
            extcall self.token.ledger_transfer(self, participants[i], payments[i])


@external
def slash(
    nonce: uint256,
    task: bytes32,
    round: uint256,
    participant: address,
    amount: uint256,
    reason: Bytes[512],
    prefix_length: uint256,
    update: bytes32,
    body: Bytes[MAX_BODY],
):
    """
    @notice StakeSlashed: the aggregator moves a rejected participant's stake (the task's slash amount, at
            most what is left) into the reward pool, when the rejection reason starts with a slashing prefix.
    """
    self._event(msg.sender, nonce, body, b"StakeSlashed")
    config: Task = self._require_aggregator(task)
    self._finalized_round(task, round)
    fate: bytes32 = self.fate[task][round][participant]
    assert fate != ACCEPTED and fate != empty(bytes32), "InvalidTransition: the participant was not rejected in that round"
    assert prefix_length > 0 and prefix_length <= len(reason), "InvalidTransition: the task does not slash for that reason"
    assert self.slash_prefix[task][keccak256(slice(reason, 0, prefix_length))], "InvalidTransition: the task does not slash for that reason"
    assert fate == keccak256(concat(keccak256(reason), update)), "InvalidTransition: the evidence names another reason or update than the round's"
    assert not self.slashed[task][round][participant], "DuplicateRegistration: slashed for this round already"
    due: uint256 = min(self.stakes[task][participant], config.slash_amount)
    assert due > 0 and amount == due, "InvalidTransition: the slash must be the task's slash amount, at most the stake left"
    self.stakes[task][participant] -= due
    self.pools[task] += due
    self.slashed[task][round][participant] = True


@external
def settle(nonce: uint256, task: bytes32, body: Bytes[MAX_BODY]):
    """
    @notice TaskSettled: after the last round every remaining stake goes back to its participant.
    """
    self._event(msg.sender, nonce, body, b"TaskSettled")
    self._require_aggregator(task)
    state: uint256 = self.progress[task]
    assert state & U64 >= state >> 128, "InvalidTransition: the task still has rounds to run"
    assert not self.settled[task], "DuplicateRegistration: the task is settled already"
    self.settled[task] = True
    count: uint256 = self.participant_count[task]
    returns: DynArray[uint256, MAX_PARTICIPANTS] = []
    for i: uint256 in range(count, bound=MAX_PARTICIPANTS):
        who: address = self.participant_at[task][i]
        held: uint256 = self.stakes[task][who]
        returns.append(held)
        if held > 0:
            self.stakes[task][who] = 0
    for i: uint256 in range(count, bound=MAX_PARTICIPANTS):
        if returns[i] > 0:
            extcall self.token.ledger_transfer(self, self.participant_at[task][i], returns[i])


# -- tokens --------------------------------------------------------------------------------------------------


@external
def mint(nonce: uint256, to: address, task: bytes32, amount: uint256, body: Bytes[MAX_BODY]):
    """
    @notice TokensMinted: an admin mints to an account (`task` zero) or into a task's reward pool (`to` zero).
    """
    actor: address = self._actor(nonce)
    if actor == msg.sender:
        self._event(msg.sender, nonce, body, b"TokensMinted")
        self._ungoverned(8)
    self._require_role(actor, ADMIN)
    assert (to == empty(address)) != (task == empty(bytes32)), "MalformedEvent: mint to an account or into a pool"
    assert amount > 0, "MalformedEvent: mint a positive amount"
    receiver: address = to
    if task != empty(bytes32):
        self._task(task)
        self.pools[task] += amount
        receiver = self
    self.minted += amount
    extcall self.token.mint(receiver, amount)


@external
def transfer_tokens(nonce: uint256, to: address, amount: uint256, body: Bytes[MAX_BODY]):
    """
    @notice TokensTransferred: the actor sends tokens to another account.
    """
    self._event(msg.sender, nonce, body, b"TokensTransferred")
    assert amount > 0, "MalformedEvent: transfer a positive amount"
    self._require_balance(msg.sender, amount)
    extcall self.token.ledger_transfer(msg.sender, to, amount)


@external
def record(actor: address, nonce: uint256, kind: Bytes[MAX_KIND], body: Bytes[MAX_BODY], governed: uint256):
    """
    @notice A governance event whose rules Governance.vy checked, logged as `actor`'s; `governed` is its policy's mask.
    """
    assert msg.sender == self.governance, "Unauthorized: only the governance contract records governance events"
    self.governed = governed
    self._event(actor, nonce, body, kind)


# -- blocks --------------------------------------------------------------------------------------------------


@external
def seal(
    height: uint256,
    log_size: uint256,
    log_root: bytes32,
    time: uint256,
    prev_hash: bytes32,
    block_hash: bytes32,
    signature: Bytes[65],
):
    """
    @notice A validator records a signed block header (the log's size and RFC 9162 root); blocks form a chain.
    """
    self._require_role(msg.sender, VALIDATOR)
    assert height == self.block_count, "InvalidTransition: not the next block height"
    assert prev_hash == self.head_hash, "InvalidTransition: the block does not extend the head"
    assert log_size > self.sealed_size, "InvalidTransition: the block seals no new events"
    assert time >= self.head_time, "InvalidTransition: the block is dated before the previous block"
    self.block_count = height + 1
    self.head_hash = block_hash
    self.sealed_size = log_size
    self.head_time = time
    log Sealed(
        height=height,
        log_size=log_size,
        log_root=log_root,
        time=time,
        prev_hash=prev_hash,
        block_hash=block_hash,
        proposer=msg.sender,
        signature=signature,
    )
