"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON).

    POST /_emulator/period-status {"through": "YYYY-MM-DD" | null, "status": "ltLocked"}   set every posting
                                   period ending on or before the date to that status (others ltUnlocked)
    POST /_emulator/expire-sessions                          every session times out now
    GET  /_emulator/records/{set}                            every record of an entity set as stored
    plus the kit's health, settings, reset, faults, journal
"""

from __future__ import annotations

import datetime as dt
from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_admin import RecordsAdmin
from bridge_assets.sandbox.kit.erp_admin import json_response as _json
from bridge_assets.sandbox.sap_business_one.documents import Documents

STATUSES = ("ltUnlocked", "ltUnlockedExceptSales", "ltPeriodClosing", "ltLocked")


def seed(store, settings, documents: Documents) -> None:
    with store.transaction():
        if store.all("FinancePeriods"):
            return
        year, month = map(int, settings.first_period.split("-"))
        for n in range(settings.months):
            y, m = year + (month - 1 + n) // 12, (month - 1 + n) % 12 + 1
            start = dt.date(y, m, 1)
            end = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
            documents.save("FinancePeriods", {"id": n + 1, "AbsoluteEntry": n + 1, "PeriodCode": f"{y}-{m:02d}",
                                              "PeriodName": f"{y}-{m:02d}", "PeriodStatus": "ltUnlocked",
                                              "PostingDateFrom": start.isoformat(), "PostingDateTo": end.isoformat()})


class Admin(RecordsAdmin):
    def __init__(self, parts: Parts, documents: Documents) -> None:
        super().__init__(parts, lambda: {"company_db": self.settings.company_db})
        self.documents = documents

    def own_routes(self) -> list[tuple]:
        return [("/period-status", self.period_status, ["POST"]), ("/expire-sessions", self.expire_sessions, ["POST"])]

    def seed(self) -> None:
        seed(self.store, self.settings, self.documents)

    async def period_status(self, request: Request) -> Response:
        body = await self.panel.body(request)
        through, status = body.get("through"), body.get("status", "ltLocked")
        if status not in STATUSES:
            raise AdminError(f"status is one of {STATUSES}")
        with self.store.transaction():
            for period in self.store.all("FinancePeriods"):
                period["PeriodStatus"] = status if through and period["PostingDateTo"] <= through else "ltUnlocked"
                self.documents.save("FinancePeriods", period)
        return _json({"periods": self.store.all("FinancePeriods")})

    async def expire_sessions(self, request: Request) -> Response:
        with self.store.transaction():
            sessions = self.store.all("sessions")
            for session in sessions:
                session["last_seen"] = 0.0
                self.store.put("sessions", session)
        return _json({"expired": len(sessions)})
