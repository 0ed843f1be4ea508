"""PDF renderer of the report document (A4, fpdf2).

Lays out the blocks of :func:`core.report.document.build_document`: fonts (DejaVu Sans
when installed, else the Helvetica core font with text reduced to latin-1), page breaks
(a section title never ends a page; the waterfall and the key image are kept whole), the
synthetic banner on every page and the notice in every page footer. Over-long table
cells are cut to :data:`core.report.document.PDF_CELL_MAX_LINES` lines, as the document
rules. Nothing here decides content.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.report.blocks import (
    BarChart,
    Block,
    CategoryBadge,
    CitedList,
    Image,
    KeyValueTable,
    Notice,
    NumberedList,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
    Table,
    Waterfall,
)
from core.report.context import ReportContext
from core.report.document import PDF_CELL_MAX_LINES, PDF_TRUNCATED, build_document
from core.report.png import png_size
from core.vocab import hex_to_rgb

WATERFALL_ROW_MM = 5.5  # PDF row height of the waterfall

#: Candidate locations of a Unicode TrueType font (DejaVu Sans) for the PDF.
UNICODE_FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)

#: Room (mm) a section title needs below it, else it starts a new page.
_KEEP_MM = 25.0
_KEEP_MM_BY_SECTION = {"tier": 50.0}
_SUBHEADING_KEEP_MM = 15.0
_WATERFALL_LABEL_MM, _WATERFALL_PLOT_MM = 55.0, 100.0
_HEADINGS_STYLE = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))

Cleaner = Callable[[object], str]


def find_unicode_font() -> tuple[Path, Path] | None:
    """Regular and bold DejaVu Sans TrueType files on this machine, or None."""
    for regular, bold in UNICODE_FONT_CANDIDATES:
        if Path(regular).is_file() and Path(bold).is_file():
            return Path(regular), Path(bold)
    return None


def _latin1(text: str) -> str:
    """Text the PDF core fonts can show: compatibility-decomposed, non-latin-1 -> ``?``."""
    replaced = (text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2265", ">=")
                .replace("\u2264", "<=").replace("\u2192", "->").replace("\u2022", "*"))
    out = []
    for ch in replaced:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode(
                "latin-1")
            out.append(decomposed or "?")
    return "".join(out)


class _ReportPDF(FPDF):
    """FPDF with the report's banner (synthetic cases) and running footer on every page."""

    doc: ReportDocument
    family: str
    clean: Cleaner

    def header(self) -> None:
        if self.doc.synthetic_banner is None:
            return
        self.set_font(self.family, "B", 11)
        self.set_fill_color(106, 27, 154)
        self.set_text_color(255, 255, 255)
        self.cell(0, 7, self.clean(self.doc.synthetic_banner), align="C", fill=True,
                  new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        parts = [*self.doc.running_footer, f"Page {self.page_no()}/{{nb}}"]
        if self.doc.synthetic_mark is not None:
            parts.append(self.doc.synthetic_mark)
        self.set_y(-16)
        self.set_font(self.family, "", 7)
        self.set_text_color(90, 90, 90)
        self.multi_cell(0, 3.2, self.clean("  |  ".join(parts)), align="L",
                        new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)


def _new_pdf(doc: ReportDocument, unicode_font: bool, compress: bool) -> _ReportPDF:
    """An A4 PDF with its fonts, metadata and text cleaner set, first page added."""
    pdf = _ReportPDF(orientation="P", unit="mm", format="A4")
    pdf.doc = doc
    pdf.set_compression(compress)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=20)
    fonts = find_unicode_font() if unicode_font else None
    if fonts is not None:
        pdf.family = "DejaVu"
        pdf.add_font(pdf.family, "", str(fonts[0]))
        pdf.add_font(pdf.family, "B", str(fonts[1]))
        pdf.set_font(pdf.family, "", 10)
        cmap = set(pdf.current_font.cmap)
        pdf.clean = lambda text: "".join(
            ch if (ord(ch) in cmap or ch == "\n") else "?" for ch in str(text))
    else:
        pdf.family = "helvetica"
        pdf.clean = lambda text: _latin1(str(text))
    pdf.set_title(pdf.clean(doc.title))
    pdf.set_subject(pdf.clean(doc.notice.text))
    pdf.set_creator("spine-pain-dss core.report")
    pdf.set_author("spine-pain-dss")
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


