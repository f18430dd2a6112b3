"""Picks wired to storage: one streamer's picks from their mix, their peers and their history.

A `PicksContext` (peer index over every streamer's imported sales, the platform mix, the L4+
catalog ranked per category) is built from the database, cached per sessionmaker and rebuilt
when the goods, grades or sales change. `streamer_picks` fills one streamer's gaps from it,
skipping what they were shown in the 14 days before the day and what they marked 不感兴趣.
`/picks`, `python -m bot picks` and the digest pass all come through here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time as _time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.render import TELEGRAM_LIMIT, commission_text, h, mark_text, money, pick_reason, shorten, tier_label
from bot.settings import Settings
from core.activities import Mark
from core.picks import (
    Gap,
    Mix,
    PeerIndex,
    Pick,
    RankedCatalog,
    Reference,
    mix_from_choice,
    mix_from_sales,
    platform_mix,
)
from core.picks import picks_for as choose
from core.schedule import Schedule
from storage import activities, offers, pick_history, profiles, sales
from storage.tables import utcnow

logger = logging.getLogger(__name__)

PICKS_COUNT = 5
PER_CATEGORY = 2
RECENT_DAYS = 14  # a pick shown on any of the 14 days before a day is not picked again that day
MAX_PAGE = 20  # 换一批 pages beyond this are not worth computing
CONTEXT_MAX_AGE = 600.0  # seconds; the context is also rebuilt at once when goods or sales change
TITLE_CHARS = 60


@dataclass(frozen=True)
class PicksContext:
    peers: PeerIndex
    catalog: RankedCatalog
    sales: dict[int, Mix]  # streamer -> mix, for those with imported sales
    version: tuple[Any, ...]
    built_at: float

    def own_mix(self, telegram_id: int, chosen: Sequence[str]) -> tuple[Mix, bool]:
        """(mix, from imported sales?) — imported sales win over categories chosen in /categories."""
        mix = self.sales.get(telegram_id)
        if mix:
            return mix, True
        return mix_from_choice(chosen), False

    def references(self, wanted: Sequence[tuple[int, Mix, bool]]) -> list[Reference]:
        """Reference mixes for (streamer, own mix, has sales) triples, indexed ones in one batch."""
        platform = self.peers.platform_reference()
        if len(self.peers) == 0:
            return [platform] * len(wanted)
        out: list[Reference | None] = [None] * len(wanted)
        indexed = [i for i, (tid, _own, sales) in enumerate(wanted) if sales and tid in self.peers]
        if indexed:
            for i, ref in zip(indexed, self.peers.references([wanted[i][0] for i in indexed]), strict=True):
                out[i] = ref
        for i, (_tid, own, _sales) in enumerate(wanted):
            if out[i] is None:
                out[i] = self.peers.reference(own) if own else platform
        return [ref if ref is not None else platform for ref in out]


async def build_context(session: AsyncSession) -> PicksContext:
    version = await sales.picks_data_version(session=session)
    all_sales = await sales.all_sales(session=session)
    items = await sales.pickable_items(session=session)
    fallback = await sales.product_gmv_by_category(session=session) if not all_sales else {}

    def build() -> PicksContext:
        mixes = {tid: mix for tid, gmv in all_sales.items() if (mix := mix_from_sales(gmv))}
        platform = platform_mix(all_sales.values()) if all_sales else mix_from_sales(fallback)
        peers = PeerIndex.build(mixes, platform=platform)
        return PicksContext(peers, RankedCatalog(items), mixes, version, _time.monotonic())

    return await asyncio.to_thread(build)


_contexts: weakref.WeakKeyDictionary[Any, PicksContext] = weakref.WeakKeyDictionary()
_context_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


async def picks_context(
    sessionmaker: async_sessionmaker[AsyncSession], *, max_age: float = CONTEXT_MAX_AGE
) -> PicksContext:
    """The cached context for this database, rebuilt when stale or when goods or sales changed."""
    lock = _context_locks.setdefault(sessionmaker, asyncio.Lock())
    async with lock:
        async with sessionmaker() as session:
            version = await sales.picks_data_version(session=session)
            cached = _contexts.get(sessionmaker)
            if (
                cached is not None
                and cached.version == version
                and _time.monotonic() - cached.built_at < max_age
            ):
                return cached
            context = await build_context(session)
        _contexts[sessionmaker] = context
        logger.info(
            "picks context: %s streamers indexed, %s categories",
            len(context.peers),
            len(context.peers.categories),
        )
        return context


# --------------------------------------------------------------------------------------------
# One streamer's picks


@dataclass(frozen=True)
class PicksResult:
    """A streamer's picks for one day: what `/picks`, `python -m bot picks` and the digest show."""

    telegram_id: int
    date: date
    own: Mix
    reference: Reference
    gaps: list[Gap]
    picks: list[Pick]
    has_sales: bool
    page: int = 0
    marks: dict[str, Mark] = dataclasses.field(default_factory=dict)  # sku -> their team's activity

    @property
    def skus(self) -> list[str]:
        return [pick.item.sku for pick in self.picks]

    def without_exclusive(self) -> PicksResult:
        """The same picks at public rates: for a group chat, where others would read a 专属 rate."""
        picks = [dataclasses.replace(pick, commission=None) for pick in self.picks]
        return dataclasses.replace(self, picks=picks, marks={})  # a team's activities are theirs too

    def as_json(self) -> dict[str, Any]:
        """The `picks --json` shape of PRODUCT.md (plus where the reference came from)."""
        return {
            "telegram_id": self.telegram_id,
            "date": self.date.isoformat(),
            "reference": self.reference.source,
            "gaps": [
                {
                    "category": g.category,
                    "own_share": round(g.own_share, 4),
                    "reference_share": round(g.reference_share, 4),
                }
                for g in self.gaps
            ],
            "picks": [
                {
                    "sku": p.item.sku,
                    "category": p.category,
                    "tier": p.item.tier,
                    "reason": pick_reason(p, "zh"),
                }
                for p in self.picks
            ],
        }

    def as_text(self, lang: str = "zh", *, digest: bool = False) -> str:
        """The message (Telegram HTML): every pick with its sku, tier, price, commission and why."""
        head = t("digest.title" if digest else "picks.title", lang, date=self.date.isoformat())
        lines = [head]
        if self.page:
            lines.append(t("picks.page", lang, n=self.page + 1))
        if not self.picks:
            lines += ["", t("picks.none_more" if self.page else "picks.none", lang)]
            return "\n".join(lines)
        sources = {pick.source for pick in self.picks}
        if not self.own:
            lines.append(t("picks.intro_no_data", lang))
        elif sources == {"platform"}:
            lines.append(t("picks.intro_platform", lang))
        elif sources == {"peers"}:
            lines.append(t("picks.intro_peers", lang, n=self.reference.peer_count))
        else:
            lines.append(t("picks.intro_mixed", lang, n=self.reference.peer_count))
        for number, pick in enumerate(self.picks, 1):
            item = pick.item
            title = shorten(item.title, TITLE_CHARS)
            lines += [
                "",
                f"<b>{number}. {h(title)}</b>",
                t(
                    "picks.line",
                    lang,
                    tier=tier_label(item.tier, lang),
                    price=money(item.price),
                    commission=commission_text(item.commission_rate, pick.commission, lang),
                ),
                t("picks.sku", lang, sku=h(item.sku)),
            ]
            if item.sku in self.marks:
                lines.append(mark_text(self.marks[item.sku], lang))
            lines += [f"📈 {h(pick_reason(pick, lang))}"]
        lines += ["", t("picks.footer", lang)]
        text = "\n".join(lines)
        if len(text) > TELEGRAM_LIMIT and len(self.picks) > 1:  # never with real data; never cut HTML
            return dataclasses.replace(self, picks=self.picks[:-1]).as_text(lang, digest=digest)
        return text


