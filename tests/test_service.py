"""The appliance as a process: `python -m appliance run --config ...` started for real, talking to real
peers (a Unix datagram socket standing in for systemd's notify socket, an mDNS browser on loopback, an
SSE client), stopped with SIGTERM.

No timing assertions: every wait polls with a generous deadline; the deadlines only bound a hang.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port, need, run_cli, wait_healthy, write_config

STOP_TIMEOUT = 15  # "exits within ~15 s" after SIGTERM


class Proc:
    """A child `python -m appliance ...` whose output is drained on a thread (a full pipe would block it)
    and which is always killed at cleanup, so no test leaves a process behind."""

    def __init__(self, args: list[str], env: dict | None = None, drop_env: tuple[str, ...] = ()):
        full_env = {**os.environ, **(env or {})}
        for k in drop_env:
            full_env.pop(k, None)
        self.lines: list[str] = []
        self.p = subprocess.Popen([sys.executable, "-m", "appliance", *args], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=full_env)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float) -> int:
        rc = self.p.wait(timeout)
        self._reader.join(5)
        return rc

    def terminate_and_wait(self, timeout: float = STOP_TIMEOUT) -> int:
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"appliance did not exit within {timeout}s of SIGTERM; output:\n{self.output}") from None

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(5)
        if self.p.stdout:
            self.p.stdout.close()


@pytest.fixture
def procs():
    """Start appliance processes with `procs(args, ...)`; every one is killed at teardown."""
    started: list[Proc] = []

    def start(args, **kw) -> Proc:
        pr = Proc(args, **kw)
        started.append(pr)
        return pr

    yield start
    for pr in started:
        pr.kill()


def healthy(base: str, proc: Proc, timeout: float = 30) -> dict:
    try:
        return wait_healthy(base, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nexit code: {proc.p.poll()}\noutput:\n{proc.output}") from None


def get_health(base: str) -> dict:
    import requests

    return requests.get(f"{base}/api/v1/health", timeout=5).json()


# ---------------------------------------------------------------- sd_notify


class NotifySocket:
    """A bound AF_UNIX datagram socket, as systemd offers with Type=notify; collects every datagram."""

    def __init__(self):
        # sun_path is limited to ~108 bytes: pytest's tmp_path can be longer, so use a short private dir.
        self._dir = tempfile.TemporaryDirectory(prefix="sa-notify-")
        self.path = str(Path(self._dir.name) / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.5)
        self.messages: list[str] = []

    def wait_for(self, line: str, timeout: float = 30) -> None:
        """Receive until some datagram carries `line` (datagrams may hold several lines, like STATUS)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line in m.splitlines() for m in self.messages):
                return
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append(data.decode("utf-8", "replace"))
        raise AssertionError(f"{line!r} not received within {timeout}s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()
        self._dir.cleanup()


def test_sd_notify_ready_watchdog_stopping(tmp_path, procs):
    port = free_port()
    cfg = write_config(tmp_path / "data", port)
    ns = NotifySocket()
    try:
        proc = procs(["run", "--config", str(cfg)],
                     env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "2000000"}, drop_env=("WATCHDOG_PID",))
        ns.wait_for("READY=1")
        ready = next(m for m in ns.messages if "READY=1" in m.splitlines())
        assert f"STATUS=serving on port {port}" in ready.splitlines(), ready
        # WatchdogSec=2s: the appliance pets at half of it while database and bus are healthy.
        ns.wait_for("WATCHDOG=1")
        assert proc.p.poll() is None, proc.output

        proc.p.send_signal(signal.SIGTERM)
        ns.wait_for("STOPPING=1")
        try:
            rc = proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit within {STOP_TIMEOUT}s of SIGTERM; output:\n{proc.output}") from None
        assert rc == 0, proc.output
        # READY came before STOPPING, once each.
        flat = [line for m in ns.messages for line in m.splitlines()]
        assert flat.count("READY=1") == 1 and flat.count("STOPPING=1") == 1, flat
        assert flat.index("READY=1") < flat.index("STOPPING=1"), flat
    finally:
        ns.close()


