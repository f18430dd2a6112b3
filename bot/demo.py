"""`make demo`: chat with the bot in the terminal.

The same dispatcher and handlers as on Telegram, fed with real `Update` objects; the bot's
session is local (no token, no network) and prints what the bot would send. Buttons are numbered:
type the number to press one. `:as merchant` switches who you are.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any, TextIO

from aiogram.types import (
    CallbackQuery,
    Chat,
    Document,
    InlineKeyboardMarkup,
    InlineQuery,
    Message,
    Update,
)
from aiogram.types import (
    User as TgUser,
)

from bot.dispatcher import build_dispatcher
from bot.local_session import BOT_USER, LocalSession, input_file_bytes
from bot.seed import seed_demo
from bot.services import Services, build_bot, build_catalog_index, policy_for
from bot.settings import Settings
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.tables import Merchant, Product, StreamerSale, User

DEMO_DIR = Path(".demo")
STREAMER_ID = 10_001
MERCHANT_ID = 20_001
ADMIN_ID = 30_001

HELP = """\
演示聊天 / demo chat — 像在 Telegram 里一样输入；Type as you would in Telegram.
  任何文字 = 搜索 (any text searches)      /help  /grade SKU  /picks  /mygoods ...
  数字 1, 2, 3… 按下按钮 (press a button)   @xuanpin 关键词 = 内联模式 (inline mode)
  :as streamer | merchant | admin  切换身份 (switch user)
  :lang en | zh   切换语言 (language)       :import FILE  以管理员身份发送 /import 文件
  :help  这段说明                            :quit  退出 (or Ctrl-D)
