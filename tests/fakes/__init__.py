"""Test doubles that talk real protocols on loopback (see ``bot_api.FakeBotAPI``)."""

from tests.fakes.bot_api import BOT_USERNAME, Call, FakeBotAPI, Fault, Upload

__all__ = ["BOT_USERNAME", "Call", "FakeBotAPI", "Fault", "Upload"]
