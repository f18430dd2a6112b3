"""Operators' search synonyms and brand aliases (`python -m bot synonyms import FILE`), loaded into
the search index when it is built.

Every function takes the caller's session (keyword-only) and never commits."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import SearchSynonym


async def list_synonyms(*, session: AsyncSession) -> list[tuple[str, str]]:
    """Every (term, same_as) pair, oldest first."""
    rows = await session.exec(
        select(SearchSynonym.term, SearchSynonym.same_as).order_by(col(SearchSynonym.id))  # type: ignore[call-overload]
    )
    return [(term, same_as) for term, same_as in rows.all()]


async def add_synonyms(pairs: Iterable[tuple[str, str]], *, session: AsyncSession) -> int:
    """Add the pairs not yet stored (a re-import adds nothing twice); how many were new."""
    have = set(await list_synonyms(session=session))
    added = 0
    for term, same_as in pairs:
        if (term, same_as) in have:
            continue
        have.add((term, same_as))
        session.add(SearchSynonym(term=term, same_as=same_as))
        added += 1
    await session.flush()
    return added
