"""HTTPS on the LAN (issue 16): the appliance's own CA and server certificate, a real TLS handshake verified with
that CA by `ssl`, the plain-HTTP redirect and what stays plain, Secure cookies, the client's address through
the terminator, the certificate made anew for new LAN addresses, and the config keys."""
from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from appliance.core import tls
from appliance.core.errors import ConfigError
from appliance.core.https import PlainGate
from conftest import PASSWORD, wait_until, write_config


def _paths(d: Path) -> tls.Paths:
    return tls.Paths(ca_cert=d / "ca.crt", cert=d / "server.crt", key=d / "server.key", ca_key=d / "ca.key")


def test_certificates_made_private_kept_and_renewed_for_new_addresses(tmp_path):
    p = _paths(tmp_path / "tls")
    dns, ips = tls.wanted_names("plantbox", ["192.168.1.20"], ("safety-appliance-a1.local",))
    assert dns == ["localhost", "plantbox", "plantbox.local", "safety-appliance-a1.local"]
    assert ips == ["127.0.0.1", "192.168.1.20"]
    assert tls.ensure(p, dns, ips) == "missing"
    for f in (p.ca_cert, p.ca_key, p.cert, p.key):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(p.cert.parent.stat().st_mode) == 0o700
    ca = x509.load_pem_x509_certificate(p.ca_cert.read_bytes())
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650   # ten years
    cert = x509.load_pem_x509_certificate(p.cert.read_bytes())
    assert tls.names_of(cert) == (dns, ips)
    fp = tls.ca_fingerprint(p)
    assert fp and re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fp)

    assert tls.ensure(p, dns, ips) is None                       # a restart keeps what is there
    assert x509.load_pem_x509_certificate(p.cert.read_bytes()).serial_number == cert.serial_number

    dns2, ips2 = tls.wanted_names("plantbox", ["192.168.1.20", "10.0.0.7"])
    assert tls.ensure(p, dns2, ips2) == "the LAN names changed"  # DHCP gave it a new address
    assert tls.names_of(x509.load_pem_x509_certificate(p.cert.read_bytes()))[1] == ["10.0.0.7", "127.0.0.1",
                                                                                     "192.168.1.20"]
    assert tls.ca_fingerprint(p) == fp                           # the tablets' trust stays valid


def test_config_keys_are_checked_and_named(tmp_path):
    from appliance.config import parse_config

    cfg = parse_config("")
    assert cfg.web.tls is True and cfg.web.tls_port == 8443      # HTTPS by default on a box
    with pytest.raises(ConfigError) as e:
        parse_config(f'[web]\ntls_cert = "{tmp_path / "x.crt"}"\n')
    keys = {d["key"] for d in e.value.details}
    assert "web.tls_key" in keys and "web.tls_cert" in keys     # the missing partner, the missing file
    with pytest.raises(ConfigError) as e:
        parse_config("[web]\nport = 8443\n")
    assert [d["key"] for d in e.value.details] == ["web.tls_port"]
    with pytest.raises(ConfigError) as e:
        parse_config("[web]\ntls = 'maybe'\n")
    assert [d["key"] for d in e.value.details] == ["web.tls"]


def test_plain_gate_redirects_all_but_what_must_stay_plain():
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"app"]

    def run(gate, path, remote="192.168.1.50", host="box.local:8080", qs=""):
        seen = {}
        body = gate({"PATH_INFO": path, "REMOTE_ADDR": remote, "HTTP_HOST": host, "QUERY_STRING": qs,
                     "wsgi.url_scheme": "http"}, lambda status, headers: seen.update(status=status, h=dict(headers)))
        return seen["status"], seen["h"].get("Location"), b"".join(body)

    gate = PlainGate(app, 8443, loopback=True)
    assert run(gate, "/tablet", qs="a=1") == ("307 Temporary Redirect", "https://box.local:8443/tablet?a=1",
                                              b"HTTPS: https://box.local:8443/tablet?a=1\n")
    assert run(gate, "/kiosk", host="[fe80::1]:8080")[1] == "https://[fe80::1]:8443/kiosk"
    for path in ("/ca.crt", "/api/v1/health", "/api/v1/patrol/station-taps"):
        assert run(gate, path)[0] == "200 OK"
    assert run(gate, "/kiosk", remote="127.0.0.1")[0] == "200 OK"          # the box's own screen
    assert run(PlainGate(app, 443, loopback=False), "/kiosk", remote="127.0.0.1")[1] == "https://box.local/kiosk"


def _tls_config(tmp_path: Path) -> Path:
    path = write_config(tmp_path / "live")
    text = path.read_text(encoding="utf-8").replace("tls = false\n", "tls = true\ntls_port = 0\nplain_loopback = false\n")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def https_appliance(tmp_path):
    from appliance.config import load_config
    from appliance.core import auth
    from appliance.service import Appliance

    cfg = load_config(_tls_config(tmp_path))
    appliance = Appliance(cfg).start()
    auth.create_user(auth.UserIn(login="boss", password=PASSWORD, role="admin"), actor="system:test")
    yield appliance
    appliance.stop()


