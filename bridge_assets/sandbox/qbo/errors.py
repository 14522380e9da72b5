"""QuickBooks Online's error bodies, by code, with the wording QuickBooks uses.

Three different shapes exist upstream and clients must cope with all of them (API_FACTS.md):

- business and validation faults: `{"Fault": {"Error": [{"Message", "Detail", "code", "element"}],
  "type": "ValidationFault"}, "time"}`, HTTP 400 (and inside an HTTP 200 in a batch);
- authentication: a lowercase `{"fault": {"error": [...]}}` body with HTTP 401;
- throttling: XML, even when JSON was asked for, HTTP 429.

`code` is always a string. A `QboFault` raised anywhere in the emulator becomes the first shape.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.qbo import wire

VALIDATION = "ValidationFault"
SYSTEM = "SystemFault"
AUTHENTICATION = "AUTHENTICATION"

BUSINESS_VALIDATION = "A business validation error has occurred while processing your request"


class QboFault(Exception):
    """One QuickBooks fault; `http_status` is what a standalone (non-batch) request answers with."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str | None = None,
        fault_type: str = VALIDATION,
        http_status: int = 400,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type
        self.http_status = http_status

    def fault(self) -> dict[str, Any]:
        error: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}

    def body(self) -> dict[str, Any]:
        return {"Fault": self.fault(), "time": wire.response_time()}

    def response(self) -> Response:
        return wire.json_response(self.body(), status_code=self.http_status)


# --- the catalogue -------------------------------------------------------------------------------


def object_deleted(entity: str = "transaction") -> QboFault:
    return QboFault("610", "Object Not Found", f"Object Not Found : Another user has deleted this {entity}.")


def object_inactive(element: str | None = None) -> QboFault:
    return QboFault(
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees.",
        element=element,
    )


def linked_txn_not_found(txn_type: str, txn_id: str) -> QboFault:
    return QboFault(
        "610",
        "Object Not Found",
        f"Object Not Found : {txn_type} with TxnId={txn_id} was not found for this customer. "
        "LinkedTxn.TxnId must be the Id of the transaction, not its DocNumber.",
        element="Line.LinkedTxn.TxnId",
    )


def required_param(element: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_property(detail: str, element: str | None = None) -> QboFault:
    return QboFault("2010", "Request has invalid or unsupported property", detail, element=element)


def string_too_long(element: str, maximum: int, supplied: int) -> QboFault:
    return QboFault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{maximum} "
        f"supplied length:{supplied}",
        element=element,
    )


def invalid_reference(element: str, name: str, ref_id: Any) -> QboFault:
    return QboFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {name} element id {ref_id} not found",
        element=element,
    )


def query_parse_error(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> QboFault:
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def stale_object() -> QboFault:
    return QboFault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and Administrator were working on this at the same time. "
        "Administrator finished before you did, so your work was not saved.",
    )


def business_validation(detail: str, element: str | None = None) -> QboFault:
    return QboFault("6000", BUSINESS_VALIDATION, f"Business Validation Error: {detail}", element=element)


def amount_mismatch(amount: Any, qty: Any, unit_price: Any, expected: Any) -> QboFault:
    return QboFault(
        "6070",
        "Amount is not equal to UnitPrice * Qty",
        f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount} "
        f"(Qty {qty} x UnitPrice {unit_price} = {expected})",
        element="Line.Amount",
    )


def duplicate_doc_number(doc_number: str, txn_type: str, txn_id: str) -> QboFault:
    return QboFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has "
        f"already been used. DocNumber={doc_number} is assigned to TxnType={txn_type} with TxnId={txn_id}",
        element="DocNumber",
    )


def account_period_closed() -> QboFault:
    # "through through" is Intuit's wording, kept so clients that match on it keep matching.
    return QboFault(
        "6210",
        "Account Period Closed, Cannot Update Through Services API",
        "The account period has closed and the account books cannot be updated through through the "
        "QBO Services API. Please use the QBO website to make these changes.",
    )


def duplicate_name() -> QboFault:
    return QboFault(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is already using "
        "this name. Please use a different name.",
        element="DisplayName",
    )


def unsupported_operation(operation: str) -> QboFault:
    return QboFault("500", "Unsupported Operation", f"Operation {operation} is not supported.")


def invalid_minor_version(value: str) -> QboFault:
    """minorversion that is no number (unconfirmed wording; refused rather than read as 75: see api.py)."""
    return QboFault("2010", "Request has invalid or unsupported property",
                    f"Property Name:minorversion specified is unsupported or invalid: {value}", element="minorversion")


def system_failure() -> QboFault:
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data. "
        "Please wait a few minutes and try again. If the problem persists, contact customer support.",
        fault_type=SYSTEM,
        http_status=500,
    )


# --- the other two shapes ------------------------------------------------------------------------


def authentication_failed(detail: str) -> Response:
    """401 with the lowercase body QuickBooks sends when the bearer token is missing, bad or expired."""
    body = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": AUTHENTICATION,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(time.time() * 1000),
        "status": None,
        "cdcresponse": [],
    }
    return wire.json_response(
        body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'}
    )


def throttle_exceeded_xml() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse time="{wire.response_time()}" xmlns="http://schema.intuit.com/finance/v3">\n'
        '    <Fault type="SERVICE">\n'
        '        <Error code="3001">\n'
        "            <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
        "            <Detail>The request limit was reached.  Try again later</Detail>\n"
        "        </Error>\n"
        "    </Fault>\n"
        "</IntuitResponse>"
    )


def throttle_exceeded() -> Response:
    """429 in XML whatever the Accept header said, and no rate-limit headers (Intuit: wait 60 s)."""
    return Response(throttle_exceeded_xml(), status_code=429, media_type="text/xml")


def service_unavailable() -> Response:
    """503 as the gateway in front of QuickBooks sends it: HTML, not a Fault."""
    return Response(
        "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
        "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
        status_code=503,
        media_type="text/html",
    )


def bad_gateway() -> Response:
    return Response(
        "<html><head><title>502 Bad Gateway</title></head><body>"
        "<center><h1>502 Bad Gateway</h1></center></body></html>",
        status_code=502,
        media_type="text/html",
    )
