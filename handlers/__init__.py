"""Handlers: one Router per feature, each built by its module's `make_router()`, gathered here."""

from __future__ import annotations

from aiogram import Router


def setup_routers() -> Router:
    """A fresh router tree (a router can be attached once, so every dispatcher gets new ones)."""
    from handlers import common, grade

    root = Router(name="handlers")
    root.include_routers(
        common.make_router(),
        grade.make_router(),
    )
    root.include_router(common.make_fallback_router())  # last: unknown commands
    return root
