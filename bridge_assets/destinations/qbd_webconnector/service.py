"""The QuickBooks Web Connector (QBWC) SOAP service: `bridge webconnector`.

The Web Connector is the SOAP client; this is the service it polls (facts: shared design
platforms/qbd_web_connector.md §1). Per run it calls serverVersion, clientVersion, authenticate, then
sendRequestXML / receiveResponseXML until we say 100 (percent done) or -1 (error), then closeConnection.

* authenticate: the user name and password (from the environment, `QBD_WC_USERNAME` / `QBD_WC_PASSWORD`)
  are compared in constant time. A bad pair answers `nvu`; a good one gets a new ticket (one session per
  ticket) and `none` when nothing is queued, else the company file (`QBD_COMPANY_FILE`, "" = the file open).
* sendRequestXML hands out the oldest queued message set, marked `handed_out` and committed before the
  answer leaves. With nothing to hand out it answers "" and getLastError says `NoOp` (QBWC asks again).
* receiveResponseXML stores QuickBooks' answer and returns the percent done; while the session is open and
  the bridge may still add work (it enqueues the next step as soon as it read the answer) it waits up to
  `linger_s` for more before saying 100. An `hresult` from QuickBooks answers the set with that error and
  returns -1 (getLastError then says what happened).
* connectionError (QBWC could not open the company file) ends the session: `done`.

The WSDL (spyne, document/literal, namespace http://developer.intuit.com/) is served at `?wsdl`. The
service never opens the bridge's DuckDB file: it only reads and writes the queue (`queue.py`).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import socketserver
import threading
import time
from pathlib import Path
from typing import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from spyne import Application, Array, Int, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from bridge_assets.destinations.qbd_webconnector.queue import Queue

log = logging.getLogger(__name__)

NAMESPACE = "http://developer.intuit.com/"
SERVICE_NAME = "QBWebConnectorSvc"
SERVER_VERSION = "invoice bridge QBWC service 1.0"
INVALID_TICKET = "The ticket parameter is invalid (0x8004040D): the session is over or unknown; run the Web Connector again."


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    queue_path: Path
    company: str                    # the company this service serves (its FileID in the .qwc)
    user_name: str
    password: str = dataclasses.field(repr=False)
    company_file: str = ""          # "" = the company file open in QuickBooks
    linger_s: float = 2.0           # how long an open session waits for the bridge's next step
    wait_seconds: int = 0           # 3rd element of authenticate's answer (0: leave it out)

    def __post_init__(self) -> None:
        if not self.user_name or not self.password:
            raise ValueError("the Web Connector service needs QBD_WC_USERNAME and QBD_WC_PASSWORD (the user name and "
                             "password the bookkeeper types into the Web Connector)")

    @classmethod
    def from_config(cls, config) -> "ServiceSettings":
        """From the destination's settings (config.from_env: the one place the environment is read)."""
        return cls(queue_path=config.queue_path, company=config.company, user_name=config.user_name,
                   password=config.password, company_file=config.company_file, linger_s=config.linger_s)


