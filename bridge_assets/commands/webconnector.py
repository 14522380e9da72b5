"""`bridge webconnector` (serve the QuickBooks Web Connector's SOAP service) and `bridge webconnector qwc`
(write the .qwc file a bookkeeper adds to the Web Connector). Settings: destinations/qbd_webconnector/config.py."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Iterator

from bridge_assets.destinations.base import DestinationError
from bridge_assets.runtime.settings import BridgeSettings


def add_webconnector_command(sub) -> None:
    wc = sub.add_parser("webconnector", help="serve the QuickBooks Web Connector (QuickBooks Desktop) SOAP service; "
                                             "`webconnector qwc` writes the .qwc file to add to the Web Connector")
    wc.add_argument("--host", default=None, help="default QBD_WC_HOST or 127.0.0.1")
    wc.add_argument("--port", type=int, default=None, help="default QBD_WC_PORT or 8720")
    wc.set_defaults(func=cmd_serve)
    inner = wc.add_subparsers(dest="webconnector_command")
    qwc = inner.add_parser("qwc", help="write the .qwc file (AppURL from QBD_WC_APP_URL, user from QBD_WC_USERNAME)")
    qwc.add_argument("--out", default=None, help="the file to write (default: print it)")
    qwc.set_defaults(func=cmd_qwc)


def _config():
    from bridge_assets.destinations.qbd_webconnector import config

    return config.from_env(BridgeSettings.from_env())


def cmd_serve(args: argparse.Namespace) -> int:
    from bridge_assets.destinations.qbd_webconnector import service

    try:
        config = _config()
        settings = service.ServiceSettings.from_config(config)
    except (ValueError, DestinationError) as problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        service.serve_forever(settings, args.host or config.host, config.port if args.port is None else args.port)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_qwc(args: argparse.Namespace) -> int:
    from bridge_assets.destinations.qbd_webconnector.qwc import qwc_document

    try:
        document = qwc_document(_config())
    except (ValueError, DestinationError) as problem:
        print(problem, file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(document, encoding="utf-8")
        print(f"wrote {args.out}: in the Web Connector, choose Add an application, pick this file, then type the "
              f"password (QBD_WC_PASSWORD) in the Password column")
    else:
        sys.stdout.write(document)
    return 0


class ServiceNotStarted(Exception):
    """The Web Connector's service could not listen where its settings say (another service holds the port)."""


@contextlib.contextmanager
def beside_ui(settings: BridgeSettings) -> Iterator[None]:
    """`bridge ui` serves the Web Connector's service in a thread beside Dagster when `qbd_webconnector` is a
    destination, a real Web Connector is configured (QBD_WC_PASSWORD) and nothing else serves it already
    (QBD_WC_SERVICE_URL: set by the sandbox, or by you when `bridge webconnector` runs elsewhere).

    With a company registry, `bridge ui` enters this once per company, in that company's environment: each
    company's service answers from its own queue (under its own home) on its own QBD_WC_PORT. A port already
    held (by another company's service, most often, when two companies kept the default) raises
    `ServiceNotStarted` naming the company and the setting to change."""
    from bridge_assets.destinations.qbd_webconnector import config, service
    from bridge_assets.runtime.companies import company_label, company_tag

    qbd = config.from_env(settings)
    if "qbd_webconnector" not in settings.destinations or not qbd.password or qbd.service_url:
        yield
        return
    company = company_label()
    try:
        running = service.serve_in_thread(service.ServiceSettings.from_config(qbd), qbd.host, qbd.port)
    except OSError as exc:
        whose = f"company {company}'s" if company else "the"
        where = (f"QBD_WC_PORT (and QBD_WC_APP_URL) in its [company.{company_tag()}] "
                 "section of the registry" if company else "QBD_WC_PORT (and QBD_WC_APP_URL)")
        raise ServiceNotStarted(
            f"{whose} QuickBooks Web Connector service cannot listen on {qbd.host}:{qbd.port} ({exc.strerror or exc}): "
            f"another program holds that port (another company's service, or `bridge webconnector` already "
            f"running). Give each company its own port: set {where}, or set QBD_WC_SERVICE_URL when the "
            "service runs elsewhere") from None
    print(f"{company + ': ' if company else ''}QuickBooks Web Connector service on {running.url} "
          f"(the .qwc's AppURL: {qbd.app_url})")
    try:
        yield
    finally:
        running.stop()