def test_no_notify_socket_still_runs_and_stops(tmp_path, procs):
    """Outside systemd (no NOTIFY_SOCKET, no WATCHDOG_USEC) notify is a no-op, not an error."""
    port = free_port()
    cfg = write_config(tmp_path / "data", port)
    proc = procs(["run", "--config", str(cfg)], drop_env=("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"))
    healthy(f"http://127.0.0.1:{port}", proc)
    assert proc.terminate_and_wait() == 0, proc.output


def test_sigterm_while_starting_stops_cleanly(tmp_path, procs):
    """systemd may stop the unit while it is still starting: the stop is caught from before start(), so
    the appliance finishes starting, then stops cleanly (exit 0) instead of dying half-started."""
    port = free_port()
    cfg = write_config(tmp_path / "data", port)
    proc = procs(["run", "--config", str(cfg)], drop_env=("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"))
    deadline = time.monotonic() + 30
    while "appliance starting" not in proc.output:
        assert proc.p.poll() is None and time.monotonic() < deadline, proc.output
        time.sleep(0.01)
    assert proc.terminate_and_wait() == 0, proc.output
    assert "appliance stopped" in proc.output, proc.output


# ---------------------------------------------------------------- health


def test_health_components_after_start(tmp_path, procs):
    port = free_port()
    cfg = write_config(tmp_path / "data", port)
    # A nearly full CI disk must not turn this test red: the disk threshold is not what it checks.
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[storage]\n", "[storage]\ndisk_min_free_mb = 1\n", 1),
                   encoding="utf-8")
    proc = procs(["run", "--config", str(cfg)])
    base = f"http://127.0.0.1:{port}"
    body = healthy(base, proc)

    comps = body["components"]
    for name in ("database", "scheduler", "disk", "event_bus"):
        assert name in comps, comps
        assert comps[name].get("status") in ("ok", "degraded", "fault"), (name, comps[name])
    assert "discovery" not in comps, "discovery is disabled in this config"
    assert body["status"] == "ok", body
    assert all(c["status"] == "ok" for c in comps.values()), comps
    assert body["appliance_id"] == "test-1"
    assert comps["database"]["event_head"] >= 1  # system.started is recorded at start
    assert comps["event_bus"]["head"] >= 1
    # the core's jobs and every enabled domain's (registered through appliance/domains.py)
    jobs = {j["id"] for j in comps["scheduler"]["jobs"]}
    assert {"backup", "wal-checkpoint", "memory-trim", "hazard-deadlines", "control-tasks", "patrol-rounds",
            "vision-evidence", "emergency-resource-warnings"} <= jobs, jobs

    assert proc.terminate_and_wait() == 0, proc.output


# ---------------------------------------------------------------- zeroconf


def wait_discovery_settled(base: str, timeout: float = 30) -> dict:
    """The health `discovery` component once registration has finished one way or the other."""
    deadline = time.monotonic() + timeout
    disc: dict = {}
    while time.monotonic() < deadline:
        disc = get_health(base)["components"].get("discovery") or {}
        if disc.get("status") not in (None, "starting"):   # ok, or degraded with the reason it failed
            return disc
        time.sleep(0.2)
    raise AssertionError(f"discovery did not settle within {timeout}s: {disc}")


