"""Credentials that never print, and redaction of any text a platform hands back to us."""

from __future__ import annotations

from typing import Iterable

REDACTED = "***"


class Secret:
    """A credential that prints as *** (repr, str, f-strings, logging of locals)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return repr(REDACTED)

    __str__ = __repr__


def redact(text: str, secrets: Iterable[str | Secret | None], *, min_length: int = 1) -> str:
    """`text` with every secret of at least `min_length` characters replaced by ***."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= min_length:
            text = text.replace(value, REDACTED)
    return text
