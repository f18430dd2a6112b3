"""A fake Telegram Bot API server on loopback, for end-to-end tests of the real aiogram client.

It speaks the HTTP surface as aiogram's ``AiohttpSession`` uses it: ``POST /bot<token>/<method>`` with a
form body (urlencoded, or multipart when files ride along; nested values such as ``reply_markup`` arrive
JSON-encoded inside the form), answers in the Bot API's JSON envelope, records every call, and can answer
429, 403, 400, 5xx or drop the connection on cue.

    async with FakeBotAPI() as api, api.make_bot() as bot:
        await bot.send_message(42, "hi")
        assert api.sent(chat_id=42)[0].params["text"] == "hi"
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from aiohttp import web

BOT_ID = 7000000001
BOT_USERNAME = "xuanpin_test_bot"
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Xuanpin Test",
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}

SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
# Methods that put a message into a chat; these are the ones Telegram rate-limits.
_RATE_LIMITED = SEND_METHODS | {"copymessage", "forwardmessage", "sendmediagroup", "sendsticker"}
_OK_TRUE = frozenset(
    {
        "deletewebhook",
        "setwebhook",
        "setmycommands",
        "deletemycommands",
        "setmydescription",
        "setmyshortdescription",
        "setchatmenubutton",
        "answercallbackquery",
        "sendchataction",
        "deletemessage",
        "pinchatmessage",
        "unpinchatmessage",
        "close",
        "logout",
    }
)
# Form fields that are plain strings even when they look like JSON ("123", "true").
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "data",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "next_offset",
        "file_id",
        "action",
        "business_connection_id",
        "message_effect_id",
        "title",
        "description",
        "short_description",
        "emoji",
    }
)
# Tags Telegram accepts in parse_mode=HTML.
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "tg-time",
    }
)
_TAG_RE = re.compile(
    r"<(/?)([^\s<>/]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]*))?)*)\s*(/?)>",
    re.DOTALL,
)
_NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
}
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart request."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Call:
    """One request the server received.

    ``params`` holds the form fields with JSON-encoded values decoded (``chat_id`` is an int,
    ``reply_markup`` a dict) while text-like fields stay strings; ``raw`` holds them as sent.
    ``files`` maps the parameter name (``photo``, ``document``) to the uploaded file.
    ``at`` is ``time.monotonic()`` on arrival. ``status`` is the HTTP status answered (0: connection
    dropped); ``injected`` is true when a fault set up with ``fail``/``drop`` produced the answer.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    at: float
    raw: dict[str, str] = field(default_factory=dict, repr=False)
    status: int = 200
    injected: bool = False
    result: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class Fault:
    """A scripted failure; ``remaining`` None means it never runs out. ``hits`` counts the calls it took."""

    method: str
    status: int  # an HTTP error status; DROP closes the connection; DELAY holds the answer back
    retry_after: int | None
    remaining: int | None
    chat_id: int | str | None
    description: str | None
    html_body: bool
    seconds: float = 0.0  # DELAY only
    hits: int = 0

    DROP: ClassVar[int] = 0
    DELAY: ClassVar[int] = -1

    def matches(self, method: str, chat_id: Any) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _Pace:
    """Generic cell rate algorithm: one event per ``interval``, tolerating ``tolerance`` seconds of jitter."""

    def __init__(self, interval: float, tolerance: float) -> None:
        self.interval = interval
        self.tolerance = tolerance
        self._tat: dict[Any, float] = {}

    def admit(self, key: Any, now: float) -> float:
        """Record an event for ``key``; returns 0 if allowed, else how long the client should wait."""
        tat = self._tat.get(key, now)
        if now < tat - self.tolerance:
            return tat - self.tolerance - now
        self._tat[key] = max(tat, now) + self.interval
        return 0.0