@pytest.mark.usefixtures("mdns_lock")
def test_zeroconf_advertised_on_loopback(tmp_path, procs):
    try:
        from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf
    except ImportError:  # pragma: no cover - installed with the appliance
        need(False, "zeroconf is not importable")
    from appliance.core.discovery import SERVICE_TYPE

    assert SERVICE_TYPE == "_safety-appliance._tcp.local."  # what tablets and reader stations browse for
    port = free_port()
    cfg = write_config(tmp_path / "data", port, discovery=True)
    proc = procs(["run", "--config", str(cfg)])
    base = f"http://127.0.0.1:{port}"
    healthy(base, proc)
    # Registration runs on its own thread after start: wait until it has finished either way.
    disc = wait_discovery_settled(base)
    assert disc["status"] == "ok", f"{disc}\n{proc.output}"

    found: dict = {}
    seen = threading.Event()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is not ServiceStateChange.Added:
            return
        # Another appliance (another test run on this host) may be advertising too: pick ours by port.
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is not None and info.port == port:
            found.update(name=name, port=info.port, props=info.properties,
                         addresses=info.parsed_addresses())
            seen.set()

    # use_asyncio=False: Playwright's sync API (test_browser.py, same session) owns this thread's loop.
    zc = Zeroconf(interfaces=["127.0.0.1"], use_asyncio=False)
    browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
    try:
        # Found in ~1 s on an idle box; allow for a slow, loaded 2-core machine.
        assert seen.wait(30), f"{SERVICE_TYPE} on port {port} not found; output:\n{proc.output}"
    finally:
        browser.cancel()
        zc.close()
    assert found["port"] == port
    assert found["name"].startswith("safety-appliance-test-1"), found
    assert found["props"].get(b"id") == b"test-1", found
    assert "127.0.0.1" in found["addresses"], found

    disc = get_health(base)["components"]["discovery"]
    assert disc["status"] == "ok", disc
    assert disc["port"] == port

    assert proc.terminate_and_wait() == 0, proc.output


# ---------------------------------------------------------------- broken config


@pytest.mark.parametrize("section, line, key", [
    ("[web]\n", "prot = 8080\n", "web.prot"),                    # a typo: unknown key
    ("[web]\n", 'threads = "many"\n', "web.threads"),            # wrong type
    ("[site]\n", 'timezone = "Mars/Olympus"\n', "site.timezone"),  # bad value
], ids=["unknown-key", "wrong-type", "bad-value"])
def test_run_with_broken_config_exits_2(tmp_path, section, line, key):
    cfg = write_config(tmp_path / "data", free_port())
    text = cfg.read_text(encoding="utf-8")
    if key == "web.threads":
        text = text.replace("threads = 80\n", "")
    cfg.write_text(text.replace(section, section + line, 1), encoding="utf-8")

    r = run_cli("run", "--config", str(cfg))
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert key in r.stderr, out
    assert "Traceback" not in out, out
    assert not (tmp_path / "data" / "appliance.db").exists(), "a broken config must not touch the database"


def test_run_with_missing_config_exits_2(tmp_path):
    r = run_cli("run", "--config", str(tmp_path / "nope.toml"))
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "nope.toml" in r.stderr, out
    assert "Traceback" not in out, out


# ---------------------------------------------------------------- clean shutdown with an SSE client


def sse_shutdown_scenario(tmp_path, procs) -> tuple[int, Proc, list[str]]:
    """Run an appliance with a kiosk's SSE stream open, then SIGTERM it: (exit code, process, lines read)."""
    import requests

    port = free_port()
    cfg = write_config(tmp_path / "data", port)
    r = run_cli("create-token", "--config", str(cfg), "--name", "t")
    assert r.returncode == 0, r.stdout + r.stderr
    token = r.stdout.splitlines()[0].strip()
    assert token

    proc = procs(["run", "--config", str(cfg)])
    base = f"http://127.0.0.1:{port}"
    healthy(base, proc)

    resp = requests.get(f"{base}/api/v1/stream", headers={"Authorization": f"Bearer {token}"},
                        stream=True, timeout=(5, 60))
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    received: list[str] = []
    connected, ended = threading.Event(), threading.Event()

    def read():
        try:
            for line in resp.iter_lines(decode_unicode=True):
                received.append(line)
                if line.startswith("retry:"):
                    connected.set()
        except requests.RequestException as exc:
            received.append(f"<error {exc}>")
        finally:
            ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert connected.wait(30), received
        # An event committed by another process (the CLI) reaches the open stream through the bus.
        r = run_cli("create-token", "--config", str(cfg), "--name", "t2")
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("device_token.created" in x and '"t2"' in x for x in received):
            time.sleep(0.1)
        assert any("device_token.created" in x and '"t2"' in x for x in received), received

        rc = proc.terminate_and_wait()
        assert ended.wait(30), "the SSE stream was still open after the appliance exited"
        return rc, proc, received
    finally:
        resp.close()
        reader.join(10)


