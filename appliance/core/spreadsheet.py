"""Spreadsheets plants already keep, read and written: XLSX (the only module that imports openpyxl) and CSV.

The format is told by the bytes, never by the file name: a ZIP holding `xl/workbook.xml` is XLSX, the old
OLE2 `.xls` is refused with a hint, anything else must be text (CSV) in UTF-8 (with or without the BOM
Excel writes) or GB18030 (what Chinese Excel writes when saving "CSV"). Limits guard the box against
huge uploads and ZIP bombs: the file size, the unpacked size of the workbook, the rows and the columns.
"""
from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from appliance.core.errors import ApplianceError, ValidationFailed

MAX_FILE_BYTES = 10 * 1024 * 1024       # a register of 20 000 measures is ~2 MB as XLSX
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # all members of the XLSX ZIP together, as they claim and as read
MAX_RATIO = 200                         # unpacked / packed: text XML compresses ~10–20×, bombs 1000×+
MAX_ROWS = 20_000                       # data rows
MAX_COLUMNS = 60


class UnsupportedFile(ApplianceError):
    """The upload is not an XLSX workbook or a CSV text file."""

    code = "unsupported_file"
    http_status = 415


class FileTooLarge(ApplianceError):
    """The upload, or what it unpacks to, is over the limits."""

    code = "file_too_large"
    http_status = 413


class BadSpreadsheet(ValidationFailed):
    """The file is a spreadsheet but cannot be read (damaged, empty, too many rows)."""

    code = "bad_spreadsheet"


def kind(data: bytes) -> str:
    """'xlsx' or 'csv' from the content; UnsupportedFile for anything else."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise UnsupportedFile("文件是损坏的 ZIP/XLSX", "the file is a damaged ZIP/XLSX") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise UnsupportedFile("ZIP 文件不是 XLSX 工作簿（.docx、.ods 等不支持）",
                              "the ZIP file is not an XLSX workbook (.docx, .ods and others are not supported)")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnsupportedFile("旧版 .xls 格式不支持，请在 Excel 中另存为 .xlsx 或 CSV",
                              "the old .xls format is not supported; save as .xlsx or CSV in Excel")
    if b"\x00" in data[:4096]:
        raise UnsupportedFile("文件不是 XLSX 或 CSV 文本", "the file is neither XLSX nor CSV text")
    return "csv"


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030; UnsupportedFile when neither decodes."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnsupportedFile("CSV 编码无法识别（应为 UTF-8 或 GB18030/GBK）",
                          "the CSV encoding is not recognised (use UTF-8 or GB18030/GBK)")


def _check_zip(data: bytes) -> None:
    """Refuse a workbook whose members claim too much. The claim binds: zipfile never inflates a member
    past the size its central directory entry gives (a forged small size ends in a CRC error)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        claimed = sum(i.file_size for i in z.infolist())
    if claimed > MAX_UNPACKED_BYTES or claimed > MAX_RATIO * max(len(data), 1):
        raise FileTooLarge(f"XLSX 解压后过大（{claimed // 1024 // 1024} MB），可能是压缩炸弹",
                           f"the XLSX unpacks to too much ({claimed // 1024 // 1024} MB); it may be a ZIP bomb")


def read_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """(row number, cells) of the first sheet, row 1 first; caps on size, rows and columns."""
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLarge(f"文件过大（上限 {MAX_FILE_BYTES // 1024 // 1024} MB）",
                           f"the file is too large (limit {MAX_FILE_BYTES // 1024 // 1024} MB)")
    if not data.strip():
        raise BadSpreadsheet("文件为空", "the file is empty")
    if kind(data) == "xlsx":
        return _xlsx_rows(data)
    return _csv_rows(decode_text(data))


def _too_many() -> BadSpreadsheet:
    return BadSpreadsheet(f"行数过多（上限 {MAX_ROWS} 行数据），请拆分文件",
                          f"too many rows (limit {MAX_ROWS} data rows); split the file")


def _csv_rows(content: str) -> list[tuple[int, list[Any]]]:
    sample = content[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    out = []
    try:
        for i, cells in enumerate(csv.reader(io.StringIO(content), dialect), start=1):
            if i > MAX_ROWS + 1:
                raise _too_many()
            out.append((i, cells[:MAX_COLUMNS]))
    except csv.Error as exc:
        raise BadSpreadsheet(f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from None
    return out


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    import openpyxl

    _check_zip(data)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise BadSpreadsheet(f"XLSX 无法读取（已损坏？）：{type(exc).__name__}",
                             f"the XLSX cannot be read (damaged?): {type(exc).__name__}") from None
    try:
        ws = wb.worksheets[0]
        out = []
        for i, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if i > MAX_ROWS + 1:
                raise _too_many()
            out.append((i, list(cells)))
        return out
    except BadSpreadsheet:
        raise
    except Exception as exc:
        raise BadSpreadsheet(f"XLSX 无法读取（已损坏？）：{type(exc).__name__}",
                             f"the XLSX cannot be read (damaged?): {type(exc).__name__}") from None
    finally:
        wb.close()


def write_xlsx(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    """A workbook with one sheet per (title, rows); the first row of each is bold and frozen."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    default = wb.active
    assert default is not None   # a new workbook has its one default sheet
    wb.remove(default)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
            for cell in ws[ws.max_row]:   # text that starts with "=" stays text, never a formula (injection)
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 2))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(v: Any) -> Any:
    """A text cell that Excel would run as a formula (= + - @, tab, CR first: CSV injection, OWASP) starts with
    an apostrophe; numbers and other text are left as they are."""
    return "'" + v if isinstance(v, str) and v[:1] in FORMULA_START else v


def write_csv(rows: list[list[Any]]) -> bytes:
    """UTF-8 with a BOM, so that Excel on a Chinese Windows opens it with the right characters. Every export
    goes through here, so no domain's free text (a note, a name) can be a formula when the file is opened."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([[csv_text(v) for v in r] for r in rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
