"""Xero's error answers, in its own shapes (platforms/xero.md §10).

- validation: 400 `{"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception
  occurred", "Elements": [{...the object sent..., "ValidationErrors": [{"Message": ...}]}]}`;
- not found: 404 `NotFoundException`; a malformed request: 400 `PostDataInvalidException`;
- authentication and tenant: 401 / 403 problem-details JSON (`Title`, `Status`, `Detail`);
- throttling: 429 with `Retry-After` and `X-Rate-Limit-Problem` (minute | day | concurrent | appminute);
- a server failure: 500 `{"ErrorNumber": 500, "Type": "InternalServerException"}`, 503 an HTML page.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.xero import wire

VALIDATION_MESSAGE = "A validation exception occurred"


class XeroError(Exception):
    """One refusal; `body` is the answer's JSON object (XML when the client did not ask for JSON)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None,
                 root: str = "ApiException") -> None:
        super().__init__(body.get("Message") or body.get("Detail") or str(status))
        self.status, self.body, self.headers, self.root = status, body, headers or {}, root

    def response(self, request=None) -> Response:
        if request is None or wire.wants_json(request):
            return Response(wire.dumps(self.body), self.status, media_type=wire.JSON_MEDIA_TYPE, headers=self.headers)
        return Response(wire.to_xml(self.body, self.root), self.status, media_type=wire.XML_MEDIA_TYPE,
                        headers=self.headers)


class Invalid(Exception):
    """A validation message about one element (collected per element, answered as ValidationErrors)."""


def validation(elements: list[dict[str, Any]]) -> XeroError:
    return XeroError(400, {"ErrorNumber": 10, "Type": "ValidationException", "Message": VALIDATION_MESSAGE,
                           "Elements": elements})


def invalid_element(element: dict[str, Any], *messages: str) -> dict[str, Any]:
    return {**wire.render(element), "HasErrors": True, "StatusAttributeString": "ERROR",
            "ValidationErrors": [{"Message": message} for message in messages]}


def one_validation(message: str, element: dict[str, Any] | None = None) -> XeroError:
    return validation([invalid_element(element or {}, message)])


def bad_request(message: str) -> XeroError:
    return XeroError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message})


def not_found(message: str = "The resource you're looking for cannot be found") -> XeroError:
    return XeroError(404, {"ErrorNumber": 404, "Type": "NotFoundException", "Message": message})


def problem(status: int, title: str, detail: str) -> XeroError:
    return XeroError(status, {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": None},
                     root="Problem")


def unauthorized(detail: str = "AuthenticationUnsuccessful") -> XeroError:
    return problem(401, "Unauthorized", detail)


def forbidden(detail: str = "AuthorizationUnsuccessful") -> XeroError:
    return problem(403, "Forbidden", detail)


def rate_limited(problem_name: str, retry_after_s: float) -> XeroError:
    headers = {"Retry-After": str(max(1, int(retry_after_s + 0.999))), "X-Rate-Limit-Problem": problem_name}
    return XeroError(429, {"Type": None, "Title": "Too Many Requests", "Status": 429,
                           "Detail": f"Rate limit exceeded ({problem_name})"}, headers=headers, root="Problem")


def internal_error() -> Response:
    body = {"ErrorNumber": 500, "Type": "InternalServerException", "Message": "An error occurred in Xero."}
    return Response(wire.dumps(body), 500, media_type=wire.JSON_MEDIA_TYPE)


def service_unavailable() -> Response:
    return Response("<html><body><h1>503 Service Unavailable</h1>The service is temporarily unavailable."
                    "</body></html>", 503, media_type="text/html")


def bad_gateway() -> Response:
    return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")


def injected_throttle() -> Response:
    return rate_limited("minute", 60).response()
