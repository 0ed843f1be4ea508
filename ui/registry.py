"""The page registry: the one list of the app's pages.

``app.py`` builds its navigation from :data:`PAGES` and Home its "where to start" links
and blurbs. Adding a page is one entry here plus its script in ``pages/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

APP_TITLE = "Spinal metastasis pain — decision support"
APP_ICON = ":material/healing:"


@dataclass(frozen=True)
class PageSpec:
    """One page.

    Attributes
    ----------
    path : str
        Script, relative to ``app.py`` (``pages/tumor_board.py``); its stem is the URL.
    title : str
        Navigation and link label.
    icon : str
        Material icon.
    section : str
        Navigation section.
    blurb : str
        One line for Home.
    default : bool
        The page ``/`` opens.
    """

    path: str
    title: str
    icon: str
    section: str
    blurb: str
    default: bool = False

    @property
    def name(self) -> str:
        """URL path of the page (the script's stem, ``tumor_board``)."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".py")


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/home.py", "Home", ":material/home:", "Overview",
             "What the tool does, the model in use and the case store.", default=True),
    PageSpec("pages/new_case.py", "New case", ":material/add_circle:", "Cases",
             "Upload an MRI (or use a demo image), measure lesions per level, enter clinical "
             "fields, get a prediction and save the case."),
    PageSpec("pages/tumor_board.py", "Tumor board", ":material/groups:", "Cases",
             "Case list with filters and a large-print case card for projection."),
    PageSpec("pages/what_if.py", "What-if", ":material/tune:", "Cases",
             "Move any model input and watch prediction, explanation and tier change."),
    PageSpec("pages/surveillance.py", "Surveillance", ":material/timeline:", "Cases",
             "A patient's studies over time: lesions by region, HI ratio and pain, what "
             "changed since the previous study, alerts; a worklist of patients whose alerts "
             "fired."),
    PageSpec("pages/report.py", "Report", ":material/description:", "Cases",
             "Export a case report as HTML or PDF."),
    PageSpec("pages/import_cohort.py", "Import cohort", ":material/upload_file:", "Cases",
             "Upload a clinical table (CSV or Excel): every row validated, the problems "
             "listed, the valid studies imported and scored."),
    PageSpec("pages/cohort.py", "Cohort analytics", ":material/monitoring:", "Cohort and model",
             "The paper's analyses on the loaded cohort: pain by region, lesion count vs HI "
             "ratio (Spearman), pain by burden, tiers, global SHAP importance."),
    PageSpec("pages/teaching.py", "Teaching", ":material/school:", "Cohort and model",
             "The paper's three findings step by step, two cases side by side with their "
             "SHAP differences, a quiz, and an anonymised case library."),
    PageSpec("pages/model.py", "Model", ":material/model_training:", "Cohort and model",
             "Model card, calibration, weights, intended use; retrain on a site cohort."),
)

PAGES_BY_NAME: dict[str, PageSpec] = {p.name: p for p in PAGES}


def page(name: str) -> PageSpec:
    """The page whose URL path is ``name`` (``"tumor_board"``)."""
    return PAGES_BY_NAME[name]


def navigation() -> Any:
    """``st.navigation`` over :data:`PAGES`, one section per ``section`` (in order)."""
    sections: dict[str, list] = {}
    for spec in PAGES:
        sections.setdefault(spec.section, []).append(
            st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec.default))
    return st.navigation(sections)


def page_link(name: str, label: str | None = None) -> None:
    """``st.page_link`` to a registered page (its title and icon unless ``label``)."""
    spec = page(name)
    st.page_link(spec.path, label=label or spec.title, icon=spec.icon)


def start_links(columns: int = 3) -> None:
    """Home's "where to start": every page but the default, with its blurb, in columns."""
    shown = [p for p in PAGES if not p.default]
    per_column = -(-len(shown) // columns)
    for column, start in zip(st.columns(columns), range(0, len(shown), per_column),
                             strict=False):
        with column:
            for spec in shown[start:start + per_column]:
                page_link(spec.name)
                st.caption(spec.blurb)
