"""How much a hostile upload costs before it is refused: a 1 GiB cell and 2,000,000 rows.

    .venv/bin/python benchmarks/upload_bombs.py [--repeat 3] [--timeout 180] [--memory-cap-mb 3000]
        [--root CHECKOUT] [--rows-only]

Builds both bombs in a temporary folder (about 1 MB and 60 KB on disk), then validates each in a
fresh subprocess (so one bomb's memory does not hide the other's) and prints, per bomb, the
median wall time to refuse it, the child's peak RSS (ru_maxrss) and how it ended. The child runs
under a timeout and an address-space cap so the code before the fix can be measured without
taking the machine down. Target: both refused within 300 MB of memory and a few seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRODUCT_HEADER = (
    "sku,title,brand,category,merchant,price,brand_authorized,brand_awareness,price_index,lowest_price_ratio,"
    "commission_rate,active_streamers_30d,shop_rating,refund_rate,dispute_rate,gmv_30d,conversion_rate,"
    "factory_verified,counterfeit_flag"
).split(",")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_CHUNK = 1 << 20


def _header_row() -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in PRODUCT_HEADER)
    return f"<row>{cells}</row>"


def _skeleton(zf: zipfile.ZipFile) -> None:
    zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
    zf.writestr("_rels/.rels", _ROOT_RELS)
    zf.writestr("xl/workbook.xml", _WORKBOOK)
    zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)


def write_cell_bomb(path: Path, cell_bytes: int = 1 << 30) -> Path:
    """An .xlsx whose one shared string (the title of its one row) expands to `cell_bytes`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _skeleton(zf)
        row = '<row><c t="inlineStr"><is><t>BOMB-1</t></is></c><c t="s"><v>0</v></c></row>'
        zf.writestr("xl/worksheets/sheet1.xml", _SHEET_HEAD + _header_row() + row + _SHEET_TAIL)
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0" encoding="UTF-8"?><sst count="1" uniqueCount="1" ')
            part.write(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
            chunk = b"A" * _CHUNK
            left = cell_bytes
            while left > 0:
                part.write(chunk[: min(left, _CHUNK)])
                left -= _CHUNK
            part.write(b"</t></si></sst>")
    return path


def write_row_bomb(path: Path, rows: int = 2_000_000) -> Path:
    """An .xlsx with a product header and then `rows` rows of one cell each."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _skeleton(zf)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write((_SHEET_HEAD + _header_row()).encode())
            block = b"<row><c><v>1</v></c></row>" * 10_000
            for _ in range(rows // 10_000):
                part.write(block)
            part.write(b"<row><c><v>1</v></c></row>" * (rows % 10_000))
            part.write(_SHEET_TAIL.encode())
        zf.writestr(
            "xl/sharedStrings.xml", '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
        )
    return path


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from storage.importer import ImportFileError, validate_file
args = [sys.argv[2]]
if sys.argv[3] == "rows-only":  # the ratio guard out of the way: the row limit alone
    from storage.importer import ImportLimits
    args.append(ImportLimits(max_ratio=1e9, max_unzipped_bytes=1 << 40))
started = time.perf_counter()
try:
    with validate_file("products", *args) as validated:
        outcome = f"read: {validated.rows_total} rows, {validated.errors_total} errors"
except ImportFileError as exc:
    outcome = f"refused: {exc.problem.value} {exc.params}"
except MemoryError:
    outcome = "MemoryError"
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "outcome": outcome}))
"""


def measure(
    path: Path, *, root: Path, timeout: float, cap_mb: int, mode: str = "default"
) -> dict[str, object]:
    """Validate `path` in a fresh interpreter; its wall time, peak RSS and outcome."""

    def cap() -> None:
        limit = cap_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root), str(path), mode],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=cap,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "seconds": timeout,
            "peak_mb": None,
            "outcome": f"still running after {timeout:.0f} s (killed)",
        }
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"seconds": None, "peak_mb": None, "outcome": f"crashed: {tail[0][:160]}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a child is killed")
    parser.add_argument("--memory-cap-mb", type=int, default=3000, help="address-space cap of a child")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose importer is measured")
    parser.add_argument(
        "--rows-only",
        action="store_true",
        help="also the row bomb with only the row limit (needs ImportLimits)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xuanpin-bombs-") as folder:
        cell, rows = (
            write_cell_bomb(Path(folder) / "cell-bomb.xlsx"),
            write_row_bomb(Path(folder) / "row-bomb.xlsx"),
        )
        bombs = [("1 GiB cell", cell, "default"), ("2,000,000 rows", rows, "default")]
        if args.rows_only:
            bombs.append(("rows, row limit only", rows, "rows-only"))
        print(f"importer from {args.root}")
        for name, path, mode in bombs:
            runs = [
                measure(path, root=args.root, timeout=args.timeout, cap_mb=args.memory_cap_mb, mode=mode)
                for _ in range(args.repeat)
            ]
            seconds = [r["seconds"] for r in runs if isinstance(r["seconds"], float)]
            peaks = [r["peak_mb"] for r in runs if isinstance(r["peak_mb"], float)]
            time_text = f"{statistics.median(seconds) * 1000:,.1f} ms" if seconds else "-"
            peak_text = f"{statistics.median(peaks):.0f} MB" if peaks else "-"
            size_kb = path.stat().st_size / 1024
            print(
                f"{name:>20} ({size_kb:,.0f} KB on disk): median {time_text} to finish, "
                f"peak RSS {peak_text}; {runs[-1]['outcome']}"
            )


if __name__ == "__main__":
    main()