class FakeBotAPI:
    """A Bot API server on 127.0.0.1 with scripted updates, recorded calls and fault injection.

    ``rate_limit_per_second`` / ``per_chat_interval`` (both off by default) make it answer 429 like
    Telegram when a client sends messages too fast overall or to one chat; those answers are counted in
    ``organic_429s``. ``poll_timeout_cap`` bounds how long one ``getUpdates`` long poll is held open.
    """

    def __init__(
        self,
        *,
        rate_limit_per_second: float | None = None,
        per_chat_interval: float | None = None,
        burst_tolerance: float = 0.25,
        per_chat_tolerance: float = 0.1,
        poll_timeout_cap: float = 1.0,
        strict: bool = True,
    ) -> None:
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.organic_429s = 0
        self.injected_429s = 0
        self.injected_faults = 0
        self.faults: list[Fault] = []
        self.webhook_url = ""
        self.strict = strict
        self.poll_timeout_cap = poll_timeout_cap
        self._global_pace = (
            _Pace(1.0 / rate_limit_per_second, burst_tolerance) if rate_limit_per_second else None
        )
        self._chat_pace = _Pace(per_chat_interval, per_chat_tolerance) if per_chat_interval else None
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._paths: dict[str, bytes] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._pulse = asyncio.Event()  # set and replaced whenever a call is recorded or an update queued
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle_method)
        app.router.add_get("/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        self._wake()  # release long polls
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def make_bot(self, token: str = "123456:TEST", **bot_kwargs: Any) -> Any:
        """An aiogram ``Bot`` talking to this server; close it (``async with`` or ``bot.session.close()``)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(token=token, session=session, **bot_kwargs)

    # ----------------------------------------------------------------- what was sent

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Messages delivered (answered ok) by sendMessage/sendPhoto/sendDocument, optionally to one chat."""
        return [
            c
            for c in self.calls
            if c.ok
            and c.method.lower() in SEND_METHODS
            and (chat_id is None or str(c.chat_id) == str(chat_id))
        ]

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of one method, whatever the answer."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(
        self,
        predicate: Callable[[Call], bool] | str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> Call:
        """The first recorded call (past or future) matching ``predicate`` (or method name)."""
        wanted = predicate.lower() if isinstance(predicate, str) else None

        def check(call: Call) -> bool:
            if wanted is not None:
                return call.method.lower() == wanted
            return cast(Callable[[Call], bool], predicate)(call)

        seen = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for call in self.calls[seen:]:
                        if check(call):
                            return call
                    seen = len(self.calls)
                    await self._pulse.wait()
        except TimeoutError:
            methods = [c.method for c in self.calls]
            raise TimeoutError(f"no matching call within {timeout}s; calls so far: {methods}") from None

    # ----------------------------------------------------------------- faults

    def fail(
        self,
        method: str = "sendMessage",
        status: int = 429,
        *,
        retry_after: int = 3,
        times: int | None = 1,
        chat_id: int | str | None = None,
        description: str | None = None,
        html_body: bool | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching calls (None: all of them) with an error.

        429 carries ``retry_after``; 403 is "bot was blocked by the user"; 400 is "chat not found"
        unless ``description`` says otherwise; 502/503/504 come as nginx's HTML page.
        """
        if html_body is None:
            html_body = status in (502, 503, 504)
        fault = Fault(
            method=method.lower(),
            status=status,
            retry_after=retry_after if status == 429 else None,
            remaining=times,
            chat_id=chat_id,
            description=description,
            html_body=html_body,
        )
        self.faults.append(fault)
        return fault

    def drop(
        self, method: str = "sendMessage", times: int | None = 1, chat_id: int | str | None = None
    ) -> Fault:
        """Close the TCP connection of the next ``times`` matching calls without answering."""
        fault = Fault(method.lower(), Fault.DROP, None, times, chat_id, None, False)
        self.faults.append(fault)
        return fault

    def delay(
        self,
        method: str = "sendMessage",
        seconds: float = 1.5,
        *,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> Fault:
        """Hold the next ``times`` matching calls for ``seconds`` before handling them, so a client
        timeout can fire. A call whose client has hung up by then is recorded with status 0 and has
        no effect (as if the server never got to it)."""
        fault = Fault(method.lower(), Fault.DELAY, None, times, chat_id, None, False, seconds=seconds)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    # ----------------------------------------------------------------- files

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> str:
        """Register a file the bot can fetch with getFile and download; returns its file_path."""
        path = file_path or f"documents/file_{len(self._files) + 1}"
        self._files[file_id] = (path, content)
        self._paths[path] = content
        return path

    # ----------------------------------------------------------------- updates

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an ``update_id`` is assigned when missing)."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._wake()
        return update

    def user(
        self, user_id: int, *, language_code: str | None = "zh-hans", username: str | None = None
    ) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": username or f"user{user_id}",
        }
        if language_code:
            user["language_code"] = language_code
        return user

    def message(
        self,
        from_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user; commands get their bot_command entity."""
        msg = self._user_message(from_id, chat_id, chat_type, language_code, username)
        msg["text"] = text
        if entities := _command_entities(text):
            msg["entities"] = entities
        return self.queue_update({"message": msg})

    def document(
        self,
        from_id: int,
        file_id: str,
        file_name: str,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        mime_type: str = "text/csv",
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queue a message carrying a document (register its bytes first with ``add_file``)."""
        msg = self._user_message(from_id, chat_id, "private", language_code, username)
        size = len(self._files[file_id][1]) if file_id in self._files else 0
        msg["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": size,
        }
        if caption is not None:
            msg["caption"] = caption
            if entities := _command_entities(caption):
                msg["caption_entities"] = entities
        return self.queue_update({"message": msg})

    def callback(
        self,
        from_id: int,
        data: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queue a button press on a bot message (the one with ``message_id`` if the bot sent it)."""
        chat = chat_id if chat_id is not None else from_id
        message = self._messages.get((chat, message_id)) if message_id is not None else None
        if message is None:
            message = {
                "message_id": message_id if message_id is not None else next(self._message_ids),
                "date": int(time.time()),
                "chat": _chat(chat),
                "from": BOT_USER,
                "text": "…",
            }
            self._messages[(chat, message["message_id"])] = message
        query = {
            "id": str(next(self._callback_ids)),
            "from": self.user(from_id, language_code=language_code, username=username),
            "message": message,
            "chat_instance": f"ci{chat}",
            "data": data,
        }
        return self.queue_update({"callback_query": query})

    def inline_query(
        self,
        from_id: int,
        query: str,
        offset: str = "",
        *,
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queue an inline query (``@bot query`` typed in some chat)."""
        inline = {
            "id": str(next(self._callback_ids)),
            "from": self.user(from_id, language_code=language_code, username=username),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        return self.queue_update({"inline_query": inline})

    def _user_message(
        self,
        from_id: int,
        chat_id: int | None,
        chat_type: str,
        language_code: str | None,
        username: str | None,
    ) -> dict[str, Any]:
        user = self.user(from_id, language_code=language_code, username=username)
        if chat_type == "private":
            chat = {
                "id": from_id,
                "type": "private",
                "first_name": user["first_name"],
                "username": user["username"],
            }
        else:
            chat = {
                "id": chat_id if chat_id is not None else -1000000000000 - from_id,
                "type": chat_type,
                "title": "Test group",
            }
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user}

    def _wake(self) -> None:
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    # ----------------------------------------------------------------- HTTP

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        content = self._paths.get(request.match_info["path"])
        if content is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw, files = await _read_form(request)
        at = time.monotonic()
        params = {key: _decode(key, value) for key, value in raw.items()}
        resolved_files: dict[str, Upload] = {}
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                resolved_files[key] = files.pop(value[9:])
        resolved_files.update(files)
        name = method.lower()
        chat_id = params.get("chat_id")

        try:
            self._check_rate(name, chat_id, at)
        except _ApiError as error:
            self.organic_429s += 1
            return await self._answer_error(method, params, raw, resolved_files, at, error, injected=False)

        fault = next((f for f in self.faults if f.matches(name, chat_id)), None)
        if fault is not None:
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            self.injected_faults += 1
            if fault.status == Fault.DROP:
                self._record(Call(method, params, resolved_files, at, raw, status=0, injected=True))
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # never reaches the client
            if fault.status == Fault.DELAY:
                await asyncio.sleep(fault.seconds)
                if request.transport is None or request.transport.is_closing():
                    self._record(Call(method, params, resolved_files, at, raw, status=0, injected=True))
                    return web.Response(status=500)  # the client is gone
                fault = None
        if fault is not None:
            if fault.status == 429:
                self.injected_429s += 1
            injected = _ApiError(
                fault.status,
                fault.description or _default_description(fault.status, fault.retry_after),
                fault.retry_after,
            )
            return await self._answer_error(
                method, params, raw, resolved_files, at, injected, injected=True, html_body=fault.html_body
            )

        try:
            result = await self._dispatch(name, params, resolved_files)
        except _ApiError as error:
            return await self._answer_error(method, params, raw, resolved_files, at, error, injected=False)
        self._record(Call(method, params, resolved_files, at, raw, status=200, result=result))
        return web.json_response({"ok": True, "result": result})

    async def _answer_error(
        self,
        method: str,
        params: dict[str, Any],
        raw: dict[str, str],
        files: dict[str, Upload],
        at: float,
        error: _ApiError,
        *,
        injected: bool,
        html_body: bool = False,
    ) -> web.Response:
        self._record(Call(method, params, files, at, raw, status=error.status, injected=injected))
        if html_body:
            reason = _REASONS.get(error.status, "Error")
            page = _NGINX_PAGE.format(status=error.status, reason=reason)
            return web.Response(status=error.status, text=page, content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return web.json_response(body, status=error.status)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._wake()

    def _check_rate(self, name: str, chat_id: Any, now: float) -> None:
        if name not in _RATE_LIMITED:
            return
        waits = []
        if self._global_pace is not None:
            waits.append(self._global_pace.admit(None, now))
        if self._chat_pace is not None and chat_id is not None:
            waits.append(self._chat_pace.admit(str(chat_id), now))
        wait = max(waits, default=0.0)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    # ----------------------------------------------------------------- methods

    async def _dispatch(self, name: str, params: dict[str, Any], files: dict[str, Upload]) -> Any:
        if name in _OK_TRUE:
            if name == "setwebhook":
                self.webhook_url = str(params.get("url", ""))
            elif name == "deletewebhook":
                self.webhook_url = ""
                if params.get("drop_pending_updates"):
                    self.updates.clear()
            return True
        if name == "getme":
            return BOT_USER
        if name == "getwebhookinfo":
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
        if name == "getupdates":
            return await self._get_updates(params)
        if name == "sendmessage":
            text = self._check_text(params, "text", 4096, "message is too long")
            if not text.strip():
                raise _ApiError(400, "Bad Request: message text is empty")
            return self._new_message(params, {"text": text})
        if name == "sendphoto":
            extra: dict[str, Any] = {"photo": self._photo_sizes(params, files)}
            return self._new_message(params, self._with_caption(params, extra))
        if name == "senddocument":
            extra = {"document": self._document(params, files)}
            return self._new_message(params, self._with_caption(params, extra))
        if name == "editmessagetext":
            text = self._check_text(params, "text", 4096, "message is too long")
            return self._edit(params, {"text": text})
        if name == "editmessagecaption":
            caption = self._check_text(params, "caption", 1024, "message caption is too long")
            return self._edit(params, {"caption": caption})
        if name == "editmessagereplymarkup":
            return self._edit(params, {})
        if name == "answerinlinequery":
            return self._answer_inline(params)
        if name == "getfile":
            file_id = str(params.get("file_id", ""))
            if file_id not in self._files:
                raise _ApiError(400, "Bad Request: invalid file_id")
            path, content = self._files[file_id]
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": path,
            }
        raise _ApiError(404, "Not Found")

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        allowed = params.get("allowed_updates") or None
        timeout = min(float(params.get("timeout") or 0), self.poll_timeout_cap)

        def pending() -> list[dict[str, Any]]:
            if offset > 0:
                # As Telegram: an offset confirms every update below it, which is then gone for good.
                self.updates[:] = [u for u in self.updates if u["update_id"] >= offset]
            elif offset < 0:
                self.updates[:] = self.updates[offset:]
            found = [u for u in self.updates if allowed is None or _update_type(u) in allowed]
            return found[:limit]

        found = pending()
        if found or timeout <= 0 or self._closing:
            return found
        try:
            async with asyncio.timeout(timeout):
                while not (found := pending()) and not self._closing:
                    await self._pulse.wait()
        except TimeoutError:
            return []
        return found

    def _check_text(self, params: dict[str, Any], key: str, limit: int, too_long: str) -> str:
        text = str(params.get(key, ""))
        if params.get("parse_mode") == "HTML":
            text = _html_to_plain(text) if self.strict else text
        if self.strict:
            self._check_markup(params.get("reply_markup"))
            if _utf16_len(text) > limit:
                raise _ApiError(400, f"Bad Request: {too_long}")
        return text

    def _check_markup(self, markup: Any) -> None:
        if not isinstance(markup, dict):
            return
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _with_caption(self, params: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        if "caption" in params:
            extra["caption"] = self._check_text(params, "caption", 1024, "message caption is too long")
        elif self.strict:
            self._check_markup(params.get("reply_markup"))
        return extra

    def _new_message(self, params: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER,
            **content,
        }
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _edit(self, params: dict[str, Any], content: dict[str, Any]) -> Any:
        if params.get("inline_message_id"):
            return True
        key = (params.get("chat_id"), params.get("message_id"))
        old = self._messages.get(key)  # type: ignore[arg-type]
        if old is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        new = {**old, **content, "edit_date": int(time.time())}
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        if all(new.get(k) == old.get(k) for k in ("text", "caption", "reply_markup")):
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message",
            )
        self._messages[key] = new  # type: ignore[index]
        return new

    def _photo_sizes(self, params: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        upload = files.get("photo")
        file_id = self._store_upload(upload, "photos") if upload else str(params.get("photo", ""))
        size = len(upload.content) if upload else 0
        return [
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "width": 800,
                "height": 600,
                "file_size": size,
            }
        ]

    def _document(self, params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        upload = files.get("document")
        if upload is None:
            file_id = str(params.get("document", ""))
            return {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        file_id = self._store_upload(upload, "documents")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }

    def _store_upload(self, upload: Upload, folder: str) -> str:
        file_id = f"BQACAgUAAx{next(self._file_ids):06d}"
        self.add_file(file_id, upload.content, f"{folder}/{upload.filename}")
        return file_id

    def _answer_inline(self, params: dict[str, Any]) -> bool:
        results = params.get("results") or []
        if not isinstance(results, list):
            raise _ApiError(400, "Bad Request: can't parse inline query results JSON object")
        if self.strict:
            if len(results) > 50:
                raise _ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
            ids = [r.get("id") for r in results]
            if len(set(ids)) != len(ids):
                raise _ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
        return True


# --------------------------------------------------------------------- helpers


async def _read_form(request: web.Request) -> tuple[dict[str, str], dict[str, Upload]]:
    raw: dict[str, str] = {}
    files: dict[str, Upload] = {}
    if request.method == "GET":
        return dict(request.query), files
    if request.content_type == "application/json":
        body = await request.json()
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = Upload(value.filename, value.file.read(), value.content_type)
        else:
            raw[key] = str(value)
    return raw, files


def _decode(key: str, value: str) -> Any:
    if key in _STRING_FIELDS or value.startswith("attach://"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    return _DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error" if status >= 500 else "Bad Request")


def _chat(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    if isinstance(chat_id, int):
        return {"id": chat_id, "type": "supergroup", "title": "Test group"}
    return {"id": -1001000000000, "type": "channel", "title": str(chat_id)}


def _command_entities(text: str) -> list[dict[str, Any]]:
    match = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())}]


def _update_type(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _html_to_plain(text: str) -> str:
    """Check Telegram-flavoured HTML the way the Bot API does and return the visible text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) >= 0:
        out.append(text[pos:start])
        offset = len(text[:start].encode())
        match = _TAG_RE.match(text, start)
        if match is None:
            token = re.match(r"<(/?[^\s>]*)", text[start:])
            name = token.group(1) if token else ""
            if re.fullmatch(r"/?[A-Za-z][\w-]*", name) and ">" not in text[start:]:
                raise _entities_error(f"Unclosed start tag at byte offset {offset}")
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
        closing, name, self_closing = match.group(1) == "/", match.group(2).lower(), match.group(4) == "/"
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _entities_error(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1] != name:
                expected = f'"</{stack[-1]}>"' if stack else "no end tag"
                raise _entities_error(
                    f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                )
            stack.pop()
        elif not self_closing:
            stack.append(name)
        pos = match.end()
    out.append(text[pos:])
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return html.unescape("".join(out))


def _entities_error(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: can't parse entities: {detail}")


def method_names(calls: Iterable[Call]) -> list[str]:
    """The method names of some calls, in order (handy in assertion messages)."""
    return [c.method for c in calls]