class Handler:
    """What each QBWC method does, free of SOAP (the spyne service below only calls these)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.queue = Queue(settings.queue_path)

    def close(self) -> None:
        self.queue.close()

    def _open(self, ticket: str):
        session = self.queue.session(ticket or "")
        if session is None or session["closed_at"] is not None:
            return None
        return session

    def authenticate(self, user_name: str | None, password: str | None) -> list[str]:
        s = self.settings
        same_user = hmac.compare_digest((user_name or "").encode(), s.user_name.encode())
        same_password = hmac.compare_digest((password or "").encode(), s.password.encode())
        if not (same_user & same_password):
            log.warning("Web Connector authentication refused (nvu) for user %r", user_name)
            return ["", "nvu"]
        ticket = self.queue.open_session(s.company, s.user_name)
        if self.queue.waiting(s.company) == 0:
            self.queue.close_session(ticket, "nothing queued")
            return [ticket, "none"]
        answer = [ticket, s.company_file]
        if s.wait_seconds:
            answer.append(str(s.wait_seconds))
        return answer

    def send_request(self, ticket: str, hcp_response: str | None, company_file: str | None,
                     country: str | None, major: int | None, minor: int | None) -> str:
        if self._open(ticket) is None:
            return ""
        if company_file or major:
            self.queue.note_session(ticket, company_file=company_file or None,
                                    host_versions=f"{country or ''} {major or ''}.{minor or 0}".strip())
        handed = self.queue.hand_out(self.settings.company, ticket)
        if handed is None:
            self.queue.note_session(ticket, last_error="NoOp")
            return ""
        log.info("handed out message set %s (%s) to session %s", handed.id, handed.purpose, ticket[:8])
        return handed.qbxml

    def receive_response(self, ticket: str, response: str | None, hresult: str | None, message: str | None) -> int:
        if self._open(ticket) is None:
            return -1
        held = self.queue.outstanding(ticket)
        if held is None:
            self.queue.note_session(ticket, last_error="A response came back for no request this session handed out.")
            return -1
        if (hresult or "").strip() or (message or "").strip():
            error = f"QuickBooks could not process the request ({(hresult or '').strip()}): {(message or '').strip()}"
            self.queue.answer(held.id, response=response or None, error=error)
            self.queue.note_session(ticket, last_error=error)
            return -1
        self.queue.answer(held.id, response=response or "", error=None)
        return self._percent_done(ticket)

    def _percent_done(self, ticket: str) -> int:
        deadline = time.monotonic() + self.settings.linger_s
        while True:
            answered, queued = self.queue.session_progress(ticket, self.settings.company)
            if queued:
                return max(1, min(99, int(100 * answered / (answered + queued))))
            if time.monotonic() >= deadline:
                return 100
            time.sleep(0.02)

    def connection_error(self, ticket: str, hresult: str | None, message: str | None) -> str:
        text = f"The Web Connector could not open the company file ({hresult or ''}): {message or ''}"
        log.warning(text)
        if self._open(ticket) is not None:
            self.queue.note_session(ticket, last_error=text)
            self.queue.close_session(ticket, "connection error")
        return "done"

    def last_error(self, ticket: str) -> str:
        session = self.queue.session(ticket or "")
        if session is None:
            return INVALID_TICKET
        return session["last_error"] or ""

    def close_connection(self, ticket: str) -> str:
        if self.queue.session(ticket or "") is None:
            return INVALID_TICKET
        self.queue.close_session(ticket, "closed by the Web Connector")
        return "OK: the invoice bridge has nothing more for now."


def build_application(handler: Handler) -> Application:
    """The spyne application: the QBWC methods with the names, parameters and results QBWC expects."""

    class QBWebConnectorSvcSoap(ServiceBase):
        @rpc(_returns=Unicode)
        def serverVersion(ctx):
            return SERVER_VERSION

        @rpc(Unicode, _returns=Unicode)
        def clientVersion(ctx, strVersion):
            return ""

        @rpc(Unicode, Unicode, _returns=Array(Unicode, type_name="ArrayOfString"))
        def authenticate(ctx, strUserName, strPassword):
            return handler.authenticate(strUserName, strPassword)

        @rpc(Unicode, Unicode, Unicode, Unicode, Int, Int, _returns=Unicode)
        def sendRequestXML(ctx, ticket, strHCPResponse, strCompanyFileName, qbXMLCountry, qbXMLMajorVers,
                           qbXMLMinorVers):
            return handler.send_request(ticket, strHCPResponse, strCompanyFileName, qbXMLCountry,
                                        qbXMLMajorVers, qbXMLMinorVers)

        @rpc(Unicode, Unicode, Unicode, Unicode, _returns=Int)
        def receiveResponseXML(ctx, ticket, response, hresult, message):
            return handler.receive_response(ticket, response, hresult, message)

        @rpc(Unicode, Unicode, Unicode, _returns=Unicode)
        def connectionError(ctx, ticket, hresult, message):
            return handler.connection_error(ticket, hresult, message)

        @rpc(Unicode, _returns=Unicode)
        def getLastError(ctx, ticket):
            return handler.last_error(ticket)

        @rpc(Unicode, _returns=Unicode)
        def closeConnection(ctx, ticket):
            return handler.close_connection(ticket)

    return Application([QBWebConnectorSvcSoap], tns=NAMESPACE, name=SERVICE_NAME,
                       in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:      # noqa: A002  (the ticket never reaches a log)
        log.debug("%s %s", self.address_string(), format % args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


SUPPORT_PAGE = (b"Invoice bridge: QuickBooks Web Connector service. It posts SedonaOffice and ServiceTrade billing "
                b"into this QuickBooks Desktop company; see the bridge's README, section QuickBooks Desktop through the "
                b"Web Connector.\n")


def wsgi_app(handler: Handler):
    """The SOAP service at any path (WSDL at ?wsdl), and the .qwc's AppSupport page at /support."""
    soap = WsgiApplication(build_application(handler))

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/support" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [SUPPORT_PAGE]
        return soap(environ, start_response)

    return app


def make(settings: ServiceSettings, host: str, port: int):
    """(server, handler): a threaded WSGI server answering the QBWC at http://host:port/ (any path)."""
    handler = Handler(settings)
    server = make_server(host, port, wsgi_app(handler), server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    return server, handler


class Running:
    def __init__(self, server, handler: Handler, thread: threading.Thread) -> None:
        self.server, self.handler, self.thread = server, handler, thread
        self.url = f"http://{server.server_address[0]}:{server.server_address[1]}/qbwc"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.handler.close()


def serve_in_thread(settings: ServiceSettings, host: str = "127.0.0.1", port: int = 0) -> Running:
    """The service in a background thread of this process (beside `bridge ui`, or in a test)."""
    server, handler = make(settings, host, port)
    thread = threading.Thread(target=server.serve_forever, name="qbwc-service", daemon=True)
    thread.start()
    return Running(server, handler, thread)


def serve_forever(settings: ServiceSettings, host: str, port: int) -> Iterator[str]:
    server, handler = make(settings, host, port)
    try:
        print(f"QuickBooks Web Connector service listening on http://{host}:{server.server_address[1]}/qbwc "
              f"(WSDL at ?wsdl)", flush=True)
        server.serve_forever()
    finally:
        server.server_close()
        handler.close()
