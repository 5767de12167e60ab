"""PDF documents with Chinese text (the only module that imports fpdf2).

The text is set in Noto Sans CJK SC from Debian's `fonts-noto-cjk` (the appliance's installer already
requires it, image_build/debian-deps.sh): the .ttc collection holds ten faces (JP, KR, SC, TC, HK and their
Mono variants); the Simplified Chinese one is found by its family name, not by a fixed index, so a font
package that orders its collection differently still gives 简体 glyph shapes. fpdf2 embeds only the
glyphs used (a one-page permit is ~30 KB).

A `Document` is a small, flowing layout: a title with header lines, headings, paragraphs, key-value
blocks, tables that wrap CJK text inside their cells and repeat their header row on every page, images
(the QR code of a permit's live record), and on every page a footer with the page number and a
signature line (e.g. the event-log head seq + hash a report was made at).
"""
from __future__ import annotations

import copy
import functools
import io
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from appliance.core.errors import ApplianceError

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
REGULAR = "NotoSansCJK-Regular.ttc"
FAMILY_SC = "Noto Sans CJK SC"
FONT_PACKAGE = "fonts-noto-cjk"
MARGIN = 15  # mm
HEADER_FILL = (225, 225, 225)   # a table's header row
LABEL_FILL = (242, 242, 242)    # the labels of a key-value block


class FontMissing(ApplianceError):
    """The Chinese font a PDF needs is not installed on this box."""

    code = "pdf_font_missing"
    http_status = 503


def font_path(name: str = REGULAR, font_dir: Path | None = None) -> Path:
    """The font file `name` in `font_dir`; FontMissing naming the Debian package when it is not there."""
    path = (font_dir or FONT_DIR) / name
    if not path.is_file():
        raise FontMissing(f"缺少中文字体 {path}：请安装 Debian 软件包 {FONT_PACKAGE}（apt-get install {FONT_PACKAGE}）",
                          f"the Chinese font {path} is missing: install the Debian package {FONT_PACKAGE} "
                          f"(apt-get install {FONT_PACKAGE})", details=[{"key": "font", "path": str(path)}])
    return path


@functools.cache
def sc_index(path: Path) -> int:
    """The index of the Simplified Chinese face (family "Noto Sans CJK SC") in the collection `path`."""
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as coll:
        for i, font in enumerate(coll.fonts):
            if font["name"].getDebugName(1) == FAMILY_SC:
                return i
    raise FontMissing(f"字体文件 {path} 中没有简体中文字形（{FAMILY_SC}）",
                      f"the font file {path} has no Simplified Chinese face ({FAMILY_SC})",
                      details=[{"key": "font", "path": str(path)}])


# The parsed metrics of each face, kept once per process (see _add_face)
_FACES: dict[tuple[str, str, int], Any] = {}
_FACES_LOCK = threading.Lock()


def _add_face(pdf: Any, style: str, path: Path) -> None:
    """Add the SC face of `path` as family "cjk" `style` to `pdf`.

    fpdf2 reads a face's whole cmap and width table (65,000 code points in a CJK font) for every document:
    ~0.4 s per face, most of a report's time (bench/reports.py: a year's 96 report files took 81 s). Those
    metrics are the same for every document, so the first document's parsed face is kept as a template;
    each later document gets a copy with its own fontTools object (the subsetter trims it in place when the
    PDF is written), its own subset of used glyphs and its own font descriptor."""
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    number = sc_index(path)
    key, fontkey = (str(path), style, number), "cjk" + style
    with _FACES_LOCK:
        template = _FACES.get(key)
        if template is None:
            pdf.add_font("cjk", style, str(path), collection_font_number=number)
            template = copy.copy(pdf.fonts[fontkey])
            template.ttfont = template.subset = None   # the document's own; never shared
            _FACES[key] = template
            return
    face = copy.copy(template)
    face.i = len(pdf.fonts) + 1
    face.ttfont = ttLib.TTFont(str(path), recalcTimestamp=False, fontNumber=number, lazy=True)
    face.desc = copy.copy(template.desc)
    face.biggest_size_pt = 0
    face.missing_glyphs = []
    face._hbfont = None
    face.subset = SubsetMap(face)
    pdf.fonts[fontkey] = face
    if face.is_cff and face.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")   # what fpdf2's add_font does for a CID-keyed CFF face (Noto CJK)


Cell = Any  # str, number or None: shown as text ("" for None)


def _bold(pdf: Any, size_pt: float) -> Any:
    """Bold text drawn with the regular face, filled and outlined (a stroke of 1/20 of the size, about what the
    bold face adds to the regular one's strokes).

    A second CJK face (Noto Sans CJK Bold) cost a second subset of a 65,000-glyph font in every document:
    ~45 % of a report's time (bench/reports.py: a year's 96 report files, issue 14). The title and headings
    are the only bold text; the outline keeps them as heavy as the bold face's strokes to the eye."""
    from fpdf.enums import TextMode

    # fpdf2 (2.8) writes a text object's stroke width as the line width's number in points, unscaled from the
    # document's unit (mm): so the width is given in points here (tests/test_pdf.py reads it back)
    return pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=size_pt / 20)


