"""The canonical serialization of stored documents, built in SQL, and its sha256 (the content hash).

`documents.canonical_json` is the definition: sorted keys, decimals and dates as strings, lines in
`line_no` order, no spaces. This module writes the same text from the columns of
`accounting_documents` and `accounting_document_lines` (or any relations with the same columns and
types), so a document's JSON is never stored: the mapping builds it once to hash it, and the posting
side builds it again, byte for byte, for the documents it actually loads. A test holds the SQL text
equal to `documents.canonical_json` and its sha256 equal to the stored `content_hash`.

Why not store it: at a million export lines the JSON is ~430 MB of text; compressing and writing it
cost more than everything else the mapping does, and it is derivable from the stored columns.
"""

from __future__ import annotations

import hashlib
import re

import duckdb

# The first lines of a document are picked by number (cheap); only lines past this many go through an
# ordered aggregate, which sorts. Nine documents in ten have at most this many lines.
_SLOTS = 4


# Written inline rather than as macros so that a persistent view can use them (macros are per connection).
def _dec_text(x: str) -> str:
    """documents.decimal_text of a DECIMAL(18,4): up to 4 places, trailing zeros and point removed.

    A DECIMAL(18,4) is always written with its 4 places, so trimming the zeros and then the point is
    exactly Python's `rstrip("0").rstrip(".")`: two string trims, several times cheaper than casting at
    the fewest places that hold the value or a regular expression."""
    return f"rtrim(rtrim(CAST(CAST({x} AS DECIMAL(18,4)) AS VARCHAR), '0'), '.')"


def _json_text(x: str) -> str:
    return f"CAST(to_json({x}) AS VARCHAR)"


def _json_date(x: str) -> str:
    return f"""coalesce('"' || strftime({x}, '%Y-%m-%d') || '"', 'null')"""


def line_json_sql(l: str = "l") -> str:
    """One line's JSON object from a row of `accounting_document_lines` (alias `l`)."""
    return f"""concat(
        '{{"amount":"', CAST({l}.amount AS VARCHAR),
        '","description":', {_json_text(f'{l}.description')},
        ',"item_code":', {_json_text(f'{l}.item_code')},
        ',"kind":"', {l}.kind,
        '","line_no":', {l}.line_no,
        ',"qty":"', {_dec_text(f'{l}.qty')},
        '","service_end":', {_json_date(f'{l}.service_end')},
        ',"service_start":', {_json_date(f'{l}.service_start')},
        ',"tax_amount":"', CAST({l}.tax_amount AS VARCHAR),
        '","taxable":', CASE WHEN {l}.taxable THEN 'true' ELSE 'false' END,
        ',"unit_price":"', {_dec_text(f'{l}.unit_price')}, '"}}')"""


def lines_array_sql(lines: str) -> str:
    """`SELECT doc_key, lines` with each document's lines as a JSON array in `line_no` order.

    Lines are numbered 1..n within a document (the mapping numbers them so; the lines schema checks
    it). Lines 1.._SLOTS are taken by number without sorting; later ones by an ordered aggregate."""
    slots = ", ".join(f"any_value(j) FILTER (WHERE line_no = {n})" for n in range(1, _SLOTS + 1))
    return f"""
        SELECT doc_key, concat('[', concat_ws(',', {slots},
                   string_agg(j, ',' ORDER BY line_no) FILTER (WHERE line_no > {_SLOTS})), ']') AS lines
        FROM (SELECT l.doc_key, l.line_no, {line_json_sql("l")} AS j FROM ({lines}) l)
        GROUP BY doc_key"""


def applications_array_sql(applications: str) -> str:
    """`SELECT doc_key, applies_to` for documents with rows in `applications` (the columns of
    `accounting_document_applications`: a payment may apply to several invoices), sorted by doc_key
    as `documents.canonical_dict` sorts them."""
    return f"""
        SELECT doc_key, concat('[', string_agg(concat('{{"amount":"', CAST(a.amount AS VARCHAR), '","doc_key":',
                   {_json_text('a.applies_to_key')}, ',"doc_number":', {_json_text('a.applies_to_number')}, '}}'),
                   ',' ORDER BY a.applies_to_key, a.applies_to_number, a.amount), ']') AS applies_to
        FROM ({applications}) a GROUP BY doc_key"""


