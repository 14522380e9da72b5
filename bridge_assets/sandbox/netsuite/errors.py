"""NetSuite REST errors (facts §10): {"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}."""

from __future__ import annotations

from typing import Any

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          429: "Too Many Requests", 500: "Internal Server Error"}


class NsError(Exception):
    def __init__(self, status: int, code: str, detail: str, path: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.path = status, code, detail, path

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"detail": self.detail, "o:errorCode": self.code}
        if self.path:
            detail["o:errorPath"] = self.path
        return {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
                "title": TITLES.get(self.status, "Error"), "status": self.status, "o:errorDetails": [detail]}


def invalid(detail: str, path: str | None = None) -> NsError:
    return NsError(400, "INVALID_CONTENT", f"Error while accessing resource: {detail}", path)


def user_error(detail: str) -> NsError:
    return NsError(400, "USER_ERROR", f"Error while accessing resource: {detail}")


def missing(kind: str, key: str) -> NsError:
    return NsError(404, "NONEXISTENT_ID", f"The record instance does not exist. Provide a valid record instance ID. "
                                          f"({kind} {key})")
