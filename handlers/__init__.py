"""Handlers: one Router per feature, each built by its module's `make_router()`, gathered here."""

from __future__ import annotations

from aiogram import Router

from handlers import admin, common, deals, grade, inline, leaders, merchant, picks, push, samples, search
from handlers.gate import Gate


def setup_routers() -> Router:
    """A fresh router tree (a router can be attached once, so every dispatcher gets new ones)."""

    root = Router(name="handlers")
    root.include_routers(
        common.make_wait_router(),  # first: a command ends any wait for typed input
        # Commands, conversation steps and their buttons: a search typed or pressed skips them all.
        Gate(
            common.make_router(),
            admin.make_router(),
            push.make_router(),
            merchant.make_router(),
            grade.make_router(),
            picks.make_router(),
            deals.make_router(),
            leaders.make_router(),  # before search: a step of the guided chat is plain text
            samples.make_router(),  # before search: a tracking number or a reason is plain text
            name="handlers.gate",
        ),
        inline.make_router(),
        search.make_router(),  # plain text is a search: after every command router
    )
    root.include_router(common.make_fallback_router())  # last: unknown commands
    return root