"""

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def terminal_text(html_text: str, colour: bool) -> str:
    text = re.sub(r"<b>(.*?)</b>", (BOLD + r"\1" + RESET) if colour else r"\1", html_text, flags=re.S)
    text = re.sub(r"</?(i|code|u|s|pre|a|tg-spoiler|blockquote)( [^>]*)?>", "", text)
    return unescape(text)


@dataclass
class DemoUser:
    role: str
    telegram_id: int
    first_name: str
    language_code: str = "zh-hans"


@dataclass
class DemoChat:
    """The terminal side: renders what the bot sends and turns typed lines into updates."""

    out: TextIO = sys.stdout
    colour: bool = True
    users: dict[str, DemoUser] = field(default_factory=dict)
    current: str = "streamer"
    buttons: list[tuple[str, str | None, int]] = field(
        default_factory=list
    )  # (text, callback data, message id)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    inline_results: list[str] = field(default_factory=list)
    photos: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def user(self) -> DemoUser:
        return self.users[self.current]

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # --- what the bot sends -------------------------------------------------------------
    def on_request(self, method: Any) -> None:
        name = method.__api_method__  # the Bot API name: subclasses such as SendMessageForIds count too
        if name in ("sendMessage", "editMessageText"):
            prefix = "✏️ " if name == "editMessageText" else ""
            self._show(prefix + terminal_text(method.text, self.colour), method.reply_markup)
        elif name == "sendPhoto":
            data = input_file_bytes(method.photo)
            if data:  # a chart drawn here: saved to look at
                self.photos += 1
                where = DEMO_DIR / f"chart-{self.photos}.png"
                DEMO_DIR.mkdir(exist_ok=True)
                where.write_bytes(data)
                shown = str(where)
            else:  # a product photo by URL, as Telegram would fetch it
                shown = str(method.photo)
            caption = terminal_text(method.caption or "", self.colour)
            self._show(f"🖼  [图片 image: {shown}] {caption}".rstrip(), method.reply_markup)
        elif name == "sendDocument":
            filename = getattr(method.document, "filename", "file")
            data = input_file_bytes(method.document)
            if data:
                DEMO_DIR.mkdir(exist_ok=True)
                (DEMO_DIR / str(filename)).write_bytes(data)
            self._show(
                f"📎 [文件 file: {DEMO_DIR / str(filename)}] "
                f"{terminal_text(method.caption or '', self.colour)}",
                method.reply_markup,
            )
        elif name == "editMessageReplyMarkup":
            self._show("✏️ (buttons updated)", method.reply_markup)
        elif name == "answerCallbackQuery" and method.text:
            self.print(f"{DIM if self.colour else ''}💬 {method.text}{RESET if self.colour else ''}")
        elif name == "answerInlineQuery":
            self._show_inline(method)

    def _show(self, text: str, markup: Any) -> None:
        self.print(f"\n🤖 {text}")
        if isinstance(markup, InlineKeyboardMarkup):
            message_id = next(self._ids)
            self.messages[message_id] = {"text": text, "markup": markup}
            self.buttons = []
            for row in markup.inline_keyboard:
                cells = []
                for button in row:
                    self.buttons.append((button.text, button.callback_data, message_id))
                    cells.append(f"[{len(self.buttons)}] {button.text}")
                self.print("   " + "   ".join(cells))

    def _show_inline(self, method: Any) -> None:
        results = method.results or []
        self.print(
            f"\n🔎 inline: {len(results)} cards"
            + (f" (next_offset={method.next_offset})" if method.next_offset else "")
        )
        for i, result in enumerate(results[:10], 1):
            title = getattr(result, "title", "")
            description = getattr(result, "description", "") or ""
            self.print(
                f"   {i}. {title}  {DIM if self.colour else ''}{description}{RESET if self.colour else ''}"
            )
        if len(results) > 10:
            self.print(f"   … {len(results) - 10} more")


class DemoSession:
    """Wires the dispatcher, the local bot and the terminal together."""

    def __init__(self, services: Services, chat: DemoChat) -> None:
        self.services = services
        self.chat = chat
        self.session = LocalSession(on_request=chat.on_request)
        self.bot = build_bot("42:DEMO-TOKEN-NOT-USED-FOR-ANYTHING", session=self.session)
        self.dp = build_dispatcher(services)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def _tg_user(self) -> TgUser:
        u = self.chat.user
        return TgUser(id=u.telegram_id, is_bot=False, first_name=u.first_name, language_code=u.language_code)

    def _chat(self) -> Chat:
        return Chat(id=self.chat.user.telegram_id, type="private")

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)
        await self.services.jobs_done()  # show the alerts an /import started before the next prompt

    async def say(self, text: str) -> None:
        message = Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self._chat(),
            from_user=self._tg_user(),
            text=text,
        )
        await self.feed(Update(update_id=next(self._update_ids), message=message))

    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self.chat.buttons):
            self.chat.print(f"(no button {number}: there are {len(self.chat.buttons)})")
            return
        text, data, message_id = self.chat.buttons[number - 1]
        if data is None:
            self.chat.print(f"(button “{text}” opens a link or switches chats; nothing to press here)")
            return
        message = Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=self._chat(),
            from_user=TgUser(
                id=int(str(BOT_USER["id"])), is_bot=True, first_name=str(BOT_USER["first_name"])
            ),
            text=self.chat.messages[message_id]["text"],
        )
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=self._tg_user(),
            chat_instance="demo",
            message=message,
            data=data,
        )
        await self.feed(Update(update_id=next(self._update_ids), callback_query=query))

    async def inline(self, query: str) -> None:
        inline = InlineQuery(
            id=str(next(self._update_ids)), from_user=self._tg_user(), query=query, offset=""
        )
        await self.feed(Update(update_id=next(self._update_ids), inline_query=inline))

    async def send_document(self, path: Path, caption: str = "/import") -> None:
        if not path.exists():
            self.chat.print(f"(no such file: {path})")
            return
        file_id = f"demo-{next(self._update_ids)}"
        self.session.files[file_id] = path.read_bytes()
        document = Document(
            file_id=file_id, file_unique_id=file_id, file_name=path.name, file_size=path.stat().st_size
        )
        message = Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self._chat(),
            from_user=self._tg_user(),
            document=document,
            caption=caption,
        )
        await self.feed(Update(update_id=next(self._update_ids), message=message))

    async def handle_line(self, line: str) -> bool:
        """One typed line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line == ":help":
            self.chat.print(HELP)
        elif line.startswith(":as"):
            role = line[3:].strip()
            if role not in self.chat.users:
                self.chat.print("(:as streamer | merchant | admin)")
            else:
                self.chat.current = role
                self.chat.buttons = []
                u = self.chat.user
                self.chat.print(f"(you are now the {role}: {u.first_name}, id {u.telegram_id})")
        elif line.startswith(":lang"):
            lang = line[5:].strip()
            self.chat.user.language_code = "en" if lang == "en" else "zh-hans"
            self.chat.print(f"(language: {self.chat.user.language_code})")
        elif line.startswith(":import"):
            await self.send_document(Path(line[7:].strip()))
        elif line.isdigit():
            await self.press(int(line))
        elif line.startswith("@"):
            await self.inline(line.split(" ", 1)[1] if " " in line else "")
        else:
            await self.say(line)
        return True


