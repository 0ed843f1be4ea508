"""HTML renderer of the report document: one self-contained file, everything escaped.

Images are embedded as ``data:`` URIs and the waterfall as inline SVG; no script, no
external resource. Every text taken from the document is HTML-escaped. Nothing here
decides content: see :mod:`core.report.document`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence

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
from core.report.document import build_document

_CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1a1a1a;margin:0 auto;
max-width:960px;padding:16px 24px;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;border-bottom:2px solid #ccc;
padding-bottom:2px;margin-top:1.4em}
.notice{border:3px solid #b71c1c;background:#fff3f3;padding:10px 14px;font-weight:bold;
margin:10px 0}
.synthetic{background:#6a1b9a;color:#fff;text-align:center;font-weight:bold;
letter-spacing:.2em;padding:6px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #bbb;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right}
tr.total td{font-weight:bold;background:#fafafa}
.meta td:first-child{font-weight:bold}
.cat{display:inline-block;color:#fff;padding:2px 10px;border-radius:4px;font-weight:bold}
.bar{display:inline-block;height:10px;background:#888;vertical-align:middle}
.keyimg img{width:480px;max-width:100%;height:auto;border:1px solid #999;
image-rendering:pixelated}
.caption{font-size:.9em;color:#555}
.mono{font-family:"DejaVu Sans Mono",monospace;font-size:.85em;word-break:break-all}
.warn{color:#b71c1c;font-weight:bold}
footer{margin-top:2em;font-size:.85em;color:#555;border-top:1px solid #ccc;padding-top:6px}
"""

#: Waterfall SVG layout in px: label column (at least), plot, value column, row height, top
#: margin; the plot and value columns of the narrower on-screen (``fluid``) drawing.
_SVG_LABEL_W, _SVG_PLOT_W, _SVG_VALUE_W, _SVG_ROW_H, _SVG_TOP = 200, 420, 80, 22, 10
_SVG_FLUID_PLOT_W, _SVG_FLUID_VALUE_W = 250, 60
#: Width in px of a label character at the waterfall's 12 px (DejaVu Sans averages about
#: 6.6), with a margin: the label column fits the longest label instead of clipping it.
_SVG_CHAR_W = 7.0


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table_html(header: Sequence[str], rows: Sequence[Sequence[str]], *,
                numeric: Sequence[int] = (), css_class: str = "",
                total: Sequence[str] | None = None) -> str:
    cls = f' class="{_e(css_class)}"' if css_class else ""
    parts = [f"<table{cls}>"]
    if header:
        parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header)
                     + "</tr></thead>")
    parts.append("<tbody>")

    def row_html(row: Sequence[str], tr: str = "<tr>") -> str:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row))
        return f"{tr}{cells}</tr>"

    parts.extend(row_html(r) for r in rows)
    if total is not None:
        parts.append(row_html(total, '<tr class="total">'))
    parts.append("</tbody></table>")
    return "".join(parts)


def _paragraph(block: Paragraph) -> str:
    attrs = f' class="{_e(block.style)}"' if block.style != "body" else ""
    if block.anchor:
        attrs += f' id="{_e(block.anchor)}"'
    strong = f"<b>{_e(block.strong)}</b>" if block.strong else ""
    return f"<p{attrs}>{_e(block.text)}{strong}</p>"


def _table(block: Table) -> str:
    return _table_html(block.header, block.rows, numeric=block.numeric,
                       css_class="mono" if block.mono else "", total=block.total)


def _key_values(block: KeyValueTable) -> str:
    return _table_html((), block.rows, css_class="meta mono" if block.mono else "meta")


def _image(block: Image) -> str:
    uri = "data:image/png;base64," + base64.b64encode(block.png).decode("ascii")
    return (f'<figure class="keyimg"><img src="{uri}" alt="{_e(block.caption)}">'
            f'<figcaption class="caption">{_e(block.caption)}</figcaption></figure>')


def _badge(block: CategoryBadge) -> str:
    return (f'<p>{_e(block.text)}<span class="cat" style="background:{_e(block.colour)}">'
            f"{_e(block.category)}</span></p>")