def test_sigterm_with_sse_client_connected(tmp_path, procs):
    rc, proc, _ = sse_shutdown_scenario(tmp_path, procs)
    assert rc == 0, proc.output
    assert "appliance stopped" in proc.output, proc.output
    # A clean stop: no waitress "Bad file descriptor" from closing sockets under its own loop.
    assert "Traceback" not in proc.output, proc.output


@pytest.mark.parametrize("found, advertised", [
    (["127.0.0.1", "192.168.10.20"], ["192.168.10.20"]),             # a Pi: the LAN address, not loopback
    (["127.0.1.1", "127.0.0.1", "10.1.2.3", "192.168.10.20"], ["10.1.2.3", "192.168.10.20"]),  # every LAN
    (["127.0.0.1"], ["127.0.0.1"]),                                   # nothing else: loopback
    (["fe80::1", "127.0.0.1", "172.16.0.9"], ["172.16.0.9"]),         # IPv6 is not advertised here
])
def test_mdns_advertises_the_lan_addresses(found, advertised):
    """#16: a stock Raspberry Pi OS maps its hostname to 127.0.1.1 in /etc/hosts; advertising what the hostname
    resolves to sent stations and tablets to themselves. The interfaces' own addresses are advertised."""
    from appliance.core.discovery import lan_addresses

    assert lan_addresses(found) == advertised


