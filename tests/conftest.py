"""Shared fixtures: a real SQLite file per test, the Flask app and client on it, users of every role,
a running appliance (waitress + bus + scheduler) on a free port, and real peers.

A test whose real peer cannot be had fails when CI=true and is skipped (with the reason) otherwise: use
`need(condition, reason)`.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import domains

# every enabled domain registered with the core, as the service and the CLI do at start
domains.load()

# cheap password hashes in this process (the appliances the tests start as subprocesses keep the real cost)
from appliance.core import auth  # noqa: E402

auth.HASH_METHOD = "pbkdf2:sha256:1000"

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROLES = ("admin", "safety_officer", "supervisor", "worker")
PASSWORD = "correct-horse-9"


def need(condition: bool, reason: str) -> None:
    """Fail in CI, skip elsewhere, when a real peer this test needs is missing."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required test peer missing in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def mdns_lock():
    """Taken by the tests that advertise an appliance "test-1" by mDNS on 127.0.0.1, so that they take turns
    across xdist workers (and test runs) on this host: a station browsing for "test-1" would otherwise find
    another test's appliance."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "safety-appliance-tests-mdns.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(data_dir: Path, port: int = 0, extra: str = "", discovery: bool = False) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "appliance.toml"
    path.write_text(
        f'[site]\nname = "测试工厂"\nname_en = "Test plant"\nappliance_id = "test-1"\n\n'
        f'[storage]\ndata_dir = "{data_dir}"\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\nthreads = 80\ntls = false\n\n'
        f'[discovery]\nenabled = {"true" if discovery else "false"}\ninterfaces = ["127.0.0.1"]\n\n'
        f'[logging]\nformat = "text"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path):
    from appliance.config import load_config

    return load_config(write_config(tmp_path / "data"))


def _buffered_client_class():
    from flask.testing import FlaskClient

    class BufferedClient(FlaskClient):
        """Reads each response whole and closes it (files sent with send_file included), so no test leaves
        a file handle open behind a response it never read."""

        def open(self, *args, **kwargs):
            kwargs.setdefault("buffered", True)
            response = super().open(*args, **kwargs)
            # a multipart body is spooled into a temporary file that werkzeug's builder leaves open
            body = getattr(response, "request", None) and response.request.environ.get("wsgi.input")
            if body is not None and hasattr(body, "close"):
                body.close()
            return response

    return BufferedClient


BufferedClient = _buffered_client_class()


@pytest.fixture
def app(config):
    from appliance.domains import create_app

    application = create_app(config)
    application.config["TESTING"] = True
    application.test_client_class = BufferedClient
    yield application
    from appliance.core import db

    db.database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(app):
    """One user per role plus a kiosk device token: {role: login} and {"kiosk": token}."""
    from appliance.core import auth

    out = {}
    for role in ROLES:
        auth.create_user(auth.UserIn(login=f"u_{role}", password=PASSWORD, role=role), actor="system:test")
        out[role] = f"u_{role}"
    out["kiosk"] = auth.create_device_token("test-wall", actor="system:test")
    return out


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


class As:
    """A test client acting as one role: session login for users, bearer token for the kiosk."""

    def __init__(self, app, role: str | None, users: dict):
        self.c = app.test_client()
        self.role = role
        self.headers = {}
        if role == "kiosk":
            self.headers["Authorization"] = f"Bearer {users['kiosk']}"
        elif role is not None:
            page = self.c.get("/login").get_data(as_text=True)
            r = self.c.post("/login", data={"login": users[role], "password": PASSWORD, "csrf_token": csrf_from(page)})
            assert r.status_code == 302, r.get_data(as_text=True)
            self.headers["X-CSRF-Token"] = csrf_from(self.c.get("/login").get_data(as_text=True))

    def open(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.c.open(path, method=method, headers=headers, **kw)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def as_role(app, users):
    return lambda role: As(app, role, users)


@pytest.fixture
def running(tmp_path):
    """A whole appliance (web server, bus, scheduler) in this process on a free port."""
    from appliance.config import load_config
    from appliance.service import Appliance

    cfg = load_config(write_config(tmp_path / "live"))
    appliance = Appliance(cfg).start()
    yield appliance
    appliance.stop()


def spawn(args: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}, **kw)


def wait_healthy(base: str, timeout: float = 20) -> dict:
    import requests

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{base}/api/v1/health", timeout=1)
            if r.status_code == 200:
                return r.json()
            last = r.text
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"appliance at {base} did not become healthy: {last}")


def run_cli(*args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args], cwd=ROOT, capture_output=True, text=True,
                          input=input, env={**os.environ, **(env or {})}, timeout=60)


def spawn_peer(args: list[str], timeout: float = 15) -> subprocess.Popen:
    """Start a peer process that prints READY when it is about to serve; its output is drained."""
    import threading

    p = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.strip() == "READY":
            drain = threading.Thread(target=_drain, args=(p.stdout,), daemon=True)
            drain.start()
            p.drain = drain  # type: ignore[attr-defined]  # close_pipes waits for it
            return p
        if not line and p.poll() is not None:
            break
    p.kill()
    raise RuntimeError(f"peer {args} did not become ready (rc={p.poll()})")


def stop_peer(p: subprocess.Popen, timeout: float = 5, close: bool = True) -> None:
    """Stop a child (TERM, then KILL) and, unless told to keep them for reading, close its pipes."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if close:
        close_pipes(p)


