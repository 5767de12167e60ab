"""Start and stop order of the running appliance (`safety-appliance run` and `demo`).

start: database (migrations after a backup) → event bus → sensors and drivers → vision process → scheduler → web server →
mDNS → READY.
stop (SIGTERM/SIGINT): STOPPING → mDNS → drivers → vision process → event bus (ends SSE streams) → web server → scheduler →
database.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from waitress.server import create_server

import drivers.modbus  # noqa: F401  (registers the bus types)
import drivers.nfc  # noqa: F401  (registers the badge reader types)
import drivers.pcsc  # noqa: F401
import drivers.serial_line  # noqa: F401
from drivers.base import REGISTRY

from . import __version__, events, jobs, notify
from .config import Config
from .discovery import Advertiser
from .health import overall
from .people import Site, set_site
from .sensors import Sensors
from .web import Runtime, create_app

log = logging.getLogger(__name__)


class Appliance:
    def __init__(self, config: Config):
        self.config = config
        self.runtime = Runtime(config)
        self.stopped = threading.Event()
        self.server = None
        self.scheduler = None
        self.advertiser: Advertiser | None = None
        self.sensors: Sensors | None = None
        self.drivers: list = []
        self.syncer = None
        self.vision = None
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        host = self.config.web.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.port}"

    def start(self) -> "Appliance":
        cfg = self.config
        t0 = time.monotonic()
        app = create_app(cfg, self.runtime)
        if Site.get_or_none(Site.id == 1) is None:
            set_site(cfg.site.name, cfg.site.name_en, cfg.site.timezone, 1600, 900, actor="system")

        bus = events.Bus()
        events.BUS = self.runtime.bus = bus
        bus.start()

        self.sensors = self.runtime.sensors = Sensors(cfg)
        if cfg.points:
            self.runtime.health_checks["points"] = self.sensors.health
        self._start_drivers()
        self._start_vision()
        self._start_readers()
        self.runtime.health_checks["stations"] = self._stations_health

        self.scheduler = jobs.build(cfg, self.sensors)
        self.scheduler.start()
        self.runtime.health_checks["scheduler"] = lambda: jobs.health(self.scheduler)

        from sync.engine import Syncer  # uplink sync: one thread per endpoint, only reads the log
        self.syncer = self.runtime.syncer = Syncer(cfg).start(bus)
        for name, worker in self.syncer.workers.items():
            self.runtime.health_checks[f"sync:{name}"] = worker.health

        self.server = create_server(app, host=cfg.web.host, port=cfg.web.port, threads=cfg.web.threads,
                                    ident="safety-appliance", channel_timeout=60, cleanup_interval=10)
        self._web_thread = self._spawn("web", self.server.run)

        if cfg.discovery.enabled:
            name = cfg.discovery.service_name or f"safety-appliance-{cfg.site.appliance_id}"
            self.advertiser = Advertiser(name, self.port, cfg.discovery.interfaces,
                                         {"id": cfg.site.appliance_id, "version": __version__, "path": "/"})
            self.advertiser.start()
            self.runtime.health_checks["discovery"] = self.advertiser.health

        events.record("system.started", actor="system",
                      payload={"version": __version__, "appliance_id": cfg.site.appliance_id})
        notify.notify(f"READY=1\nSTATUS=serving on port {self.port}")
        interval = notify.watchdog_interval()
        if interval:
            self._spawn("watchdog", self._watchdog, interval)
        log.info("appliance started", extra={"url": self.url, "startup_s": round(time.monotonic() - t0, 3)})
        return self

    def _start_drivers(self) -> None:
        """One driver per configured bus; a driver that cannot run here is a fault, not a stopped start."""
        for bus_cfg in self.config.buses:
            cls = REGISTRY[bus_cfg.type]
            why = cls.available()
            key = f"bus:{bus_cfg.name}"
            if why:
                log.error("driver unavailable", extra={"bus": bus_cfg.name, "reason": why})
                self.runtime.health_checks[key] = lambda why=why: {"status": "fault", "reason": why}
                continue
            driver = cls(bus_cfg, self.sensors.ingest)
            self.drivers.append(driver)
            self.runtime.health_checks[key] = driver.health
            driver.start()

    def _start_vision(self) -> None:
        """The vision process, supervised, when cameras are configured (health: `vision`, `camera:<name>`)."""
        if not self.config.cameras:
            return
        from .vision_supervisor import VisionSupervisor

        self.vision = self.runtime.vision = VisionSupervisor(self.config).start()
        self.runtime.health_checks["vision"] = self.vision.health
        for cam in self.config.cameras:
            self.runtime.health_checks[f"camera:{cam.name}"] = lambda n=cam.name: self.vision.camera_health(n)
    def _stations_health(self) -> dict:
        """Satellite stations: when each last posted, and refused posts by reason (a wrong key shows here)."""
        from .patrol import Station

        stations = [{"name": s.name, "active": bool(s.active), "last_post_at": s.last_post_at}
                    for s in Station.select().order_by(Station.name)]
        refused = {k: dict(v) for k, v in self.runtime.station_refusals.items()}
        # a station posting with a wrong key in the last 10 minutes: its taps are not arriving
        recent = [k for k, v in refused.items() if v["last"] and time.time() * 1000 - v["last"] < 600_000
                  and k in ("bad_signature", "unknown_station")]
        out = {"status": "degraded" if recent else "ok", "stations": stations, "refused": refused}
        if recent:
            out["reason"] = f"station posts refused: {', '.join(recent)}"
        return out

    def _start_readers(self) -> None:
        """One driver per configured badge reader; each tap goes to the patrol module."""
        from . import patrol

        def on_tap(tap) -> None:
            # a busy database (a long write elsewhere) is retried; the reader's loop never dies of it
            for attempt in range(5):
                try:
                    patrol.record_tap(tap.reader, tap.uid, tap.at_ms)
                    return
                except Exception:
                    if attempt == 4:
                        log.exception("tap not recorded", extra={"reader": tap.reader, "uid_tail": tap.uid[-4:],
                                                                 "at": tap.at_ms})
                    else:
                        time.sleep(0.2 * 2 ** attempt)

        for rcfg in getattr(self.config, "readers", []):
            cls = REGISTRY[rcfg.type]
            why = cls.available()
            key = f"reader:{rcfg.name}"
            if why:
                log.error("reader unavailable", extra={"reader": rcfg.name, "reason": why})
                self.runtime.health_checks[key] = lambda why=why: {"status": "fault", "reason": why}
                continue
            driver = cls(rcfg, on_tap)
            self.drivers.append(driver)
            self.runtime.health_checks[key] = driver.health
            driver.start()

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
        for driver in self.drivers:
            driver.stop()
        if self.syncer:
            self.syncer.stop()
        if self.vision:
            self.vision.stop()
        if self.runtime.bus:
            self.runtime.bus.stop()
        if self.server:
            self._stop_web()
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        events.BUS = None
        events.database.close()
        log.info("appliance stopped")

    def run_forever(self) -> None:
        """Block until SIGTERM or SIGINT, then stop cleanly."""
        done = threading.Event()

        def on_signal(signum, frame):
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            while not done.wait(1.0):
                pass
        finally:
            self.stop()
