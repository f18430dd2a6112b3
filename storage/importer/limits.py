"""How much one upload may cost: plain values, filled from settings by the caller (bot/services.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImportLimits"]


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds checked before (and while) a file is parsed, and the largest plausible amounts."""

    max_bytes: int = 20 << 20  # the file as uploaded (the Bot API's download limit)
    max_unzipped_bytes: int = 200 << 20  # an XLSX's parts, decompressed, all together
    max_ratio: float = 100.0  # decompressed / compressed size of one XLSX part
    max_rows: int = 300_000  # lines, the header and blank ones included
    max_columns: int = 200
    max_cell_chars: int = 10_000
    max_price: float = 1_000_000.0  # CNY
    max_gmv: float = 100_000_000_000.0  # CNY in 30 days
