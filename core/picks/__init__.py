"""Picks: which top-tier goods to suggest to a streamer, and why.

The flow is mix -> reference -> gaps -> picks:

- a streamer's **mix** is their 30-day GMV share by category, or the categories they chose (`mix`);
- the **reference** mix is the mean mix of the streamers most similar to them (`peers.PeerIndex`),
  or the platform's own mix when they have no data or too few peers;
- a **gap** is a category where the reference share exceeds theirs (`choose`);
- **picks** are L4+ goods (L5 first) from the biggest gaps, at most a few per category, none
  recently sent and none marked 不感兴趣 (`choose`).

Everything here is pure: plain values in, plain values out. A pick carries the data its reason
needs (category, own share, reference share, source); the wording is the bot's (`bot.render`).
"""

from core.picks.choose import PICKABLE_TIERS, Gap, Pick, RankedCatalog, choose_picks, gaps, picks_for
from core.picks.mix import Mix, mix_from_choice, mix_from_sales, platform_mix
from core.picks.peers import DEFAULT_K, DEFAULT_POOL, MIN_PEERS, PeerIndex, Reference, Source, reference_mix

__all__ = [
    "DEFAULT_K",
    "DEFAULT_POOL",
    "MIN_PEERS",
    "PICKABLE_TIERS",
    "Gap",
    "Mix",
    "PeerIndex",
    "Pick",
    "RankedCatalog",
    "Reference",
    "Source",
    "choose_picks",
    "gaps",
    "mix_from_choice",
    "mix_from_sales",
    "picks_for",
    "platform_mix",
    "reference_mix",
]
