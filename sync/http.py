"""The uplink HTTP client (standard library `http.client`): the only code that opens uplink connections.

One keep-alive connection per endpoint, re-opened after any failure. Every failure to get an answer is
`Unreachable` with the reason; an answer of any status is returned, and the adapter decides what it means.
"""
from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No HTTP answer: refused, reset, timed out, cut mid-response, name not found."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        import json

        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return None


class Http:
    def __init__(self, url: str, timeout: float):
        u = urlsplit(url)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80)
        self.base_path = u.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            # endpoint URLs are validated as http(s)://host...; the cast only restates that for the checker
            if self.scheme == "https":
                self._conn = http.client.HTTPSConnection(cast(str, self.host), self.port, timeout=self.timeout,
                                                         context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(cast(str, self.host), self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        """`path` is relative to the endpoint URL's path ("" for the URL itself). A kept-alive connection
        the server has closed in the meantime is retried once on a fresh one (every request we send is
        idempotent: the endpoints dedup by event id or upsert by record id)."""
        reused = self._conn is not None
        try:
            return self._once(method, path, body, headers)
        except Unreachable:
            if not reused:
                raise
            return self._once(method, path, body, headers)

    def _once(self, method, path, body, headers) -> Response:
        conn = self._connection()
        try:
            conn.request(method, self.base_path + path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
            if r.will_close:
                self.close()
            return resp
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
