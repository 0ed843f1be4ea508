"""The block types of a report document (frozen, renderer-neutral).

:func:`core.report.document.build_document` decides every word, row, number and colour
and returns a :class:`ReportDocument`; the HTML and PDF renderers only lay these blocks
out. Text in a block is plain text (renderers escape it); colours are ``#rrggbb``.
Column widths are in millimetres of the A4 PDF page (180 mm text width); the HTML
ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ParagraphStyle = Literal["body", "caption", "warn"]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph; ``strong`` is an emphasised value written after ``text``.

    ``style``: ``body``, ``caption`` (small print) or ``warn`` (red, bold).
    ``anchor`` is the element id in the HTML.
    """

    text: str
    strong: str = ""
    style: ParagraphStyle = "body"
    anchor: str = ""


@dataclass(frozen=True)
class Subheading:
    """A heading inside a section."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table with a header row (empty for none), body rows and an optional total row.

    ``numeric`` lists the right-aligned columns.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()
    total: tuple[str, ...] | None = None
    widths_mm: tuple[float, ...] | None = None
    mono: bool = False


@dataclass(frozen=True)
class KeyValueTable:
    """Two-column ``label: value`` table without header (labels emphasised in HTML)."""

    rows: tuple[tuple[str, str], ...]
    widths_mm: tuple[float, float] = (50.0, 130.0)
    mono: bool = False


@dataclass(frozen=True)
class Notice:
    """The boxed decision-support notice."""

    text: str


@dataclass(frozen=True)
class Image:
    """A PNG image with its caption (also its alternative text)."""

    png: bytes
    caption: str


@dataclass(frozen=True)
class CategoryBadge:
    """``text`` followed by ``category`` written on a ``colour`` badge."""

    text: str
    category: str
    colour: str


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: label, value text, bar length in [0, 1] (None: no bar)."""

    label: str
    text: str
    fraction: float | None
    colour: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars with a label and a value column (``header`` names the two)."""

    header: tuple[str, str]
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class WaterfallBar:
    """One waterfall bar from ``start`` to ``end`` in output units; ``text`` beside it."""

    label: str
    start: float
    end: float
    text: str
    colour: str


@dataclass(frozen=True)
class Waterfall:
    """A SHAP waterfall on the axis ``low`` - ``high`` (output units).

    A dashed line marks ``base`` (labelled ``base_text`` under the axis); after the bars
    comes the ``output_label`` row with a line at ``output`` and ``output_text``.
    """

    title: str
    bars: tuple[WaterfallBar, ...]
    base: float
    output: float | None
    low: float
    high: float
    base_text: str
    output_label: str
    output_text: str
    low_text: str
    high_text: str


@dataclass(frozen=True)
class CitedList:
    """Items each with their reference marks (``"[1, 2]"``); ``header`` names both
    columns where a renderer draws a table."""

    items: tuple[tuple[str, str], ...]
    header: tuple[str, str]
    widths_mm: tuple[float, float] = (155.0, 25.0)


@dataclass(frozen=True)
class NumberedList:
    """An ordered list numbered from 1 (reference marks point into it)."""

    items: tuple[str, ...]


Block = (Paragraph | Subheading | Table | KeyValueTable | Notice | Image | CategoryBadge
         | BarChart | Waterfall | CitedList | NumberedList)


@dataclass(frozen=True)
class Section:
    """A report section: id (HTML ``<section id>``), title and blocks in order."""

    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportDocument:
    """One case report, ready to render.

    Attributes
    ----------
    title : str
        Document title (HTML ``<title>``, PDF metadata).
    heading : str
        Main heading.
    meta : KeyValueTable
        Study, patient, date and model under the heading.
    notice : Notice
        The decision-support notice (top of the report and footer).
    sections : tuple of Section
        In report order.
    synthetic_banner : str or None
        Banner at the top (every PDF page) of a synthetic case; None for real cases.
    synthetic_mark : str or None
        The mark repeated in the footer of a synthetic case.
    running_footer : tuple of str
        Footer parts of every PDF page (the page number is added by the renderer).
    """

    title: str
    heading: str
    meta: KeyValueTable
    notice: Notice
    sections: tuple[Section, ...]
    synthetic_banner: str | None
    synthetic_mark: str | None
    running_footer: tuple[str, ...]
