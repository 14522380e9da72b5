"""Generate a sample alarm-company book and write its "Export Invoice Detail" files.

    python -m bridge_assets.sandbox.generator --seed 7 --lines 20000 --out exports/
    python -m bridge_assets.sandbox.generator --out exports/ --encoding cp1252 --defect bad_amount --xlsx

The same arguments always write the same bytes, so a demo or a bug report can name its input by its
command line.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Sequence

from bridge_assets.sandbox.book import cyclic_gc_paused, generate_book
from bridge_assets.sandbox.export_writer import (
    AMOUNT_STYLES, DEFECTS, DOCUMENT_TYPES, ENCODINGS, write_book_json, write_exports,
)

BOOK_JSON_NAME = "book.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_assets.sandbox.generator",
        description="Write a deterministic sample SedonaOffice book as Export Invoice Detail files, one per period.",
    )
    parser.add_argument("--seed", type=int, default=7, help="names the book (default 7)")
    parser.add_argument("--lines", type=int, default=20000, help="invoice lines across all files (default 20000)")
    parser.add_argument("--first-period", default="2026-08", help="first period, YYYY-MM (default 2026-08)")
    parser.add_argument("--months", type=int, default=3, help="number of periods, one file each (default 3)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (created if missing)")
    parser.add_argument("--encoding", choices=ENCODINGS, default="utf-8")
    parser.add_argument("--amount-style", choices=AMOUNT_STYLES, default="plain",
                        help="plain: 1234.50; currency: $1,234.50 with credits as (45.00)")
    parser.add_argument("--defect", action="append", choices=DEFECTS, default=[],
                        help="damage the first period's file this way (repeatable)")
    parser.add_argument("--xlsx", action="store_true", help="write .xlsx workbooks instead of CSV")
    parser.add_argument("--no-total-row", action="store_true", help="leave out the trailing Report Total row")
    parser.add_argument("--json", action="store_true",
                        help=f"also write the whole book, payments included, to OUT/{BOOK_JSON_NAME}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with cyclic_gc_paused():
        return _generate_and_write(args)


def _generate_and_write(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        book = generate_book(args.seed, args.lines, args.first_period, args.months)
        paths = write_exports(
            book, args.out, encoding=args.encoding, amount_style=args.amount_style,
            total_row=not args.no_total_row, defects=args.defect, file_format="xlsx" if args.xlsx else "csv",
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        paths.append(write_book_json(book, args.out / BOOK_JSON_NAME))
    elapsed = time.perf_counter() - started

    lines_by_period = collections.Counter()
    docs_by_period = collections.defaultdict(collections.Counter)
    for doc in book.invoices:
        lines_by_period[doc.period] += len(doc.lines)
        docs_by_period[doc.period][doc.doc_type] += 1
    for period, path in zip(book.periods, paths):
        counts = docs_by_period[period]
        print(f"wrote {path}  {lines_by_period[period]} lines  "
              + "  ".join(f"{counts[t]} {label.lower()}s" for t, label in DOCUMENT_TYPES.items()))
    if args.json:
        print(f"wrote {paths[-1]}  (customers, invoices, credits and payments)")
    totals = collections.Counter(doc.doc_type for doc in book.invoices)
    print(
        f"book seed {book.seed}: {book.line_count} lines, {len(book.customers)} customers, "
        + ", ".join(f"{totals[t]} {label.lower()}s" for t, label in DOCUMENT_TYPES.items())
        + f", {len(book.payments)} payments (payments are not in export files)"
    )
    if args.defect:
        print(f"defects in {paths[0].name}: {', '.join(sorted(set(args.defect)))}")
    print(f"done in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
