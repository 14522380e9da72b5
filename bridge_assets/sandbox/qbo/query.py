"""The QuickBooks query language subset, parsed and evaluated over the emulator's entities.

    SELECT * | COUNT(*) | Field, ... FROM Entity
      [WHERE Field op Value [AND ...]]     op: = < > <= >= IN (...) LIKE '%x%'
      [ORDERBY Field [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]

What QuickBooks does and clients trip over, reproduced here:
- no OR, no JOIN, no != : a parse error (4000), like any other bad syntax;
- values are single-quoted; a quote inside is `\\'` and a backslash `\\\\`;
- LIKE knows only `%`;
- STARTPOSITION counts from 1; MAXRESULTS defaults to 100; above 1000 it is refused with 4001 "Invalid query",
  "QueryValidationError: value 1500 is too large. Max allowed value is 1000" (quickbooks-ruby #24, the
  answer QuickBooks gave a client that asked for 1500), and below 1 as "too small" (wording unconfirmed);
- `SELECT *, Sku FROM Item` (what python-quickbooks >= 0.9.12 sends for `Item.all()`, its #373) is accepted:
  every field, the named ones checked like any other;
- a page with no rows is `{"QueryResponse": {}}` (no entity key, no counts);
- `maxResults` in the answer is how many rows came back, not what was asked for;
- name lists (Customer, Item, Account) return only active objects unless the query filters on Active.
Keywords and field names are case-insensitive; string comparisons are too.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any, Iterable

from bridge_assets.sandbox.qbo import errors, lists, wire

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_CAP = 1000
MIN_RESULTS = 1

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "ORDERBY", "ASC", "DESC", "STARTPOSITION", "MAXRESULTS",
            "IN", "LIKE", "COUNT", "TRUE", "FALSE", "NOT", "JOIN"}

COMMON_FIELDS = {"Id", "SyncToken", "MetaData.CreateTime", "MetaData.LastUpdatedTime"}
SALES_FIELDS = {"DocNumber", "TxnDate", "DueDate", "CustomerRef", "TotalAmt", "Balance", "PrivateNote",
                "CustomerMemo", "EmailStatus", "PrintStatus", "ClassRef", "DepartmentRef", "SalesTermRef",
                "ShipDate", "TrackingNum", "CurrencyRef", "HomeBalance", "HomeTotalAmt"}
QUERYABLE_FIELDS: dict[str, set[str]] = {
    "Invoice": COMMON_FIELDS | SALES_FIELDS,
    "CreditMemo": COMMON_FIELDS | SALES_FIELDS | {"RemainingCredit"},
    "Payment": COMMON_FIELDS | {"TxnDate", "CustomerRef", "TotalAmt", "UnappliedAmt", "PaymentRefNum",
                                "PrivateNote", "DepositToAccountRef", "PaymentMethodRef", "CurrencyRef"},
    "Customer": COMMON_FIELDS | {"DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName",
                                 "FullyQualifiedName", "Active", "Balance", "BalanceWithJobs", "Job",
                                 "ParentRef", "PrintOnCheckName", "Taxable", "PrimaryEmailAddr.Address",
                                 "PrimaryPhone.FreeFormNumber", "Notes"},
    "Item": COMMON_FIELDS | {"Name", "FullyQualifiedName", "Type", "Active", "Sku", "UnitPrice", "Taxable",
                             "IncomeAccountRef", "Description", "ParentRef"},
    "Account": COMMON_FIELDS | {"Name", "FullyQualifiedName", "AccountType", "AccountSubType",
                                "Classification", "Active", "AcctNum", "CurrentBalance", "SubAccount"},
    "Preferences": COMMON_FIELDS,
    **lists.QUERYABLE_FIELDS,
    "CompanyInfo": COMMON_FIELDS | {"CompanyName", "LegalName", "Country"},
}
NAME_LISTS = {"Customer", "Item", "Account", *lists.NAME_LISTS}


@dataclasses.dataclass(frozen=True)
class Condition:
    field: str
    op: str                       # = < > <= >= IN LIKE
    value: Any                    # str | Decimal | bool, or a tuple of them for IN


@dataclasses.dataclass(frozen=True)
class Query:
    entity: str
    count: bool = False
    fields: tuple[str, ...] | None = None          # None = SELECT *
    where: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()    # (field, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS
    also_selected: tuple[str, ...] = ()            # SELECT *, Sku: every field (Sku checked as a name)


# --- tokens ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str        # word | string | number | op | punct | end
    text: str
    value: Any
    column: int


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        column = i + 1
        if char == "'":
            value, i = _read_string(text, i)
            tokens.append(Token("string", text[column - 1:i], value, column))
            continue
        if text.startswith(("<=", ">=", "!=", "<>"), i):
            tokens.append(Token("op", text[i:i + 2], text[i:i + 2], column))
            i += 2
            continue
        if char in "=<>":
            tokens.append(Token("op", char, char, column))
            i += 1
            continue
        if char in "*(),":
            tokens.append(Token("punct", char, char, column))
            i += 1
            continue
        match = _NUMBER.match(text, i)
        if match:
            tokens.append(Token("number", match.group(), Decimal(match.group()), column))
            i = match.end()
            continue
        match = _WORD.match(text, i)
        if match:
            tokens.append(Token("word", match.group(), match.group(), column))
            i = match.end()
            continue
        raise errors.query_parse_error(f'Lexical error at line 1, column {column}. Encountered: "{char}"')
    tokens.append(Token("end", "<EOF>", None, len(text) + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A single-quoted value: backslash escapes the next character (\\' and \\\\)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == "'":
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise errors.query_parse_error(f"Lexical error at line 1, column {len(text) + 1}. Encountered: <EOF> "
                                   "inside a quoted value")


# --- parser ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, expecting: str) -> errors.QboFault:
        token = self.current
        return errors.query_parse_error(
            f'Encountered " {token.kind.upper()} "{token.text} "" at line 1, column {token.column}.\n'
            f"Was expecting: {expecting}"
        )

    def is_keyword(self, *words: str) -> bool:
        token = self.current
        return token.kind == "word" and token.text.upper() in words

    def keyword(self, word: str) -> None:
        if not self.is_keyword(word):
            raise self.fail(word)
        self.pos += 1

    def punct(self, char: str) -> None:
        if not (self.current.kind == "punct" and self.current.text == char):
            raise self.fail(f'"{char}"')
        self.pos += 1

    def identifier(self) -> str:
        token = self.current
        if token.kind != "word" or token.text.upper() in KEYWORDS:
            raise self.fail("<IDENTIFIER>")
        self.pos += 1
        return token.text

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or token.value != token.value.to_integral_value():
            raise self.fail("<INTEGER>")
        self.pos += 1
        return int(token.value)

    def literal(self) -> Any:
        token = self.current
        if token.kind in ("string", "number"):
            self.pos += 1
            return token.value
        if self.is_keyword("TRUE", "FALSE"):
            self.pos += 1
            return token.text.upper() == "TRUE"
        raise self.fail("<STRING_LITERAL>")

    def parse(self) -> Query:
        self.keyword("SELECT")
        count = False
        fields: tuple[str, ...] | None = None
        also: list[str] = []
        if self.current.kind == "punct" and self.current.text == "*":
            self.pos += 1
            while self.current.kind == "punct" and self.current.text == ",":
                self.pos += 1
                also.append(self.identifier())
        elif self.is_keyword("COUNT"):
            self.pos += 1
            self.punct("(")
            self.punct("*")
            self.punct(")")
            count = True
        else:
            names = [self.identifier()]
            while self.current.kind == "punct" and self.current.text == ",":
                self.pos += 1
                names.append(self.identifier())
            fields = tuple(names)
        self.keyword("FROM")
        entity = self.identifier()

        where: list[Condition] = []
        if self.is_keyword("WHERE"):
            self.pos += 1
            where.append(self.condition())
            while self.is_keyword("AND"):
                self.pos += 1
                where.append(self.condition())
            if self.is_keyword("OR"):
                raise self.fail('"AND" (OR is not supported)')

        order_by: list[tuple[str, bool]] = []
        if self.is_keyword("ORDERBY"):
            self.pos += 1
            while True:
                name = self.identifier()
                descending = False
                if self.is_keyword("ASC", "DESC"):
                    descending = self.current.text.upper() == "DESC"
                    self.pos += 1
                order_by.append((name, descending))
                if self.current.kind == "punct" and self.current.text == ",":
                    self.pos += 1
                    continue
                break

        start_position, max_results = 1, DEFAULT_MAX_RESULTS
        seen: set[str] = set()
        while self.is_keyword("STARTPOSITION", "MAXRESULTS") and self.current.text.upper() not in seen:
            word = self.current.text.upper()
            seen.add(word)
            self.pos += 1
            number = self.integer()
            if word == "STARTPOSITION":
                start_position = max(1, number)
            else:
                max_results = _checked_max_results(number)
        if self.current.kind != "end":
            raise self.fail("<EOF>")
        return Query(entity, count, fields, tuple(where), tuple(order_by), start_position, max_results, tuple(also))

    def condition(self) -> Condition:
        name = self.identifier()
        if self.is_keyword("IN"):
            self.pos += 1
            self.punct("(")
            values = [self.literal()]
            while self.current.kind == "punct" and self.current.text == ",":
                self.pos += 1
                values.append(self.literal())
            self.punct(")")
            return Condition(name, "IN", tuple(values))
        if self.is_keyword("LIKE"):
            self.pos += 1
            token = self.current
            if token.kind != "string":
                raise self.fail("<STRING_LITERAL>")
            self.pos += 1
            return Condition(name, "LIKE", token.value)
        token = self.current
        if token.kind != "op" or token.text in ("!=", "<>"):
            raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "IN" | "LIKE"')
        self.pos += 1
        return Condition(name, token.text, self.literal())


def _checked_max_results(number: int) -> int:
    if number > MAX_RESULTS_CAP:
        raise errors.query_invalid(f"value {number} is too large. Max allowed value is {MAX_RESULTS_CAP}")
    if number < MIN_RESULTS:
        raise errors.query_invalid(f"value {number} is too small. Min allowed value is {MIN_RESULTS}")
    return number


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise errors.query_parse_error("Encountered \"<EOF>\" at line 1, column 1.\nWas expecting: SELECT")
    return _Parser(text.strip().rstrip(";")).parse()


# --- evaluation -----------------------------------------------------------------------------------


def canonical_entity(name: str) -> str:
    for entity in QUERYABLE_FIELDS:
        if entity.lower() == name.lower():
            return entity
    raise errors.query_invalid(f"Entity '{name}' is not supported or not queryable")


def canonical_field(entity: str, name: str) -> str:
    for field in QUERYABLE_FIELDS[entity]:
        if field.lower() == name.lower():
            return field
    raise errors.query_invalid(f"property '{name}' is not queryable on {entity}")


def lookup(doc: dict[str, Any], path: str) -> Any:
    """A (dotted, case-insensitive) field; a reference answers with its value."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return None
        value = value[key]
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def _comparable(field: str, doc_value: Any, literal: Any) -> tuple[Any, Any] | None:
    """Both sides in one comparable type, or None when they cannot be compared (no match)."""
    if doc_value is None or literal is None:
        return None
    if isinstance(doc_value, bool):
        if isinstance(literal, str):
            literal = {"true": True, "false": False}.get(literal.lower(), literal)
        return (doc_value, literal) if isinstance(literal, bool) else None
    if isinstance(doc_value, (int, Decimal)):
        number = wire.to_decimal(literal)
        return (Decimal(doc_value), number) if number is not None else None
    text, other = str(doc_value), str(literal) if not isinstance(literal, bool) else str(literal).lower()
    leaf = field.split(".")[-1]
    if (leaf == "Id" or leaf.endswith("Ref")) and text.isdigit() and other.isdigit():
        return int(text), int(other)
    if leaf.endswith(("Date", "Time")):
        left, right = wire.parse_timestamp(text), wire.parse_timestamp(other)
        if left is not None and right is not None:
            return left, right
    return text.casefold(), other.casefold()


