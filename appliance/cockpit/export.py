"""The compliance reports as files: each report's figures (`report`, `reports`) written as XLSX (one sheet
per table, `core.spreadsheet`) or PDF (one section per table, `core.pdf`, Noto Sans CJK SC) from the same
tables, signed with the event-log head they were made at; and the monthly job that writes last month's
reports into <data dir>/backups/reports/ on the 1st and records that it did (`cockpit.reports_written`).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.cockpit import report as DP
from appliance.cockpit import reports as RS
from appliance.core import events
from appliance.core.errors import ValidationFailed

log = logging.getLogger(__name__)

FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Kind:
    """One report: its names, how its figures are read and how they become tables."""

    key: str
    zh: str
    en: str
    figures: Callable[..., dict]
    sheets: Callable[[dict], list[tuple[str, list[list]]]]


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("dual-prevention", "双重预防机制运行情况报告", "Dual prevention mechanism report", DP.figures, DP.sheets),
    Kind("patrol", "巡检报告", "Patrol report", RS.patrol_figures, RS.patrol_sheets),
    Kind("alarms", "报警报告", "Alarm report", RS.alarm_figures, RS.alarm_sheets),
    Kind("training", "培训报告", "Training report", RS.training_figures, RS.training_sheets),
)}


def kind_of(key: str) -> Kind:
    k = KINDS.get(key)
    if k is None:
        raise ValidationFailed(f"未知报告（{', '.join(KINDS)}）", f"unknown report ({', '.join(KINDS)})",
                               details=[{"key": "report"}])
    return k


def signature(f: dict) -> str:
    """The line on every PDF page that ties the figures to a state of the event log."""
    return f"事件日志头 Event-log head  seq {f['head']['seq']}  SHA-256 {f['head']['hash']}"


def pdf(kind: Kind, f: dict, tables: list[tuple[str, list[list]]]) -> bytes:
    """The report as PDF: the information block as label–value rows, then each table with its header."""
    from appliance.core.pdf import Document

    tz = f["timezone"]
    doc = Document(kind.zh, [kind.en, f"{f['site']}  ·  报告期 Period {f['period']}  ·  生成 Generated "
                                      f"{DP._local(f['generated_at'], tz)} ({tz})"],
                   signature=signature(f), landscape=True)
    (_, info), *rest = tables
    doc.key_values([(r[0], r[1]) for r in info[1:]], key_width=0.25)
    for title, rows in rest:
        doc.heading(title)
        header, body = rows[0], [r for r in rows[1:]]
        # a sheet may hold a second table after an empty row (隐患统计: by grade, then by category)
        while [] in body:
            i = body.index([])
            doc.table(header, body[:i])
            header, body = body[i + 1], body[i + 2:]
        doc.table(header, body)
    doc.signature_lines(["主要负责人 Principal", "安全管理人员 Safety manager", "日期 Date"])
    return doc.output()


def render(key: str, period: str | None, fmt: str, now: int | None = None) -> tuple[bytes, dict]:
    """(file bytes, figures) of report `key` for `period` in `fmt` (xlsx or pdf); 422 naming the field else."""
    kind = kind_of(key)
    if fmt not in FORMATS:
        raise ValidationFailed("参数 format 应为 xlsx 或 pdf", "parameter format must be xlsx or pdf",
                               details=[{"key": "format"}])
    f = kind.figures(period, now)
    tables = kind.sheets(f)
    if fmt == "pdf":
        return pdf(kind, f, tables), f
    from appliance.core.spreadsheet import write_xlsx

    return write_xlsx(tables), f


def filename(key: str, period: str, fmt: str) -> str:
    return f"{key}-{period}.{fmt}"


# ------------------------------------------------------------------ the monthly job

def last_month(now_ms: int, tz: str) -> str:
    """"YYYY-MM" of the month before the one `now_ms` falls in, in the plant's time zone."""
    today = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(tz)).date()
    prev = today.replace(day=1) - dt.timedelta(days=1)
    return f"{prev.year}-{prev.month:02d}"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_monthly(out_dir: Path, now: int | None = None, *, actor: str = "system:cockpit") -> list[Path]:
    """Every report of last month in both formats into `out_dir`/<YYYY-MM>/, then one
    `cockpit.reports_written` event naming the files and the head they were made at. A month already
    written (its event exists) is not written again."""
    from appliance.core.people import site_timezone

    now = events.now_ms() if now is None else now
    period = last_month(now, site_timezone())
    done = events.Event.select().where((events.Event.type == "cockpit.reports_written")
                                       & (events.Event.entity_id == period))
    if done.exists():
        return []
    folder = out_dir / period
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    head = None
    for key in KINDS:
        for fmt in FORMATS:
            data, f = render(key, period, fmt, now)
            head = head or f["head"]
            path = folder / filename(key, period, fmt)
            _write_atomic(path, data)
            written.append(path)
    events.record("cockpit.reports_written", actor=actor, entity=("report", period),
                  payload={"period": period, "files": [p.name for p in written], "folder": str(folder),
                           "head": head})
    log.info("monthly reports written", extra={"period": period, "folder": str(folder), "files": len(written)})
    return written


def jobs(s, config, runtime) -> None:
    """On the 1st of each month at 01:30 plant time (before the nightly backup), last month's reports."""
    out = config.storage.backup_dir / "reports"
    s.add_job(write_monthly, "cron", day=1, hour=1, minute=30, args=[out], id="cockpit-reports",
              name="monthly compliance reports", replace_existing=True)
