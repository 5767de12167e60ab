"""Component health for /api/v1/health, the kiosk status bar and the systemd watchdog.

Each component reports {"status": "ok" | "degraded" | "fault", ...}. The overall status is the worst;
a check that itself fails is a fault of that component, never an error of the endpoint.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from appliance.core import db, events, storage

log = logging.getLogger(__name__)

RANK = {"ok": 0, "starting": 1, "degraded": 1, "fault": 2}


def database_check(config) -> dict:
    try:
        head = events.head_seq()
        version = db.database.execute_sql("PRAGMA user_version").fetchone()[0]
        failing = storage.status()
        if failing["writes_failing"]:  # reads still work, but nothing new can be stored
            return {"status": "fault", "reason": f"writes failing: {failing['last_error']}", "schema_version": version,
                    "event_head": head}
        return {"status": "ok", "schema_version": version, "event_head": head}
    except Exception as exc:  # any failure to read is the state to show
        return {"status": "fault", "reason": str(exc)}


def disk_check(config) -> dict:
    d = config.storage.data_dir
    try:
        u = shutil.disk_usage(d)
    except OSError as exc:
        return {"status": "fault", "reason": str(exc)}
    free_mb = u.free // (1024 * 1024)
    status = "fault" if free_mb < config.storage.disk_min_free_mb else (
        "degraded" if free_mb < 2 * config.storage.disk_min_free_mb else "ok")
    st = storage.status()
    out = {"status": status, "free_mb": free_mb, "total_mb": u.total // (1024 * 1024), "path": str(d), **st}
    if status != "ok":
        out["reason"] = f"free space {free_mb} MB (minimum {config.storage.disk_min_free_mb} MB)"
    full = [why for why, on in (("writes are failing", st["writes_failing"]),
                                 ("the safety reserve is in use", config.storage.reserve_mb and st["reserve_released_at"]))
            if on]
    if full:
        out["status"] = "fault"
        out["reason"] = f"disk full ({d}): " + "; ".join(full)
    return out


# The clock is implausible before this (the software did not exist then): a Pi without an RTC boots at its
# image's date until NTP answers, and an offline LAN may have no NTP at all.
EARLIEST_PLAUSIBLE_MS = 1_767_225_600_000   # 2026-01-01T00:00:00Z
BACKWARDS_TOLERANCE_MS = 120_000


RTC_TOLERANCE_MS = 120_000
# the kernel's first hardware clock (a Pi 5's own, an RTC module on a Pi 4, a PC's CMOS clock), seconds since
# the epoch in UTC; absent on a Pi 4 without a module
RTC_SINCE_EPOCH = Path("/sys/class/rtc/rtc0/since_epoch")


def read_rtc_ms(path: Path = RTC_SINCE_EPOCH) -> int | None:
    """The hardware clock's time in ms, or None where the box has none (or it cannot be read)."""
    try:
        return int(path.read_text().strip()) * 1000
    except (OSError, ValueError):
        return None


def clock_verdict(now_ms: int, last_recorded_ms: int | None, rtc_ms: int | None = None) -> dict:
    """Is the wall clock plausible? Rounds, deadlines and certificate expiry are judged on it, so a wrong
    clock is a fault the board shows, not a silent error: before EARLIEST_PLAUSIBLE_MS (never set), or
    behind the newest event already recorded (it went backwards, e.g. a reboot without RTC or NTP).
    Where the box has a hardware clock that is set (after 2026) and it differs from the system clock by more
    than RTC_TOLERANCE_MS, one of the two is wrong (a drifting RTC, a flat battery, a wrong manual setting):
    degraded, with both named, since which one is right needs a person (or NTP)."""
    if now_ms < EARLIEST_PLAUSIBLE_MS:
        return {"status": "fault", "reason": "clock not set (before 2026); set the time or configure NTP"}
    if last_recorded_ms is not None and now_ms < last_recorded_ms - BACKWARDS_TOLERANCE_MS:
        behind = (last_recorded_ms - now_ms) // 1000
        return {"status": "fault", "reason": f"clock is {behind} s behind the newest recorded event; set the time"}
    if rtc_ms is not None and rtc_ms >= EARLIEST_PLAUSIBLE_MS and abs(now_ms - rtc_ms) > RTC_TOLERANCE_MS:
        off = (now_ms - rtc_ms) // 1000
        return {"status": "degraded",
                "reason": f"system clock and hardware clock (RTC) differ by {off:+d} s; check the time (NTP, "
                          "`timedatectl`), then `sudo hwclock --systohc` or set the system time"}
    return {"status": "ok"}


class _NewestRecorded:
    """max(recorded_at) over the event log, kept up to date from the events after the last one seen: the
    whole scan took 52 ms at 1 M events on every health check, and the board page asks for one (issue 14).
    The max, not the last event's time: after the clock went back, the newest events are the wrong ones.
    Worked out afresh when the log is another one (a restore, another database): the event at the
    remembered seq no longer has the remembered hash."""

    def __init__(self) -> None:
        # ((database, seq, hash), max recorded_at up to that seq), replaced as one value: request threads
        # call this at once
        self.state: tuple[tuple[str, int, str], int] | None = None

    def __call__(self) -> int | None:
        conn = db.database
        state, start, best = self.state, 0, None
        if state is not None and state[0][0] == conn.database:
            row = conn.execute_sql("SELECT hash FROM events WHERE seq = ?", (state[0][1],)).fetchone()
            if row is not None and row[0] == state[0][2]:
                start, best = state[0][1], state[1]
        top, newest = conn.execute_sql("SELECT max(seq), max(recorded_at) FROM events WHERE seq > ?", (start,)).fetchone()
        if top is not None:
            best = newest if best is None else max(best, newest)
            (h,) = conn.execute_sql("SELECT hash FROM events WHERE seq = ?", (top,)).fetchone()
            self.state = ((conn.database, top, h), best)
        return best


newest_recorded = _NewestRecorded()


def clock_check(config) -> dict:
    try:
        newest = newest_recorded()
    except Exception as exc:
        return {"status": "fault", "reason": str(exc)}
    now = events.now_ms()
    return {**clock_verdict(now, newest, read_rtc_ms()), "now": now}


def bus_check(runtime) -> dict:
    bus = runtime.bus
    if bus is None:
        return {"status": "degraded", "reason": "event bus not started"}
    if not bus.running:
        return {"status": "fault", "reason": "event bus stopped"}
    if bus.error:
        return {"status": "fault", "reason": bus.error}
    return {"status": "ok", "head": bus.head}


def overall(runtime) -> dict:
    cfg = runtime.config
    components = {"database": database_check(cfg), "disk": disk_check(cfg), "event_bus": bus_check(runtime),
                  "clock": clock_check(cfg)}
    for name, check in list(runtime.health_checks.items()):
        try:
            components[name] = check()
        except Exception as exc:  # a broken check is that component's fault
            log.exception("health check failed", extra={"component": name})
            components[name] = {"status": "fault", "reason": str(exc)}
    worst = max((c.get("status", "fault") for c in components.values()), key=lambda s: RANK.get(s, 2))
    return {"status": worst, "appliance_id": cfg.site.appliance_id, "time": events.now_ms(),
            "uptime_s": round(time.time() - runtime.started_at, 1), "components": components}
