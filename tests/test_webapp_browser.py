"""The Mini App in a real browser: Debian's Chromium driven by Playwright, at a phone's size.

The real app is served on loopback over a test database; initData is signed with the test token,
and the page is opened the way Telegram opens it (#tgWebAppData=…&tgWebAppThemeParams=…).
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from bot.demo_data import demo_products
from bot.web import build_web_app
from storage.catalog import get_product
from storage.importer import import_product_rows
from tests.conftest import ADMIN_ID
from tests.factories import bind_merchant
from tests.webapp_support import TOKEN, sign_init_data

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).parent / "artifacts"
THEMES = {
    "light": {
        "bg_color": "#ffffff",
        "text_color": "#000000",
        "hint_color": "#707579",
        "link_color": "#3390ec",
        "button_color": "#3390ec",
        "button_text_color": "#ffffff",
        "secondary_bg_color": "#f4f4f5",
    },
    "dark": {
        "bg_color": "#212121",
        "text_color": "#ffffff",
        "hint_color": "#aaaaaa",
        "link_color": "#8774e1",
        "button_color": "#8774e1",
        "button_text_color": "#ffffff",
        "secondary_bg_color": "#181818",
    },
}
STREAMER_ID, MERCHANT_ID = 700, 501


@pytest.fixture
async def served(services):
    """The Mini App on a loopback port over 300 demo goods; yields (base URL, a product of the merchant)."""
    rows = demo_products(300)
    report = await import_product_rows(services.sessionmaker, rows)
    assert not report.errors
    await services.catalog.refresh(services.sessionmaker)
    merchant = str(rows[0]["merchant"])
    async with services.sessionmaker() as session:
        await bind_merchant(session, MERCHANT_ID, merchant)
        await session.commit()
    runner = web.AppRunner(build_web_app(services, token=TOKEN))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", await product_id(services, str(rows[0]["sku"]))
    finally:
        await runner.cleanup()


async def product_id(services, sku: str) -> int:
    async with services.sessionmaker() as session:
        record = await get_product(sku, session=session)
    assert record is not None
    return record.item.id


def launch_url(base: str, user_id: int, theme: str, lang: str = "zh", page: str = "") -> str:
    fragment = urlencode(
        {
            "tgWebAppData": sign_init_data(user_id, language_code=lang),
            "tgWebAppVersion": "8.0",
            "tgWebAppThemeParams": json.dumps(THEMES[theme]),
        }
    )
    return f"{base}/app/{page}#{fragment}"


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_streamer_browses_filters_opens_and_compares(served, theme):
    base, _ = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(launch_url(base, STREAMER_ID, theme))
            results = page.locator("#results li")
            await expect(results.first).to_be_visible()
            # Telegram's theme is applied: the page's background is the theme's.
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            expected = {"light": "rgb(255, 255, 255)", "dark": "rgb(33, 33, 33)"}[theme]
            assert background == expected
            # The layout fits the phone: nothing scrolls sideways.
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await shot(page, f"catalog-{theme}")

            total_before = await page.locator("#total").inner_text()
            await page.locator("input[name=tier][value=L5]").check()
            await page.locator("select[name=sort]").select_option("price_asc")
            await page.locator("#apply").click()
            await expect(page.locator("#total")).not_to_have_text(total_before)
            tiers = await page.locator("#results .tier").all_inner_texts()
            assert tiers and set(tiers) == {"L5"}
            prices = [
                float(p.replace("¥", "").replace(",", ""))
                for p in await page.locator("#results .item > span:nth-of-type(3)").all_inner_texts()
            ]
            assert prices == sorted(prices)

            first_sku = await results.first.locator("a").get_attribute("data-sku")
            await results.first.locator("a").click()
            await expect(page.locator("#product-title")).to_be_visible()
            await expect(page.locator("#radar svg.radar")).to_be_visible()
            assert await page.locator("#radar .axis").count() == 5
            assert await page.locator("#private").count() == 0  # a streamer never sees the indicators
            await shot(page, f"product-{theme}")
            await page.locator("#add-compare").click()
            await expect(page.locator("#add-compare")).to_be_disabled()

            await page.go_back()
            await expect(results.nth(1)).to_be_visible()
            await results.nth(1).locator("a").click()
            await expect(page.locator("#product-title")).to_be_visible()
            await page.locator("#add-compare").click()
            await page.locator("#tab-compare").click()
            await expect(page.locator("#compare-table")).to_be_visible()
            assert await page.locator("#compare .item").count() == 2
            assert first_sku and await page.locator("#compare-radar polygon.series").count() == 2
            await shot(page, f"compare-{theme}")
            assert not errors, errors
        finally:
            await browser.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_merchant_sees_the_dashboard_and_their_indicators(served, theme):
    base, own_product = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await (await browser.new_context(viewport=PHONE)).new_page()
            await page.goto(launch_url(base, MERCHANT_ID, theme, lang="en"))
            await expect(page.locator("#tab-dashboard")).to_be_visible()
            await page.locator("#tab-dashboard").click()
            await expect(page.locator("#dashboard-tiers")).to_be_visible()
            assert await page.locator("#dashboard-tiers tr").count() == 6
            assert "Goods by tier" in await page.locator("main").inner_text()
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await shot(page, f"dashboard-{theme}")
            # No tab for the admin's import.
            assert await page.locator("#tab-import").count() == 0
            # Telegram switches the theme while the app is open.
            await page.evaluate(
                "window.Telegram.WebView.receiveEvent('theme_changed', {theme_params: {bg_color: '#123456'}})"
            )
            assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(18, 52, 86)"
            # A card's button opens ?product=ID: the merchant's own product shows the 11 indicators.
            page = await (await browser.new_context(viewport=PHONE)).new_page()
            await page.goto(launch_url(base, MERCHANT_ID, theme, lang="en", page=f"?product={own_product}"))
            await expect(page.locator("#private")).to_be_visible()
            assert await page.locator("#private table").first.locator("tr").count() == 12  # header + 11
            await shot(page, f"own-product-{theme}")
        finally:
            await browser.close()


async def test_forged_init_data_shows_the_refusal(served):
    base, _ = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await (await browser.new_context(viewport=PHONE)).new_page()
            url = launch_url(base, STREAMER_ID, "light").replace("tgWebAppData=", "tgWebAppData=x")
            await page.goto(url)
            await expect(page.locator("#error")).to_be_visible()
            assert await page.locator("#results").count() == 0
        finally:
            await browser.close()


async def test_admin_checks_an_import_file_and_sees_its_row_errors(served, tmp_path):
    base, _ = served
    rows = demo_products(3)
    rows[1] = {**rows[1], "price": "abc"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "goods.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await (await browser.new_context(viewport=PHONE)).new_page()
            await page.goto(launch_url(base, ADMIN_ID, "light"))
            await page.locator("#tab-import").click()
            await page.locator("input[type=file]").set_input_files(str(path))
            await page.locator("#import-form button[type=submit]").click()
            errors = page.locator("#import-errors tr")
            await expect(errors.nth(1)).to_be_visible()
            assert await errors.count() == 2  # the header and the one bad row
            cells = await errors.nth(1).locator("td").all_inner_texts()
            assert cells[:2] == ["3", "price"]
            await shot(page, "import-light")
        finally:
            await browser.close()
