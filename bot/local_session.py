"""An aiogram session that never touches the network.

It answers every Bot API call locally and records it. The terminal demo drives the real
dispatcher through it, and handler tests use it as their recording bot session: replies can be
queued in FIFO order to stand in for Telegram's answers (errors included).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile

BOT_USER = {"id": 42, "is_bot": True, "first_name": "选品助手", "username": "xuanpin_demo_bot"}
_MESSAGE_METHODS = {  # by Bot API name, so subclasses (bot.session.SendMessageForIds) count too
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
}


class LocalSession(BaseSession):
    def __init__(self, on_request: Callable[[TelegramMethod[Any]], None] | None = None) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.queued: deque[dict[str, Any]] = deque()  # raw Bot API answers, used first-in first-out
        self.files: dict[str, bytes] = {}  # file_id -> content, for getFile + download
        self.on_request = on_request
        self._ids = itertools.count(1000)

    def queue(
        self,
        *,
        ok: bool = True,
        result: Any = None,
        error_code: int = 400,
        description: str = "",
        retry_after: int | None = None,
    ) -> None:
        """Queue Telegram's answer to the next request (an error, or a specific result)."""
        answer: dict[str, Any] = {"ok": ok}
        if ok:
            answer["result"] = result
        else:
            answer["error_code"] = error_code
            answer["description"] = description
            if retry_after is not None:
                answer["parameters"] = {"retry_after": retry_after}
        self.queued.append(answer)

    def of(self, method_name: str) -> list[TelegramMethod[Any]]:
        """The requests of one method class, by name (`SendMessage`), its subclasses included."""
        return [r for r in self.requests if any(c.__name__ == method_name for c in type(r).__mro__)]

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        if self.on_request is not None:
            self.on_request(method)
        answer = self.queued.popleft() if self.queued else {"ok": True, "result": self._result(method)}
        response = self.check_response(
            bot, method, 200 if answer["ok"] else answer["error_code"], json.dumps(answer, default=str)
        )
        return response.result  # type: ignore[return-value]

    def _result(self, method: TelegramMethod[Any]) -> Any:
        name = method.__api_method__
        if name == "getMe":
            return BOT_USER
        if name == "getFile":
            file_id = getattr(method, "file_id")  # noqa: B009 - GetFile, typed as the generic method
            return {"file_id": file_id, "file_unique_id": file_id, "file_path": f"documents/{file_id}"}
        if name in _MESSAGE_METHODS:
            return self._message(method)
        if name == "getUpdates":
            return []
        return True

    def _message(self, method: TelegramMethod[Any]) -> dict[str, Any]:
        chat_id = getattr(method, "chat_id", None) or 0
        msg: dict[str, Any] = {
            "message_id": getattr(method, "message_id", None) or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
        }
        text = getattr(method, "text", None)
        if isinstance(text, str):
            msg["text"] = text
        caption = getattr(method, "caption", None)
        if isinstance(caption, str):
            msg["caption"] = caption
        if method.__api_method__ == "sendPhoto":
            msg["photo"] = [{"file_id": "photo", "file_unique_id": "photo", "width": 800, "height": 800}]
        if method.__api_method__ == "sendDocument":
            msg["document"] = {"file_id": "doc", "file_unique_id": "doc"}
        markup = getattr(method, "reply_markup", None)
        if markup is not None and hasattr(markup, "model_dump"):
            msg["reply_markup"] = markup.model_dump(exclude_none=True)
        return msg

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        file_id = url.rsplit("/", 1)[-1]
        yield self.files.get(file_id, b"")

    async def close(self) -> None:
        return None


def input_file_bytes(file: InputFile | str | None) -> bytes | None:
    """The bytes of an in-memory upload (BufferedInputFile), for the demo and tests."""
    data = getattr(file, "data", None)
    return data if isinstance(data, bytes) else None
