"""An HTTPS proxy on loopback that answers for a platform's real host names and relays to its emulator.

Some client SDKs have no setting for their base URL (pymyob builds `https://api.myob.com/...` from a module
constant). They do honour the standard proxy and CA settings of their HTTP library (`HTTPS_PROXY`,
`REQUESTS_CA_BUNDLE`), so the test points the unmodified SDK there: this proxy accepts `CONNECT host:443`,
completes TLS as that host with a certificate from a throwaway test CA (trustme), and relays the decrypted
bytes to the emulator's plain HTTP port. Nothing leaves the machine; a host it was not told about is refused.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path
from typing import Iterator

import trustme


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def tls_relay(hosts: tuple[str, ...], emulator_port: int, folder: Path) -> Iterator[dict[str, str]]:
    """Yields the environment (HTTPS_PROXY, REQUESTS_CA_BUNDLE, NO_PROXY) that sends `hosts` to the emulator."""
    authority = trustme.CA()
    served = authority.issue_cert(*hosts)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.configure_cert(context)
    bundle = folder / "test-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_one(client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            verb, target = head.split(b" ", 2)[:2]
            host = target.decode("ascii", "replace").rsplit(":", 1)[0]
            if verb != b"CONNECT" or host not in hosts:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with context.wrap_socket(client, server_side=True) as secure, \
                    socket.create_connection(("127.0.0.1", emulator_port)) as upstream:
                back = threading.Thread(target=_pipe, args=(upstream, secure), daemon=True)
                back.start()
                _pipe(secure, upstream)
                back.join(timeout=30)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        yield {"HTTPS_PROXY": proxy, "https_proxy": proxy, "REQUESTS_CA_BUNDLE": str(bundle), "NO_PROXY": "",
               "no_proxy": ""}
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
