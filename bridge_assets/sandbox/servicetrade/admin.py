"""The emulator's own control panel under `/_emulator/...`: set-up, fault injection, inspection.

No authentication (the emulator listens on loopback), no faults, not journaled, plain JSON (not the
ServiceTrade envelope). These calls stand for what a person does in the ServiceTrade UI or what a
test needs to see. The endpoint list is in the package docstring.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.servicetrade import records, wire
from bridge_assets.sandbox.servicetrade.api import api_url
from bridge_assets.sandbox.servicetrade.seed import seed_from_book
from bridge_assets.sandbox.servicetrade.store import load_json
from bridge_assets.sandbox.servicetrade.webhooks import WebhookSender

def _json(payload: Any, status: int = 200) -> Response:
    return wire.json_response(payload, status)


class Admin:
    def __init__(self, parts: Parts, webhooks: WebhookSender | None = None) -> None:
        self.store, self.settings, self.auth, self.faults = parts.store, parts.settings, parts.auth, parts.faults
        self.webhooks = webhooks
        self.fields = self.settings.fields
        self.panel = AdminPanel(self.store, _json, wire.loads, self.faults, health=self._health,
                                settings_view=self._settings, reset=self.reset, oauth=self.auth.oauth)

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/seed", self.seed, ["POST"]),
            ("/users", self.register_user, ["POST"]),
            ("/oauth/tokens", self.mint_tokens, ["POST"]),
            ("/expire", self.expire, ["POST"]),
            ("/sessions", self.sessions, ["GET"]),
            ("/tokens", self.tokens, ["GET"]),
            ("/invoices", self.dump_invoices, ["GET"]),
            ("/invoices", self.create_invoices, ["POST"]),
            ("/invoices/{invoice_id}", self.read_invoice, ["GET"]),
            ("/invoices/{invoice_id}", self.edit_invoice, ["POST"]),
            ("/comments", self.dump_comments, ["GET"]),
            ("/customers", self.dump_customers, ["GET"]),
            ("/locations", self.dump_locations, ["GET"]),
            ("/jobs", self.dump_jobs, ["GET"]),
            ("/webhooks", self.webhook_report, ["GET"]),
        ])

    async def _body(self, request: Request) -> dict[str, Any]:
        return await self.panel.body(request)

    def _render(self, request: Request, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        refs = records.References.load(self.store, found)
        return [records.render_invoice(r, refs, self.fields, api_url(request), include_items=True,
                                       line_tax=self.settings.line_tax_amounts) for r in found]

    # --- set-up ------------------------------------------------------------------------------------

    def _health(self) -> dict[str, Any]:
        return {"invoices": self.store.fetchone("SELECT COUNT(*) AS n FROM invoices")["n"]}

    def _settings(self) -> dict[str, Any]:
        return {**self.settings.to_mapping(), "resolved_field_map": self.fields.to_mapping(),
                "transitions": {k: sorted(v) for k, v in self.settings.transitions.allowed.items()}}

    def reset(self, body: dict[str, Any]) -> str:
        """Forget everything: records, sessions, tokens, journal; back to the start-up accounts and faults."""
        self.store.reset()
        self.auth.reset()
        self.faults.restore_initial()
        return "all"

    async def seed(self, request: Request) -> Response:
        body = await self._body(request)
        options = {k: body[k] for k in ("status", "credit_style", "replace") if k in body}
        if "book" in body:
            book = body["book"]
        else:
            from bridge_assets.sandbox.book import (
                generate_book,  # the generator is only needed here
            )

            book = generate_book(int(body.get("seed", 1)), int(body.get("lines", 200)),
                                 str(body.get("first_period", "2026-08")), int(body.get("months", 3)))
        return _json(seed_from_book(book, self.store, fields=self.fields, **options))

    async def register_user(self, request: Request) -> Response:
        body = await self._body(request)
        if not body.get("username") or not body.get("password"):
            raise AdminError("username and password are required")
        self.auth.register_user(str(body["username"]), str(body["password"]))
        return _json({"username": body["username"]})

    async def mint_tokens(self, request: Request) -> Response:
        body = await self._body(request)
        client_id = str(body.get("client_id") or next(iter(self.settings.clients), "bridge-sandbox-client"))
        return _json(self.auth.mint_tokens(client_id))

    async def expire(self, request: Request) -> Response:
        """Expire sessions and access tokens now (refresh tokens too with "refresh_tokens": true)."""
        body = await self._body(request)
        counts = self.auth.expire(username=body.get("username"), client_id=body.get("client_id"),
                                  sessions=bool(body.get("sessions", True)),
                                  access_tokens=bool(body.get("access_tokens", True)),
                                  refresh_tokens=bool(body.get("refresh_tokens", False)))
        return _json({"expired": counts})

    async def sessions(self, request: Request) -> Response:
        return _json({"sessions": self.auth.sessions()})

    async def tokens(self, request: Request) -> Response:
        return _json({"tokens": self.auth.tokens()})

    # --- invoices ------------------------------------------------------------------------------------

    async def dump_invoices(self, request: Request) -> Response:
        status = request.query_params.get("status")
        where = records.InvoiceFilter(statuses=[s for s in (status or "").split(",") if s])
        found, total = records.list_invoices(self.store, where, 1, 10 ** 9)
        return _json({"invoices": self._render(request, found), "totalCount": total})

    async def create_invoices(self, request: Request) -> Response:
        """`{"invoices": [spec, ...]}` or one spec: internal names (see records.py), customer by id or name."""
        body = await self._body(request)
        specs = body.get("invoices", [body])
        with self.store.transaction():
            created = [records.build_invoice(self.store, spec, self.fields) for spec in specs]
            records.insert_invoices(self.store, created)
        if self.webhooks is not None:
            for invoice in created:
                self.webhooks.invoice_changed(api_url(request), invoice["id"], "created", None, invoice)
        return _json({"invoices": self._render(request, created)})

    def _record(self, request: Request) -> dict[str, Any]:
        record = records.get_invoice(self.store, request.path_params["invoice_id"])
        if record is None:
            raise AdminError(f"no invoice {request.path_params['invoice_id']}", 404)
        return record

    async def read_invoice(self, request: Request) -> Response:
        record = self._record(request)
        return _json({"invoice": self._render(request, [record])[0], "internal": record})

    async def edit_invoice(self, request: Request) -> Response:
        """Any field, any status, no transition rules (void one, edit one to play an update)."""
        record = self._record(request)
        changes = await self._body(request)
        with self.store.transaction():
            changed = records.apply_admin_edit(self.store, record, changes, self.fields)
        if self.webhooks is not None and changed != record:
            self.webhooks.invoice_changed(api_url(request), changed["id"], "updated", record, changed)
        return _json({"invoice": self._render(request, [changed])[0]})

    async def webhook_report(self, request: Request) -> Response:
        """Messages delivered and discarded (after three failed tries), and how many wait."""
        if self.webhooks is None:
            return _json({"url_configured": False, "pending": 0, "delivered": [], "discarded": []})
        return _json(self.webhooks.report())

    async def dump_comments(self, request: Request) -> Response:
        params = request.query_params
        entity_id = int(params["entityId"]) if params.get("entityId") else None
        return _json({"comments": records.list_comments(self.store, params.get("entityType"), entity_id)})

    async def dump_customers(self, request: Request) -> Response:
        rows = self.store.fetchall("SELECT * FROM customers ORDER BY id")
        return _json({"customers": [{"id": r["id"], "name": r["name"], "external": load_json(r["doc"])} for r in rows]})

    async def dump_locations(self, request: Request) -> Response:
        rows = self.store.fetchall("SELECT id, customer_id, name FROM locations ORDER BY id")
        return _json({"locations": [dict(r) for r in rows]})

    async def dump_jobs(self, request: Request) -> Response:
        rows = self.store.fetchall("SELECT * FROM jobs ORDER BY id")
        return _json({"jobs": [{"id": r["id"], "customer_id": r["customer_id"], "location_id": r["location_id"],
                                **load_json(r["doc"])} for r in rows]})
