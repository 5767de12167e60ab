"""The main process's side of vision: start the vision process, read what it sends, restart it when it dies
or stalls, and show its state in /api/v1/health.

The vision process is spawned (not forked: this process runs threads) with the validated config and the
sending end of a pipe. It sends a heartbeat with every camera's state each second, annotated frames for
the board's tiles (kept here, newest only, for `/api/v1/cameras/<name>/frame.jpg`) and violations with their
evidence, which are recorded here (`violations.record`): the database keeps one writing process.
No heartbeat for `vision.stall_s` (a hung detector, a stopped process) → killed and started again, with a
back-off that doubles up to `vision.restart_max_s` while it keeps failing.
"""
from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time

from appliance.core.events import now_ms
from appliance.vision import violations

log = logging.getLogger(__name__)

START_GRACE_S = 60.0   # the first heartbeat may take this long (imports, model load on a Pi)
CLEAN_EXIT_GRACE_S = 3.0   # how long a cleanly ended worker waits for the appliance's own stop


class VisionSupervisor:
    def __init__(self, config):
        self.config = config
        self.ctx = multiprocessing.get_context("spawn")
        self.proc = None
        self.conn = None
        self.started_at = 0.0
        self.last_beat: float | None = None
        self.last_beat_ms: int | None = None
        self.state: dict = {}
        self.restarts = 0
        self.last_exit: str | None = None
        self.violations = 0
        self.record_errors = 0
        self.frames: dict[str, tuple[int, int, bytes]] = {}  # camera → (number, captured at ms, JPEG)
        self._frame_cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # violations are written on their own thread: a slow disk or a busy database must not stop the
        # pipe being read (the heartbeat would look stalled and the vision process be killed for nothing)
        self._writes: queue.Queue = queue.Queue(maxsize=256)
        self._writer: threading.Thread | None = None
        self.on_violation = None  # tests and benchmarks may observe recorded violations

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> VisionSupervisor:
        self._spawn()
        self._thread = threading.Thread(target=self._run, name="vision-supervisor", daemon=True)
        self._thread.start()
        self._writer = threading.Thread(target=self._write_loop, name="vision-violations", daemon=True)
        self._writer.start()
        return self

    def _spawn(self) -> None:
        from appliance.vision.worker import main

        recv, send = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=main, args=(self.config, send), name="safety-appliance-vision", daemon=True)
        proc.start()
        send.close()  # ours is the reading end; EOF when the child's end closes
        self.proc, self.conn = proc, recv
        self.started_at = time.monotonic()
        self.last_beat = None
        log.info("vision process started", extra={"pid": proc.pid})

    def _kill(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.is_alive():
            p.terminate()
            p.join(3)
            if p.is_alive():
                p.kill()
                p.join(3)
        try:
            self.conn.close()
        except OSError:
            pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._kill()
        self._writes.put(None)
        if self._writer:
            self._writer.join(10)  # what already arrived is recorded before the database closes
        with self._frame_cond:
            self._frame_cond.notify_all()

    # -- the watch loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            why = self._pump()
            if why is None or self._stop.is_set():
                continue
            # exit code 0 is the worker's answer to SIGTERM: a stop of the whole process group (systemd's
            # control-group stop, `timeout`, a terminal's kill) reaches it a moment before this process's
            # stop sets _stop; restarting it then spawned a new vision process during every shutdown
            if self.proc.exitcode == 0 and self._stop.wait(CLEAN_EXIT_GRACE_S):
                return
            self.last_exit = why
            log.error("vision process restarting", extra={"reason": why, "after_s": backoff})
            self._kill()
            self.state = {}
            if self._stop.wait(backoff):
                return
            # a process that ran well for a while earns a quick restart next time
            healthy_for = time.monotonic() - self.started_at
            backoff = 1.0 if healthy_for > 60 else min(backoff * 2, self.config.vision.restart_max_s)
            self.restarts += 1
            self._spawn()

    def _pump(self) -> str | None:
        """Handle what arrives for up to half a second; the reason to restart, or None."""
        try:
            ready = self.conn.poll(0.5)
            while ready:
                self._handle(self.conn.recv())
                ready = self.conn.poll(0)
        except (EOFError, OSError):
            self.proc.join(2)
            return f"vision process ended (exit code {self.proc.exitcode})"
        if not self.proc.is_alive():
            return f"vision process ended (exit code {self.proc.exitcode})"
        age = time.monotonic() - (self.last_beat or self.started_at)
        limit = self.config.vision.stall_s if self.last_beat else max(START_GRACE_S, self.config.vision.stall_s)
        if age > limit:
            return f"vision process stalled (no heartbeat for {age:.0f} s)"
        return None

    def _handle(self, msg) -> None:
        kind = msg[0]
        if kind == "state":
            self.state = msg[1]
            self.last_beat = time.monotonic()
            self.last_beat_ms = now_ms()
        elif kind == "frame":
            _, name, at_ms, jpeg = msg
            with self._frame_cond:
                n = self.frames.get(name, (0, 0, b""))[0] + 1
                self.frames[name] = (n, at_ms, jpeg)
                self._frame_cond.notify_all()
        elif kind == "violation":
            try:
                self._writes.put(msg[1:], timeout=5)
            except queue.Full:
                self.record_errors += 1
                log.error("violation dropped: the recorder is not keeping up", extra={"camera": msg[1].get("camera")})

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            meta, snap, raw = item
            try:
                v = violations.record(meta, snap, raw, self.config.storage.data_dir)
            except Exception:  # a full disk or a locked database: logged and counted, the stream goes on
                self.record_errors += 1
                log.exception("could not record a violation", extra={"camera": meta.get("camera")})
                continue
            self.violations += 1
            if self.on_violation:
                self.on_violation(v, meta)

    # -- for the web layer ---------------------------------------------------------------------------
    def frame(self, camera: str) -> tuple[int, int, bytes] | None:
        return self.frames.get(camera)

    def wait_frame(self, camera: str, after: int, timeout: float) -> tuple[int, int, bytes] | None:
        """The newest frame numbered above `after`, waiting up to `timeout` (None when stopped or none)."""
        with self._frame_cond:
            deadline = time.monotonic() + timeout
            while not self._stop.is_set():
                f = self.frames.get(camera)
                if f and f[0] > after:
                    return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._frame_cond.wait(left)
        return None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.is_alive() else None

    def health(self) -> dict:
        """The `vision` component: the process, its detectors."""
        out = {"pid": self.pid, "restarts": self.restarts, "violations": self.violations,
               "last_heartbeat": self.last_beat_ms, "cameras": len(self.config.cameras)}
        if self.last_exit:
            out["last_exit"] = self.last_exit
        if self.record_errors:
            out["record_errors"] = self.record_errors
        if self.pid is None or self.last_beat is None:
            alive = self.pid is not None
            out.update(status="starting" if alive and time.monotonic() - self.started_at < START_GRACE_S else "fault",
                       reason="vision process starting" if alive else (self.last_exit or "vision process not running"))
            return out
        age = time.monotonic() - self.last_beat
        if age > self.config.vision.stall_s:
            out.update(status="fault", reason=f"no heartbeat for {age:.0f} s")
            return out
        dets = self.state.get("detectors", {})
        out["detectors"] = dets
        bad = [f"{k}: {d.get('reason')}" for k, d in dets.items() if d.get("status") != "ok"]
        # a missing model leaves the cameras streaming to the tiles: degraded, with the reason
        out["status"] = "degraded" if bad else "ok"
        if bad:
            out["reason"] = "detector unavailable — " + "; ".join(bad)
        return out

    def camera_health(self, name: str) -> dict:
        if self.pid is None or self.last_beat is None:
            return {"status": "fault" if self.last_exit else "starting", "reason": "vision process not running"}
        st = self.state.get("cameras", {}).get(name)
        return st if st is not None else {"status": "starting"}