class _Writer:
    """Writes blocks at the current position of a :class:`_ReportPDF`."""

    def __init__(self, pdf: _ReportPDF) -> None:
        self.pdf = pdf
        self.family = pdf.family
        self.clean = pdf.clean

    # ----------------------------------------------------------------- text

    def para(self, text: str, bold: bool = False, size: float = 9) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "B" if bold else "", size)
        pdf.multi_cell(0, 4.6, self.clean(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(self.family, "", 9)

    def heading(self, text: str, keep_mm: float = _KEEP_MM) -> None:
        """Section title; starts a new page unless ``keep_mm`` fit below it."""
        pdf = self.pdf
        if pdf.get_y() > pdf.page_break_trigger - keep_mm:
            pdf.add_page()
        pdf.ln(3)
        pdf.set_font(self.family, "B", 12)
        pdf.cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(180, 180, 180)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
        pdf.ln(1.5)
        pdf.set_font(self.family, "", 9)

    def paragraph(self, block: Paragraph) -> None:
        text = block.text + block.strong
        if block.style == "warn":
            self.pdf.set_text_color(183, 28, 28)
            self.para(text, bold=True)
            self.pdf.set_text_color(0, 0, 0)
        else:
            self.para(text, bold=bool(block.strong), size=8 if block.style == "caption" else 9)

    def subheading(self, block: Subheading) -> None:
        """A bold line; starts a new page unless some of what follows fits below it."""
        if self.pdf.get_y() > self.pdf.page_break_trigger - _SUBHEADING_KEEP_MM:
            self.pdf.add_page()
        self.para(block.text, bold=True)

    def numbered_list(self, block: NumberedList) -> None:
        for i, item in enumerate(block.items, 1):
            self.para(f"{i}. {item}", size=8.5)

    def notice(self, block: Notice) -> None:
        pdf = self.pdf
        pdf.set_draw_color(183, 28, 28)
        pdf.set_fill_color(255, 243, 243)
        pdf.set_line_width(0.8)
        pdf.set_font(self.family, "B", 10)
        pdf.multi_cell(0, 5, self.clean(block.text), border=1, fill=True, align="L",
                       new_x="LMARGIN", new_y="NEXT", padding=2)
        pdf.set_line_width(0.2)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_font(self.family, "", 9)

    # ----------------------------------------------------------------- tables

    def _fit(self, text: str, width: float) -> str:
        """``text`` cut to :data:`PDF_CELL_MAX_LINES` wrapped lines (estimated)."""
        avail = max(width - 2.4, 4.0)
        kept: list[str] = []
        used = 0
        for line in text.split("\n"):
            # 1.25: margin for word wrapping, which leaves lines part-empty
            need = max(1, math.ceil(1.25 * self.pdf.get_string_width(line) / avail))
            if used + need > PDF_CELL_MAX_LINES:
                room = PDF_CELL_MAX_LINES - used - 1
                if room > 0:
                    kept.append(line[:max(0, len(line) * room // need)])
                return "\n".join(kept).rstrip() + self.clean(PDF_TRUNCATED)
            kept.append(line)
            used += need
        return text

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]],
             widths: Sequence[float] | None = None, numeric: Sequence[int] = (),
             bold_last: bool = False) -> None:
        if not rows:
            return
        pdf = self.pdf
        pdf.set_font(self.family, "", 8.5)
        pdf.set_fill_color(255, 255, 255)
        n = len(rows[0])
        col_w = list(widths) if widths is not None else [pdf.epw / n] * n
        align = ["RIGHT" if i in numeric else "LEFT" for i in range(n)]
        with pdf.table(col_widths=widths, width=pdf.epw if widths is None else sum(widths),
                       align="LEFT", text_align=align, first_row_as_headings=bool(header),
                       headings_style=_HEADINGS_STYLE, line_height=4.4,
                       cell_fill_mode="NONE", padding=(0.6, 1.2)) as tab:
            if header:
                head = tab.row()
                for h, w in zip(header, col_w, strict=False):
                    head.cell(self._fit(self.clean(h), w))
            for i, r in enumerate(rows):
                row = tab.row()
                style = FontFace(emphasis="BOLD") if bold_last and i == len(rows) - 1 else None
                for c, w in zip(r, col_w, strict=False):
                    row.cell(self._fit(self.clean(c), w), style=style)
        pdf.ln(1.5)
        pdf.set_font(self.family, "", 9)

    def table(self, block: Table) -> None:
        rows = [*block.rows, *([block.total] if block.total is not None else [])]
        self.grid(block.header, rows, block.widths_mm, block.numeric,
                  bold_last=block.total is not None)

    def key_values(self, block: KeyValueTable) -> None:
        self.grid((), block.rows, block.widths_mm)

    def cited_list(self, block: CitedList) -> None:
        self.grid(block.header, block.items, block.widths_mm)

    # ----------------------------------------------------------------- graphics

    def image(self, block: Image) -> None:
        pdf = self.pdf
        w_px, h_px = png_size(block.png)
        scale = min(120.0 / w_px, 95.0 / h_px)  # at most 120 x 95 mm
        w_mm, h_mm = w_px * scale, h_px * scale
        if pdf.get_y() + h_mm > pdf.page_break_trigger:
            pdf.add_page()
        pdf.image(io.BytesIO(block.png), x=pdf.l_margin, w=w_mm, h=h_mm,
                  alt_text=self.clean(block.caption))
        pdf.ln(1)
        self.para(block.caption, size=8)

    def badge(self, block: CategoryBadge) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "B", 11)
        label = self.clean(block.text)
        pdf.cell(pdf.get_string_width(label) + 2, 7, label)
        pdf.set_fill_color(*hex_to_rgb(block.colour))
        pdf.set_text_color(255, 255, 255)
        category = self.clean(block.category)
        pdf.cell(pdf.get_string_width(category) + 8, 7, category, align="C", fill=True,
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
        pdf.set_font(self.family, "", 9)

    def bar_chart(self, block: BarChart) -> None:
        pdf = self.pdf
        for bar in block.bars:
            y = pdf.get_y()
            pdf.cell(30, 5, self.clean(bar.label))
            pdf.cell(18, 5, self.clean(bar.text), align="R")
            bar_x = pdf.get_x() + 3
            pdf.set_fill_color(235, 235, 235)
            pdf.rect(bar_x, y + 1, 80, 3, style="F")
            if bar.fraction is not None:
                pdf.set_fill_color(*hex_to_rgb(bar.colour))
                pdf.rect(bar_x, y + 1, 80 * bar.fraction, 3, style="F")
            pdf.ln(5)
        pdf.ln(1)

    def _fitted_label(self, x: float, y: float, text: str, bold: bool = False) -> None:
        """A right-aligned waterfall label, in a smaller font when it is too long."""
        pdf = self.pdf
        width = _WATERFALL_LABEL_MM - 2
        size = 7.5
        pdf.set_font(self.family, "B" if bold else "", size)
        while pdf.get_string_width(self.clean(text)) > width and size > 5.0:
            size -= 0.5
            pdf.set_font(self.family, "B" if bold else "", size)
        pdf.set_xy(x, y)
        pdf.cell(width, WATERFALL_ROW_MM, self.clean(text), align="R")
        pdf.set_font(self.family, "B" if bold else "", 7.5)

    def waterfall(self, block: Waterfall) -> None:
        """The SHAP waterfall with fpdf2 primitives, on one page."""
        pdf, row_h, plot_w = self.pdf, WATERFALL_ROW_MM, _WATERFALL_PLOT_MM
        n_rows = len(block.bars) + 1
        if pdf.get_y() + n_rows * row_h + 16 > pdf.page_break_trigger:
            pdf.add_page()
        x_left = pdf.l_margin + _WATERFALL_LABEL_MM
        top = pdf.get_y() + 2

        def x(v: float) -> float:
            return x_left + (v - block.low) / (block.high - block.low) * plot_w

        pdf.set_draw_color(110, 110, 110)
        with pdf.local_context():
            pdf.set_dash_pattern(dash=1, gap=1)
            pdf.line(x(block.base), top, x(block.base), top + n_rows * row_h)
        for i, bar in enumerate(block.bars):
            y = top + i * row_h
            self._fitted_label(pdf.l_margin, y, bar.label)
            x0, x1 = sorted((x(bar.start), x(bar.end)))
            pdf.set_fill_color(*hex_to_rgb(bar.colour))
            pdf.rect(x0, y + 1, max(x1 - x0, 0.3), row_h - 2, style="F")
            pdf.set_xy(x_left + plot_w + 2, y)
            pdf.cell(25, row_h, self.clean(bar.text))
        y = top + len(block.bars) * row_h
        if block.output is not None:
            self._fitted_label(pdf.l_margin, y, block.output_label, bold=True)
            pdf.set_draw_color(0, 0, 0)
            pdf.set_line_width(0.6)
            pdf.line(x(block.output), top, x(block.output), y + row_h - 1)
            pdf.set_line_width(0.2)
            pdf.set_xy(x_left + plot_w + 2, y)
            pdf.cell(25, row_h, self.clean(block.output_text))
            pdf.set_font(self.family, "", 7.5)
        self._axis(block, x_left, top + n_rows * row_h + 1, x(block.base))

    def _axis(self, block: Waterfall, x_left: float, axis_y: float, base_x: float) -> None:
        pdf, plot_w = self.pdf, _WATERFALL_PLOT_MM
        pdf.set_draw_color(150, 150, 150)
        pdf.line(x_left, axis_y, x_left + plot_w, axis_y)
        pdf.set_xy(x_left, axis_y + 0.5)
        pdf.cell(20, 4, self.clean(block.low_text))
        pdf.set_xy(x_left + plot_w - 20, axis_y + 0.5)
        pdf.cell(20, 4, self.clean(block.high_text), align="R")
        pdf.set_xy(base_x - 15, axis_y + 4.5)
        pdf.cell(30, 4, self.clean(block.base_text), align="C")
        pdf.set_draw_color(0, 0, 0)
        pdf.set_xy(pdf.l_margin, axis_y + 10)
        pdf.set_font(self.family, "", 9)

    # ----------------------------------------------------------------- document

    def block(self, block: Block) -> None:
        getattr(self, _METHODS[type(block)])(block)

    def section(self, section: Section) -> None:
        self.heading(section.title, _keep_mm(section))
        for block in section.blocks:
            self.block(block)


_METHODS: dict[type, str] = {
    Paragraph: "paragraph", Subheading: "subheading", Table: "table",
    KeyValueTable: "key_values", Notice: "notice", Image: "image", CategoryBadge: "badge",
    BarChart: "bar_chart", Waterfall: "waterfall", CitedList: "cited_list",
    NumberedList: "numbered_list",
}


def _keep_mm(section: Section) -> float:
    """Room a section title needs below it: the whole waterfall of the explanation."""
    for block in section.blocks:
        if isinstance(block, Waterfall):
            return 30.0 + (len(block.bars) + 1) * WATERFALL_ROW_MM + 16.0
    return _KEEP_MM_BY_SECTION.get(section.id, _KEEP_MM)


def render_pdf(doc: ReportDocument, *, unicode_font: bool = True,
               compress: bool = True) -> bytes:
    """The document as PDF bytes (see :func:`build_report_pdf`)."""
    pdf = _new_pdf(doc, unicode_font, compress)
    writer = _Writer(pdf)
    pdf.set_font(pdf.family, "B", 15)
    pdf.multi_cell(0, 7, pdf.clean(doc.heading), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    writer.block(doc.meta)
    writer.block(doc.notice)
    for section in doc.sections:
        writer.section(section)
    return bytes(pdf.output())


def build_report_pdf(
    ctx: ReportContext, *, unicode_font: bool = True, compress: bool = True
) -> bytes:
    """The case report as a PDF document (A4, fpdf2).

    Parameters
    ----------
    ctx : ReportContext
        The case.
    unicode_font : bool
        Embed DejaVu Sans when it is installed (any script it covers prints); otherwise,
        or when False, use the Helvetica core font and replace characters outside
        latin-1. Characters the chosen font lacks become ``?``; nothing raises.
    compress : bool
        Compress page streams (False only helps to inspect the file).

    Returns
    -------
    bytes
        The PDF file.
    """
    return render_pdf(build_document(ctx), unicode_font=unicode_font, compress=compress)