def _matches(doc: dict[str, Any], condition: Condition) -> bool:
    doc_value = lookup(doc, condition.field)
    if condition.op == "IN":
        for literal in condition.value:
            pair = _comparable(condition.field, doc_value, literal)
            if pair is not None and pair[0] == pair[1]:
                return True
        return False
    if condition.op == "LIKE":
        if doc_value is None:
            return False
        pattern = ".*".join(re.escape(part) for part in str(condition.value).split("%"))
        return re.fullmatch(pattern, str(doc_value), flags=re.IGNORECASE | re.DOTALL) is not None
    pair = _comparable(condition.field, doc_value, condition.value)
    if pair is None:
        return False
    left, right = pair
    try:
        return {
            "=": left == right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[condition.op]
    except TypeError:
        return False


def _sort_key(doc: dict[str, Any], field: str) -> tuple[int, Any]:
    value = lookup(doc, field)
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, Decimal)):
        return (1, Decimal(value))
    text = str(value)
    leaf = field.split(".")[-1]
    if (leaf == "Id" or leaf.endswith("Ref")) and text.isdigit():
        return (1, Decimal(text))
    if leaf.endswith(("Date", "Time")):
        stamp = wire.parse_timestamp(text)
        if stamp is not None:
            return (1, Decimal(str(stamp)))
    return (2, text.casefold())


