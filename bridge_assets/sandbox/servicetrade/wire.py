"""What goes over the wire: ServiceTrade's envelope, JSON with exact money, Unix-second times.

Every answer under /api is `{"messages": {...}, "data": ...}` (servicetrade-php-sdk):
- success: `{"messages": {"error": [], "success": [...]}, "data": <payload>}`
- not found: exactly `{"messages": {"error": ["Not found"]}, "data": null}` with 404
- validation: `{"messages": {"error": ["Validation failed"], "validation": {"field": "why"}}, "data": null}`
  with 400 (the SDK reads `messages.validation` as a field map; the status code is unconfirmed)
The OAuth2 token endpoint answers plain OAuth JSON (`access_token`, `error`), as OAuth servers do.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.kit import wire as json_codec

JSON_MEDIA_TYPE = "application/json"
NOT_FOUND = "Not found"
VALIDATION_FAILED = "Validation failed"
AUTH_REQUIRED = "Authentication required"


class ApiError(Exception):
    """An error answer in the envelope, raised from anywhere inside a request."""

    def __init__(self, status: int, errors: list[str], validation: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors
        self.validation = validation

    def response(self) -> Response:
        messages: dict[str, Any] = {"error": list(self.errors)}
        if self.validation:
            messages["validation"] = dict(self.validation)
        return json_response({"messages": messages, "data": None}, self.status)


def not_found() -> ApiError:
    return ApiError(404, [NOT_FOUND])


def invalid(validation: dict[str, str]) -> ApiError:
    return ApiError(400, [VALIDATION_FAILED], validation)


def unauthorized() -> ApiError:
    return ApiError(401, [AUTH_REQUIRED])


def dumps(payload: Any) -> bytes:
    return json_codec.dumps(payload, ascii_only=False, whole_as_int=True)


loads = json_codec.loads


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def envelope(data: Any, *, success: list[str] | None = None, status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    return json_response({"messages": {"error": [], "success": list(success or [])}, "data": data}, status, headers)
