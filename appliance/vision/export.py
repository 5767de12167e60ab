"""The violations list as spreadsheet rows (`GET /api/v1/violations?format=csv|xlsx`): zh-CN and en headings
side by side, times in the plant's zone (the heading says which), the reviewer by name and the person seen
by name and employee number (issue 20: the person named on a confirmed violation is on its row)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from appliance.core.names import user_names

STATE = {"open": "待处理 open", "confirmed": "已确认 confirmed", "rejected": "误报 rejected"}


def _time(ms: int | None, tz: str) -> str:
    return "" if ms is None else dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _who(actor: str | None, names: dict[str, str]) -> str:
    if not actor:
        return ""
    login = actor.removeprefix("user:")
    return names.get(login, login) if actor.startswith("user:") else actor


def violation_rows(violations: list[dict], tz: str) -> list[list[Any]]:
    names = user_names([v["decided_by"].removeprefix("user:") for v in violations if v["decided_by"]])
    rows: list[list[Any]] = [["编号 id", f"时间（{tz}）time ({tz})", "摄像头 camera", "区域 zone", "置信度 score",
                              "状态 state", "人员 person", "工号 employee no.", "部门/单位 department/firm",
                              "处理人 decided by", f"处理时间（{tz}）decided at ({tz})", "隐患 hazard", "备注 note"]]
    for v in violations:
        p = v.get("person") or {}
        rows.append([v["id"], _time(v["occurred_at"], tz), v["camera"], v["area"] or v["zone"], v["score"],
                     STATE.get(v["state"], v["state"]), p.get("name", ""), p.get("employee_no", ""),
                     p.get("department") or p.get("company") or "", _who(v["decided_by"], names),
                     _time(v["decided_at"], tz), v["hazard_id"] or "", v["note"] or ""])
    return rows
