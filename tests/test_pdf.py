"""The core's PDF writer (appliance/core/pdf.py): Chinese set in the Simplified Chinese face of Debian's
Noto Sans CJK collection, tables that wrap CJK cells and repeat their header on each page, the footer's
page numbers and signature line, and a clear error naming the Debian package when the font is missing.
PDFs are read back with pypdf: what a reader extracts is the test, not the "%PDF" magic."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from appliance.core import pdf as PDF
from conftest import ROOT

pypdf = pytest.importorskip("pypdf")


def pdf_text(data: bytes) -> list[str]:
    """The text of each page as a PDF reader extracts it. fpdf2 gives its CJK font an embedded Identity CMap
    as /Encoding, which pypdf does not read: it then splits the 2-byte codes into bytes (a NUL before each
    character, dropped here), and once a document uses more than 256 glyphs (a permit's JSA and approval
    chain, a report) the codes above 0xFF come out as garbage. The embedded CMap is the identity, so it is
    named as /Identity-H for pypdf (poppler reads the file as it is: tests/test_cockpit_reports_open.py)."""
    from pypdf.generic import NameObject

    reader = pypdf.PdfReader(io.BytesIO(data))
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if font.get("/Subtype") == "/Type0":
                font[NameObject("/Encoding")] = NameObject("/Identity-H")
    return [p.extract_text().replace("\x00", "") for p in reader.pages]


def flat(text: str) -> str:
    """Text without line breaks or spaces: a wrapped CJK cell reads as one string again."""
    return "".join(text.split())


def test_the_simplified_chinese_face_is_found_by_its_name():
    from fontTools.ttLib import TTCollection

    path = PDF.font_path()
    i = PDF.sc_index(path)
    with TTCollection(str(path), lazy=True) as c:
        name = c.fonts[i]["name"]
        assert name.getDebugName(1) == "Noto Sans CJK SC"
        # the face maps 简体 characters that only the SC face draws as mainland forms (and TC/JP differ on)
        assert all(ord(ch) in c.fonts[i].getBestCmap() for ch in "双重预防机制报告")


def test_a_missing_font_names_the_debian_package(tmp_path):
    with pytest.raises(PDF.FontMissing) as exc:
        PDF.Document("测试", font_dir=tmp_path)
    assert "fonts-noto-cjk" in exc.value.zh and "fonts-noto-cjk" in exc.value.en
    assert str(tmp_path) in exc.value.en and exc.value.http_status == 503


def test_document_reads_back_in_chinese_with_wrapped_cells_repeated_header_and_footer():
    from appliance.risk import qr

    doc = PDF.Document("动火安全作业票", ["GB 30871-2022 · 编号 HO-00001"], signature="事件日志头 seq 42 SHA-256 ab12cd")
    doc.key_values([("作业地点", "T-101 罐顶"), ("作业内容", "更换呼吸阀法兰，焊接")])
    long_cell = "泵体渗漏，需要更换密封件并重新试压，确认无泄漏后方可投用。" * 3
    doc.heading("一、气体分析")
    doc.table(["序号", "测点 Point", "描述 Description"], [[i, f"GT-{i:03d}", long_cell] for i in range(60)],
              widths=(1, 2, 6))
    doc.image(qr.label_png("http://appliance.local/tablet/permits/1", module_px=4), width_mm=25, caption="扫码查看")
    doc.signature_lines(["作业负责人", "监护人"])
    pages = pdf_text(doc.output())
    assert len(pages) >= 3
    assert "动火安全作业票" in pages[0] and "T-101罐顶" in flat(pages[0]) and "更换呼吸阀法兰，焊接" in pages[0]
    assert flat(long_cell) in flat(pages[0])                               # wrapped inside its cell, not lost
    for n, text in enumerate(pages, start=1):
        assert "测点 Point" in text, f"header not repeated on page {n}"     # the header row on every page
        assert f"第 {n} / {len(pages)} 页" in text and "事件日志头 seq 42 SHA-256 ab12cd" in text
    assert "GT-059" in pages[-1] and "作业负责人" in pages[-1] and "扫码查看" in pages[-1]


def test_documents_made_one_after_another_each_embed_their_own_glyphs():
    """The parsed face is kept between documents (the second costs no cmap parse); each document still
    gets its own fontTools object and subset: its text reads back, with only its glyphs embedded, however
    many documents were written before it with other characters."""
    first = PDF.Document("第一份报告：动火作业")
    first.paragraph("受限空间 吊装 高处")
    one = first.output()
    later = [PDF.Document(f"第{n}份报告") for n in "二三"]
    later[0].paragraph("盲板抽堵 临时用电")
    later[1].paragraph("动土 断路")
    two, three = later[0].output(), later[1].output()
    assert "第一份报告：动火作业" in pdf_text(one)[0] and "受限空间 吊装 高处" in pdf_text(one)[0]
    assert "盲板抽堵 临时用电" in pdf_text(two)[0] and "动火" not in pdf_text(two)[0]
    assert "动土 断路" in pdf_text(three)[0]
    faces = [f for d in later for f in d._pdf.fonts.values()]
    assert len({id(f.ttfont) for f in faces}) == 2, "each document has its own font object"
    assert len({id(f.subset) for f in faces}) == 2, "… and its own subset of used glyphs"
    # the metrics are the kept template's (parsed once), not parsed again for each document
    templates = {id(t.cw) for t in PDF._FACES.values()}
    assert all(id(f.cw) in templates for f in faces)


def test_one_cjk_face_is_embedded_and_the_title_and_headings_are_drawn_bold_with_it():
    """A second (bold) face cost a second subset of the 65,000-glyph font in every document (issue 14: a
    year's reports took over the minute); bold text is the regular face filled and outlined (PDF text
    rendering mode 2) with a stroke wide enough to show, and what it says still reads back."""
    import re
    import zlib

    doc = PDF.Document("双重预防机制运行情况报告", ["滨江精细化工厂"])
    doc.heading("风险清单")
    doc.table(["风险分析对象", "等级"], [["甲醇罐区", "较大风险"]])
    doc.key_values([("单位", "滨江精细化工厂")])
    many = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 400))   # past 256 glyphs in the one face
    doc.paragraph(many)
    data = doc.output()
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert len(fonts) == 1, f"one embedded face, not {len(fonts)}"
    text = pdf_text(data)[0]
    assert "双重预防机制运行情况报告" in text and "风险清单" in text and "甲醇罐区" in text
    assert many in flat(text)
    streams = b"".join(zlib.decompress(m) for m in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
                       if m[:2] in (b"x\x9c", b"x\xda"))
    # "2 Tr <w> w": fill and stroke, the width in points; two bold lines (title, heading), the rest filled only
    widths = [float(w) for w in re.findall(rb" 2 Tr ([\d.]+) w", streams)]
    assert len(widths) == 2, widths
    assert 0.5 <= widths[0] <= 1.0 and 0.4 <= widths[1] <= 0.8, widths   # 16 pt title, 12 pt heading


def test_only_the_pdf_module_imports_fpdf():
    importers = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "fpdf" or n.startswith("fpdf.") for n in names):
                importers.append(path.relative_to(ROOT))
    assert set(importers) == {Path("appliance/core/pdf.py")}
