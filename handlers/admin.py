"""Placeholder: filled in by the admin feature."""

from __future__ import annotations

from aiogram import Router


def make_router() -> Router:
    return Router(name=__name__)
