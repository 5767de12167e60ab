"""HTTPS in front of waitress, which has no TLS of its own.

A small TLS terminator runs in the appliance's process: an asyncio server on `[web] tls_port` does the
handshakes with the standard library's `ssl` and copies bytes to a second waitress listener on loopback
(`https_listener`), which shares the plain listener's task threads and loop, and marks its requests https.
The terminator's first line to that listener says who the client was (the PROXY protocol's v1 line), so the
login limiter and the logs see the tablet's address, not 127.0.0.1.

Why this and not the alternatives: wrapping waitress's own non-blocking sockets in `ssl` needs waitress to
handle SSL_WANT_READ/WRITE and data buffered inside the TLS layer, which it does not (a large upload stalls);
a reverse proxy (nginx, caddy) is one more package, config and unit to keep in step with the certificates the
appliance makes and renews; asyncio's TLS transport is the standard library's mature implementation, holds
hundreds of idle live streams on one thread, and the certificate is reloaded in place when it is made anew.

Plain HTTP on `[web] port` stays open and answers with a redirect to HTTPS (`PlainGate`), except for what
must stay plain: `/ca.crt` (a tablet fetches the CA before it trusts it; the fingerprint on the admin page is
what makes that safe), `/api/v1/health` (local probes: systemd, Docker's health check), the satellite
stations' signed tap posts (each post and answer carries an HMAC over its body with the station's key,
which keeps them from being forged or replayed; the badge numbers are not secret on a plant LAN), and, with
`[web] plain_loopback`, requests from the box itself (its own kiosk screen: loopback never crosses the LAN).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from waitress.channel import HTTPChannel
from waitress.server import create_server

log = logging.getLogger(__name__)

PLAIN_PATHS = ("/ca.crt", "/api/v1/health", "/api/v1/patrol/station-taps")
PROXY_LINE_MAX = 108   # the PROXY protocol v1 line's longest form


class ProxiedChannel(HTTPChannel):
    """A waitress channel whose first line is the TLS terminator's `PROXY TCP4 <client> <to> <cport> <tport>`."""

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        self._preface: bytes | None = b""

    def received(self, data: bytes) -> bool:
        if self._preface is not None:
            buf = self._preface + data
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > PROXY_LINE_MAX:
                    self.handle_close()
                    return False
                self._preface = buf
                return True
            parts = buf[:end].split(b" ")
            if len(parts) != 6 or parts[0] != b"PROXY":
                self.handle_close()   # not from the terminator: nothing is served without it
                return False
            self.addr = (parts[2].decode("ascii", "replace"), int(parts[4]) if parts[4].isdigit() else 0)
            self._preface = None
            data = buf[end + 2:]
            if not data:
                return True
        return bool(super().received(data))


def https_listener(app, plain_server, **adjustments) -> Any:
    """A waitress listener on 127.0.0.1 (any free port) for the terminator: same loop and threads as
    `plain_server`, requests marked https."""
    srv: Any = create_server(app, map=plain_server._map, _dispatcher=plain_server.task_dispatcher,
                             host="127.0.0.1", port=0, url_scheme="https", **adjustments)
    srv.channel_class = ProxiedChannel
    return srv


class PlainGate:
    """WSGI wrapper for the plain-HTTP listener: a redirect to HTTPS, except for `PLAIN_PATHS` and (when
    `loopback` is on) requests from this box itself. 307, not 308: a browser does not remember it, so turning
    TLS off later does not strand the tablets on an https address."""

    def __init__(self, app, tls_port: int, loopback: bool = True):
        self.app, self.tls_port, self.loopback = app, tls_port, loopback

    def _plain_ok(self, environ) -> bool:
        path = environ.get("PATH_INFO", "")
        if path in PLAIN_PATHS:
            return True
        if self.loopback:
            try:
                return ipaddress.ip_address(environ.get("REMOTE_ADDR", "")).is_loopback
            except ValueError:
                return False
        return False

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") == "https" or self._plain_ok(environ):
            return self.app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if host.startswith("["):
            host = host[: host.index("]") + 1] if "]" in host else host
        else:
            host = host.rsplit(":", 1)[0]
        port = "" if self.tls_port == 443 else f":{self.tls_port}"
        qs = environ.get("QUERY_STRING")
        location = f"https://{host}{port}{quote(environ.get('PATH_INFO', '/'))}{'?' + qs if qs else ''}"
        body = f"HTTPS: {location}\n".encode()
        start_response("307 Temporary Redirect", [("Location", location), ("Content-Type", "text/plain"),
                                                  ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
        return [body]


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


class TlsFront:
    """The TLS terminator: accepts on (host, port), forwards each connection to the https listener."""

    def __init__(self, host: str, port: int, backend_port: int, cert: Path, key: Path):
        self.host, self.want_port, self.backend_port = host, port, backend_port
        self.cert, self.key = cert, key
        self.ctx = server_context(cert, key)
        self.port = 0
        self.open = 0          # connections now
        self.handshake_failures = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> TlsFront:
        self._thread = threading.Thread(target=self._run, name="tls-front", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._handle, self.host, self.want_port, ssl=self.ctx, ssl_handshake_timeout=15,
                reuse_address=True, backlog=128))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _on_loop_error(self, loop, context) -> None:
        exc = context.get("exception")
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            self.handshake_failures += 1   # a tablet that does not trust the CA yet, a port scan
            return
        loop.default_exception_handler(context)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        self.open += 1
        try:
            br, bw = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError as exc:
            log.warning("https: the web listener did not answer", extra={"error": str(exc)})
            self.open -= 1
            writer.close()
            return
        family = "TCP6" if ":" in peer[0] else "TCP4"
        bw.write(f"PROXY {family} {peer[0]} {peer[0] if family == 'TCP6' else '127.0.0.1'} {peer[1]} {self.port}\r\n"
                 .encode("ascii"))
        try:
            await asyncio.gather(_pipe(reader, bw), _pipe(br, writer), return_exceptions=True)
        except asyncio.CancelledError:   # the appliance is stopping: end this connection quietly
            writer.close()
            bw.close()
        finally:
            self.open -= 1

    def reload(self) -> None:
        """Load the certificate files again (made anew for new LAN addresses): new handshakes use them."""
        def load():
            try:
                self.ctx.load_cert_chain(str(self.cert), str(self.key))
                log.info("https: certificate reloaded")
            except (OSError, ssl.SSLError) as exc:
                log.error("https: certificate reload failed; keeping the old one", extra={"error": str(exc)})
        if self._loop is not None:
            self._loop.call_soon_threadsafe(load)

    def health(self) -> dict:
        return {"status": "ok", "port": self.port, "connections": self.open,
                "handshake_failures": self.handshake_failures}

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None or loop.is_closed():
            return

        async def close() -> None:
            server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _ in range(3):   # let the transports the pipes closed finish closing
                await asyncio.sleep(0)
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(close()))
        if self._thread is not None:
            self._thread.join(5)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        writer.close()
