"""The risk register as a spreadsheet, for the safety office's files and the regulator's inspections.

One row per control measure in the import's own columns (`rows.COLUMNS`, so an exported file imports back
unchanged), followed by the grading the appliance did: inherent and residual score, level and — for LEC —
the 稍有危险，可以接受 marker of D < 20 (never a blank cell: a low risk says it is acceptable or not). The
XLSX adds a sheet of the major hazard installations (GB 18218-2018: substances, q, Q, β, Σq/Q, α, R, level).
Text that a spreadsheet would run as a formula (= + - @) is written as text.
"""
from __future__ import annotations

from typing import Any

from appliance.core import spreadsheet
from appliance.core.people import Area
from appliance.risk import major as MH
from appliance.risk import major_rules as MR
from appliance.risk import register as R
from appliance.risk import rows as RW
from appliance.risk import rules as RR

GRADED = [("score", "固有风险值", "Inherent score"), ("level", "固有风险等级", "Inherent level"),
          ("acceptable", "固有风险可接受", "Inherent acceptable"), ("res_score", "残余风险值", "Residual score"),
          ("res_level", "残余风险等级", "Residual level"), ("res_acceptable", "残余风险可接受", "Residual acceptable")]
MAJOR = [("code", "编码", "Code"), ("name", "名称", "Name"), ("kind", "类型", "Kind"), ("area", "区域编码", "Area code"),
         ("people", "500m内人数", "People within 500 m"), ("alpha", "α", "α"), ("substance", "危险化学品", "Substance"),
         ("cas", "CAS号", "CAS"), ("category", "类别", "Category"), ("q", "实际存在量q(t)", "Quantity q (t)"),
         ("Q", "临界量Q(t)", "Critical quantity Q (t)"), ("beta", "β", "β"), ("ratio", "q/Q", "q/Q"),
         ("ratio_sum", "Σq/Q", "Σq/Q"), ("is_major", "构成重大危险源", "Major hazard installation"),
         ("r", "R值", "R"), ("level", "级别", "Level")]
UNIT_ZH = {"hour": "小时", "day": "天", "week": "周", "month": "月", "year": "年"}


def _safe(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v


def _yes(v: bool, en: bool) -> str:
    return ("yes" if v else "no") if en else ("是" if v else "否")


def _level(lv: int | None, en: bool) -> str:
    if not lv:
        return ""
    zh, name_en, _ = RR.LEVELS[lv]
    return name_en if en else zh


def _acceptable(method: str, level: int | None, marked: bool, en: bool) -> str:
    if method != "LEC" or not level:
        return ""
    if marked:
        return "slightly dangerous, acceptable" if en else "稍有危险，可以接受"
    return "no" if en else "否"


def register_rows(lang: str = "zh-CN") -> list[list]:
    en = lang == "en"
    header = [(e if en else z) for _, z, e, _ in RW.COLUMNS] + [(e if en else z) for _, z, e in GRADED]
    codes = {a.id: a.code for a in Area.select(Area.id, Area.code)}
    out: list[list] = [header]
    for o in R.register():
        for u in o["units"]:
            for ev in u["events"]:
                f, rf = ev["factors"], ev["residual_factors"] or {}
                base = {"object_code": o["code"], "object_name": o["name"], "major_hazard": _yes(o["major_hazard"], en),
                        "unit_name": u["name"], "department": u["department"], "liable_person": u["liable_person"],
                        "area_code": codes.get(u["area_id"] or o["area_id"], ""), "event_name": ev["name"],
                        "method": ev["method"], "profile": ev["profile"], "l": f.get("l"), "e": f.get("e"),
                        "c": f.get("c"), "s": f.get("s"), "res_l": rf.get("l"), "res_e": rf.get("e"),
                        "res_c": rf.get("c"), "res_s": rf.get("s")}
                graded = {"score": ev["score"], "level": _level(ev["inherent_level"], en),
                          "acceptable": _acceptable(ev["method"], ev["inherent_level"], ev["acceptable"], en),
                          "res_score": ev["residual_score"], "res_level": _level(ev["residual_level"], en),
                          "res_acceptable": _acceptable(ev["method"], ev["residual_level"], ev["residual_acceptable"], en)}
                for m in ev["measures"] or [None]:
                    row = dict(base)
                    if m is not None:
                        cycle, unit = m["check_cycle"], m["check_cycle_unit"]
                        if unit == "day" and cycle and cycle % 7 == 0:
                            cycle, unit = cycle // 7, "week"
                        row.update({"measure": m["description"], "classify1": m["classify1"],
                                    "classify2": m["classify2"], "data_src": m["data_src"],
                                    "troubleshoot_content": m["troubleshoot_content"], "check_cycle": cycle,
                                    "check_cycle_unit": (unit if en else UNIT_ZH[unit]) if unit else ""})
                    out.append([_safe(row.get(k, "")) if row.get(k) is not None else "" for k, *_ in RW.COLUMNS] +
                               [_safe(graded[k]) if graded[k] is not None else "" for k, *_ in GRADED])
    return out


def major_rows(lang: str = "zh-CN") -> list[list]:
    en = lang == "en"
    out: list[list] = [[(e if en else z) for _, z, e in MAJOR]]
    codes = {a.id: a.code for a in Area.select(Area.id, Area.code)}
    for d in MH.installations():
        base = {"code": d["code"], "name": d["name"], "kind": MR.KINDS[d["kind"]][1 if en else 0],
                "area": codes.get(d["area_id"], ""), "people": d["people_500m"], "alpha": d["alpha"],
                "ratio_sum": d["ratio_sum"], "is_major": _yes(d["is_major"], en), "r": d["r"],
                "level": MR.LEVEL_NAMES[d["level"]][1 if en else 0] if d["level"] else ""}
        for s in d["substances"] or [None]:
            row = dict(base)
            if s is not None:
                row.update({"substance": s["name"], "cas": s["cas"], "category": s["category"], "q": s["q_t"],
                            "Q": s["critical_t"], "beta": s["beta"], "ratio": s["ratio"]})
            out.append([_safe(row[k]) if row.get(k) is not None else "" for k, *_ in MAJOR])
    return out


def export(fmt: str, lang: str = "zh-CN") -> bytes:
    """The register as XLSX (register and major hazard sheets) or CSV (the register sheet, UTF-8 with BOM)."""
    if fmt == "csv":
        return spreadsheet.write_csv(register_rows(lang))
    return spreadsheet.write_xlsx([("风险登记 register", register_rows(lang)),
                                   ("重大危险源 major hazards", major_rows(lang))])
