"""The QBWC service as the QuickBooks Web Connector sees it: a SOAP client built by zeep from the WSDL the
service serves at ?wsdl (zeep, unmodified, pointed at the service's URL) calls it the way QBWC does
(facts: shared design platforms/qbd_web_connector.md §1). The queue is what the destination writes."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
import zeep

from bridge_assets.commands import webconnector as command
from bridge_assets.destinations.qbd_webconnector import config, service
from bridge_assets.destinations.qbd_webconnector.qbxml import E, message_set, parse_responses
from bridge_assets.destinations.qbd_webconnector.queue import Queue
from bridge_assets.destinations.qbd_webconnector.qwc import qwc_document
from bridge_assets.sandbox.qbd import messages
from bridge_assets.sandbox.qbd.store import CompanyStore

COMPANY, USER, PASSWORD = "Contract Co", "bookkeeper", "s3cret-typed-into-qbwc"
METHODS = {"serverVersion", "clientVersion", "authenticate", "sendRequestXML", "receiveResponseXML",
           "connectionError", "getLastError", "closeConnection"}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qbwc")
    served = service.serve_in_thread(service.ServiceSettings(folder / "queue.sqlite3", COMPANY, USER, PASSWORD,
                                                             linger_s=0.05))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def qbwc(running):
    """The Web Connector's side: a SOAP client made from the service's own WSDL."""
    return zeep.Client(running.url + "?wsdl").service


@pytest.fixture()
def queue(running):
    q = Queue(running.handler.settings.queue_path)
    yield q
    with q._tx() as con:                     # each test starts from an empty queue
        con.execute("DELETE FROM message_sets")
    q.close()


def _preferences_query() -> str:
    return message_set([E("PreferencesQueryRq")])


def test_the_wsdl_names_every_qbwc_method_in_intuits_namespace(running):
    client = zeep.Client(running.url + "?wsdl")
    [svc] = client.wsdl.services.values()
    operations = {name for port in svc.ports.values() for name in port.binding._operations}
    assert METHODS <= operations
    for method in METHODS:                                   # document/literal elements in Intuit's namespace
        assert client.get_element(f"{{http://developer.intuit.com/}}{method}") is not None
    assert client.get_type("{http://developer.intuit.com/}ArrayOfString") is not None   # authenticate's answer
    assert client.service.serverVersion()  # a version string shown to the user
    assert client.service.clientVersion("2.3.0.215") in ("", None)   # "" = go on


def test_a_wrong_password_is_nvu_and_opens_no_session(qbwc, queue):
    ticket, status = qbwc.authenticate(USER, "not-the-password")
    assert status == "nvu" and not ticket
    ticket, status = qbwc.authenticate("someone-else", PASSWORD)
    assert status == "nvu" and not ticket


def test_with_nothing_queued_authenticate_says_none(qbwc, queue):
    ticket, status = qbwc.authenticate(USER, PASSWORD)
    assert ticket and status == "none"


def test_a_session_hands_out_queued_work_marked_before_it_leaves_and_settles_the_answer(qbwc, queue):
    set_id = queue.enqueue(COMPANY, "read the closing date", _preferences_query())
    ticket, company_file = qbwc.authenticate(USER, PASSWORD)[:2]
    assert ticket and company_file in ("", None)            # "" = the company file open in QuickBooks
    request = qbwc.sendRequestXML(ticket, "<HostQueryRs/>", "C:\\Company.QBW", "US", 13, 0)
    assert "<PreferencesQueryRq" in request and 'onError="continueOnError"' in request
    handed = queue.get(set_id)
    assert handed.state == "handed_out" and handed.ticket == ticket   # recorded before QuickBooks saw it
    answer = ('<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><PreferencesQueryRs requestID="0" statusCode="0" '
              'statusSeverity="Info" statusMessage="Status OK"><PreferencesRet><AccountingPreferences>'
              '<ClosingDate>2026-06-30</ClosingDate></AccountingPreferences></PreferencesRet>'
              '</PreferencesQueryRs></QBXMLMsgsRs></QBXML>')
    assert qbwc.receiveResponseXML(ticket, answer, "", "") == 100
    settled = queue.get(set_id)
    assert settled.state == "answered" and parse_responses(settled.response)[0].ok
    assert qbwc.closeConnection(ticket).startswith("OK")
    assert qbwc.sendRequestXML(ticket, "", "", "US", 13, 0) in ("", None)     # the session is over


def test_percent_done_counts_what_is_still_queued(qbwc, queue):
    for _ in range(2):
        queue.enqueue(COMPANY, "two steps", _preferences_query())
    ticket = qbwc.authenticate(USER, PASSWORD)[0]
    qbwc.sendRequestXML(ticket, "", "", "US", 13, 0)
    assert qbwc.receiveResponseXML(ticket, "<QBXML><QBXMLMsgsRs/></QBXML>", "", "") == 50
    qbwc.sendRequestXML(ticket, "", "", "US", 13, 0)
    assert qbwc.receiveResponseXML(ticket, "<QBXML><QBXMLMsgsRs/></QBXML>", "", "") == 100


def test_an_hresult_from_quickbooks_is_minus_one_and_get_last_error_says_why(qbwc, queue):
    set_id = queue.enqueue(COMPANY, "bad", _preferences_query())
    ticket = qbwc.authenticate(USER, PASSWORD)[0]
    qbwc.sendRequestXML(ticket, "", "", "US", 13, 0)
    assert qbwc.receiveResponseXML(ticket, "", "0x80040400", "QuickBooks found an error when parsing") == -1
    assert "0x80040400" in qbwc.getLastError(ticket)
    assert "parsing" in queue.get(set_id).error


def test_an_empty_queue_mid_session_is_noop_and_an_unknown_ticket_is_refused(qbwc, queue):
    queue.enqueue(COMPANY, "one", _preferences_query())
    ticket = qbwc.authenticate(USER, PASSWORD)[0]
    qbwc.sendRequestXML(ticket, "", "", "US", 13, 0)
    qbwc.receiveResponseXML(ticket, "<QBXML><QBXMLMsgsRs/></QBXML>", "", "")
    assert qbwc.sendRequestXML(ticket, "", "", "US", 13, 0) in ("", None)
    assert qbwc.getLastError(ticket) == "NoOp"                # QBWC waits and asks again
    assert qbwc.sendRequestXML("no-such-ticket", "", "", "US", 13, 0) in ("", None)
    assert qbwc.receiveResponseXML("no-such-ticket", "<QBXML/>", "", "") == -1
    assert "ticket" in qbwc.getLastError("no-such-ticket")


def test_a_connection_error_ends_the_session_with_done(qbwc, queue):
    queue.enqueue(COMPANY, "one", _preferences_query())
    ticket = qbwc.authenticate(USER, PASSWORD)[0]
    assert qbwc.connectionError(ticket, "0x80040408", "Could not start QuickBooks.") == "done"
    assert "Could not start QuickBooks" in qbwc.getLastError(ticket)
    assert qbwc.sendRequestXML(ticket, "", "", "US", 13, 0) in ("", None)


def test_a_post_travels_through_the_web_connector_zeep_plays(running, qbwc, queue, tmp_path, monkeypatch):
    """The destination queues, zeep (as QBWC) carries each message set into a QuickBooks company file."""
    from bridge_assets.destinations.qbd_webconnector.adapter import QbdWebConnectorDestination

    company = CompanyStore(tmp_path / "company.sqlite3")
    env = {"QBD_WC_QUEUE": str(running.handler.settings.queue_path), "QBD_COMPANY": COMPANY,
           "QBD_WC_WAIT_SECONDS": "10", "QBD_WC_ANSWER_SECONDS": "10"}
    destination = QbdWebConnectorDestination.from_env(environ=env)
    found: list = []
    asking = threading.Thread(target=lambda: found.append(destination.book_close_date()))
    asking.start()
    carried = 0
    while asking.is_alive() and carried < 50:
        ticket, status = qbwc.authenticate(USER, PASSWORD)[:2]
        if status == "none":
            continue
        while True:
            request = qbwc.sendRequestXML(ticket, "", "", "US", 13, 0)
            if not request:
                break
            carried += 1
            if qbwc.receiveResponseXML(ticket, messages.process(company, request), "", "") >= 100:
                break
        qbwc.closeConnection(ticket)
    asking.join()
    assert found == [None] and carried >= 1
    company.close()
    destination.close()


def test_the_qwc_file_carries_what_the_web_connector_needs(monkeypatch, capsys):
    env = {"QBD_WC_USERNAME": USER, "QBD_COMPANY": COMPANY, "QBD_WC_APP_URL": "https://books.example.com/qbwc",
           "QBD_WC_RUN_EVERY_MINUTES": "5", "BRIDGE_HOME": "/tmp/qbd-home"}
    first = ET.fromstring(qwc_document(config.from_env(environ=env)).split("\n", 1)[1])
    again = ET.fromstring(qwc_document(config.from_env(environ=env)).split("\n", 1)[1])
    assert first.tag == "QBWCXML"
    fields = {child.tag: child.text for child in first}
    assert fields["AppURL"] == "https://books.example.com/qbwc" and fields["UserName"] == USER
    assert fields["AppSupport"].startswith("https://books.example.com/")
    assert fields["QBType"] == "QBFS" and fields["IsReadOnly"] == "false"
    assert first.find("Scheduler/RunEveryNMinutes").text == "5"
    for guid in ("OwnerID", "FileID"):
        assert fields[guid].startswith("{") and fields[guid].endswith("}") and len(fields[guid]) == 38
        assert fields[guid] == again.find(guid).text                   # stable per company
    other = config.from_env(environ={**env, "QBD_COMPANY": "Another Co"})
    assert other.file_id != config.from_env(environ=env).file_id
    assert "PASSWORD" not in qwc_document(config.from_env(environ={**env, "QBD_WC_PASSWORD": "PASSWORD"}))
    with pytest.raises(ValueError, match="HTTPS"):
        qwc_document(config.from_env(environ={**env, "QBD_WC_APP_URL": "http://books.example.com/qbwc"}))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QBD_WC_PASSWORD", raising=False)
    assert command.cmd_qwc(type("Args", (), {"out": None})()) == 0
    assert "<QBWCXML>" in capsys.readouterr().out


def test_bridge_ui_serves_the_web_connector_beside_dagster_unless_it_is_served_already(tmp_path, monkeypatch):
    import socket

    import httpx

    from bridge_assets.runtime.settings import BridgeSettings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for key, value in {"BRIDGE_HOME": str(tmp_path), "BRIDGE_DESTINATIONS": "qbd_webconnector",
                       "QBD_WC_USERNAME": USER, "QBD_WC_PASSWORD": PASSWORD, "QBD_WC_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QBD_WC_SERVICE_URL", raising=False)
    with command.beside_ui(BridgeSettings.from_env()):
        ticket, status = zeep.Client(f"http://127.0.0.1:{port}/qbwc?wsdl").service.authenticate(USER, PASSWORD)
        assert ticket and status == "none"
    monkeypatch.setenv("QBD_WC_SERVICE_URL", "http://elsewhere:8720/qbwc")
    with command.beside_ui(BridgeSettings.from_env()):
        with pytest.raises(httpx.ConnectError):              # nothing was started on the port this time
            httpx.get(f"http://127.0.0.1:{port}/qbwc?wsdl")
