"""Odoo's exceptions as the external API reports them (odoo/exceptions.py; the XML-RPC fault codes of
odoo/addons/base/controllers/rpc.py for `/xmlrpc/2/`: 1 application error (a traceback as the
string), 2 warning (UserError, ValidationError, RedirectWarning), 3 access denied (bad login or key),
4 access error (a group or record rule refuses)."""

from __future__ import annotations

FAULT_APPLICATION = 1
FAULT_WARNING = 2
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4


class OdooError(Exception):
    fault_code = FAULT_WARNING
    name = "odoo.exceptions.UserError"


class UserError(OdooError):
    pass


class ValidationError(UserError):
    name = "odoo.exceptions.ValidationError"


class AccessError(OdooError):
    fault_code = FAULT_ACCESS_ERROR
    name = "odoo.exceptions.AccessError"


class AccessDenied(OdooError):
    fault_code = FAULT_ACCESS_DENIED
    name = "odoo.exceptions.AccessDenied"

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)
