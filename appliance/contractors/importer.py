"""Import of the contractor roster plants keep as a spreadsheet (承包商花名册): one row per person and
certificate, with the firm on every row. A row with only the firm's columns registers the firm alone; a
person with two certificates appears on two rows.

The import goes through the same service functions as the screens (every rule and event the same), inside
one transaction: each row in a savepoint, so every bad row is found and named (row number, column, why);
then, when any row is bad or it is a dry run, the whole transaction is rolled back. A dry run therefore
reports exactly what the real import would do, and a real import writes everything or nothing.

Matching, so that importing the same file twice changes nothing the second time: a firm by its name (its
contact, phone and credit code are corrected when they differ), a person by the employee number (a new one
is created and made the firm's worker; a person who is another firm's worker is an error), a certificate by
kind and number, the entry training when the file's date is newer than the one on record.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from appliance.contractors import service as S
from appliance.contractors.models import Firm, Worker
from appliance.core import events, offload, spreadsheet
from appliance.core import people as P
from appliance.core.errors import ApplianceError, ValidationFailed
from appliance.training import certificates as TC

# (key, zh header, en header): the template's columns; headers are matched in either language
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("firm", "单位名称", "Firm"),
    ("credit_code", "统一社会信用代码", "Credit code"),
    ("contact", "联系人", "Contact"),
    ("phone", "联系电话", "Phone"),
    ("employee_no", "工号", "Employee no"),
    ("name", "姓名", "Name"),
    ("job", "工种", "Job"),
    ("id_number", "身份证号", "ID number"),
    ("badge_uid", "工卡号", "Badge UID"),
    ("trained_on", "入厂教育日期", "Entry training date"),
    ("cert_kind", "证书类别", "Certificate kind"),
    ("cert_number", "证书编号", "Certificate number"),
    ("cert_issuer", "发证机关", "Issuer"),
    ("cert_issued_on", "发证日期", "Issued on"),
    ("cert_expires_on", "有效期至", "Expires on"),
)
HEADERS = {h.strip().lower(): key for key, zh, en in COLUMNS for h in (zh, en)}
KIND_BY_NAME = {k.zh: code for code, k in TC.KINDS.items()} | {k.en.lower(): code for code, k in TC.KINDS.items()}


class RosterRowsInvalid(ValidationFailed):
    """One or more rows of the roster are bad; `details` lists each with its row number; nothing was written."""

    code = "roster_rows_invalid"


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run or a file with bad rows."""


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _date(v: Any, key: str) -> date | None:
    if v in (None, ""):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = _text(v).replace("/", "-").replace(".", "-")
    try:
        y, m, d = (int(x) for x in s.split("-"))
        return date(y, m, d)
    except (ValueError, TypeError):
        raise _RowError(key, f"日期格式应为 YYYY-MM-DD：{s}", f"a date must be YYYY-MM-DD: {s}") from None


class _RowError(Exception):
    def __init__(self, key: str, zh: str, en: str):
        super().__init__(en)
        self.key, self.zh, self.en = key, zh, en


def _header(rows: list[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]]:
    """The first row naming the firm column (in the first 10), and its column → key map."""
    for i, (_, cells) in enumerate(rows[:10]):
        cols = {j: HEADERS[_text(c).lower()] for j, c in enumerate(cells) if _text(c).lower() in HEADERS}
        if "firm" in cols.values():
            return i, cols
    raise spreadsheet.BadSpreadsheet("找不到表头（应有“单位名称”列，见导入模板）",
                                     "no header row found (a “单位名称” / “Firm” column; see the import template)")


def _error_of(exc: Exception, columns: dict[str, str]) -> tuple[str, str, str]:
    """(column, zh, en) of a service's refusal, naming the spreadsheet column where it can."""
    if isinstance(exc, _RowError):
        return exc.key, exc.zh, exc.en
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        field = str(e["loc"][0]) if e.get("loc") else ""
        key = columns.get(field, field)
        return key, f"{key}：{e['msg']}", f"{key}: {e['msg']}"
    assert isinstance(exc, ApplianceError)
    details = getattr(exc, "details", None) or []
    field = details[0].get("key", "") if details and isinstance(details[0], dict) else ""
    return columns.get(field, field), exc.zh, exc.en


