"""The Mini App's JSON API: initData checks (401), and each endpoint shows what that user may see."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.keyboards import webapp_product_url
from bot.web import build_web_app
from bot.webapp.auth import AuthError, check_init_data
from bot.webapp.browse import CatalogQuery, browse
from bot.webapp.radar import radar_svg
from core.grading import INDICATORS
from storage.tables import Merchant, Product
from tests.conftest import ADMIN_ID
from tests.factories import bind_merchant, import_rows, product_row
from tests.webapp_support import TOKEN, sign_init_data

MERCHANT_ID = 501  # bound to M1
STREAMER_ID = 700


@pytest.fixture
async def client(services):
    rows = [
        product_row("TOP-1", "云朵洗面奶 旗舰款", price=89, grade="top"),
        product_row("MID-1", "云朵面霜", price=129, grade="mid", category="美妆"),
        product_row("LOW-1", "无名洗发水", price=19, grade="low"),
        product_row("FAKE-1", "仿冒香水", price=39, grade="top", counterfeit_flag=1),
        product_row("OTHER-1", "别家面膜", price=49, grade="top", merchant="M2"),
        product_row("OTHER-2", "别家口红 <b>", price=159, grade="mid", merchant="M2", category="美妆"),
    ]
    await import_rows(services, rows)
    async with services.sessionmaker() as session:
        await bind_merchant(session, MERCHANT_ID, "M1")
        await session.commit()
    async with TestClient(TestServer(build_web_app(services, token=TOKEN))) as c:
        yield c


async def get(client: TestClient, path: str, user: int | None = STREAMER_ID, **kwargs):
    headers = {"X-Telegram-Init-Data": sign_init_data(user)} if user is not None else {}
    response = await client.get(path, headers=headers, **kwargs)
    return response.status, (await response.json() if response.content_type == "application/json" else None)


async def product_id(services, sku: str) -> int:
    async with services.sessionmaker() as session:
        product = (await session.exec(Product.__table__.select().where(Product.sku == sku))).first()
    assert product is not None
    return int(product.id)


# --------------------------------------------------------------------------- authentication

API_PATHS = ["/app/api/me", "/app/api/catalog", "/app/api/product/1", "/app/api/compare?ids=1"]
API_PATHS += ["/app/api/picks", "/app/api/dashboard"]


@pytest.mark.parametrize("path", API_PATHS)
async def test_every_endpoint_refuses_a_request_without_init_data(client, path):
    status, body = await get(client, path, user=None)
    assert status == 401
    assert body == {"error": "unauthorized"}


async def test_forged_stale_and_tampered_init_data_get_401(client):
    forged = sign_init_data(STREAMER_ID, token="987654321:another-bots-token-xxxxxxxxxxxx")
    stale = sign_init_data(STREAMER_ID, auth_date=int(time.time()) - 25 * 3600)
    tampered = sign_init_data(STREAMER_ID).replace("%22id%22%3A700", "%22id%22%3A900")  # claim to be admin
    assert "900" in tampered
    for init_data in (forged, stale, tampered, "garbage", "hash=abc"):
        response = await client.get("/app/api/me", headers={"X-Telegram-Init-Data": init_data})
        assert response.status == 401, init_data
    response = await client.post("/app/api/import", headers={"X-Telegram-Init-Data": stale})
    assert response.status == 401


async def test_fresh_init_data_names_the_user_and_their_role(client):
    status, body = await get(client, "/app/api/me")
    assert status == 200
    assert (body["telegram_id"], body["role"], body["lang"]) == (STREAMER_ID, "streamer", "zh")
    assert body["texts"]["app.tab.catalog"] == "商品库"
    _, merchant = await get(client, "/app/api/me", user=MERCHANT_ID)
    _, admin = await get(client, "/app/api/me", user=ADMIN_ID)
    assert (merchant["role"], admin["role"]) == ("merchant", "admin")


def test_init_data_freshness_window():
    now = datetime.now(UTC)
    raw = sign_init_data(1, auth_date=int((now - timedelta(hours=23)).timestamp()))
    assert check_init_data(TOKEN, raw, now=now).user.id == 1
    with pytest.raises(AuthError):
        check_init_data(TOKEN, raw, now=now + timedelta(hours=2))  # now 25 hours old
    future = sign_init_data(1, auth_date=int((now + timedelta(hours=1)).timestamp()))
    with pytest.raises(AuthError):
        check_init_data(TOKEN, future, now=now)


async def test_the_page_and_its_assets_are_served_without_init_data(client):
    for path in ("/app/", "/app/static/app.js", "/app/static/app.css"):
        response = await client.get(path)
        assert response.status == 200, path
    assert "X-Telegram-Init-Data" in await (await client.get("/app/static/app.js")).text()


# --------------------------------------------------------------------------- privacy


async def test_streamers_never_browse_l0_or_counterfeit_goods_admins_do(client):
    _, streamer = await get(client, "/app/api/catalog")
    skus = {it["sku"] for it in streamer["items"]}
    assert skus == {"TOP-1", "MID-1", "OTHER-1", "OTHER-2"}
    assert streamer["total"] == 4
    _, admin = await get(client, "/app/api/catalog", user=ADMIN_ID)
    assert {"LOW-1", "FAKE-1"} <= {it["sku"] for it in admin["items"]}
    text = json.dumps(streamer)
    assert all(name not in text for name in INDICATORS if name != "commission_rate")


async def test_raw_indicators_only_for_the_owning_merchant_and_admins(client, services):
    top = await product_id(services, "TOP-1")
    other = await product_id(services, "OTHER-1")
    _, streamer = await get(client, f"/app/api/product/{top}")
    assert streamer["owner_view"] is False and "private" not in streamer
    assert "refund_rate" not in json.dumps(streamer) and "gmv_30d" not in json.dumps(streamer)
    _, owner = await get(client, f"/app/api/product/{top}", user=MERCHANT_ID)
    assert set(owner["private"]["indicators"]) == set(INDICATORS)
    assert owner["private"]["indicators"]["refund_rate"]["value"] == pytest.approx(0.01)
    _, not_owner = await get(client, f"/app/api/product/{other}", user=MERCHANT_ID)
    assert "private" not in not_owner
    _, admin = await get(client, f"/app/api/product/{other}", user=ADMIN_ID)
    assert len(admin["private"]["indicators"]) == 11
    assert "<svg" in streamer["radar_svg"] and streamer["radar_svg"].count('class="axis"') == 5


async def test_counterfeit_goods_are_404_except_to_their_merchant_and_admins(client, services):
    fake = await product_id(services, "FAKE-1")
    assert (await get(client, f"/app/api/product/{fake}"))[0] == 404
    assert (await get(client, f"/app/api/product/{fake}", user=MERCHANT_ID))[0] == 200
    assert (await get(client, f"/app/api/product/{fake}", user=ADMIN_ID))[0] == 200
    assert (await get(client, "/app/api/product/999999"))[0] == 404
    assert (await get(client, "/app/api/product/abc"))[0] == 404
    _, compared = await get(client, f"/app/api/compare?ids={fake},{await product_id(services, 'TOP-1')}")
    assert [it["sku"] for it in compared["items"]] == ["TOP-1"]


async def test_compare_takes_at_most_three_and_shows_public_figures(client, services):
    ids = [await product_id(services, s) for s in ("TOP-1", "MID-1", "OTHER-1", "OTHER-2")]
    _, body = await get(client, "/app/api/compare?ids=" + ",".join(map(str, ids)), user=MERCHANT_ID)
    assert [it["sku"] for it in body["items"]] == ["TOP-1", "MID-1", "OTHER-1"]
    assert all("private" not in it and "indicators" not in it for it in body["items"])
    assert body["radar_svg"].count('class="series') == 3


async def test_dashboard_is_the_merchants_own_and_refused_to_streamers(client, services):
    assert (await get(client, "/app/api/dashboard"))[0] == 403
    _, own = await get(client, "/app/api/dashboard", user=MERCHANT_ID)
    assert own["merchant"]["name"] == "M1"
    assert own["total"] == 4 and own["tiers"]["L0"] == 2  # LOW-1 and the counterfeit
    async with services.sessionmaker() as session:
        m2 = (await session.exec(select(Merchant).where(Merchant.code == "M2"))).one().id
    # A merchant cannot look at another merchant's dashboard by naming it.
    _, still_own = await get(client, f"/app/api/dashboard?merchant_id={m2}", user=MERCHANT_ID)
    assert still_own["merchant"]["name"] == "M1"
    status, admin = await get(client, f"/app/api/dashboard?merchant_id={m2}", user=ADMIN_ID)
    assert status == 200 and admin["merchant"]["name"] == "M2" and admin["total"] == 2
    _, choice = await get(client, "/app/api/dashboard", user=ADMIN_ID)  # an admin picks a merchant
    assert [m["name"] for m in choice["merchants"]] == ["M1", "M2"]


async def test_dashboard_counts_the_goods_each_lever_lifts(client):
    _, own = await get(client, "/app/api/dashboard", user=MERCHANT_ID)
    for lever in own["levers"]:
        assert lever["indicator"] in INDICATORS
        assert 1 <= lever["goods"] <= own["total"]


async def test_picks_are_the_callers_own(client):
    status, body = await get(client, "/app/api/picks")
    assert status == 200
    assert body["telegram_id"] == STREAMER_ID
    assert {"gaps", "picks", "date"} <= set(body)
    assert all(p["tier"] not in ("L0",) for p in body["picks"])


# --------------------------------------------------------------------------- import dry run


async def test_import_check_lists_row_errors_and_writes_nothing(client, services):
    rows = [product_row("NEW-1", "新品", price=-5), product_row("NEW-2", "新品二")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    form = FormData()
    form.add_field("kind", "products")
    form.add_field("file", io.BytesIO(out.getvalue().encode()), filename="bad.csv", content_type="text/csv")
    headers = {"X-Telegram-Init-Data": sign_init_data(ADMIN_ID, language_code="en")}
    response = await client.post("/app/api/import", data=form, headers=headers)
    body = await response.json()
    assert response.status == 200
    assert (body["rows_total"], body["rows_valid"], body["errors_total"]) == (2, 1, 1)
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "price")]
    async with services.sessionmaker() as session:
        for sku in ("NEW-1", "NEW-2"):
            assert (await session.exec(Product.__table__.select().where(Product.sku == sku))).first() is None


async def test_import_check_is_for_admins_only(client):
    form = FormData()
    form.add_field("file", io.BytesIO(b"sku\n"), filename="x.csv")
    response = await client.post(
        "/app/api/import", data=form, headers={"X-Telegram-Init-Data": sign_init_data(MERCHANT_ID)}
    )
    assert response.status == 403


# --------------------------------------------------------------------------- browsing


async def test_catalog_filters_sort_and_pages(client):
    _, body = await get(client, "/app/api/catalog?tier=L5&sort=price_asc")
    prices = [it["price"] for it in body["items"]]
    assert prices == sorted(prices) and {it["tier"] for it in body["items"]} == {"L5"}
    _, body = await get(client, "/app/api/catalog?category=美妆&max_price=140")
    assert [it["sku"] for it in body["items"]] == ["MID-1"]
    _, body = await get(client, "/app/api/catalog?min_commission=25")
    assert body["items"] and all(it["commission_rate"] >= 0.25 for it in body["items"])
    _, body = await get(client, "/app/api/catalog?badge=no-such-badge")
    assert body["total"] == 0
    status, _ = await get(client, "/app/api/catalog?min_price=abc")
    assert status == 400


async def test_browse_pages_cover_every_match_once(services, client):
    index = services.catalog.current
    seen = []
    for page in range(3):
        seen += browse(index, CatalogQuery(per_page=2, page=page, sort="price_desc")).items
    assert [it.sku for it in seen] == ["OTHER-2", "MID-1", "TOP-1", "OTHER-1"]


def test_radar_svg_escapes_text():
    svg = radar_svg({"a": 50}, None, {"a": "<x>"}, title='"><script>')
    assert "<script>" not in svg and "&lt;x&gt;" in svg


def test_the_product_url_keeps_the_mini_apps_own_query():
    assert webapp_product_url("https://x.test/app/?v=2#top", 7) == "https://x.test/app/?v=2&product=7"
    assert webapp_product_url("https://x.test/app/", 7) == "https://x.test/app/?product=7"
