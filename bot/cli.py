"""The command line: `python -m bot …` (also installed as `xuanpin …`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from bot.demo import run_demo
from bot.import_report import error_list, file_error_text, import_summary
from bot.match import band_text, find_streamers, match_json
from bot.picks import picks_context, picks_for
from bot.push import PushRefused, plan_push
from bot.render import grade_card, grade_json
from bot.runtime import run_bot
from bot.seed import seed_demo
from bot.services import announce_catalog_change, import_limits, make_redis, policy_for
from bot.settings import Settings, SettingsError, load_settings
from core.grading import grade
from core.push import Audience, Segment, parse_skus
from core.search import SearchIndex, search
from core.search.vocab import default_vocabulary, parse_pairs
from jobs.digest import send_digest_now
from jobs.push import send_push_now
from storage import activities, deliveries
from storage.catalog import get_product, load_catalog_items
from storage.engine import open_database
from storage.importer import ImportFileError, import_file
from storage.migrate import upgrade
from storage.push import push_statuses
from storage.samples import SampleView, all_requests
from storage.synonyms import add_synonyms, list_synonyms
from storage.tier_changes import tier_history

logger = logging.getLogger("bot")


class CliError(Exception):
    """A user-facing failure: printed without a traceback, exit code 1."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xuanpin", description="选品 Xuanpin: the live-commerce product-picking bot"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="run the bot (long polling, or webhook when WEBHOOK_URL is set)")
    demo = sub.add_parser(
        "demo", help="chat with the bot in the terminal on the demo catalog (no token, no network)"
    )
    demo.add_argument("--database", help="demo database URL (default: an SQLite file in .demo/)")
    sub.add_parser("seed-demo", help="load the demo catalog and streamers into DATABASE_URL")

    imp = sub.add_parser("import", help="import products or streamers from CSV or XLSX")
    imp.add_argument("kind", choices=["products", "streamers"])
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    imp.add_argument(
        "--skip-invalid", action="store_true", help="write the valid rows even if some rows are bad"
    )

    search = sub.add_parser("search", help="search the catalog as a streamer sees it")
    search.add_argument("query", nargs="?", help="what a streamer would type")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true")
    search.add_argument("--batch", type=Path, help="one query per line in; one JSON object per line out")

    grade = sub.add_parser("grade", help="the full grade of one product")
    grade.add_argument("sku")
    grade.add_argument("--json", action="store_true")

    picks = sub.add_parser("picks", help="a streamer's picks (records nothing)")
    picks.add_argument("telegram_id", type=int)
    picks.add_argument(
        "--date", type=date.fromisoformat, help="YYYY-MM-DD (default: today in their time zone)"
    )
    picks.add_argument("--json", action="store_true")

    match = sub.add_parser("match", help="streamers for a product, as its merchant sees them (bands only)")
    match.add_argument("sku")
    match.add_argument("--limit", type=int, default=10)
    match.add_argument("--json", action="store_true")

    push = sub.add_parser(
        "push",
        help="an admin's targeted recommendation (官方小二定向推荐); idempotent per push",
    )
    push.add_argument("--skus", required=True, help="up to 5 L4+ skus, comma-separated")
    push.add_argument(
        "--gap-category",
        help="only streamers with a gap in this category (default: every streamer with digests on)",
    )
    push.add_argument("--mix-category", help="only streamers who sell this category (it is in their mix)")
    push.add_argument("--dry-run", action="store_true", help="count the recipients; send nothing")
    push.add_argument("--json", action="store_true")

    digest = sub.add_parser("digest", help="the daily digest")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    send = digest_sub.add_parser("send", help="send that day's digest now to everyone who has not had it")
    send.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD (default: each streamer's today)")
    status = digest_sub.add_parser(
        "status", help="digest rows by status, and the ones whose delivery is unknown (may have arrived)"
    )
    status.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD local date (default: all)")

    synonyms = sub.add_parser("synonyms", help="search synonyms and brand aliases")
    synonyms_sub = synonyms.add_subparsers(dest="synonyms_command", required=True, metavar="ACTION")
    syn_import = synonyms_sub.add_parser(
        "import", help="add synonyms and aliases from a CSV of term,same_as (a term also finds same_as)"
    )
    syn_import.add_argument("file", type=Path)

    samples = sub.add_parser("samples", help="sample requests (寄样)")
    samples_sub = samples.add_subparsers(dest="samples_command", required=True, metavar="ACTION")
    listing = samples_sub.add_parser("list", help="every sample request")
    listing.add_argument("--json", action="store_true")

    activity = sub.add_parser("activity", help="团长 activities (招商活动)")
    activity_sub = activity.add_subparsers(dest="activity_command", required=True, metavar="ACTION")
    activity_list = activity_sub.add_parser("list", help="every activity with its counts")
    activity_list.add_argument("--json", action="store_true")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply migrations")
    return p


async def _prepared_db(settings: Settings):
    """Migrations applied, then an engine + sessionmaker (a context manager)."""

    await upgrade(settings.database_url)
    return open_database(settings.database_url)


async def cmd_db_upgrade(settings: Settings, _args) -> int:

    await upgrade(settings.database_url)
    print("database is up to date")
    return 0


async def cmd_import(settings: Settings, args) -> int:

    if not args.file.exists():
        raise CliError(f"no such file: {args.file}")
    async with await _prepared_db(settings) as (_engine, sessionmaker):
        try:
            report = await import_file(
                sessionmaker,
                args.kind,
                args.file,
                dry_run=args.dry_run,
                skip_invalid=args.skip_invalid,
                limits=import_limits(settings),
            )
        except ImportFileError as exc:
            raise CliError(file_error_text(exc, "en")) from exc
    if report.written and not args.dry_run:
        await _announce_catalog_change(settings)
    print(import_summary(report, "en"))
    if report.errors:
        print(error_list(report, "en"), file=sys.stderr)
    # Bad rows fail the command (a dry run included, so it can gate a pipeline) unless --skip-invalid.
    return 1 if report.errors and not args.skip_invalid else 0


async def _announce_catalog_change(settings: Settings) -> None:
    """With REDIS_URL, running replicas hear of the import at once instead of at their next poll."""
    redis = make_redis(settings)
    if redis is None:
        return
    try:
        await announce_catalog_change(redis, settings, sender="cli")
    finally:
        await redis.aclose()


async def cmd_seed_demo(settings: Settings, _args) -> int:

    async with await _prepared_db(settings) as (_engine, sessionmaker):
        products, streamers = await seed_demo(sessionmaker)
    print(f"demo catalog loaded: {products} products, {streamers} streamer sales rows")
    return 0


async def cmd_grade(settings: Settings, args) -> int:

    async with await _prepared_db(settings) as (_engine, sessionmaker):
        async with sessionmaker() as session:
            record = await get_product(args.sku, session=session)
            if record is None:
                raise CliError(f"no product with sku {args.sku!r}")
            history = await tier_history(record.item.id, session=session)
    result = grade(record.indicators, policy_for(settings), record.tags)
    if args.json:
        print(json.dumps(grade_json(args.sku, record.indicators, result), ensure_ascii=False, indent=2))
    else:
        print(_plain(grade_card(record.item, "zh", private=(record.indicators, result), history=history)))
    return 0


def _plain(html_text: str) -> str:
    """Telegram HTML -> terminal text."""
    import re
    from html import unescape

    return unescape(re.sub(r"</?(b|i|code|u|s|pre|a)( [^>]*)?>", "", html_text))


def search_json(result) -> dict:
    return {
        "query": result.query,
        "results": [
            {
                "sku": hit.item.sku,
                "title": hit.item.title,
                "tier": hit.item.tier,
                "badges": list(hit.item.badges),
                "score": round(hit.item.score, 2),
                "relevance": round(hit.relevance, 2),
            }
            for hit in result.hits
        ],
    }


async def cmd_search(settings: Settings, args) -> int:

    if args.batch is None and not args.query:
        raise CliError("give a QUERY, or --batch FILE with one query per line")
    if args.limit < 1 or args.limit > 100:
        raise CliError("--limit must be between 1 and 100")
    async with await _prepared_db(settings) as (_engine, sessionmaker):
        async with sessionmaker() as session:
            items = await load_catalog_items(session=session)
            pairs = await list_synonyms(session=session)
    index = SearchIndex.build(items, default_vocabulary().with_pairs(pairs))
    if args.batch is not None:
        if not args.batch.exists():
            raise CliError(f"no such file: {args.batch}")
        with open(args.batch, encoding="utf-8-sig") as fh:
            for line in fh:
                query = line.rstrip("\n")
                print(json.dumps(search_json(search(index, query, limit=args.limit)), ensure_ascii=False))
        return 0
    result = search(index, args.query, limit=args.limit)
    if args.json:
        print(json.dumps(search_json(result), ensure_ascii=False, indent=2))
        return 0
    if not result.hits:
        print(
            "nothing found"
            + (f"; did you mean: {', '.join(result.suggestions)}" if result.suggestions else "")
        )
        return 0
    for i, hit in enumerate(result.hits, 1):
        item = hit.item
        badges = " ".join(item.badges)
        print(
            f"{i:>2}. [{item.tier}] {item.title}  ¥{item.price:g}  佣金 {item.commission_rate:.0%}  "
            f"{item.sku}  {badges}".rstrip()
        )
    return 0


async def cmd_synonyms_import(settings: Settings, args) -> int:
    """Add an operator's synonyms (CSV `term,same_as`); a file with any bad row writes nothing."""
    if not args.file.exists():
        raise CliError(f"no such file: {args.file}")
    raw = args.file.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CliError(f"{args.file}: not UTF-8 or GB18030 text")
    pairs, errors = parse_pairs(text)
    if errors:
        raise CliError(f"{args.file}: nothing imported:\n  " + "\n  ".join(errors[:50]))
    if not pairs:
        raise CliError(f"{args.file}: no term,same_as rows")
    async with await _prepared_db(settings) as (_engine, sessionmaker):
        async with sessionmaker() as session:
            added = await add_synonyms(pairs, session=session)
            await session.commit()
    print(
        f"synonyms: {added} added, {len(pairs) - added} already known "
        "(search uses them from the next index build)"
    )
    return 0


async def cmd_picks(settings: Settings, args) -> int:

    async with await _prepared_db(settings) as (_engine, sessionmaker):
        result = await picks_for(sessionmaker, settings, args.telegram_id, on_date=args.date)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        print(_plain(result.as_text("zh")))
    return 0


async def cmd_match(settings: Settings, args) -> int:

    if args.limit < 1 or args.limit > 100:
        raise CliError("--limit must be between 1 and 100")
    async with await _prepared_db(settings) as (_engine, sessionmaker):
        context = await picks_context(sessionmaker)
        async with sessionmaker() as session:
            record = await get_product(args.sku, session=session)
            if record is None:
                raise CliError(f"no product with sku {args.sku!r}")
            rows = await find_streamers(session, context, record.item, record.merchant_id, limit=args.limit)
    if args.json:
        print(json.dumps(match_json(record.item.sku, rows), ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no discoverable streamers lack this category")
    for i, row in enumerate(rows, 1):
        mix = ", ".join(f"{category} {share:.0%}" for category, share in row.mix)
        print(f"{i:>2}. {row.name or row.telegram_id}  [{band_text(row.gmv_band, 'en')}]  {mix}")
    return 0


async def cmd_push(settings: Settings, args) -> int:

    if args.gap_category and args.mix_category:
        raise CliError("give --gap-category or --mix-category, not both")
    if args.gap_category:
        segment = Segment(Audience.GAP, args.gap_category.strip())
    elif args.mix_category:
        segment = Segment(Audience.MIX, args.mix_category.strip())
    else:
        segment = Segment()
    async with await _prepared_db(settings) as (_engine, sessionmaker):
        context = await picks_context(sessionmaker)
        async with sessionmaker() as session:
            try:
                plan = await plan_push(session, context, parse_skus(args.skus), segment, created_by=None)
            except PushRefused as refused:
                raise CliError(_plain(refused.text("en"))) from refused
            if not args.dry_run:  # a dry run leaves no trace, not even an unsent push
                await session.commit()
        if args.dry_run:
            recipients, sent = plan.recipients, 0
        else:
            result = await send_push_now(sessionmaker, settings, plan.push.id)
            recipients, sent = result.recipients, result.sent
    if args.json:
        print(json.dumps({"recipients": recipients, "sent": sent}))
    else:
        what = "would go to" if args.dry_run else "went to"
        print(f"push #{plan.push.id} {what} {recipients} streamers; reached {sent} now")
    return 0


async def cmd_digest_send(settings: Settings, args) -> int:

    async with await _prepared_db(settings) as (_engine, sessionmaker):
        summary = await send_digest_now(sessionmaker, settings, on_date=args.date)
    print(summary)
    return 0


def sample_json(view: SampleView) -> dict:
    return {
        "id": view.id,
        "sku": view.sku,
        "streamer": view.streamer_id,
        "merchant": view.merchant_code,
        "status": view.status,
        "tracking": view.tracking,
    }


async def cmd_samples_list(settings: Settings, args) -> int:

    async with await _prepared_db(settings) as (_engine, sessionmaker), sessionmaker() as session:
        views = await all_requests(session=session)
    if args.json:
        print(json.dumps([sample_json(v) for v in views], ensure_ascii=False, indent=2))
    else:
        for v in views:
            print(
                f"#{v.id}  {v.sku}  {v.streamer_id} -> {v.merchant}  {v.status}  {v.tracking or ''}".rstrip()
            )
    return 0


async def cmd_activity_list(settings: Settings, args) -> int:
    async with await _prepared_db(settings) as (_engine, sessionmaker), sessionmaker() as session:
        views = await activities.all_activities(session=session)
        counts = await activities.counts([v.id for v in views], session=session)
    rows = [
        {
            "id": v.id,
            "leader": v.leader,
            "name": v.name,
            "starts": v.starts.isoformat(),
            "ends": v.ends.isoformat(),
            "approved": counts.get(v.id, (0, 0))[1],
            "submitted": counts.get(v.id, (0, 0))[0],
        }
        for v in views
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(
                f"#{r['id']}  {r['name']}  ({r['leader']})  {r['starts']}..{r['ends']}  "
                f"submitted {r['submitted']}  approved {r['approved']}"
            )
    return 0


async def cmd_digest_status(settings: Settings, args) -> int:
    async with await _prepared_db(settings) as (_engine, sessionmaker), sessionmaker() as session:
        counts = await deliveries.delivery_counts(args.date, session=session)
        unknown = await deliveries.rows_with_status(deliveries.UNKNOWN, args.date, session=session)
        pushes = await push_statuses(session=session)
    day = args.date.isoformat() if args.date else "all dates"
    print(f"digest {day}: " + (", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "no rows"))
    if unknown:
        print(f"{len(unknown)} unknown (the request may have reached Telegram; not re-sent):")
    for row in unknown:
        print(f"  {row.local_date} telegram_id {row.telegram_id} attempts {row.attempts}: {row.error or '-'}")
    # Pushes go through the same states: the operator sees theirs here too.
    for push in pushes:
        counted = ", ".join(f"{s} {n}" for s, n in sorted(push.counts.items()))
        print(f"push #{push.id} ({','.join(push.skus)}): {counted}")
        for lost in push.unknown:
            print(f"  unknown: telegram_id {lost.telegram_id} attempts {lost.attempts}: {lost.error or '-'}")
    return 0


async def cmd_run(settings: Settings, _args) -> int:
    settings.require_token()  # before the heavy imports: a bad token is reported at once

    await run_bot(settings)
    return 0


async def cmd_demo(settings: Settings, args) -> int:

    await run_demo(settings, database_url=args.database)
    return 0


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "seed-demo": cmd_seed_demo,
    "import": cmd_import,
    "search": cmd_search,
    "grade": cmd_grade,
    "picks": cmd_picks,
    "match": cmd_match,
    "push": cmd_push,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        handler: Callable[[Settings, argparse.Namespace], Awaitable[int]]
        if args.command == "db":
            handler = cmd_db_upgrade
        elif args.command == "digest":
            handler = cmd_digest_status if args.digest_command == "status" else cmd_digest_send
        elif args.command == "synonyms":
            handler = cmd_synonyms_import
        elif args.command == "samples":
            handler = cmd_samples_list
        elif args.command == "activity":
            handler = cmd_activity_list
        else:
            handler = COMMANDS[args.command]
        return asyncio.run(handler(settings, args))
    except (SettingsError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
