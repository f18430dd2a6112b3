"""Placeholder: filled in by the picks feature."""

from __future__ import annotations

from aiogram import Router


def make_router() -> Router:
    return Router(name=__name__)