def _drain(stream) -> None:
    """Read a child's output to the end so a full pipe never blocks it."""
    try:
        for _ in stream:
            pass
    except (OSError, ValueError):  # closed under us at teardown
        pass


def drain_lines(p: subprocess.Popen, sink: list) -> None:
    """Collect a child's output lines into `sink` on a thread (a full pipe would block the child);
    close_pipes waits for it."""
    import threading

    def run():
        try:
            for line in p.stdout:
                sink.append(line)
        except (OSError, ValueError):  # closed under us at teardown
            pass

    drain = threading.Thread(target=run, daemon=True)
    drain.start()
    p.drain = drain  # type: ignore[attr-defined]


def close_pipes(p: subprocess.Popen) -> None:
    """Close our ends of a finished child's pipes (a drain thread reading stdout ends at EOF first)."""
    drain = getattr(p, "drain", None)
    if drain is not None:
        drain.join(5)
    for pipe in (p.stdin, p.stdout, p.stderr):
        if pipe is not None and not pipe.closed:
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


@pytest.fixture
def pty_pair(tmp_path):
    """Two linked pseudo-terminals from socat: a serial line without hardware."""
    import shutil

    need(shutil.which("socat") is not None, "socat (Debian package socat)")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    p = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if a.exists() and b.exists():
            break
        time.sleep(0.02)
    else:
        stop_peer(p)
        pytest.fail("socat did not create the pty links")
    yield str(a), str(b)
    stop_peer(p)