def resolve(query: Query) -> Query:
    """Check entity and field names against what QuickBooks lets you query (4001 otherwise)."""
    entity = canonical_entity(query.entity)
    where = tuple(dataclasses.replace(c, field=canonical_field(entity, c.field)) for c in query.where)
    order_by = tuple((canonical_field(entity, name), desc) for name, desc in query.order_by)
    also = tuple(canonical_field(entity, name) for name in query.also_selected)
    return dataclasses.replace(query, entity=entity, where=where, order_by=order_by, also_selected=also)


def run(query: Query, docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The QueryResponse for a resolved query over the entity's (non-deleted) documents."""
    conditions = list(query.where)
    if query.entity in NAME_LISTS and not any(c.field == "Active" for c in conditions):
        conditions.append(Condition("Active", "=", True))
    rows = [doc for doc in docs if all(_matches(doc, c) for c in conditions)]
    if query.count:
        return {"totalCount": len(rows)}
    rows.sort(key=lambda doc: _sort_key(doc, "Id"))
    for field, descending in reversed(query.order_by):
        rows.sort(key=lambda doc: _sort_key(doc, field), reverse=descending)
    page = rows[query.start_position - 1: query.start_position - 1 + query.max_results]
    if not page:
        return {}
    if query.fields is not None:
        page = [_project(doc, query.fields) for doc in page]
    return {query.entity: page, "startPosition": query.start_position, "maxResults": len(page)}


def _project(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """SELECT a, b: those fields plus what identifies the object, flagged sparse like QuickBooks."""
    wanted = {f.split(".")[0].lower() for f in fields} | {"id", "synctoken", "metadata", "domain"}
    out = {k: v for k, v in doc.items() if k.lower() in wanted}
    out["sparse"] = True
    return out