def test_mdns_with_a_stock_pi_os_etc_hosts_advertises_the_interface_address(tmp_path):
    """#16, with the real files: a box whose /etc/hosts maps its hostname to 127.0.1.1 (as Raspberry Pi OS
    writes it) and whose LAN address is 10.9.8.7 (an address of its own network namespace) advertises
    10.9.8.7 and no loopback address, although its hostname resolves to 127.0.1.1."""
    import shutil

    from conftest import ROOT, need

    need(os.geteuid() == 0, "root (a private mount and network namespace)")
    need(shutil.which("unshare") is not None and shutil.which("ip") is not None, "unshare and ip (util-linux, iproute2)")
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
                     f"ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t{socket.gethostname()}\n")
    probe = tmp_path / "probe.py"
    probe.write_text("import socket, sys\n"
                     f"sys.path.insert(0, {str(ROOT)!r})\n"
                     "from appliance.core import discovery\n"
                     "print('resolves', socket.gethostbyname(socket.gethostname()))\n"
                     "print('advertised', ','.join(socket.inet_ntoa(a) for a in discovery._addresses([])))\n")
    script = (f"set -e; mount --bind {hosts} /etc/hosts; ip link set lo up; ip addr add 10.9.8.7/32 dev lo; "
              f"{sys.executable} {probe}")
    r = subprocess.run(["unshare", "--mount", "--net", "bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resolves 127.0.1.1" in r.stdout, r.stdout           # the Pi-style file is what the box reads
    assert "advertised 10.9.8.7\n" in r.stdout, r.stdout        # the interface's address, nothing of loopback


DAY = 86_400_000


@pytest.mark.parametrize("now, last, status", [
    (1_796_000_000_000, None, "ok"),                              # 2026-12: a fresh database
    (1_796_000_000_000, 1_796_000_000_000 - DAY, "ok"),
    (1_796_000_000_000, 1_796_000_000_000 + 60_000, "ok"),        # within the tolerance (events from a station)
    (1_796_000_000_000, 1_796_000_000_000 + 10 * 60_000, "fault"),  # went back 10 min
    (946_684_800_000, None, "fault"),                             # 2000-01-01: a Pi without RTC or NTP
    (1_767_225_599_999, None, "fault"),                           # just before 2026
    (1_767_225_600_000, None, "ok"),
])
def test_clock_plausibility(now, last, status):
    """#16: rounds, deadlines and expiries are judged on the wall clock; an unset or backwards clock is a
    fault the board shows."""
    from appliance.core.health import clock_verdict

    v = clock_verdict(now, last)
    assert v["status"] == status and (status == "ok" or v["reason"])


NOW = 1_796_000_000_000


@pytest.mark.parametrize("now, last, rtc, status", [
    (NOW, None, None, "ok"),                                      # no hardware clock (a Pi 4 without a module)
    (NOW, None, NOW - 119_000, "ok"),                             # within the tolerance (the RTC counts whole s)
    (NOW, None, NOW + 119_000, "ok"),
    (NOW, None, NOW - 121_000, "degraded"),                       # one of the two is wrong
    (NOW, None, NOW + 3_600_000, "degraded"),                     # an hour: a zone set by hand as UTC
    (NOW, None, 0, "ok"),                                         # RTC never set (flat battery): not a comparison
    (NOW, NOW + 10 * 60_000, NOW, "fault"),                       # went backwards: the fault wins
    (946_684_800_000, None, NOW, "fault"),                        # unset system clock, whatever the RTC says
])
def test_clock_against_the_hardware_clock(now, last, rtc, status):
    from appliance.core.health import clock_verdict

    v = clock_verdict(now, last, rtc)
    assert v["status"] == status and (status == "ok" or v["reason"])
    if status == "degraded":
        assert "RTC" in v["reason"] and f"{(now - rtc) // 1000:+d} s" in v["reason"]


def test_the_hardware_clock_is_read_from_sysfs(tmp_path):
    from appliance.core.health import RTC_SINCE_EPOCH, read_rtc_ms

    assert str(RTC_SINCE_EPOCH) == "/sys/class/rtc/rtc0/since_epoch"
    f = tmp_path / "since_epoch"
    assert read_rtc_ms(f) is None                                 # no RTC
    f.write_text("1796000000\n")
    assert read_rtc_ms(f) == 1_796_000_000_000
    f.write_text("garbage")
    assert read_rtc_ms(f) is None


def test_newest_recorded_time_follows_the_log_and_its_replacement(tmp_path, monkeypatch):
    """The clock check's max(recorded_at) is kept from the events after the last one seen (a scan of 1 M events
    on every health check took 52 ms, issue 14), is still the max when the clock went back, and is worked out
    afresh for another database or a log that was replaced."""
    from appliance.core import db, events
    from appliance.core.health import _NewestRecorded, clock_check

    newest = _NewestRecorded()

    def put(path, seq_times):
        conn = db.connect_raw(path)
        conn.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, recorded_at INTEGER, hash TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?)", [(s, t, f"h{s}-{t}") for s, t in seq_times])
        conn.close()

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    put(a, [(1, 1000), (2, 5000), (3, 2000)])
    db.open_database(a)
    assert newest() == 5000
    put(a, [(4, 3000)])                                  # the clock went back: the max stays
    assert newest() == 5000
    put(a, [(5, 9000)])
    assert newest() == 9000
    put(b, [(1, 10), (2, 20)])                           # another database
    db.open_database(b)
    assert newest() == 20
    conn = db.connect_raw(b)                             # the log replaced (a restore): same seqs, other events
    conn.execute("DELETE FROM events")
    conn.close()
    put(b, [(1, 7), (2, 8), (3, 6)])
    assert newest() == 8
    db.open_database(tmp_path / "empty.db")
    db.connect_raw(tmp_path / "empty.db").execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, recorded_at INTEGER, hash TEXT)")
    assert newest() is None
    # and the check itself: events recorded a day ahead of the clock make it a fault
    put(tmp_path / "empty.db", [(1, events.now_ms() + 86_400_000)])
    assert clock_check(None)["status"] == "fault"