def login_session(base: str, login: str, password: str = PASSWORD):
    """A requests.Session logged in through the real login form, with the CSRF header set."""
    import requests

    s = requests.Session()
    token = csrf_from(s.get(f"{base}/login", timeout=5).text)
    r = s.post(f"{base}/login", data={"login": login, "password": password, "csrf_token": token},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    s.headers["X-CSRF-Token"] = csrf_from(s.get(f"{base}/login", timeout=5).text)
    return s


class Taps:
    """A reader driver's sink that keeps its taps; `wait(n)` blocks until n have come (or times out)."""

    def __init__(self):
        import threading

        self.taps = []
        self._cv = threading.Condition()

    def __call__(self, tap) -> None:
        with self._cv:
            self.taps.append(tap)
            self._cv.notify_all()

    def wait(self, n: int, timeout: float = 10) -> list:
        with self._cv:
            self._cv.wait_for(lambda: len(self.taps) >= n, timeout)
            return list(self.taps)

    @property
    def uids(self) -> list[str]:
        with self._cv:
            return [t.uid for t in self.taps]


def wait_until(predicate, timeout: float = 10, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Pcscd:
    """The machine's one pcscd (its socket is /run/pcscd/pcscd.comm whatever the environment says) with
    two vsmartcard-vpcd virtual readers, `slots` = [(reader name, card port), …].

    Started here when none runs, from a private reader.conf.d: the readers are named "Test PCD <pid>"
    and listen on a free port pair, so another session's virtual cards (on vpcd's default 35963/35964)
    cannot land on our readers. When a pcscd already runs (systemd on a workstation, another session's
    tests) its default "Virtual PCD 00 00/01" readers are used, shared; `stop()`/`start()` bounce the
    daemon only when it is ours (`owned`)."""

    VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")

    def __init__(self, conf_dir: Path):
        self.conf_dir = conf_dir
        self.proc: subprocess.Popen | None = None
        self.owned = False
        self.slots: list[tuple[str, int]] = []

    @staticmethod
    def readers() -> list[str] | None:
        """The reader names pcscd lists, or None when pcscd does not answer."""
        from smartcard import scard

        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            return None
        try:
            hr, names = scard.SCardListReaders(ctx, [])
            return list(names) if hr == scard.SCARD_S_SUCCESS else []
        finally:
            scard.SCardReleaseContext(ctx)

    def _private_conf(self) -> None:
        for _ in range(50):
            port = free_port()
            if port < 65535:
                try:
                    with socket.socket() as s:
                        s.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
                break
        name = f"Test PCD {os.getpid()}"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{name}"\nDEVICENAME /dev/null:0x{port:04X}\nLIBPATH {self.VPCD_DRIVER}\n'
            f"CHANNELID 0x{port:04X}\n", encoding="utf-8")
        self.slots = [(f"{name} 00 00", port), (f"{name} 00 01", port + 1)]

    def start(self, timeout: float = 15) -> None:
        if not self.owned and self.readers() is not None:  # someone else's pcscd
            self.slots = [(f"Virtual PCD 00 0{i}", 35963 + i) for i in range(2)]
            return
        if not self.slots:
            self._private_conf()
        self.proc = subprocess.Popen(["pcscd", "-f", "-c", str(self.conf_dir)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.owned = True
        if not wait_until(lambda: self.slots[0][0] in (self.readers() or []), timeout):
            raise RuntimeError("pcscd started but lists no vpcd reader")

    def stop(self) -> None:
        if self.proc is not None:
            stop_peer(self.proc, timeout=10)
            self.proc = None


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    """pcscd with the vpcd virtual readers: one per machine, so one per test session. Its users must sit in one
    test module, which `--dist loadfile` keeps on one xdist worker (tests/test_readers_pcsc.py)."""
    import shutil

    need(shutil.which("pcscd") is not None and Pcscd.VPCD_DRIVER.exists(),
         "pcscd and vsmartcard-vpcd (Debian packages pcscd vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        need(False, "pyscard (pip install -e '.[pcsc]'; builds against Debian's libpcsclite-dev)")
    daemon = Pcscd(tmp_path_factory.mktemp("pcscd") / "reader.conf.d")
    daemon.start()
    need(daemon.slots[0][0] in (daemon.readers() or []),
         "the pcscd already running lists no 'Virtual PCD 00 00' (vsmartcard-vpcd installed after it started?)")
    yield daemon
    daemon.stop()


# ---------------------------------------------------------------- the real browser (Playwright on Debian's chromium)
# One per test worker for the whole session, shared by every browser test file: a second sync_playwright()
# in the same process fails ("Sync API inside the asyncio loop").

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000          # generous: a loaded 2-core CI box


def expect_saved(page, timeout: int = WAIT_MS) -> None:
    """A form was saved and the page is done with it: "已保存" (#form-status.ok) on a page that is not about to
    reload. A save that shows its record reloads the page (forms.js marks <html data-reloading> until then, and
    keeps the message across the reload), so this waits for the reloaded page: the next step never races it."""
    from playwright.sync_api import expect

    expect(page.locator("html:not([data-reloading]) #form-status.ok")).to_be_attached(timeout=timeout)


@pytest.fixture(scope="session")
def browser():
    need(_sync_playwright() is not None, "playwright is not importable")
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    pw = _sync_playwright()().start()
    try:
        # The first launch on a cold box once took 11 s (TESTING.md §5): allow far more.
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=120_000)
    except Exception:
        pw.stop()
        raise
    yield b
    b.close()
    pw.stop()


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - need() reports it
        return None
    return sync_playwright


@pytest.fixture
def new_page(browser):
    """new_page(width, height): a page in a fresh context (own cookies: session, language)."""
    contexts, console = [], []

    def make(width: int = 1920, height: int = 1080):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        ctx.set_default_timeout(WAIT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: console.append(f"{time.strftime('%H:%M:%S')} console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"{time.strftime('%H:%M:%S')} pageerror: {e}"))
        page.on("framenavigated", lambda f: console.append(f"{time.strftime('%H:%M:%S')} navigated: {f.url}")
                if f.parent_frame is None else None)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    print("--- browser console and navigations:")
    print("\n".join(console))
