"""Start and stop order of the running appliance (`safety-appliance run` and `demo`).

start: database (migrations after a backup) → event bus → each enabled domain's start hook in `domains.ENABLED` order
(gas: sensors and bus drivers; patrol: badge readers; vision: the vision process; sync: the uplink) → scheduler →
web server → mDNS → READY.
stop (SIGTERM/SIGINT): STOPPING → mDNS → each domain's stop (drivers, readers, vision process, sync) → event bus (ends
SSE streams) → web server → scheduler → database.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from waitress.server import create_server

from appliance import __version__, domains
from appliance.config import Config
from appliance.core import auth, events, https, jobs, memory, notify, storage, tls
from appliance.core.discovery import Advertiser
from appliance.core.health import overall
from appliance.core.people import Site, set_site
from appliance.core.web import Runtime

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

# How long a thread may hold the interpreter before another runnable one gets it (CPython's default 5 ms).
# A register import or a report is CPU work on a thread of this process; 2 ms lets the web's and the
# alarms' threads in sooner (bench/load.py's import phase, issue 14).
SWITCH_INTERVAL_S = 0.002


class Appliance:
    def __init__(self, config: Config):
        self.config = config
        self.runtime = Runtime(config)
        self.stopped = threading.Event()
        self._signalled: threading.Event | None = None
        # waitress's TCP server; Any because its stubs lack effective_port and type the loop's trigger as an int
        self.server: Any = None
        self.scheduler: BackgroundScheduler | None = None
        self.advertiser: Advertiser | None = None
        self.front: https.TlsFront | None = None
        self._stops: list = []
        self._threads: list[threading.Thread] = []
        self._web_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        host = self.config.web.host
        host = '127.0.0.1' if host in ('0.0.0.0', '::') else host
        return f"https://{host}:{self.front.port}" if self.front else f"http://{host}:{self.port}"

    def start(self) -> Appliance:
        cfg = self.config
        t0 = time.monotonic()
        log.info("appliance starting", extra={"appliance_id": cfg.site.appliance_id})
        memory.limit_malloc_arenas()   # before the bus, drivers and waitress start their threads
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if cfg.web.port and (cfg.web.tls_port or not cfg.web.tls):   # ports known now: announced from the start
            self._advertise(cfg.web.port, cfg.web.tls_port if cfg.web.tls else None)
        enabled = domains.load()
        app = domains.create_app(cfg, self.runtime)
        storage.make_reserve(cfg.storage.data_dir, cfg.storage.reserve_mb)  # room for safety records when full
        if Site.get_or_none(Site.id == 1) is None:
            set_site(cfg.site.name, cfg.site.name_en, cfg.site.timezone, 1600, 900, actor="system")

        # The listening sockets before the domains start, and the mDNS announcement with them where the ports
        # were not known before (port = 0). Connections that come before the web thread runs wait in the
        # listen backlog.
        web_opts: dict[str, Any] = {"connection_limit": cfg.web.connection_limit, "ident": "safety-appliance", "channel_timeout": 60,
                    "cleanup_interval": 10}
        gate = https.PlainGate(app, cfg.web.tls_port, cfg.web.plain_loopback) if cfg.web.tls else None
        self.server = create_server(gate or app, host=cfg.web.host, port=cfg.web.port, threads=cfg.web.threads,
                                    **web_opts)
        self.runtime.web_port = self.port
        if gate is not None:
            self._start_https(app, gate, web_opts)
        if self.advertiser is None:
            self._advertise(self.port, self.front.port if self.front is not None else None)

        bus = events.Bus()
        events.BUS = self.runtime.bus = bus
        bus.start()

        for d in enabled:
            if d.start is not None:
                stop = d.start(self.runtime)
                if stop is not None:
                    self._stops.append(stop)

        self.scheduler = jobs.build(cfg, self.runtime)
        self.scheduler.start()
        self.runtime.health_checks["scheduler"] = lambda: jobs.health(self.scheduler)

        self._web_thread = self._spawn("web", self.server.run)

        events.record("system.started", actor="system",
                      payload={"version": __version__, "appliance_id": cfg.site.appliance_id})
        notify.notify(f"READY=1\nSTATUS=serving on port {self.port}")
        interval = notify.watchdog_interval()
        if interval:
            self._spawn("watchdog", self._watchdog, interval)
        frozen = memory.freeze_startup()   # the start's objects out of the collector's full walks
        log.info("appliance started", extra={"url": self.url, "startup_s": round(time.monotonic() - t0, 3),
                                             "gc_frozen": frozen})
        return self

    def _advertise(self, port: int, https_port: int | None) -> None:
        """Announce the appliance on the LAN (mDNS). zeroconf's probing takes 1-1.5 s by the protocol (RFC 6762
        §8) on its own thread: started first, it overlaps the appliance's start instead of following it (start to
        healthy, bench/footprint.py, issue 14)."""
        cfg = self.config
        if not cfg.discovery.enabled:
            return
        name = cfg.discovery.service_name or f"safety-appliance-{cfg.site.appliance_id}"
        txt = {"id": cfg.site.appliance_id, "version": __version__, "path": "/"}
        if https_port is not None:   # tablets go to HTTPS; the advertised port stays plain for the stations
            txt["https_port"] = str(https_port)
        self.advertiser = Advertiser(name, port, cfg.discovery.interfaces, txt)
        self.advertiser.start()
        self.runtime.health_checks["discovery"] = self.advertiser.health

    def _start_https(self, app, gate: https.PlainGate, web_opts: dict) -> None:
        """The appliance's certificates (made or renewed now), a loopback listener for HTTPS requests on the
        same waitress loop, and the TLS terminator in front of it."""
        cfg = self.config
        paths = tls.paths_for(cfg)
        dns, ips = tls.lan_names(cfg)
        tls.ensure(paths, dns, ips, f"Safety appliance CA ({cfg.site.appliance_id})")
        listener = https.https_listener(app, self.server, **web_opts)
        self.front = https.TlsFront(cfg.web.host, cfg.web.tls_port, listener.effective_port, paths.cert,
                                    paths.key).start()
        gate.tls_port = self.front.port
        self.runtime.https = self.front
        self.runtime.health_checks["https"] = self.front.health
        self._stops.append(self.front.stop)

    def _spawn(self, name, target, *args) -> threading.Thread:
        th = threading.Thread(target=target, args=args, name=name, daemon=True)
        th.start()
        self._threads.append(th)
        return th

    def _stop_web(self) -> None:
        """Let running requests finish, then close every socket from inside waitress's own loop (closing
        them from this thread races the loop's poll), so the loop ends by itself."""
        srv = self.server
        srv.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        if self._web_thread is None:   # a start that failed before the loop ran: no loop to close them in
            srv.close()
            return
        closed = threading.Event()

        def close_all():
            for dispatcher in list(srv._map.values()):
                try:
                    dispatcher.close()
                except OSError:
                    pass
            closed.set()

        try:
            srv.trigger.pull_trigger(close_all)
        except OSError as exc:  # the loop already closed its trigger: it is ending by itself
            log.warning("waitress trigger already closed at stop", extra={"error": str(exc)})
        else:
            closed.wait(5)
        if self._web_thread is not None:
            self._web_thread.join(5)

    def _watchdog(self, interval: float) -> None:
        """Pet systemd's watchdog only while the database answers and the bus runs: a hung appliance
        gets restarted instead of showing a frozen board."""
        while not self.stopped.wait(interval):
            body = overall(self.runtime)
            comps = body["components"]
            if comps["database"]["status"] != "fault" and comps["event_bus"]["status"] != "fault":
                notify.notify("WATCHDOG=1")
            else:
                log.error("health fault; not petting the watchdog", extra={"status": body["status"]})

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        notify.notify("STOPPING=1")
        log.info("appliance stopping")
        if self.advertiser:
            self.advertiser.stop()
        for stop in self._stops:
            stop()
        if self.runtime.bus:
            self.runtime.bus.stop()
        if self.server:
            self._stop_web()
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        auth.token_use.flush()
        events.BUS = None
        events.database.close()
        events.database.close_idle()
        memory.unfreeze()   # what this appliance held may be collected again (tests start many in one process)
        log.info("appliance stopped")

    def catch_signals(self) -> Appliance:
        """Catch SIGTERM and SIGINT from now on (call before start()): a stop that systemd sends while
        the appliance is still starting is remembered, and run_forever then stops at once instead of
        the default handler killing it half-started."""
        self._signalled = threading.Event()

        def on_signal(signum, frame):
            self._signalled.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        return self

    def run_forever(self) -> None:
        """Block until SIGTERM or SIGINT, then stop cleanly."""
        signalled = self._signalled or self.catch_signals()._signalled
        assert signalled is not None
        try:
            while not signalled.wait(1.0):
                pass
        finally:
            self.stop()


def run(config: Config) -> int:
    """Run the appliance in this process until SIGTERM or SIGINT (`safety-appliance run`, and `demo` after its
    seed)."""
    from appliance.core import logs

    logs.setup(config.logging.level, config.logging.format)
    appliance = Appliance(config).catch_signals().start()
    print(f"安全生产管理系统已启动 / appliance running at {appliance.url}", flush=True)
    appliance.run_forever()
    return 0