async def prepare_demo_database(settings: Settings, out: TextIO) -> Services:
    """Migrate and seed the demo database on first run; bind the demo merchant."""
    from sqlmodel import col, func, select

    await upgrade(settings.database_url)
    sessionmaker = make_sessionmaker(make_engine(settings.database_url))
    async with sessionmaker() as session:
        count = (await session.exec(select(func.count()).select_from(Product))).one()
    if count == 0:
        out.write("正在生成演示目录 (building the demo catalog)…\n")
        out.flush()
        await seed_demo(sessionmaker)
    async with sessionmaker() as session:
        merchant_id = (
            await session.exec(
                select(Product.merchant_id)
                .group_by(col(Product.merchant_id))
                .order_by(func.count().desc())
                .limit(1)
            )
        ).first()
        user = await session.get(User, MERCHANT_ID)
        if user is None:
            session.add(User(telegram_id=MERCHANT_ID, merchant_id=merchant_id, name="演示商家"))
        await session.commit()
        merchant = await session.get(Merchant, merchant_id) if merchant_id else None
        if merchant:
            out.write(f"(demo merchant: {merchant.name})\n")
    catalog = build_catalog_index()
    await catalog.refresh(sessionmaker)
    return Services(
        settings=settings, sessionmaker=sessionmaker, policy=policy_for(settings), catalog=catalog
    )


async def run_demo(
    settings: Settings,
    *,
    database_url: str | None = None,
    read_line: Callable[[str], Awaitable[str | None]] | None = None,
    out: TextIO = sys.stdout,
    colour: bool | None = None,
) -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    url = database_url or f"sqlite+aiosqlite:///{DEMO_DIR / 'xuanpin-demo.db'}"
    settings = settings.model_copy(update={"database_url": url, "admin_ids": frozenset({ADMIN_ID})})
    services = await prepare_demo_database(settings, out)
    streamer_id = await _demo_streamer_id(services)
    chat = DemoChat(
        out=out,
        colour=out.isatty() if colour is None else colour,
        users={
            "streamer": DemoUser("streamer", streamer_id, "小美"),
            "merchant": DemoUser("merchant", MERCHANT_ID, "王老板"),
            "admin": DemoUser("admin", ADMIN_ID, "小二"),
        },
    )
    demo = DemoSession(services, chat)
    chat.print(HELP)
    for role in ("admin", "merchant", "streamer"):
        chat.current = role
        await demo.say("/start") if role == "streamer" else await _quiet_start(demo)
    read = read_line or _stdin_line
    try:
        while True:
            line = await read(f"\n[{chat.current}] > ")
            if line is None or not await demo.handle_line(line):
                break
    finally:
        await demo.bot.session.close()
        await services.sessionmaker.kw["bind"].dispose()


async def _quiet_start(demo: DemoSession) -> None:
    """Register the merchant and admin without printing their greetings."""
    handler = demo.session.on_request
    demo.session.on_request = None
    try:
        await demo.say("/start")
    finally:
        demo.session.on_request = handler


async def _demo_streamer_id(services: Services) -> int:
    """A streamer with imported sales, so /picks and /categories have something to show."""
    from sqlmodel import col, select

    async with services.sessionmaker() as session:
        first = (
            await session.exec(
                select(StreamerSale.telegram_id).order_by(col(StreamerSale.telegram_id)).limit(1)
            )
        ).first()
    return int(first) if first is not None else STREAMER_ID


async def _stdin_line(prompt: str) -> str | None:
    def read() -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    return await asyncio.to_thread(read)
