"""qbXML status codes as sentences a bookkeeper can act on (facts §6), and which of them mean "held"."""

from __future__ import annotations

CLOSING_DATE_WORDS = "closing date"

_WHAT_TO_DO = {
    3070: "a value is longer than QuickBooks Desktop allows (RefNumber: 11 characters for invoices and credit memos, "
          "20 for payments; names: 41 for customers, 31 for items); shorten it in the source",
    3100: "the name is already used by another customer, vendor, employee or other name in QuickBooks Desktop; "
          "rename one of them",
    3120: "QuickBooks Desktop no longer has it (deleted there); re-enter it there or revert it in the bridge",
    3140: "it names a customer, item or transaction QuickBooks Desktop does not have; add it there (or turn on "
          "QBD_AUTO_CREATE_CUSTOMERS / QBD_AUTO_CREATE_ITEMS)",
    3170: "someone was editing the same list in QuickBooks Desktop; it is tried again on the next run",
    3175: "someone was editing the same record in QuickBooks Desktop; it is tried again on the next run",
    3180: "QuickBooks Desktop refused to save it",
    3200: "it was changed in QuickBooks Desktop while the bridge was updating it, twice in a row; it is tried again "
          "on the next run",
    3210: "a value is not accepted by QuickBooks Desktop (for a payment: more than the invoice's open balance); "
          "correct the source or the invoice",
    3250: "the feature it needs is turned off in this QuickBooks Desktop company; turn it on in Preferences",
    3260: "the Web Connector's QuickBooks user lacks permission; give it permission in QuickBooks Desktop",
    3261: "the invoice bridge is not allowed to access this company file; allow it in QuickBooks Desktop "
          "(Edit > Preferences > Integrated Applications)",
}
RETRYABLE = {3170, 3175, 3200}


def sentence(label: str, code: int, message: str) -> str:
    """'Invoice 100234 (Smith, J): QuickBooks Desktop said (3210) "...": what to do.'"""
    what = _WHAT_TO_DO.get(code, "look at the message in QuickBooks Desktop's terms and correct the source or the "
                                 "company file")
    return f'{label}: QuickBooks Desktop refused it ({code}) "{message}": {what}.'


def is_closing_date(code: int, message: str) -> bool:
    return code == 3180 and CLOSING_DATE_WORDS in message.lower()