def _get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def test_https_end_to_end(https_appliance, tmp_path):
    a = https_appliance
    paths = tls.paths_for(a.config)
    assert a.front is not None and a.url == f"https://127.0.0.1:{a.front.port}"
    ctx = ssl.create_default_context(cafile=str(paths.ca_cert))  # verifies the chain and the name
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", a.front.port), 5) as raw, \
                ctx.wrap_socket(raw, server_hostname=name) as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200 ") and b'"https"' in reply
    with pytest.raises(ssl.SSLCertVerificationError):     # a client without the CA is refused
        with socket.create_connection(("127.0.0.1", a.front.port), 5) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")

    plain = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
    status, h, _ = _get(plain, "/tablet?x=1")
    assert status == 307 and h["location"] == f"https://127.0.0.1:{a.front.port}/tablet?x=1"
    status, h, body = _get(plain, "/ca.crt")                 # stays plain: fetched before it is trusted
    assert status == 200 and body == paths.ca_cert.read_bytes() and body.startswith(b"-----BEGIN CERTIFICATE")
    assert _get(plain, "/api/v1/health")[0] == 200           # local probes

    # log in over HTTPS from 127.0.0.2: the cookie is Secure, and the app sees the client's own address
    conn = http.client.HTTPSConnection("127.0.0.1", a.front.port, context=ctx, timeout=5,
                                       source_address=("127.0.0.2", 0))
    status, h, page = _get(conn, "/login")
    assert status == 200
    cookie = h["set-cookie"].split(";")[0]
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
    form = f"login=boss&password=wrong-one&csrf_token={token}"
    conn.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "Cookie": cookie})
    r = conn.getresponse()
    r.read()
    assert r.status == 401
    from appliance.core.events import Event

    failed = Event.select().where(Event.type == "auth.login_failed").order_by(Event.seq.desc()).get()
    assert '"127.0.0.2"' in failed.payload                   # not the terminator's 127.0.0.1
    form = f"login=boss&password={PASSWORD}&csrf_token={token}"
    conn.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "Cookie": cookie})
    r = conn.getresponse()
    r.read()
    assert r.status == 302
    session_cookie = next(c for c in r.headers.get_all("Set-Cookie") if c.startswith("sa_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie

    # the admin page: the CA's fingerprint and a QR code of the plain download address
    status, _, page = _get(conn, "/admin", {"Cookie": session_cookie.split(";")[0]})
    assert status == 200
    assert tls.ca_fingerprint(paths).encode() in page
    assert f"http://127.0.0.1:{a.port}/ca.crt".encode() in page, re.findall(rb"http://[^<\"]*ca.crt", page)
    status, h, png = _get(conn, "/admin/ca-qr.png", {"Cookie": session_cookie.split(";")[0]})
    assert status == 200 and h["content-type"] == "image/png" and png.startswith(b"\x89PNG")
    import cv2
    import numpy as np

    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE))
    assert text == f"http://127.0.0.1:{a.port}/ca.crt"

    # a large upload crosses the terminator whole (TLS records larger than one read; no stall at the end)
    noise = np.random.default_rng(16).integers(0, 255, (1500, 2000, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok and len(jpeg) > 3_000_000
    boundary = "tlsboundary16"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + jpeg.tobytes() + f"\r\n--{boundary}--\r\n".encode()
    csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
    conn.request("POST", "/api/v1/photos", body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": session_cookie.split(";")[0],
        "X-CSRF-Token": csrf})
    r = conn.getresponse()
    assert r.status == 201, r.read()
    assert len(json.loads(r.read())["sha256"]) == 64
    conn.close()

    # the live stream (SSE) arrives through the terminator as it happens
    from appliance.core import auth, events

    token = auth.create_device_token("wall-tls", actor="system:test")
    sse = http.client.HTTPSConnection("127.0.0.1", a.front.port, context=ctx, timeout=10)
    sse.request("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(events.head_seq())})
    stream = sse.getresponse()
    assert stream.status == 200
    events.record("system.tls_probe", actor="system:test", payload={"n": 16})
    seen = b""
    while b"system.tls_probe" not in seen:
        seen += stream.fp.readline()
    sse.close()
    plain.close()

    # a new LAN address: the certificate is made again and the running terminator serves it
    dns, ips = tls.lan_names(a.config)
    assert tls.ensure(paths, dns, [*ips, "10.99.0.1"]) == "the LAN names changed"
    a.front.reload()   # runs on the terminator's loop: the next handshakes get the new certificate

    def served_ips() -> list[str]:
        with socket.create_connection(("127.0.0.1", a.front.port), 5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return [v for k, v in s.getpeercert()["subjectAltName"] if k == "IP Address"]

    assert wait_until(lambda: "10.99.0.1" in served_ips(), timeout=5)
    with socket.create_connection(("127.0.0.1", a.front.port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname="10.99.0.1"):   # verified against the new address
        pass
