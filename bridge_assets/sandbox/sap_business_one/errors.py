"""Service Layer errors (v1): {"error": {"code": <int>, "message": {"lang": "en-us", "value": "..."}}}."""

from __future__ import annotations

from typing import Any


class B1Error(Exception):
    def __init__(self, code: int, value: str, status: int = 400) -> None:
        super().__init__(value)
        self.code, self.value, self.status = code, value, status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": {"lang": "en-us", "value": self.value}}}


def exists() -> B1Error:
    return B1Error(-2035, "This entry already exists in the following tables (ODBC -2035)")


def no_match(what: str) -> B1Error:
    return B1Error(-2028, f"No matching records found (ODBC -2028) [{what}]", 404)


def period_locked() -> B1Error:
    return B1Error(-4013, "Posting period locked; specify an alternative date")


def invalid_session() -> B1Error:
    return B1Error(301, "Invalid session or session already timeout.", 401)
