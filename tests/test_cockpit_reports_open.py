"""The compliance reports opened as a regulator opens them (#22 "Done when"): each XLSX converted by LibreOffice
Calc (`soffice --headless --convert-to csv`, every sheet, a private profile per test) and each PDF read by
poppler (`pdftotext -layout`, `pdffonts`), on the demo plant with its synthetic year. The Chinese headings
must come through intact and the figures must equal counts recomputed here with plain SQL over the records
(never through the report code); the PDF must embed its CJK font. A missing soffice or pdftotext fails in CI
(`need`; `image_build/debian-deps.sh test` installs libreoffice-calc-nogui and poppler-utils)."""
from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.core.db import database
from conftest import As, need

ZONE = ZoneInfo("Asia/Shanghai")
PERIOD = "2026-09"          # the synthetic year's September: the half-yearly re-training and its exam
SINCE = int(dt.datetime(2026, 9, 1, tzinfo=ZONE).timestamp() * 1000)
UNTIL = int(dt.datetime(2026, 10, 1, tzinfo=ZONE).timestamp() * 1000)
# LibreOffice's CSV filter: comma, double quote, UTF-8 (76), from row 1, …, the 12th token -1: every sheet, each
# to <name>-<sheet>.csv (LibreOffice ≥ 7.2)
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def q(sql, *args):
    return database.execute_sql(sql, args).fetchall()


def one(sql, *args):
    return q(sql, *args)[0][0]


@pytest.fixture
def year(app):
    """The demo plant (people, risk register, training, the patrol route and plan), three control tasks of
    September and the synthetic year up to 1 December 2026."""
    from appliance import demo, demo_patrol
    from appliance.cockpit import synthetic
    from appliance.risk.tasks import ControlTask

    demo._seed("system:demo")
    demo_patrol.seed()
    measure = one("SELECT id FROM risk_measures ORDER BY id LIMIT 1")
    day = 86_400_000
    for dept, status, end in (("生产部", "done", SINCE + 5 * day), ("生产部", "missed", SINCE + 12 * day),
                              ("设备部", "done", SINCE + 20 * day), ("设备部", "done", UNTIL + day)):
        ControlTask.create(measure_id=measure, period_start=end - day, period_end=end, department=dept,
                           assignee="王芳", status=status, note="")
    end = int(dt.datetime(2026, 12, 1, tzinfo=ZONE).timestamp() * 1000)
    return synthetic.seed(end_ms=end, weeks=52)


