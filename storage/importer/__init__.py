"""Catalog and streamer-sales imports: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX.

The seams, in the order a file flows through them: `limits` (what one upload may cost, checked
before and while parsing), `readers` (bytes -> rows of cells), `cells`
(one cell -> a value, or the reason it is refused), `schemas` (the columns of each kind),
`validation` (one streaming pass: errors and the good rows spilled to disk), `writer` (grade and
upsert in one transaction), `report` (what comes back: plain values; bot/import_report.py words them).
"""

from storage.importer.limits import ImportLimits
from storage.importer.report import (
    FileProblem,
    ImportFileError,
    ImportKind,
    ImportReport,
    Reason,
    RowError,
)
from storage.importer.validation import (
    BATCH_SIZE,
    MAX_ERRORS_KEPT,
    ValidatedRows,
    validate_file,
    validate_rows,
)
from storage.importer.writer import (
    import_file,
    import_product_rows,
    import_products,
    import_streamer_rows,
    import_streamers,
    write_validated,
)
from storage.regrade import TierChangeInfo

__all__ = [
    "BATCH_SIZE",
    "MAX_ERRORS_KEPT",
    "FileProblem",
    "ImportFileError",
    "ImportKind",
    "ImportLimits",
    "ImportReport",
    "Reason",
    "RowError",
    "TierChangeInfo",
    "ValidatedRows",
    "import_file",
    "import_product_rows",
    "import_products",
    "import_streamer_rows",
    "import_streamers",
    "validate_file",
    "validate_rows",
    "write_validated",
]
