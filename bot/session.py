"""The HTTP session to the Bot API: requests go as one JSON body instead of a urlencoded form.

The Bot API takes `application/json` for every method. aiogram's session sends a form: every nested
value (a keyboard, entities) is serialised to JSON first and then the whole form is percent-encoded,
which for Chinese text triples its size and was the largest single cost of a reply after the search
itself. A request that uploads a file still goes as aiogram's multipart form.
"""

from __future__ import annotations

import json
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout
from pydantic import BaseModel, ConfigDict

JSON_HEADERS = {"Content-Type": "application/json"}


class SentIds(BaseModel):
    """What a broadcast keeps of a sent message: its id. Everything else Telegram echoes back (the
    text, its entities, the keyboard) is ignored instead of being parsed into a whole Message."""

    model_config = ConfigDict(extra="ignore")

    message_id: int


class SendMessageForIds(SendMessage):
    """sendMessage whose answer is read as `SentIds`: a digest or push keeps only the message_id, and
    parsing Telegram's echo of a digest into a Message cost more CPU than building the digest."""

    __returning__ = SentIds  # type: ignore[assignment]  # read as SentIds, sent as sendMessage


def _settle(data: dict[str, Any], bot: Bot, *, top: bool) -> None:
    """Fill in the bot's defaults (parse_mode...) and leave out those it has no value for, here and
    one level down (link_preview_options); an empty top-level string is left out too, as aiogram's
    form leaves it out. Deeper defaults are rare: `resolve` in `json_body` meets them."""
    for key, value in list(data.items()):
        if isinstance(value, Default):
            value = bot.default[value.name]
            if value is None:
                del data[key]
                continue
            data[key] = value
        if top and value == "":
            del data[key]
        elif top and type(value) is dict:
            _settle(value, bot, top=False)


class _Slow(Exception):
    """The fast encoding met a value it cannot place (a file, a default that resolves to nothing)."""


class JsonSession(AiohttpSession):
    """An AiohttpSession that posts JSON unless a file rides along."""

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request as JSON, or None when it carries a file (multipart is needed then).

        What is sent is what aiogram's form would send: absent (None) values and empty top-level
        strings are left out, and the bot's defaults (parse_mode...) are filled in."""
        data = method.model_dump(warnings=False, exclude_none=True)
        _settle(data, bot, top=True)

        def resolve(value: Any) -> Any:  # json.dumps calls this for what is not JSON already
            if isinstance(value, InputFile):
                raise _Slow
            prepared = self.prepare_value(value, bot=bot, files={}, _dumps_json=False)
            if prepared is None:  # a nested default that resolves to nothing: it must be left out
                raise _Slow
            return prepared

        try:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=resolve).encode()
        except _Slow:
            files: dict[str, Any] = {}
            payload = self.prepare_value(data, bot=bot, files=files, _dumps_json=False)
            if files:
                return None
            return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            raise TelegramNetworkError(method=method, message=f"{type(exc).__name__}: {exc}") from exc
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)
