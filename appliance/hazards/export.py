"""The statistics table (SAWS order 16 Art. 14) as spreadsheet rows, zh-CN and en headings side by side."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from appliance.core.names import user_names
from appliance.hazards import firms as FM

GRADE = {"general": "一般隐患 general", "major": "重大隐患 major", "total": "合计 total"}
STATE = {"reported": "待确认", "rectifying": "整改中", "pending_acceptance": "待验收", "closed": "已验收销号"}
STAGE = {"awaiting_evaluation": "待评估", "awaiting_sign_off": "待主要负责人签字"}


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _date(ms: int | None, tz: str) -> str:
    return "" if ms is None else dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d")


def statistics_rows(stats: dict) -> list[list[Any]]:
    period = f"{stats['year']}年" + (f"第{stats['quarter']}季度" if stats["quarter"] else "全年")
    rows: list[list[Any]] = [
        ["事故隐患排查治理统计分析表 hazard statistics", period],
        ["报送期限 filing deadline (16号令第十四条)", stats["due"]],
        # dates are the plant's (issue 15 item 10: an exported time says its zone)
        [f"日期均为厂区时间（{stats['timezone']}）dates in plant time", stats["timezone"]],
        [],
        ["等级 grade", "排查发现 found", "本期销号 rectified", "当期发现已整改 found & rectified", "未销号 open",
         "超期 overdue", "整改率 rate", "整改资金（元）cost"],
    ]
    for g, r in [*stats["by_grade"].items(), ("total", stats["total"])]:
        rows.append([GRADE[g], r["found"], r["rectified"], r["found_rectified"], r["open"], r["overdue"],
                     _pct(r["rectification_rate"]), r["cost"]])
    rows += [[], ["重大事故隐患 major hazards"],
             ["编号 id", "区域 area", "描述 description", "状态 state",
              f"整改期限（{stats['timezone']}）deadline ({stats['timezone']})", "验收人 accepted by",
              "涉及承包商 contractor firm"]]
    # the acceptor by name, never "user:wangfang" (issue 15 item 9)
    names = user_names((m["accepted_by"] or "").removeprefix("user:") for m in stats["majors"])
    firms = FM.names(m.get("firm_id") for m in stats["majors"])
    for m in stats["majors"]:
        state = STAGE.get(m["stage"] or "", STATE.get(m["state"], m["state"]))
        rows.append([m["id"], m["area"], m["description"], state, _date(m["deadline"], stats["timezone"]),
                     names.get((m["accepted_by"] or "").removeprefix("user:"), m["accepted_by"] or ""),
                     firms.get(m.get("firm_id"), "")])
    rows += [[], ["主要负责人签字 principal's signature", ""], ["日期 date", ""]]
    return rows
