"""The emulated QuickBooks Web Connector: a thread that polls the bridge's QBWC service on a schedule and
carries its qbXML into the emulated company file (and the answers back), over SOAP 1.1 as QBWC does.

One run (a session): serverVersion, clientVersion, authenticate; `nvu` or `none` end it; otherwise
sendRequestXML -> QuickBooks -> receiveResponseXML until the service says 100 (done) or -1 (then
getLastError); an empty request means getLastError ("NoOp": ask again after `noop_s`); closeConnection.

A drop plan (`drop`, set through the admin panel) makes a session die mid-way, as a Windows machine that
sleeps or a QBWC that crashes does: `handed_out` stops right after a request was handed out (QuickBooks
never sees it), `applied` stops after QuickBooks applied it, before the answer goes back. Either way no
closeConnection is sent; the next poll is a new session.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import httpx

from bridge_assets.sandbox.qbd import messages
from bridge_assets.sandbox.qbd.rules import MessageRefused
from bridge_assets.sandbox.qbd.store import CompanyStore

log = logging.getLogger(__name__)

NS = "http://developer.intuit.com/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
CLIENT_VERSION = "2.3.0.215"


@dataclasses.dataclass
class DropPlan:
    when: str                    # handed_out | applied
    at: list[int]                # ordinals (1-based) of the message sets handed out, counted from when set


class SessionDied(Exception):
    pass


class WebConnector:
    def __init__(self, store: CompanyStore, settings: Any) -> None:
        self.store, self.settings = store, settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._drop: DropPlan | None = None
        self._handed = 0
        self.sessions = 0
        self.dropped = 0                 # sessions that died by the drop plan
        self.client = httpx.Client(timeout=60.0)
        self._thread: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.settings.service_url and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="qbd-web-connector", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.client.close()

    def poll_now(self) -> None:
        self._wake.set()

    def set_drop(self, when: str, at: list[int]) -> None:
        if when not in ("handed_out", "applied"):
            raise ValueError("when must be handed_out or applied")
        with self._lock:
            self._drop, self._handed = DropPlan(when, sorted(int(n) for n in at)), 0

    def clear_drop(self) -> None:
        with self._lock:
            self._drop = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_session()
            except SessionDied as died:
                log.info("Web Connector session died: %s", died)
            except Exception as problem:                      # the next poll tries again, as QBWC does
                log.warning("Web Connector session failed: %s", problem)
            self._wake.wait(self.settings.poll_s)
            self._wake.clear()

    # --- one session --------------------------------------------------------------------------------

    def _call(self, method: str, **params: Any) -> ET.Element:
        body = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in params.items() if v is not None)
        envelope = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}">'
                    f'<soap:Body><{method} xmlns="{NS}">{body}</{method}></soap:Body></soap:Envelope>')
        response = self.client.post(self.settings.service_url, content=envelope.encode("utf-8"),
                                     headers={"Content-Type": "text/xml; charset=utf-8",
                                              "SOAPAction": f'"{NS}{method}"'})
        if response.status_code != 200:
            raise RuntimeError(f"{method}: HTTP {response.status_code} {response.text[:300]}")
        root = ET.fromstring(response.content)
        result = root.find(f".//{{{NS}}}{method}Result")
        if result is None:
            raise RuntimeError(f"{method}: no {method}Result in the answer")
        return result

    def _text(self, method: str, **params: Any) -> str:
        return self._call(method, **params).text or ""

    def run_session(self) -> str:
        """One Web Connector run; returns how it ended (none, nvu, done, error, died)."""
        s = self.settings
        self._text("serverVersion")
        self._text("clientVersion", strVersion=CLIENT_VERSION)
        answer = [e.text or "" for e in self._call("authenticate", strUserName=s.user_name, strPassword=s.password)]
        ticket, status = (answer + ["", ""])[:2]
        if status in ("nvu", "none", "busy"):
            return status
        self.sessions += 1
        first = True
        while True:
            request = self._text("sendRequestXML", ticket=ticket,
                                 strHCPResponse=self._host_response() if first else "",
                                 strCompanyFileName=s.company_file, qbXMLCountry="US", qbXMLMajorVers=13,
                                 qbXMLMinorVers=0)
            first = False
            if not request:
                if self._text("getLastError", ticket=ticket) == "NoOp":
                    if self._stop.wait(s.noop_s):
                        return "stopped"
                    continue
                self._text("closeConnection", ticket=ticket)
                return "error"
            done = self._exchange(ticket, request)
            if done < 0:
                self._text("getLastError", ticket=ticket)
                self._text("closeConnection", ticket=ticket)
                return "error"
            if done >= 100:
                self._text("closeConnection", ticket=ticket)
                return "done"

    def _exchange(self, ticket: str, request: str) -> int:
        drop = self._drop_now()
        self.dropped += drop is not None
        if drop == "handed_out":
            raise SessionDied("stopped after a request was handed out (QuickBooks never saw it)")
        try:
            response, hresult, message = messages.process(self.store, request), "", ""
        except MessageRefused as refused:
            response, hresult, message = "", refused.hresult, refused.message
        if drop == "applied":
            raise SessionDied("stopped after QuickBooks applied the request, before its answer went back")
        return int(self._text("receiveResponseXML", ticket=ticket, response=response, hresult=hresult,
                              message=message))

    def _drop_now(self) -> str | None:
        with self._lock:
            self._handed += 1
            if self._drop is not None and self._handed in self._drop.at:
                return self._drop.when
            return None

    def _host_response(self) -> str:
        return ('<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><HostQueryRs statusCode="0" statusSeverity="Info" '
                'statusMessage="Status OK"><HostRet><ProductName>QuickBooks Desktop (emulated)</ProductName>'
                '<MajorVersion>33</MajorVersion><MinorVersion>0</MinorVersion><SupportedQBXMLVersion>13.0'
                '</SupportedQBXMLVersion></HostRet></HostQueryRs></QBXMLMsgsRs></QBXML>')