def _row(cells: dict[str, Any], counts: dict[str, dict[str, int]], actor: str) -> None:
    """Apply one row through the services (inside the caller's savepoint)."""
    name = _text(cells.get("firm"))
    if not name:
        raise _RowError("firm", "单位名称不能为空", "the firm's name is empty")
    firm_fields = {k: _text(cells.get(k)) for k in ("credit_code", "contact", "phone") if _text(cells.get(k))}
    f = Firm.get_or_none(Firm.name == name)
    if f is None:
        f = S.create_firm(S.FirmIn(name=name, **firm_fields), actor=actor)
        counts["firms"]["created"] += 1
    elif any(getattr(f, k) != v for k, v in firm_fields.items()):
        f = S.update_firm(f.id, S.FirmUpdate(**firm_fields), actor=actor)
        counts["firms"]["updated"] += 1
    else:
        counts["firms"]["unchanged"] += 1
    no = _text(cells.get("employee_no"))
    if not no:
        if any(_text(cells.get(k)) for k in ("name", "badge_uid", "cert_kind", "cert_number", "trained_on")):
            raise _RowError("employee_no", "有人员信息的行须填写工号", "a row with a person needs the employee number")
        return
    person = P.Person.get_or_none(P.Person.employee_no == no)
    w = Worker.get_or_none(Worker.person_id == person.id) if person else None
    if w is not None and w.firm_id != f.id:
        other = Firm.get_by_id(w.firm_id).name
        raise _RowError("employee_no", f"工号 {no} 已是 {other} 的人员", f"employee no {no} is already a worker of {other}")
    if w is None:
        badge = _text(cells.get("badge_uid")).replace(" ", "").replace(":", "").upper() or None
        if badge and (b := P.Badge.get_or_none(P.Badge.uid == badge)) is not None:
            raise _RowError("badge_uid", f"工卡 {badge} 已登记给他人（人员 {b.person_id}）",
                            f"badge {badge} is already registered to someone else (person {b.person_id})")
        if person is None:
            w = S.add_worker(f.id, S.WorkerIn(employee_no=no, name=_text(cells.get("name")) or None,
                                              job=_text(cells.get("job")), id_number=_text(cells.get("id_number")),
                                              badge_uid=badge), actor=actor)
        else:
            w = S.add_worker(f.id, S.WorkerIn(person_id=person.id, id_number=_text(cells.get("id_number")),
                                              badge_uid=badge), actor=actor)
        counts["workers"]["created"] += 1
    else:
        counts["workers"]["unchanged"] += 1
    trained = _date(cells.get("trained_on"), "trained_on")
    if trained is not None and (not w.trained_on or trained.isoformat() > w.trained_on):
        S.record_training(w.person_id, S.TrainingIn(trained_on=trained), actor=actor)
        counts["trainings"]["recorded"] += 1
    kind_cell, number = _text(cells.get("cert_kind")), _text(cells.get("cert_number"))
    if not (kind_cell or number):
        return
    kind = kind_cell if kind_cell in TC.KINDS else KIND_BY_NAME.get(kind_cell.lower())
    if kind is None:
        raise _RowError("cert_kind", f"未知的证书类别：{kind_cell}", f"unknown certificate kind: {kind_cell}")
    if not number:
        raise _RowError("cert_number", "证书编号不能为空", "the certificate number is empty")
    existing = TC.Certificate.get_or_none((TC.Certificate.kind == kind) & (TC.Certificate.number == number))
    if existing is not None:
        if existing.person_id != w.person_id:
            raise _RowError("cert_number", f"证书 {number} 已登记在他人名下", f"certificate {number} is on record for another person")
        counts["certificates"]["unchanged"] += 1
        return
    issued = _date(cells.get("cert_issued_on"), "cert_issued_on")
    if issued is None:
        raise _RowError("cert_issued_on", "证书须填写发证日期", "a certificate needs its issue date")
    expires = _date(cells.get("cert_expires_on"), "cert_expires_on")
    TC.add(TC.CertificateIn(person_id=w.person_id, kind=kind, number=number, issuer=_text(cells.get("cert_issuer")),
                            issued_on=issued.isoformat(), expires_on=expires.isoformat() if expires else None),
           actor=actor)
    counts["certificates"]["created"] += 1


