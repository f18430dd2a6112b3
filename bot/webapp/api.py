"""The Mini App's JSON API under /app/api/: each endpoint returns what the caller may see in chat.

Every request is authenticated by `auth_middleware` (initData in `X-Telegram-Init-Data`); the
handlers read the Viewer it leaves on the request. Raw indicators, gates and levers go only to the
product's merchant and admins; counterfeit goods are hidden from everyone else, and L0 goods are
left out of a streamer's browsing as they are from search.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from bot.i18n import catalogue, lang_of, t
from bot.import_report import file_error_text
from bot.picks import picks_for
from bot.render import pick_reason
from bot.services import Services
from bot.webapp.auth import AuthError, check_init_data
from bot.webapp.browse import PAGE_SIZE, SORTS, CatalogQuery, browse, facets
from bot.webapp.radar import compare_svg, radar_svg
from core.catalog import TIERS, CatalogItem
from core.grading import DIMENSIONS, INDICATORS, Indicators, grade
from core.policy import Policy
from storage.catalog import ProductRecord, get_product_by_id
from storage.importer import ImportFileError, validate_file
from storage.merchants import (
    category_average,
    get_merchant,
    list_merchants,
    merchant_indicators,
    tier_counts,
)
from storage.tier_changes import merchant_tier_history, tier_history
from storage.users import MERCHANT, Viewer, user_facts, viewer_of

logger = logging.getLogger(__name__)

SERVICES = web.AppKey("xuanpin_services", Services)
TOKEN = web.AppKey("xuanpin_bot_token", str)
VIEWER = web.RequestKey("xuanpin_viewer", Viewer)
# The dashboard's levers grade every one of a merchant's goods: kept per merchant until the catalog
# index is rebuilt (imports and regrades rebuild it).
LEVERS = web.AppKey("xuanpin_levers", dict)
LEVERS_KEPT = 256
MAX_UPLOAD = 20 * 1024 * 1024  # as the chat's /import (the Bot API's getFile limit)
MAX_COMPARE = 3
MAX_ERRORS_SHOWN = 1000  # as the chat's error report: the first 1,000, and the total
TEXT_PREFIXES = ("app.", "tier.", "badge.", "dim.", "ind.", "gate.")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code}, status=status)


async def _viewer(services: Services, user_id: int, language_code: str | None) -> Viewer:
    """The Viewer as the chat's middleware builds it: the roles a user holds add up."""
    async with services.sessionmaker() as session:
        facts = await user_facts(user_id, session=session)
    return viewer_of(facts, user_id, lang_of(language_code), is_admin=services.settings.is_admin(user_id))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 for every API request without fresh initData signed with this bot's token."""
    if not request.path.startswith("/app/api/"):
        return await handler(request)
    try:
        data = check_init_data(request.app[TOKEN], request.headers.get("X-Telegram-Init-Data"))
    except AuthError as exc:
        logger.info("mini app request refused: %s", exc)
        return _json_error(401, "unauthorized")
    assert data.user is not None  # check_init_data refuses initData without a user
    request[VIEWER] = await _viewer(request.app[SERVICES], data.user.id, data.user.language_code)
    return await handler(request)


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _viewer_of(request: web.Request) -> Viewer:
    return request[VIEWER]


# --------------------------------------------------------------------------- shapes


def item_json(item: CatalogItem) -> dict[str, Any]:
    """A product as anyone may see it (what a chat card shows)."""
    return {
        "id": item.id,
        "sku": item.sku,
        "title": item.title,
        "brand": item.brand,
        "category": item.category,
        "merchant": item.merchant,
        "price": item.price,
        "commission_rate": item.commission_rate,
        "tier": item.tier,
        "score": round(item.score, 2),
        "badges": list(item.badges),
        "dimensions": {d: round(float(item.dimensions.get(d, 0.0)), 1) for d in DIMENSIONS},
    }


def _private_json(record: ProductRecord, policy: Policy) -> dict[str, Any]:
    """The 11 indicators, gates and levers: for the owning merchant and admins only."""
    result = grade(record.indicators, policy, record.tags)
    nxt = result.next_tier
    return {
        "indicators": {
            name: {
                "value": record.indicators.value(name),
                "points": round(result.indicator_points[name], 2),
            }
            for name in INDICATORS
        },
        "gates": dict(result.gates),
        "next_tier": None
        if nxt is None
        else {
            "tier": nxt.tier,
            "points_needed": nxt.points_needed,
            "blocked_by": list(nxt.blocked_by),
            "levers": [
                {"indicator": lv.indicator, "from": lv.current, "to": lv.target, "points": lv.gain}
                for lv in nxt.levers
            ],
        },
    }


def _visible(record: ProductRecord | None, viewer: Viewer) -> bool:
    """The chat's rule for one product: counterfeits only to their merchant and admins."""
    if record is None:
        return False
    return not record.item.counterfeit or viewer.may_see_private(record.merchant_id)


# --------------------------------------------------------------------------- endpoints


