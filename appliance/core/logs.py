"""Structured logs to stdout (journald keeps them on a box): one JSON object per line, or plain text.

Times are the plant's, as the screens show them, and say so: ISO 8601 with the zone's offset
("2026-12-05T20:45:22.123+08:00", issue 15 item 10), so a line lines up with the tablet's 20:45:22 and still
converts exactly to UTC. The zone is UTC until the app is built for a site (`set_timezone`).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import zoneinfo

# Attributes every LogRecord has; anything else came in through `extra=` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


_zone: dt.tzinfo = dt.UTC


def set_timezone(name: str) -> None:
    """Stamp log lines in the plant's zone (`[site] timezone`, validated at start)."""
    global _zone
    _zone = zoneinfo.ZoneInfo(name)


def stamp(created: float) -> str:
    """A record's time in ISO 8601 with milliseconds and the plant zone's offset."""
    return dt.datetime.fromtimestamp(created, _zone).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, str | int | float | bool | None] = {"ts": stamp(record.created),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for the demo, with the `extra=` fields appended as key=value."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return stamp(record.created)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_"))
        return f"{line} {extra}" if extra else line


def setup(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("waitress.queue", "apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
