"""How the FreshBooks emulator behaves, and the choices it makes where FreshBooks' documentation is silent.

Facts (design/platforms/freshbooks.md): OAuth 2.0 authorization code; access tokens live 12 hours; a
refresh token never expires but works ONCE, every refresh returns a new pair; the client's id and
secret travel in the token request's body; accounting paths are `/accounting/account/{accountId}/...`;
requests wrap the singular name (`{"invoice": {...}}`), answers are `{"response": {"result": ...}}`;
money is `{"amount": "12.50", "code": "USD"}`; taxes are percentages on a line (up to 3 decimals),
the amount of tax is FreshBooks' to compute; invoices are created as drafts and marked sent by
`action_mark_as_sent`; invoices are deleted by DELETE, other resources by `vis_state: 1`; a payment
pays ONE invoice; `per_page` is capped at 100; lines come back only with `include[]=lines`; errors are
`{"response": {"errors": [{"errno", "field", "message", "object", "value"}]}}`.

Unconfirmed, and chosen strictly (the one table of the emulator's choices; the README says so):

| question                                   | the emulator's answer                                            |
|--------------------------------------------|------------------------------------------------------------------|
| invoice / credit numbers unique?           | yes, per account, deleted ones included: errno 1004 on a repeat  |
| lock date / closed periods                 | none (FreshBooks has no lock date): the bridge's own closing date |
| tax money amount                           | per line, half-up to the cent, from the percentage; never given  |
| a percentage with more than 3 decimals     | refused, errno 1018 InvalidPercentValue                          |
| PUT `lines`                                | replaces every line                                              |
| applying a credit note                     | a payment `{"type": "Credit", "creditid"}`, at most what is left |
| a payment over the invoice's outstanding   | the excess becomes an overpayment credit (`overpaymentid`)        |
| a credit application over what is owed     | refused, errno 1004                                              |
| default list content                       | active documents only; `search[vis_state]=1` lists deleted ones  |
| `search[updated_min]`                      | a date (YYYY-MM-DD), US/Eastern, inclusive                       |
| timestamps (`updated`)                     | "YYYY-MM-DD HH:MM:SS" in US/Eastern                              |
| rate limit                                 | `requests_per_minute` per account (60), 429 with no Retry-After |
| write on a deleted document                | errno 1011 DeletedResource                                       |
| a unit cost with more than 2 decimals      | refused, errno 1004 (money has cents)                            |
| deleting an invoice with payments applied  | refused, errno 1004: delete the payments first                   |
| a webhook delivery that fails              | not retried (sent once, from a thread of its own)                |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.cloud_settings import OAuthAppSettings


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(OAuthAppSettings):
    time_scale: float = 1.0
    account_id: str = "xZNQ1"                     # the one account (business) the emulator keeps
    business_id: int = 77001
    currency: str = "USD"
    clients: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"bridge-freshbooks": "fb-secret"})
    access_token_lifetime_s: float = 12 * 3600
    requests_per_minute: int = 60
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
