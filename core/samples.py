"""Samples (寄样): the states of a request, who may move it where, and when a wait is too long.

requested → approved | rejected;  approved → shipped → received;
an open request (requested, approved, shipped) can be cancelled by the streamer (before it ships)
or expire when its state waits too long (a reminder first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN = frozenset({Status.REQUESTED, Status.APPROVED, Status.SHIPPED})


class Party(StrEnum):
    STREAMER = "streamer"
    MERCHANT = "merchant"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SHIP = "ship"
    RECEIVE = "receive"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Move:
    party: Party  # who may do it
    before: Status
    after: Status


MOVES: dict[Action, Move] = {
    Action.APPROVE: Move(Party.MERCHANT, Status.REQUESTED, Status.APPROVED),
    Action.REJECT: Move(Party.MERCHANT, Status.REQUESTED, Status.REJECTED),
    Action.SHIP: Move(Party.MERCHANT, Status.APPROVED, Status.SHIPPED),
    Action.RECEIVE: Move(Party.STREAMER, Status.SHIPPED, Status.RECEIVED),
}
# Cancelling is the streamer's, from any state before the sample leaves.
CANCELLABLE = frozenset({Status.REQUESTED, Status.APPROVED})


def party_for(action: Action) -> Party:
    """Whose button an action is: the streamer receives and cancels, the merchant does the rest."""
    return Party.STREAMER if action in (Action.RECEIVE, Action.CANCEL) else MOVES[action].party


def allowed(action: Action, status: str, party: Party) -> bool:
    """May `party` do `action` on a request in `status`?"""
    if action == Action.CANCEL:
        return party == Party.STREAMER and status in CANCELLABLE
    move = MOVES[action]
    return move.party == party and move.before == status


def next_status(action: Action) -> Status:
    return Status.CANCELLED if action == Action.CANCEL else MOVES[action].after


def waiting_party(status: str) -> Party | None:
    """Whose move it is: the merchant answers and ships, the streamer confirms receipt."""
    if status in (Status.REQUESTED, Status.APPROVED):
        return Party.MERCHANT
    if status == Status.SHIPPED:
        return Party.STREAMER
    return None


class Due(StrEnum):
    REMIND = "remind"
    EXPIRE = "expire"


def due(
    status: str,
    since: datetime,
    reminded: bool,
    now: datetime,
    *,
    remind_after: timedelta,
    expire_after: timedelta,
) -> Due | None:
    """What a waiting request needs now: a reminder first, expiry once it waited `expire_after`.

    A request never expires unreminded: a reminder sent late still leaves the other side time.
    """
    if status not in OPEN:
        return None
    waited = now - since
    if not reminded:
        return Due.REMIND if waited >= remind_after else None
    return Due.EXPIRE if waited >= expire_after else None


@dataclass(frozen=True, slots=True)
class RuleCheck:
    ok: bool
    needed: float = 0.0
    have: float = 0.0


def check_rule(min_gmv: float | None, streamer_gmv: float) -> RuleCheck:
    """A merchant's sample rule for a category: the streamer's 30-day GMV there must reach `min_gmv`."""
    if min_gmv is None or streamer_gmv >= min_gmv:
        return RuleCheck(True, min_gmv or 0.0, streamer_gmv)
    return RuleCheck(False, min_gmv, streamer_gmv)
