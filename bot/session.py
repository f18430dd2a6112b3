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
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

JSON_HEADERS = {"Content-Type": "application/json"}
_JSON_SCALARS = frozenset({str, int, float, bool})


class JsonSession(AiohttpSession):
    """An AiohttpSession that posts JSON unless a file rides along."""

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request as JSON, or None when it carries a file (multipart is needed then)."""
        files: dict[str, Any] = {}
        payload = self._plain(method.model_dump(warnings=False, exclude_none=True), bot, files)
        if files:
            return None
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def _plain(self, value: Any, bot: Bot, files: dict[str, Any]) -> Any:
        """`value` as JSON types. After `model_dump` nearly everything is a dict, a list, a string or a
        number already; the rest (defaults such as parse_mode, files, enums, dates) goes through
        aiogram's own `prepare_value`. None and empty strings are left out, as aiogram's form does."""
        kind = type(value)
        if kind is dict:
            out = {}
            for key, item in value.items():
                plain = self._plain(item, bot, files)
                if plain is not None and plain != "":
                    out[key] = plain
            return out
        if kind is list:
            return [plain for item in value if (plain := self._plain(item, bot, files)) is not None]
        if kind in _JSON_SCALARS:
            return value
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)

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
