"""Every export goes through core.spreadsheet's writers: free text a user typed (a note, a name) that starts
like a formula must open as text in Excel — CSV injection (OWASP) in CSV, a formula cell in XLSX."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from appliance.core import spreadsheet as S


@pytest.mark.parametrize("text, csv_cell", [
    ('=HYPERLINK("http://x","点我")', '\'=HYPERLINK("http://x","点我")'),
    ("+86 139", "'+86 139"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"),
    ("法兰泄漏 =", "法兰泄漏 ="),        # only the first character matters
    ("—", "—"),                          # the dash placeholder is not a minus
])
def test_csv_text_that_looks_like_a_formula_gets_an_apostrophe(text, csv_cell):
    rows = list(csv.reader(io.StringIO(S.write_csv([["备注 note"], [text]]).decode("utf-8-sig"))))
    assert rows[1][0] == csv_cell


def test_csv_numbers_stay_numbers():
    rows = list(csv.reader(io.StringIO(S.write_csv([["n"], [-5], [2.5]]).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["-5", "2.5"]


def test_xlsx_text_that_starts_with_equals_is_text_not_a_formula():
    data = S.write_xlsx([("导出", [["备注 note", "n"], ['=HYPERLINK("http://x")', -5], ["+1", 3]])])
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws["A2"].value == '=HYPERLINK("http://x")' and ws["A2"].data_type == "s"
    assert ws["B2"].value == -5 and ws["A3"].value == "+1"