def fetch(app, users, kind, fmt) -> bytes:
    r = As(app, "safety_officer", users).get(f"/api/v1/reports/{kind}?period={PERIOD}&format={fmt}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.data


def libreoffice(files: dict[str, bytes], tmp: Path) -> dict[str, dict[str, list[list[str]]]]:
    """{name: {sheet: rows}}: the XLSX files converted by LibreOffice Calc, every sheet to CSV."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    need(soffice is not None, "soffice (Debian package libreoffice-calc-nogui; image_build/debian-deps.sh test "
                              "installs it)")
    src, out = tmp / "xlsx", tmp / "csv"
    src.mkdir()
    for name, data in files.items():
        (src / f"{name}.xlsx").write_bytes(data)
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{tmp / 'lo-profile'}", "--headless", "--norestore",
                        "--convert-to", CSV_FILTER, "--outdir", str(out), *sorted(map(str, src.glob("*.xlsx")))],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    books: dict[str, dict[str, list[list[str]]]] = {name: {} for name in files}
    for path in out.glob("*.csv"):
        name, sheet = path.stem.split("-", 1) if path.stem.split("-", 1)[0] in files else path.stem.rsplit("-", 1)
        with open(path, encoding="utf-8", newline="") as fh:
            books[name][sheet] = [row for row in csv.reader(fh)]
    return books


def poppler(data: bytes, tmp: Path, name: str) -> tuple[list[list[str]], str, list[list[str]]]:
    """(the PDF's lines as words by `pdftotext -layout`, its text without spaces, `pdffonts`' rows as words)."""
    need(shutil.which("pdftotext") is not None and shutil.which("pdffonts") is not None,
         "pdftotext and pdffonts (Debian package poppler-utils; image_build/debian-deps.sh test installs it)")
    path = tmp / f"{name}.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout
    return ([ln.split() for ln in text.splitlines() if ln.strip()], "".join(text.split()),
            [ln.split() for ln in fonts.splitlines()[2:] if ln.strip()])


def embedded_cjk(fonts: list[list[str]]) -> bool:
    """A Noto Sans CJK face embedded (pdffonts' emb column, 5th from the right, says yes)."""
    return any("NotoSansCJK" in row[0] and row[-5] == "yes" for row in fonts)


def row_of(rows: list[list[str]], first: str, figures: bool = False) -> list[str]:
    """The one row that starts with `first` and has more (a section heading of the same words is not it);
    `figures`: with a number right after it (the PDF's 隐患统计 total "合计 42 …", not "合计 Total 3 …")."""
    found = [r for r in rows if len(r) > 1 and r[0] == first and (not figures or r[1][:1].isdigit())]
    assert len(found) == 1, (first, rows)
    return found[0]


def test_dual_prevention_report_opens_in_libreoffice_and_a_pdf_reader_with_recounted_figures(app, users, year,
                                                                                            tmp_path):
    sheets = libreoffice({"dp": fetch(app, users, "dual-prevention", "xlsx")}, tmp_path)["dp"]
    lines, flat, fonts = poppler(fetch(app, users, "dual-prevention", "pdf"), tmp_path, "dp")
    assert set(sheets) == {"报告信息", "风险清单", "管控任务", "隐患统计", "重大事故隐患", "重大危险源", "事故统计"}
    # recounted from the records
    site = one("SELECT name FROM site WHERE id=1")
    counted = "duplicate_of IS NULL"
    found = dict(q(f"SELECT grade, count(*) FROM hazards WHERE {counted} AND reported_at>=? AND reported_at<? "
                   "GROUP BY grade", SINCE, UNTIL))
    rectified = dict(q(f"SELECT grade, count(*) FROM hazards WHERE {counted} AND state='closed' AND accepted_at>=? "
                       "AND accepted_at<? GROUP BY grade", SINCE, UNTIL))
    categories = dict(q(f"SELECT category, count(*) FROM hazards WHERE {counted} AND reported_at>=? AND reported_at<? "
                        "GROUP BY category", SINCE, UNTIL))
    majors = [str(i) for (i,) in q(f"SELECT id FROM hazards WHERE {counted} AND grade='major' AND reported_at<? AND "
                                   "(accepted_at IS NULL OR accepted_at>=?) ORDER BY reported_at", UNTIL, SINCE)]
    levels = dict(q("SELECT coalesce(e.residual_level, e.inherent_level), count(*) FROM risk_events e JOIN risk_units u "
                    "ON u.id=e.unit_id JOIN risk_objects o ON o.id=u.object_id WHERE o.active GROUP BY 1"))
    due, checked, missed = q("SELECT count(*), sum(status='done'), sum(status='missed') FROM control_tasks "
                             "WHERE period_end>? AND period_end<=?", SINCE, UNTIL)[0]
    assert sum(found.values()) > 20 and found.get("major") and (due, checked, missed) == (3, 2, 1)
    want = {"一般事故隐患": (found.get("general", 0), rectified.get("general", 0)),
            "重大事故隐患": (found.get("major", 0), rectified.get("major", 0)),
            "合计": (sum(found.values()), sum(rectified.values()))}
    # LibreOffice's reading of the XLSX
    info = {r[0]: r[1] for r in sheets["报告信息"]}
    assert info["项目 Item"] == "内容 Value" and info["单位 Plant"] == site and "（演示）" in site
    assert info["报告 Report"] == "双重预防机制运行情况报告 Dual prevention mechanism report"
    assert info["报告期 Period"] == PERIOD
    # the head it was signed with is that event of the log (what a regulator checks on a synced copy)
    seq, digest = int(info["事件日志头序号 Event-log head seq"]), info["事件日志头哈希 Event-log head hash"]
    assert one("SELECT hash FROM events WHERE seq=?", seq) == digest
    stats = sheets["隐患统计"]
    assert stats[0][:3] == ["等级 Grade", "发现 Found", "整改销号 Rectified"]
    for grade, (n, r) in want.items():
        assert row_of(stats, grade)[1:3] == [str(n), str(r)], grade
    at = stats.index(next(r for r in stats if r[0] == "类别 Category"))
    assert {r[0]: int(r[1]) for r in stats[at + 1:]} == categories
    risks = sheets["风险清单"]
    assert risks[0][5:10] == ["重大风险", "较大风险", "一般风险", "低风险", "合计 Total"]
    assert row_of(risks, "合计 Total")[5:10] == [str(levels.get(lv, 0)) for lv in (1, 2, 3, 4)] + [str(sum(levels.values()))]
    assert row_of(sheets["管控任务"], "合计 Total")[1:4] == [str(due), str(checked), str(missed)]
    assert [r[0] for r in sheets["重大事故隐患"][1:]] == majors and sheets["重大事故隐患"][1][3].startswith("【模拟】")
    assert sheets["事故统计"][0][0] == "等级 Grade" and any(r[0].startswith("百万工时伤害率") for r in sheets["事故统计"])
    # the PDF reader's reading: the same headings and figures, the font embedded
    for heading in ("双重预防机制运行情况报告", site, "风险清单", "管控任务", "隐患统计", "重大事故隐患", "重大危险源", "事故统计",
                    "百万工时伤害率", "一般事故隐患", "整改销号Rectified", "主要负责人签字"):
        assert heading in flat, heading
    footer = next(ln for ln in lines if ln[:3] == ["事件日志头", "Event-log", "head"])
    assert footer[3] == "seq" and one("SELECT hash FROM events WHERE seq=?", int(footer[4])) == footer[6]
    for grade, (n, r) in want.items():
        assert row_of(lines, grade, figures=True)[1:3] == [str(n), str(r)], grade
    assert {ln[0]: int(ln[1]) for ln in lines if len(ln) == 2 and ln[0] in categories} == categories
    assert ["合计", "Total", str(due), str(checked), str(missed)] in [ln[:5] for ln in lines]
    assert all(m in [ln[0] for ln in lines] for m in majors)
    assert embedded_cjk(fonts), fonts


def test_patrol_alarm_and_training_reports_open_with_recounted_figures(app, users, year, tmp_path):
    books = libreoffice({k: fetch(app, users, k, "xlsx") for k in ("patrol", "alarms", "training")}, tmp_path)
    assert set(books["patrol"]) == {"报告信息", "巡检汇总", "按计划", "漏检点"}
    assert set(books["alarms"]) == {"报告信息", "报警汇总", "按测点"}
    assert set(books["training"]) == {"报告信息", "培训汇总", "人员学时", "考试", "证书到期", "有效证书"}
    for kind, name in (("patrol", "巡检报告 Patrol report"), ("alarms", "报警报告 Alarm report"),
                       ("training", "培训报告 Training report")):
        info = {r[0]: r[1] for r in books[kind]["报告信息"]}
        assert info["报告 Report"] == name and info["报告期 Period"] == PERIOD

    # patrol: rounds whose window ended in September
    due, walked = q("SELECT count(*), sum(status IN ('completed','late')) FROM patrol_rounds WHERE closed AND "
                    "due_end>=? AND due_end<?", SINCE, UNTIL)[0]
    missed_cp = one("SELECT coalesce(sum(json_array_length(json_extract(verdict,'$.missed'))), 0) FROM patrol_rounds "
                    "WHERE closed AND due_end>=? AND due_end<?", SINCE, UNTIL)
    assert due >= 80 and 0 < walked < due and missed_cp > 0
    summary = {r[0]: r[1] for r in books["patrol"]["巡检汇总"]}
    assert (summary["应巡次数 Rounds due"], summary["已巡次数 Rounds walked"]) == (str(due), str(walked))
    assert summary["漏检点次 Missed checkpoints"] == str(missed_cp)
    assert summary["巡检完成率 Completion rate"] == f"{walked / due * 100:.1f}%"
    lines, flat, fonts = poppler(fetch(app, users, "patrol", "pdf"), tmp_path, "patrol")
    assert "巡检报告" in flat and "巡检汇总" in flat and "漏检点" in flat and embedded_cjk(fonts)
    assert row_of(lines, "应巡次数")[-1] == str(due) and row_of(lines, "已巡次数")[-1] == str(walked)
    assert row_of(lines, "漏检点次")[-1] == str(missed_cp)

    # alarms: gas alarms raised in September, per point
    per_point = dict(q("SELECT point, count(*) FROM alarms WHERE kind='gas' AND raised_at>=? AND raised_at<? "
                       "GROUP BY point", SINCE, UNTIL))
    assert sum(per_point.values()) > 10
    summary = {r[0]: r[1] for r in books["alarms"]["报警汇总"]}
    assert summary["气体报警次数 Gas alarms"] == str(sum(per_point.values()))
    assert {r[0]: int(r[1]) for r in books["alarms"]["按测点"][1:]} == per_point
    assert books["alarms"]["按测点"][0][:2] == ["测点 Point", "报警 Alarms"]
    lines, flat, fonts = poppler(fetch(app, users, "alarms", "pdf"), tmp_path, "alarms")
    assert "报警报告" in flat and "气体报警次数" in flat and "振荡报警点" in flat and embedded_cjk(fonts)
    assert {ln[0]: int(ln[1]) for ln in lines if ln[0] in per_point} == per_point
    assert row_of(lines, "气体报警次数")[-1] == str(sum(per_point.values()))

    # training: records held in September (local dates), exam attempts submitted in it
    n, hours, people = q("SELECT count(*), sum(hours), count(DISTINCT person_id) FROM training_records "
                         "WHERE held_on>='2026-09-01' AND held_on<'2026-10-01'")[0]
    (title, attempts, passed), = q("SELECT e.title, count(*), sum(a.passed) FROM exam_attempts a JOIN exams e "
                                   "ON e.id=a.exam_id WHERE a.submitted_at>=? AND a.submitted_at<? GROUP BY e.id",
                                   SINCE, UNTIL)
    assert n > 10 and attempts > passed > 0 and title.startswith("【模拟】")
    total = row_of(books["training"]["培训汇总"], "合计 Total")
    assert (int(total[1]), float(total[2]), int(total[3])) == (n, round(hours, 1), people)
    assert books["training"]["考试"][1][:3] == [title, str(attempts), str(passed)]
    per_person = dict(q("SELECT p.name, sum(r.hours) FROM training_records r JOIN people p ON p.id=r.person_id "
                        "WHERE held_on>='2026-09-01' AND held_on<'2026-10-01' GROUP BY p.id"))
    assert {r[1]: float(r[3]) for r in books["training"]["人员学时"][1:]} == per_person
    lines, flat, fonts = poppler(fetch(app, users, "training", "pdf"), tmp_path, "training")
    assert "培训报告" in flat and "人员学时" in flat and title in flat and embedded_cjk(fonts)
    assert [(int(a), float(b), int(c)) for *_, a, b, c in [row_of(lines, "合计")]] == [(n, round(hours, 1), people)]
    exam_line = next(ln for ln in lines if "".join(ln).startswith(title))
    assert exam_line[-4:-2] == [str(attempts), str(passed)]
