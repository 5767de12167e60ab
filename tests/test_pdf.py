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
    """The text of each page as a PDF reader extracts it. pypdf reads fpdf2's 2-byte CID codes of an
    embedded CFF font with a NUL before each character (poppler does not); the NULs are dropped."""
    reader = pypdf.PdfReader(io.BytesIO(data))
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
    assert PDF.sc_index(PDF.font_path(PDF.BOLD)) >= 0


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
    assert len({id(f.ttfont) for f in faces}) == 4, "each document has its own font objects"
    assert len({id(f.subset) for f in faces}) == 4, "… and its own subset of used glyphs"
    # the metrics are the kept template's (parsed once), not parsed again for each document
    templates = {id(t.cw) for t in PDF._FACES.values()}
    assert all(id(f.cw) in templates for f in faces)


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