def document_json_sql(d: str = "d", lines: str = "lj.lines", applies_to: str = "aj.applies_to") -> str:
    """A document's canonical JSON from a row of `accounting_documents` (alias `d`), its lines array
    (NULL: no lines) and its applications array (NULL: the one the header's applies_to_* columns name, if any)."""
    return f"""concat(
        '{{"applies_to":', coalesce({applies_to}, CASE WHEN {d}.applies_to_key IS NOT NULL
            THEN concat('[{{"amount":"', CAST({d}.applies_to_amount AS VARCHAR), '","doc_key":', {_json_text(f'{d}.applies_to_key')},
                        ',"doc_number":', {_json_text(f'{d}.applies_to_number')}, '}}]')
            ELSE '[]' END),
        ',"currency":', {_json_text(f'{d}.currency')},
        ',"customer_key":', {_json_text(f'{d}.customer_key')},
        ',"customer_name":', {_json_text(f'{d}.customer_name')},
        ',"doc_key":', {_json_text(f'{d}.doc_key')},
        ',"doc_number":', {_json_text(f'{d}.doc_number')},
        ',"doc_type":', {_json_text(f'{d}.doc_type')},
        ',"due_date":', {_json_date(f'{d}.due_date')},
        ',"lines":', coalesce({lines}, '[]'),
        ',"master_account":', {_json_text(f'{d}.master_account')},
        ',"memo":', {_json_text(f'{d}.memo')},
        ',"period":', {_json_text(f'{d}.period')},
        ',"po_number":', {_json_text(f'{d}.po_number')},
        ',"site":', {_json_text(f'{d}.site')},
        ',"source":', {_json_text(f'{d}.source')},
        ',"source_id":', {_json_text(f'{d}.source_id')},
        ',"subtotal":"', CAST({d}.subtotal AS VARCHAR), '"',
        ',"tax_total":"', CAST({d}.tax_total AS VARCHAR), '"',
        ',"terms":', {_json_text(f'{d}.terms')},
        ',"total":"', CAST({d}.total AS VARCHAR), '"',
        ',"txn_date":', {_json_date(f'{d}.txn_date')}, '}}')"""


NO_APPLICATIONS = "SELECT * FROM accounting_document_applications WHERE false"


def canonical_json_sql(documents: str, lines: str, *extra: str, applications: str = NO_APPLICATIONS) -> str:
    """`SELECT doc_key, <extra columns of d>, canonical_json` for every document of `documents`.

    `documents`, `lines` and `applications` are queries with the columns and types of
    `accounting_documents`, `accounting_document_lines` and `accounting_document_applications`."""
    more = "".join(f"d.{c}, " for c in extra)
    return f"""
        SELECT d.doc_key, {more}{document_json_sql("d", "lj.lines", "aj.applies_to")} AS canonical_json
        FROM ({documents}) d
        LEFT JOIN ({lines_array_sql(lines)}) lj ON lj.doc_key = d.doc_key
        LEFT JOIN ({applications_array_sql(applications)}) aj ON aj.doc_key = d.doc_key"""


def canonical_json(con: duckdb.DuckDBPyConnection, doc_keys: list[str]) -> dict[str, str]:
    """The canonical JSON of stored documents, by doc_key (documents not found are left out)."""
    if not doc_keys:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE _json_keys AS SELECT DISTINCT unnest(?) AS doc_key", [list(doc_keys)])
    try:
        rows = con.execute(canonical_json_sql(
            "SELECT * FROM accounting_documents SEMI JOIN _json_keys USING (doc_key)",
            "SELECT * FROM accounting_document_lines SEMI JOIN _json_keys USING (doc_key)",
            applications="SELECT * FROM accounting_document_applications SEMI JOIN _json_keys USING (doc_key)",
        )).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _json_keys")
    return dict(rows)