async def me(request: web.Request) -> web.Response:
    """Who the caller is and the texts of their language."""
    viewer = _viewer_of(request)
    texts = catalogue()
    wanted = {**texts["zh"], **texts[viewer.lang]}
    return web.json_response(
        {
            "telegram_id": viewer.telegram_id,
            "role": viewer.role,
            "lang": viewer.lang,
            "merchant_id": viewer.merchant_id,
            "texts": {k: v for k, v in wanted.items() if k.startswith(TEXT_PREFIXES)},
            "tiers": list(TIERS),
            "sorts": list(SORTS),
        }
    )


def _float(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise web.HTTPBadRequest(text='{"error": "bad_number"}', content_type="application/json") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise web.HTTPBadRequest(text='{"error": "bad_number"}', content_type="application/json")
    return number


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def parse_query(params: Any) -> CatalogQuery:
    """A CatalogQuery from the URL; bad numbers are a 400, unknown sorts fall back to rank."""
    commission = _float(params.get("min_commission"))
    try:
        page = max(0, min(int(params.get("page", 0)), 100_000))
    except ValueError:
        page = 0
    sort = params.get("sort", "rank")
    return CatalogQuery(
        tiers=tuple(t for t in _list(params.get("tier")) if t in TIERS),
        min_price=_float(params.get("min_price")),
        max_price=_float(params.get("max_price")),
        # Typed as a percent in the form: 20 means 20%.
        min_commission=None if commission is None else commission / 100,
        category=params.get("category") or None,
        badges=_list(params.get("badge")),
        sort=sort if sort in SORTS else "rank",
        page=page,
        per_page=PAGE_SIZE,
    )


async def catalog(request: web.Request) -> web.Response:
    """One filtered, sorted page of the catalog from the live search index."""
    viewer = _viewer_of(request)
    query = parse_query(request.query)
    index = _services(request).catalog.current
    # Admins see L0 and counterfeit goods too, as in search; everyone else never does.
    page = browse(index, query, include_hidden=viewer.is_admin)
    f = facets(index)
    return web.json_response(
        {
            "total": page.total,
            "page": query.page,
            "per_page": query.per_page,
            "items": [item_json(it) for it in page.items],
            "categories": list(f.categories),
            "badges": sorted(f.badge_bits),
        }
    )


async def _product_payload(services: Services, record: ProductRecord, viewer: Viewer) -> dict[str, Any]:
    item = record.item
    async with services.sessionmaker() as session:
        average = await category_average(item.category, session=session)
        history = (
            await tier_history(item.id, session=session) if viewer.may_see_private(record.merchant_id) else []
        )
    texts = {**catalogue()["zh"], **catalogue()[viewer.lang]}
    labels = {d: texts[f"dim.{d}"] for d in DIMENSIONS}
    data = item_json(item)
    data["category_average"] = {d: round(float(v), 1) for d, v in (average or {}).items()}
    data["radar_svg"] = radar_svg(item.dimensions, average, labels, title=f"{item.title} · {item.tier}")
    data["owner_view"] = viewer.may_see_private(record.merchant_id)
    if data["owner_view"]:
        data["private"] = _private_json(record, services.policy)
        data["private"]["history"] = [
            {"at": h.changed_at.isoformat(), "from": h.old_tier, "to": h.new_tier} for h in history
        ]
    return data


def _product_id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise web.HTTPNotFound(text='{"error": "not_found"}', content_type="application/json") from exc
    if not 0 < value < 2**63:
        raise web.HTTPNotFound(text='{"error": "not_found"}', content_type="application/json")
    return value


async def product(request: web.Request) -> web.Response:
    """One product; the private part only for its merchant and admins; hidden goods are a 404."""
    services, viewer = _services(request), _viewer_of(request)
    async with services.sessionmaker() as session:
        record = await get_product_by_id(_product_id(request.match_info["id"]), session=session)
    if record is None or not _visible(record, viewer):
        return _json_error(404, "not_found")
    return web.json_response(await _product_payload(services, record, viewer))


async def compare(request: web.Request) -> web.Response:
    """Up to three products side by side (public figures only: the chat's card for each)."""
    services, viewer = _services(request), _viewer_of(request)
    ids = [_product_id(v) for v in _list(request.query.get("ids"))][:MAX_COMPARE]
    out = []
    async with services.sessionmaker() as session:
        for pid in dict.fromkeys(ids):
            record = await get_product_by_id(pid, session=session)
            if record is not None and _visible(record, viewer):
                out.append(item_json(record.item))
    texts = {**catalogue()["zh"], **catalogue()[viewer.lang]}
    labels = {d: texts[f"dim.{d}"] for d in DIMENSIONS}
    title = " / ".join(entry["sku"] for entry in out)
    chart = compare_svg([entry["dimensions"] for entry in out], labels, title=title)
    return web.json_response({"items": out, "radar_svg": chart})


async def picks(request: web.Request) -> web.Response:
    """The caller's own picks and gaps for today (records nothing, like `python -m bot picks`)."""
    services, viewer = _services(request), _viewer_of(request)
    result = await picks_for(services.sessionmaker, services.settings, viewer.telegram_id)
    data = result.as_json()
    data["picks"] = [
        {**item_json(p.item), "category": p.category, "reason": pick_reason(p, viewer.lang)}
        for p in result.picks
    ]
    data["has_sales"] = result.has_sales
    return web.json_response(data)


def lifting_levers(goods: list[tuple[Indicators, tuple[str, ...]]], policy: Policy) -> list[dict[str, Any]]:
    """For each indicator, how many goods one change of it alone would lift to their next tier."""
    lifted: Counter[str] = Counter()
    tiers: dict[str, Counter[str]] = {}
    for indicators, tags in goods:
        nxt = grade(indicators, policy, tags).next_tier
        if nxt is None or nxt.blocked_by:
            continue
        for lever in nxt.levers:
            if lever.gain + 1e-9 >= nxt.points_needed:
                lifted[lever.indicator] += 1
                tiers.setdefault(lever.indicator, Counter())[nxt.tier] += 1
    return [
        {"indicator": name, "goods": n, "to_tiers": dict(sorted(tiers[name].items()))}
        for name, n in lifted.most_common(5)
    ]


async def dashboard(request: web.Request) -> web.Response:
    """A merchant's goods by tier, the levers that lift the most, and recent tier moves.

    A merchant sees their own; an admin names any merchant with `?merchant_id=` (without it: the list
    of merchants to choose from); others get 403.
    """
    services, viewer = _services(request), _viewer_of(request)
    merchant_id = viewer.merchant_id if viewer.role == MERCHANT else None
    if viewer.is_admin:
        raw = request.query.get("merchant_id")
        merchant_id = _product_id(raw) if raw else viewer.merchant_id
    if merchant_id is None and viewer.is_admin:
        async with services.sessionmaker() as session:
            merchants = await list_merchants(session=session)
        return web.json_response({"merchants": [{"id": m.id, "name": m.name} for m in merchants]})
    if merchant_id is None:
        return _json_error(403, "forbidden")
    async with services.sessionmaker() as session:
        merchant = await get_merchant(merchant_id, session=session)
        if merchant is None:
            return _json_error(404, "not_found")
        counts = await tier_counts(merchant_id, session=session)
        moves = await merchant_tier_history(merchant_id, session=session)
        cache = request.app[LEVERS]
        key = (merchant_id, services.catalog.version)
        levers = cache.get(key)
        goods = None if levers is not None else await merchant_indicators(merchant_id, session=session)
    if levers is None:
        levers = await asyncio.to_thread(lifting_levers, goods or [], services.policy)
        if len(cache) >= LEVERS_KEPT:
            cache.clear()
        cache[key] = levers
    return web.json_response(
        {
            "merchant": {"id": merchant_id, "name": merchant.name},
            "tiers": counts,
            "total": sum(counts.values()),
            "levers": levers,
            "history": [
                {
                    "sku": m.sku,
                    "title": m.title,
                    "at": m.changed_at.isoformat(),
                    "from": m.old_tier,
                    "to": m.new_tier,
                }
                for m in moves
            ],
        }
    )


async def import_check(request: web.Request) -> web.Response:
    """An admin's dry run of an import file: counts and the row errors; nothing is written."""
    viewer = _viewer_of(request)
    if not viewer.is_admin:
        return _json_error(403, "forbidden")
    if request.content_length is not None and request.content_length > MAX_UPLOAD + 64 * 1024:
        return _json_error(413, "too_big")
    reader = await request.multipart()
    kind, name, data = "products", "upload.csv", b""
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "kind":
            kind = (await part.text()).strip()
        elif part.name == "file":
            name = part.filename or name
            chunks, size = [], 0
            while chunk := await part.read_chunk(64 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    return _json_error(413, "too_big")
                chunks.append(chunk)
            data = b"".join(chunks)
    if kind not in ("products", "streamers"):
        return _json_error(400, "bad_kind")
    if not data:
        return _json_error(400, "no_file")
    suffix = Path(name).suffix.lower()[:8] or ".csv"
    try:
        report = await asyncio.to_thread(_validate_upload, kind, suffix, data, viewer.lang)
    except ImportFileError as exc:
        return web.json_response({"file_error": file_error_text(exc, viewer.lang)}, status=422)
    return web.json_response(report)


def _validate_upload(kind: Any, suffix: str, data: bytes, lang: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="xuanpin-webapp-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        with validate_file(kind, path) as validated:
            return {
                "kind": kind,
                "rows_total": validated.rows_total,
                "rows_valid": validated.rows_valid,
                "errors_total": validated.errors_total,
                "errors": [
                    {
                        "line": e.line,
                        "column": e.column,
                        "value": e.value,
                        "reason": t(e.reason.value, lang, **e.params),
                    }
                    for e in validated.errors[:MAX_ERRORS_SHOWN]
                ],
                "ignored_columns": list(validated.ignored_columns),
            }


def add_api_routes(app: web.Application) -> None:
    app.router.add_get("/app/api/me", me)
    app.router.add_get("/app/api/catalog", catalog)
    app.router.add_get("/app/api/product/{id}", product)
    app.router.add_get("/app/api/compare", compare)
    app.router.add_get("/app/api/picks", picks)
    app.router.add_get("/app/api/dashboard", dashboard)
    app.router.add_post("/app/api/import", import_check)