def _text(v: Cell) -> str:
    return "" if v is None else str(v)


class Document:
    """A flowing A4 document (portrait, or `landscape` for wide tables) set in Noto Sans CJK SC."""

    def __init__(self, title: str, header: Sequence[str] = (), *, signature: str = "", landscape: bool = False,
                 font_dir: Path | None = None) -> None:
        from fpdf import FPDF

        regular = font_path(REGULAR, font_dir)
        sign = signature

        class _Pdf(FPDF):
            def footer(self) -> None:   # every page: the signature line and 第 n / N 页
                self.set_y(-12)
                self.set_font("cjk", size=7)
                self.set_text_color(90)
                self.cell(0, 4, sign, align="L")
                self.set_x(self.l_margin)
                self.cell(0, 4, f"第 {self.page_no()} / {{nb}} 页  Page {self.page_no()} of {{nb}}", align="R")
                self.set_text_color(0)

        self._pdf = pdf = _Pdf(orientation="L" if landscape else "P", unit="mm", format="A4")
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        _add_face(pdf, "", regular)
        pdf.set_title(title)
        pdf.set_creator("safety-appliance")
        pdf.set_lang("zh-CN")
        pdf.add_page()
        pdf.set_font("cjk", size=16)
        with _bold(pdf, 16):
            pdf.multi_cell(0, 9, title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        for line in header:
            pdf.multi_cell(0, 5, line, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    @property
    def width(self) -> float:
        """The usable width of a line, in mm."""
        return float(self._pdf.epw)

    def heading(self, text: str) -> None:
        pdf = self._pdf
        if pdf.will_page_break(20):   # keep a heading with at least a few lines of what follows
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("cjk", size=12)
        with _bold(pdf, 12):
            pdf.multi_cell(0, 7, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)

    def paragraph(self, text: str, size: float = 9) -> None:
        from fpdf.enums import WrapMode

        self._pdf.set_font("cjk", size=size)
        self._pdf.multi_cell(0, 5, text, align="L", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
        self._pdf.set_font("cjk", size=9)

    def key_values(self, pairs: Iterable[tuple[str, Cell]], key_width: float = 0.28) -> None:
        """Label | value rows, two columns, the labels shaded and `key_width` of the line wide."""
        self.table(None, [[k, v] for k, v in pairs], widths=(key_width, 1 - key_width), shade_first_column=True)

    def table(self, header: Sequence[str] | None, rows: Iterable[Sequence[Cell]], widths: Sequence[float] | None = None,
              *, size: float = 8, shade_first_column: bool = False) -> None:
        """A bordered table: `header` (repeated at the top of every page the table spans; None for none),
        `rows` of cells wrapped inside their column (CJK text breaks between any two characters);
        `widths`: the columns' shares of the line (equal when None)."""
        from fpdf.enums import WrapMode
        from fpdf.fonts import FontFace

        pdf = self._pdf
        body = [[_text(c) for c in r] for r in rows]
        ncols = len(header) if header else max((len(r) for r in body), default=1)
        body = [r + [""] * (ncols - len(r)) for r in body]
        if not body and header is None:
            return
        pdf.set_font("cjk", size=size)
        total = sum(widths) if widths else ncols
        cols = [w / total * self.width for w in (widths or [1] * ncols)]
        with pdf.table(col_widths=cols, width=self.width, text_align="LEFT", line_height=size * 0.55,
                       wrapmode=WrapMode.CHAR, first_row_as_headings=header is not None, repeat_headings=1,
                       headings_style=FontFace(fill_color=HEADER_FILL),
                       padding=1) as t:
            if header is not None:
                t.row([_text(h) for h in header])
            label = FontFace(fill_color=LABEL_FILL)
            for r in body:
                row = t.row()
                for i, c in enumerate(r):
                    row.cell(c, style=label if shade_first_column and i == 0 else None)
        pdf.ln(2)
        pdf.set_font("cjk", size=9)

    def image(self, png: bytes, width_mm: float = 30, caption: str = "") -> None:
        """An image (PNG/JPEG bytes) at the right edge of the line, `width_mm` wide, with a caption under it."""
        pdf = self._pdf
        if pdf.will_page_break(width_mm + 8):
            pdf.add_page()
        x = pdf.l_margin + self.width - width_mm
        y = pdf.get_y()
        pdf.image(io.BytesIO(png), x=x, y=y, w=width_mm)
        pdf.set_xy(pdf.l_margin, y + width_mm + 1)
        if caption:
            pdf.set_font("cjk", size=7)
            pdf.multi_cell(0, 4, caption, align="R", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("cjk", size=9)

    def signature_lines(self, labels: Sequence[str]) -> None:
        """Blank lines to sign by hand: 「label：＿＿＿＿」 side by side."""
        self._pdf.ln(6)
        self.paragraph("    ".join(f"{label}：______________" for label in labels), size=10)

    def output(self) -> bytes:
        """The finished PDF's bytes."""
        return bytes(self._pdf.output())