async def batch_picks(
    session: AsyncSession,
    context: PicksContext,
    wanted: Sequence[tuple[profiles.StreamerProfile, date]],
    *,
    page: int = 0,
    count: int = PICKS_COUNT,
) -> list[PicksResult]:
    """Picks for many streamers at once (one query per kind of history, one kNN batch)."""
    if not wanted:
        return []
    ids = [profile.telegram_id for profile, _day in wanted]
    days = [day for _profile, day in wanted]
    recent = await pick_history.recent_pick_skus(
        ids, since=min(days) - timedelta(days=RECENT_DAYS), until=max(days), session=session
    )
    refused = await pick_history.not_interested_skus(ids, session=session)
    # Each streamer's own exclusive rates (专属佣金): ranked and shown for them alone.
    exclusive = await offers.live_rates(ids, now=utcnow(), session=session)
    # The approved goods of their team's open activities (团长), marked for them alone.
    marks: dict[int, dict[str, Mark]] = {}
    for day in sorted(set(days)):
        on_day = [tid for tid, d in zip(ids, days, strict=True) if d == day]
        marks.update(await activities.marks_for(on_day, today=day, session=session))
    owns = [context.own_mix(profile.telegram_id, profile.chosen) for profile, _day in wanted]
    references = context.references([(tid, own, sales) for tid, (own, sales) in zip(ids, owns, strict=True)])
    results = []
    platform = context.peers.platform
    for (profile, day), (own, has_sales), reference in zip(wanted, owns, references, strict=True):
        since = day - timedelta(days=RECENT_DAYS)
        shown = {sku for sku, on in recent.get(profile.telegram_id, {}).items() if since <= on < day}
        # Where the peers' gaps fall short (peers who sell just what they sell leave none), the
        # platform's gaps top the picks up; each pick's reason names its own source.
        found, chosen = choose(
            own,
            reference,
            context.catalog,
            platform=platform,
            recent_skus=shown,
            not_interested=refused.get(profile.telegram_id, set()),
            count=count,
            per_category=PER_CATEGORY,
            skip=page * count,
            commission=exclusive.get(profile.telegram_id),
        )
        results.append(
            PicksResult(
                profile.telegram_id,
                day,
                own,
                reference,
                found,
                chosen,
                has_sales,
                page,
                marks.get(profile.telegram_id, {}),
            )
        )
    return results


async def streamer_picks(
    session: AsyncSession,
    context: PicksContext,
    profile: profiles.StreamerProfile,
    day: date,
    *,
    page: int = 0,
) -> PicksResult:
    return (await batch_picks(session, context, [(profile, day)], page=page))[0]


async def picks_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    telegram_id: int,
    *,
    on_date: date | None = None,
) -> PicksResult:
    """A streamer's picks for a day (default: today in their time zone). Records nothing."""
    context = await picks_context(sessionmaker)
    async with sessionmaker() as session:
        profile = await profiles.get_profile(telegram_id, session=session)
        day = on_date or Schedule.of(profile.timezone, profile.digest_time, settings).today(utcnow())
        return await streamer_picks(session, context, profile, day)