def _bar_chart(block: BarChart) -> str:
    rows = []
    for bar in block.bars:
        width = 0.0 if bar.fraction is None else bar.fraction * 200
        span = (f'<span class="bar" style="width:{width:.0f}px;background:'
                f'{_e(bar.colour)}"></span>')
        rows.append(f'<tr><td>{_e(bar.label)}</td><td class="num">{_e(bar.text)}</td>'
                    f"<td>{span}</td></tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in (*block.header, ""))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def waterfall_svg(block: Waterfall, *, fluid: bool = False) -> str:
    """The SHAP waterfall as an inline SVG: the report's, and the screens' (New case,
    What-if) without a chart engine.

    ``fluid``: a narrower plot, and the SVG shrinks to fit a narrower container (never
    grows past its own width), keeping its proportions; otherwise it has a fixed size in
    px. The label column is as wide as the longest label needs.
    """
    longest = max((len(bar.label) for bar in block.bars), default=0)
    label_w = max(_SVG_LABEL_W, round(longest * _SVG_CHAR_W) + 12)
    plot_w, value_w = ((_SVG_FLUID_PLOT_W, _SVG_FLUID_VALUE_W) if fluid
                       else (_SVG_PLOT_W, _SVG_VALUE_W))
    row_h, top = _SVG_ROW_H, _SVG_TOP
    width = label_w + plot_w + value_w
    n_rows = len(block.bars) + 1
    height = top + n_rows * row_h + 44

    def x(v: float) -> float:
        return label_w + (v - block.low) / (block.high - block.low) * plot_w

    bx = x(block.base)
    size = (f'width="100%" style="max-width:{width}px;height:auto"' if fluid
            else f'width="{width}" height="{height}"')
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" {size} '
           f'viewBox="0 0 {width} {height}" font-size="12" fill="currentColor" '
           'font-family="DejaVu Sans, Arial, sans-serif">', f"<title>{_e(block.title)}</title>",
           f'<line x1="{bx:.1f}" y1="{top}" x2="{bx:.1f}" y2="{top + n_rows * row_h}" '
           'stroke="#666" stroke-dasharray="4 3"/>']
    for i, bar in enumerate(block.bars):
        y = top + i * row_h
        x0, x1 = sorted((x(bar.start), x(bar.end)))
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                   f"{_e(bar.label)}</text>")
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1.0):.1f}" '
                   f'height="{row_h - 8}" fill="{_e(bar.colour)}"/>')
        out.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}">{_e(bar.text)}</text>')
    y = top + len(block.bars) * row_h
    if block.output is not None:
        ox = x(block.output)
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
                   f'font-weight="bold">{_e(block.output_label)}</text>')
        out.append(f'<line x1="{ox:.1f}" y1="{top}" x2="{ox:.1f}" y2="{y + row_h - 4}" '
                   'stroke="currentColor" stroke-width="2"/>')
        out.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}" font-weight="bold">'
                   f"{_e(block.output_text)}</text>")
    axis_y = top + n_rows * row_h + 16
    out.append(f'<text x="{label_w}" y="{axis_y}">{_e(block.low_text)}</text>')
    out.append(f'<text x="{label_w + plot_w}" y="{axis_y}" text-anchor="end">'
               f"{_e(block.high_text)}</text>")
    out.append(f'<text x="{bx:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#666">'
               f"{_e(block.base_text)}</text>")
    out.append("</svg>")
    return "".join(out)


def _cited_list(block: CitedList) -> str:
    items = "".join(f"<li>{_e(text)} <i>{_e(marks)}</i></li>" for text, marks in block.items)
    return f"<ul>{items}</ul>"


def _numbered_list(block: NumberedList) -> str:
    return "<ol>" + "".join(f"<li>{_e(item)}</li>" for item in block.items) + "</ol>"


_RENDERERS: dict[type, Callable[..., str]] = {
    Paragraph: _paragraph,
    Subheading: lambda block: f"<h3>{_e(block.text)}</h3>",
    Table: _table,
    KeyValueTable: _key_values,
    Notice: lambda block: (f'<div class="notice" id="decision-support-notice" role="note">'
                           f"{_e(block.text)}</div>"),
    Image: _image,
    CategoryBadge: _badge,
    BarChart: _bar_chart,
    Waterfall: waterfall_svg,
    CitedList: _cited_list,
    NumberedList: _numbered_list,
}


def render_block(block: Block) -> str:
    """HTML of one block."""
    return _RENDERERS[type(block)](block)


def _section(section: Section) -> str:
    body = "".join(render_block(b) for b in section.blocks)
    return f'<section id="{_e(section.id)}"><h2>{_e(section.title)}</h2>{body}</section>'


def render_html(doc: ReportDocument) -> str:
    """The document as one self-contained HTML5 page."""
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{_e(doc.title)}</title><style>{_CSS}</style></head><body>"]
    if doc.synthetic_banner is not None:
        parts.append(f'<div class="synthetic" id="synthetic-mark">'
                     f"{_e(doc.synthetic_banner)}</div>")
    parts.append(f"<header><h1>{_e(doc.heading)}</h1>{render_block(doc.meta)}</header>")
    parts.append(render_block(doc.notice))
    parts.extend(_section(s) for s in doc.sections)
    parts.append(f"<footer><p>{_e(doc.notice.text)}</p>")
    if doc.synthetic_mark is not None:
        parts.append(f"<p><b>{_e(doc.synthetic_mark)}</b></p>")
    parts.append("</footer></body></html>")
    return "".join(parts)


def build_report_html(ctx: ReportContext) -> str:
    """The case report as one self-contained HTML document.

    Images are embedded as ``data:`` URIs and the waterfall as inline SVG; no script,
    no external resource. Every value taken from the context is HTML-escaped.

    Parameters
    ----------
    ctx : ReportContext
        The case.

    Returns
    -------
    str
        HTML5 text (UTF-8).
    """
    return render_html(build_document(ctx))