# the service fields that correspond to a spreadsheet column (for naming the column of an error)
FIELD_COLUMNS = {"name": "name", "credit_code": "credit_code", "contact": "contact", "phone": "phone",
                 "employee_no": "employee_no", "job": "job", "id_number": "id_number", "badge_uid": "badge_uid",
                 "uid": "badge_uid", "trained_on": "trained_on", "kind": "cert_kind", "number": "cert_number",
                 "issuer": "cert_issuer", "issued_on": "cert_issued_on", "expires_on": "cert_expires_on"}


def import_roster(data: bytes, *, actor: str, dry_run: bool, filename: str = "") -> dict:
    """Check every row and report (dry run), or apply the whole file at once. With bad rows a dry run
    reports them (`ok` false) and a real import raises RosterRowsInvalid listing them, having written nothing."""
    digest = hashlib.sha256(data).hexdigest()
    rows = offload.run(spreadsheet.read_rows, data, size=len(data))   # a big file in a child (core.offload)
    if not rows:
        raise spreadsheet.BadSpreadsheet("文件为空", "the file is empty")
    h, cols = _header(rows)
    header_row = rows[h][0]
    names = {key: zh for key, zh, _ in COLUMNS}
    counts = {"firms": {"created": 0, "updated": 0, "unchanged": 0}, "workers": {"created": 0, "unchanged": 0},
              "trainings": {"recorded": 0}, "certificates": {"created": 0, "unchanged": 0}}
    errors: list[dict] = []
    n = 0
    try:
        with events.recording(actor) as rec:
            for number, raw in rows[h + 1:]:
                cells = {key: raw[j] for j, key in cols.items() if j < len(raw)}
                if not any(_text(v) for v in cells.values()):
                    continue
                n += 1
                try:
                    with events.recording(actor):
                        _row(cells, counts, actor)
                except (_RowError, ValidationError, ApplianceError) as exc:
                    key, zh, en = _error_of(exc, FIELD_COLUMNS)
                    errors.append({"row": number, "column": names.get(key, key), "key": key, "zh": zh, "en": en})
            if errors or dry_run:
                raise _Rollback
            rec.emit("contractor.roster_imported", entity=("contractor_roster", digest[:16]),
                     payload={"file": filename[:200], "sha256": digest, "rows": n,
                              **{f"{k}_{a}": v for k, c in counts.items() for a, v in c.items()}})
    except _Rollback:
        pass
    report: dict[str, Any] = {"dry_run": dry_run, "ok": not errors, "rows": n, "header_row": header_row,
                              "sha256": digest, "errors": errors, "summary": counts}
    if errors and not dry_run:
        e = errors[0]
        raise RosterRowsInvalid(f"花名册有 {len(errors)} 处错误，未导入任何内容（第一处：第 {e['row']} 行 {e['zh']}）",
                                f"the roster has {len(errors)} errors; nothing was imported (first: row {e['row']}: {e['en']})",
                                details=errors)
    return report


def template(fmt: str, lang: str = "zh-CN") -> bytes:
    """The import template (header and two example rows) as XLSX or CSV (UTF-8 with BOM)."""
    header = [en if lang == "en" else zh for _, zh, en in COLUMNS]
    ex = [["江东建设工程有限公司", "", "项目经理", "0512-0000000", "C3001", "赵强", "焊工", "", "04A1B2C3D4E5F6",
           "2026-11-20", "熔化焊接与热切割作业", "T320500199001010011", "苏州市应急管理局", "2024-03-01", ""],
          ["江东建设工程有限公司", "", "", "", "C3002", "钱亮", "电工", "", "", "2026-11-20", "", "", "", "", ""]]
    rows = [header, *ex]
    if fmt == "csv":
        return spreadsheet.write_csv(rows)
    return spreadsheet.write_xlsx([("承包商花名册 roster", rows)])