def hash_documents(con: duckdb.DuckDBPyConnection, documents: str, lines: str, into: str,
                   documents_per_part: int = 100_000) -> int:
    """Create temp table `into` (doc_key, content_hash): the sha256 of each document's canonical JSON.

    DuckDB builds the JSON and hashes it (its `sha256`, lower-case hex of the UTF-8 bytes, as
    `documents.content_hash`), so the text never leaves DuckDB: no Arrow batches of hundreds of
    megabytes in Python, and about the same CPU as hashing them with hashlib (measured at a million
    lines; scripts/BENCHMARKS.md). The lines are grouped per document in parts of about
    `documents_per_part` documents (split by a hash of the key), which bounds the memory the aggregate's
    strings take. Returns the number of documents hashed."""
    count = con.execute(f"SELECT count(*) FROM ({documents})").fetchall()[0][0]
    parts = max(1, -(-count // documents_per_part))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {identifier(into)} (doc_key VARCHAR, content_hash VARCHAR)")
    for part in range(parts):
        where = f" WHERE hash(doc_key) % {parts} = {part}" if parts > 1 else ""
        json = canonical_json_sql(f"SELECT * FROM ({documents}){where}", f"SELECT * FROM ({lines}){where}")
        con.execute(f"INSERT INTO {identifier(into)} SELECT doc_key, sha256(canonical_json) FROM ({json})")
    return count


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def identifier(name: str) -> str:
    """A table name the code chose, refused if it could be anything but a name (the one check every SQL
    builder of the bridge uses before putting a name into SQL text)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a table name")
    return name


# --- reusing a content hash whose document did not change ------------------------------------------------

# The columns the canonical JSON is built from (document_json_sql, line_json_sql). Sedona's invoices and
# credits have no applications; a query with applications is never given to `hash_documents_reusing`.
_JSON_DOCUMENT_COLUMNS = ("doc_key", "applies_to_key", "applies_to_number", "applies_to_amount", "currency",
                          "customer_key", "customer_name", "doc_number", "doc_type", "due_date", "master_account",
                          "memo", "period", "po_number", "site", "source", "source_id", "subtotal", "tax_total",
                          "terms", "total", "txn_date")
_JSON_LINE_COLUMNS = ("amount", "description", "item_code", "kind", "line_no", "qty", "service_end", "service_start",
                      "tax_amount", "taxable", "unit_price")


def _json_code() -> str:
    """sha256 of the code that writes the canonical JSON (this module and model/document.py): a fingerprint
    made under other code never matches, so a changed serialization hashes every document again."""
    from pathlib import Path

    here = Path(__file__).resolve()
    return hashlib.sha256(here.read_bytes() + (here.parent / "document.py").read_bytes()).hexdigest()


JSON_CODE = _json_code()


def fingerprint_sql(documents: str, lines: str) -> str:
    """`SELECT doc_key, fingerprint` ($json_code bound to JSON_CODE): a digest of every column a document's
    canonical JSON is built from (its own, its lines') and of the code that builds it. Equal fingerprints
    mean the same JSON up to a 64-bit hash collision per changed document; the sum over lines is exact in
    HUGEINT and a line's number is part of its hash, so moving a line changes it."""
    doc_cols = ", ".join(f"d.{c}" for c in _JSON_DOCUMENT_COLUMNS)
    line_cols = ", ".join(f"l.{c}" for c in _JSON_LINE_COLUMNS)
    return f"""
        SELECT d.doc_key, CAST(hash({doc_cols}, CAST($json_code AS VARCHAR)) AS VARCHAR) || ':'
                          || coalesce(CAST(l.lines_sum AS VARCHAR), '') || ':' || coalesce(l.lines, 0) AS fingerprint
        FROM ({documents}) d
        LEFT JOIN (SELECT l.doc_key, sum(CAST(hash({line_cols}) AS HUGEINT)) AS lines_sum, count(*) AS lines
                   FROM ({lines}) l GROUP BY l.doc_key) l ON l.doc_key = d.doc_key"""


def hash_documents_reusing(con: duckdb.DuckDBPyConnection, documents: str, lines: str, earlier: str, into: str) -> int:
    """`hash_documents`, but a document whose fingerprint equals the one in `earlier` (a relation of doc_key,
    fingerprint, content_hash: what an earlier mapping stored) keeps that content hash: the canonical JSON is
    built and hashed once per version of a document, not once per mapping. Returns how many were hashed."""
    if not con.execute(f"SELECT count(*) FROM ({earlier})").fetchall()[0][0]:
        return hash_documents(con, documents, lines, into)            # nothing mapped before: nothing to compare
    con.execute(f"CREATE OR REPLACE TEMP TABLE _fingerprints AS {fingerprint_sql(documents, lines)}", {"json_code": JSON_CODE})
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _kept_hashes AS SELECT f.doc_key, e.content_hash FROM _fingerprints f
                    JOIN ({earlier}) e ON e.doc_key = f.doc_key AND e.fingerprint = f.fingerprint""")
    changed = "doc_key NOT IN (SELECT doc_key FROM _kept_hashes)"
    hashed = hash_documents(con, f"SELECT * FROM ({documents}) WHERE {changed}", f"SELECT * FROM ({lines}) WHERE {changed}",
                            into="_new_hashes")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT * FROM _new_hashes UNION ALL SELECT * FROM _kept_hashes")
    for table in ("_fingerprints", "_kept_hashes", "_new_hashes"):
        con.execute(f"DROP TABLE {table}")
    return hashed
