"""`GET /{entity}/{Id}/pdf` and `POST /{entity}/{Id}/send`, and the JSON fault for every other path.

What QuickBooks does (Intuit's Invoice reference, "Get an invoice as PDF" and "Send an invoice"; the calls
python-quickbooks makes, client.download_pdf and mixins.SendMixin):
- pdf: the document as `application/pdf`; a missing document is the usual 610 JSON fault (python-quickbooks
  parses the Fault of a non-200 answer as JSON), never a plain-text 404;
- send: `POST .../send?sendTo=<address>` (body empty, Content-Type application/octet-stream) emails the
  document and answers it with `EmailStatus` "EmailSent" and `DeliveryInfo` {DeliveryType "Email",
  DeliveryTime}; without `sendTo` the document's `BillEmail.Address` is used.
Unconfirmed, chosen here: send with no address at all is refused (6000 naming BillEmail); the emulator
sends no mail. The PDF is a one-page document naming the number, customer, date and total (QuickBooks
renders the company's template; nobody reads the bytes but a person).
"""

from __future__ import annotations

import time
from typing import Any

from bridge_assets.sandbox.qbo import errors, wire

PRINTABLE = ("Invoice", "CreditMemo", "Estimate", "SalesReceipt")
PDF_MEDIA_TYPE = "application/pdf"


def printable(entity: str, operation: str) -> str:
    if entity not in PRINTABLE:
        raise errors.unsupported_operation(f"{operation} on {entity}")
    return entity


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_of(entity: str, doc: dict[str, Any]) -> bytes:
    """A valid one-page PDF (correct cross-reference table) naming the document."""
    lines = [f"{entity} {doc.get('DocNumber') or doc.get('Id')}",
             f"Customer: {(doc.get('CustomerRef') or {}).get('name') or (doc.get('CustomerRef') or {}).get('value')}",
             f"Date: {doc.get('TxnDate', '')}   Due: {doc.get('DueDate', '')}",
             f"Total: {doc.get('TotalAmt', '')}   Balance: {doc.get('Balance', '')}"]
    text = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({_escape(line)}) Tj T*" for line in lines) + " ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text.encode("latin-1", "replace")),
                                                             text.encode("latin-1", "replace")),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def mark_sent(doc: dict[str, Any], send_to: str | None) -> None:
    """What sending does to the document (the caller bumps its SyncToken)."""
    address = (send_to or "").strip() or ((doc.get("BillEmail") or {}).get("Address") or "").strip()
    if not address or "@" not in address:
        raise errors.business_validation("An email address is required to send: set BillEmail.Address or sendTo.",
                                         "BillEmail")
    doc["BillEmail"] = {"Address": address}
    doc["EmailStatus"] = "EmailSent"
    doc["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": wire.response_time(time.time())}
