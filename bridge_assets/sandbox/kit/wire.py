"""JSON with exact money, as every emulated platform speaks it: Decimals in, JSON numbers out.

Request bodies are parsed with Decimal so that 0.1 + 0.2 problems never reach a money rule. Out, a
Decimal is a JSON number: integral amounts stay integral ("Qty": 2) and others keep their digits.
Whether 2.00 goes out as 2 or 2.0 is the platform's habit (`whole_as_int`: PHP's ServiceTrade drops
the scale, .NET and QuickBooks keep it), and so is escaping non-ASCII text (`ascii_only`).
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any


def _number(value: Any, whole_as_int: bool) -> Any:
    if isinstance(value, Decimal):
        integral = value == value.to_integral_value() and (whole_as_int or value.as_tuple().exponent >= 0)
        return int(value) if integral else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any, *, ascii_only: bool = True, whole_as_int: bool = False) -> bytes:
    default = functools.partial(_number, whole_as_int=whole_as_int)
    return json.dumps(payload, default=default, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)
