"""Cohort analytics drawn for speed at 100k studies (issue 12): one section per run,
aggregated charts whose figures use every row, and chart specs cached between runs.

The pure parts run on made-up frames larger than :data:`ui.cohort.POINT_LIMIT`; the page
parts on the teaching module's small demo store (AppTest).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core import cohort_stats
from tests.test_app_pages import (
    assert_ok,
    charts_of,
    cohort_sections,
    dataframe_with,
    open_path,
    store,
    svg_figures,
)
from tests.test_app_teach import env, teach_store  # noqa: F401  (fixtures)

# ------------------------------------------------------------------------ statistics


def _frame(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vas = rng.integers(0, 11, n).astype(float)
    vas[rng.random(n) < 0.1] = np.nan  # some studies without a recorded VAS
    return pd.DataFrame({
        "study_id": np.arange(n),
        "region_group": rng.choice(["lumbar", "thoracic only", "cervical only", "other", ""],
                                   n),
        "vas": vas,
        "lesion_count": rng.integers(0, 12, n).astype(float),
        "high_intensity_ratio": rng.uniform(0, 0.4, n),
    })


def test_box_stats_match_numpy_and_tukey_whiskers() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(5, 1, 500), [30.0, -20.0]])  # two far outliers
    frame = pd.DataFrame({"g": ["a"] * len(values) + ["b"] * 3,
                          "v": [*values, 1.0, 2.0, None]})
    box = cohort_stats.box_stats(frame, "g", "v", ["b", "a"])
    assert list(box.columns) == list(cohort_stats.BOX_COLUMNS)
    assert list(box["group"]) == ["b", "a"]
    a = box.set_index("group").loc["a"]
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    assert (a["q1"], a["median"], a["q3"]) == pytest.approx((q1, med, q3))
    inside = values[(values >= q1 - 1.5 * (q3 - q1)) & (values <= q3 + 1.5 * (q3 - q1))]
    assert a["low"] == inside.min() > -20 and a["high"] == inside.max() < 30
    assert a["n"] == len(values) and a["mean"] == pytest.approx(values.mean())
    b = box.set_index("group").loc["b"]
    assert b["n"] == 2 and b["median"] == 1.5  # the missing value is left out


def test_binned_counts_count_every_complete_pair_once() -> None:
    frame = pd.DataFrame({"x": [0, 0, 1, 1, 2.0, None],
                          "y": [0.0, 0.049, 0.05, 0.29, 0.30, 0.1]})
    cells = cohort_stats.binned_counts(frame, "x", "y", y_step=5, y_scale=100)
    assert list(cells.columns) == list(cohort_stats.BINNED_COLUMNS)
    got = {(r.x, r.y_low): r.studies for r in cells.itertuples()}
    # 0.05 and 0.30 are band edges: they open the next band; 0.29 (28.999… in floats)
    # stays in 25-30.
    assert got == {(0.0, 0.0): 2, (1.0, 5.0): 1, (1.0, 25.0): 1, (2.0, 30.0): 1}
    assert (cells["y_high"] - cells["y_low"] == 5).all()
    with pytest.raises(ValueError, match="y_step"):
        cohort_stats.binned_counts(frame, "x", "y", y_step=0)


def test_aggregated_charts_use_every_row_of_a_large_frame() -> None:
    from ui import cohort, cohort_charts, cohort_svg

    frame = _frame(5 * cohort.POINT_LIMIT)
    box = cohort.region_box(frame)
    compared = frame[frame["region_group"].isin(cohort.REGION_GROUP_ORDER)]
    assert box["n"].sum() == compared["vas"].notna().sum()
    assert list(box["group"]) == [g for g in cohort.REGION_GROUP_ORDER
                                  if g in set(compared["region_group"])]
    assert cohort.region_points(frame) is None  # too many studies for dots
    assert len(svg_marks(cohort_svg.region_box_svg(box, None), "data-vas")) == 0
    cells = cohort.burden_cells(frame)
    assert cells["studies"].sum() == len(frame)
    chart = cohort_charts.binned_rank_chart(cells, pd.DataFrame({"x": [0, 11], "y": [1, 20]}))
    spec = chart.to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect", "line"]
    small = frame.head(100)
    points = cohort.region_points(small)
    in_groups = small[small["region_group"].isin(cohort.REGION_GROUP_ORDER)]
    assert points is not None and len(points) == in_groups["vas"].notna().sum()
    assert points["jitter"].abs().max() <= 0.6
    drawn = cohort_svg.region_box_svg(cohort.region_box(small), points)
    dots = svg_marks(drawn, "data-vas")
    assert sorted(float(d["data-vas"]) for d in dots) == sorted(points["vas"])
    assert len(svg_marks(drawn, "data-box")) == len(cohort.region_box(small))


def test_chart_spec_is_the_chart_without_the_default_theme() -> None:
    from ui import charts, cohort, cohort_charts

    frame = _frame(50)
    chart = cohort_charts.binned_rank_chart(cohort.burden_cells(frame), None)
    spec = json.loads(charts.chart_spec(chart))
    assert "config" not in spec and spec["height"] == 320
    assert spec["datasets"] and all(isinstance(v, list) for v in spec["datasets"].values())
    assert charts.chart_png(charts.chart_spec(chart), scale=1.0)[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts.chart_svg(charts.chart_spec(chart)).startswith("<svg")


# ------------------------------------------------------------------ the region SVGs

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_marks(svg: str, attribute: str) -> list[dict[str, str]]:
    """The attributes of every element of ``svg`` that has ``attribute``, in drawing
    order (the SVG is parsed as XML: it must be well formed)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(svg)
    return [dict(el.attrib, title=el.findtext(f"{SVG_NS}title") or "")
            for el in root.iter() if attribute in el.attrib]


def test_region_box_svg_draws_every_figure_exactly_on_the_vas_axis() -> None:
    """Each box carries its Tukey figures; its rectangle spans q1-q3 on a 0-10 axis of
    :data:`~ui.cohort_svg.BOX_PLOT_H` px; an odd group name is escaped; the file version
    is dark on white with no page colour."""
    from ui import charts, cohort_svg

    box = pd.DataFrame({"group": ["lumbar", "a<b & \"c\""], "n": [1200, 3],
                        "q1": [2.0, 4.0], "median": [5.0, 5.5], "q3": [7.5, 6.0],
                        "low": [0.0, 4.0], "high": [10.0, 7.0], "mean": [4.9, 5.3]})
    svg = cohort_svg.region_box_svg(box)
    marks = svg_marks(svg, "data-box")
    assert [m["data-group"] for m in marks] == ["lumbar", 'a<b & "c"']
    for mark, row in zip(marks, box.itertuples(), strict=True):
        assert int(mark["data-n"]) == row.n
        assert float(mark["data-median"]) == row.median and float(mark["data-q1"]) == row.q1
        assert float(mark["height"]) == pytest.approx(
            (row.q3 - row.q1) / 10 * cohort_svg.BOX_PLOT_H, abs=0.1)
        assert float(mark["y"]) == pytest.approx(
            cohort_svg.BOX_TOP + cohort_svg.BOX_PLOT_H * (1 - row.q3 / 10), abs=0.1)
        assert f"median VAS {row.median:.1f}" in mark["title"]
    assert "n = 1,200" in svg and "Pain by region of involvement" in svg
    empty = cohort_svg.region_box_svg(box.head(0))
    assert "No study with a recorded VAS" in empty and not svg_marks(empty, "data-box")
    file_svg = cohort_svg.region_box_svg(box, standalone=True)
    assert "currentColor" not in file_svg and 'fill="white"' in file_svg
    assert charts.svg_png(file_svg, scale=1.0)[:8] == b"\x89PNG\r\n\x1a\n"


def test_effect_forest_svg_places_r_and_its_interval_and_leaves_out_what_is_missing() -> None:
    from ui import cohort_svg

    pairs = pd.DataFrame({"group_a": ["lumbar", "lumbar"],
                          "group_b": ["thoracic only", "cervical only"],
                          "r_rb": [0.5, -0.25], "ci_low": [0.1, np.nan],
                          "ci_high": [0.8, np.nan], "p_holm": [0.012, 0.4]})
    svg = cohort_svg.effect_forest_svg(pairs)
    marks = svg_marks(svg, "data-r")
    assert [m["data-pair"] for m in marks] == ["lumbar vs thoracic only",
                                               "lumbar vs cervical only"]
    span = cohort_svg.FOREST_W - cohort_svg.FOREST_LEFT - cohort_svg.FOREST_RIGHT
    for mark, r in zip(marks, (0.5, -0.25), strict=True):
        assert float(mark["data-r"]) == r
        assert float(mark["cx"]) == pytest.approx(
            cohort_svg.FOREST_LEFT + (r + 1) / 2 * span, abs=0.1)
    assert "p (Holm) 0.012" in marks[0]["title"] and "+0.10 to +0.80" in marks[0]["title"]
    intervals = [el for el in svg_marks(svg, "stroke-width") if el.get("stroke") == "#455a64"]
    assert len(intervals) == 1  # the pair without an interval has its point only
    assert "r &gt; 0: the first group has more pain" in svg


# -------------------------------------------------------------------------- the page


def _titles(at) -> list[str]:
    """The title of every chart of the page: the SVG figures, then the Vega charts."""
    out = [re.search(r"<title>([^<]*)</title>", svg).group(1) for svg in svg_figures(at)]
    for spec, _ in charts_of(at):
        title = spec.get("title", "")
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


def test_cohort_page_draws_the_chosen_section_only(env: Path) -> None:  # noqa: F811
    from ui.cohort_views import SECTIONS

    at = open_path("pages/cohort.py")
    assert at.session_state["cohort_section"] == "region"  # the default
    assert _titles(at) == ["Pain by region of involvement", "Effect size per region pair"]
    assert [h.value for h in at.header] == [SECTIONS["region"]]
    expected = {
        "region": ["Pain by region of involvement", "Effect size per region pair"],
        "burden": ["Lesion count vs high-intensity ratio", "Pain by number of lesions",
                   "Pain by HI ratio"],
        "advice": ["Urgency of the advice, by what leads it",
                   "Predicted vs recorded pain category"],
        "importance": ["Global feature importance",
                       "Grouped importance: imaging burden vs clinical findings"],
    }
    for section in cohort_sections(at):
        chosen = at.session_state["cohort_section"]
        assert _titles(section) == expected[chosen], chosen
        assert [h.value for h in section.header] == [SECTIONS[chosen]]
    assert set(expected) == set(SECTIONS)


def test_cohort_section_is_kept_across_page_switches(env: Path) -> None:  # noqa: F811
    at = open_path("pages/cohort.py")
    at.segmented_control(key="cohort_section").set_value("advice").run()
    at.switch_page("pages/model.py").run()
    assert_ok(at)
    at.switch_page("pages/cohort.py").run()
    assert_ok(at)
    assert at.session_state["cohort_section"] == "advice"
    assert "Urgency of the advice, by what leads it" in _titles(at)


def test_cohort_box_counts_every_study_of_the_region_table(env: Path) -> None:  # noqa: F811
    at = open_path("pages/cohort.py")
    table = dataframe_with(at, "Region group")
    box = svg_marks(svg_figures(at)[0], "data-box")
    # the table is HTML: its cells read back as the text shown
    assert {r["data-group"]: int(r["data-n"]) for r in box} == dict(
        zip(table["Region group"], table["Studies"].astype(int), strict=True))
    assert {r["data-group"]: float(r["data-median"]) for r in box} == dict(
        zip(table["Region group"], table["Median VAS"].astype(float), strict=True))
    assert not charts_of(at)  # no chart engine for the region section


def test_warm_rerun_reuses_the_drawn_region_charts(env: Path,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import cohort_svg

    at = open_path("pages/cohort.py")
    before = svg_figures(at)
    assert len(before) == 2 and 'data-testid="region-box"' in before[0]
    assert 'data-testid="effect-forest"' in before[1]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the chart was drawn again on a warm rerun")

    monkeypatch.setattr(cohort_svg, "region_box_svg", refuse)
    monkeypatch.setattr(cohort_svg, "effect_forest_svg", refuse)
    at.run()
    assert_ok(at)
    assert svg_figures(at) == before


def test_model_card_figures_are_built_once_per_model(env: Path,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import charts, model_card

    at = open_path("pages/model.py")
    assert not charts_of(at)  # the card's figures are images, not Vega charts
    images = at.get("image")
    assert len(images) == 2
    card = json.loads((Path(__file__).resolve().parents[1] / "models" / "demo" /
                       "model_card.json").read_text())
    svg = model_card.card_figure(card, "reliability")
    assert svg.startswith("<svg") and "Reliability (out-of-fold)" in svg
    assert "Model weights (standardised)" in model_card.card_figure(card, "coefficients")
    with pytest.raises(ValueError, match="card chart"):
        model_card.card_figure(card, "roc")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the card's figure was built again on a warm rerun")

    monkeypatch.setattr(charts, "reliability_diagram", refuse)
    monkeypatch.setattr(charts, "coefficient_bars", refuse)
    monkeypatch.setattr(charts, "chart_svg", refuse)
    at.run()
    assert_ok(at)
    assert len(at.get("image")) == 2


def test_key_figures_of_every_section_stay_on_screen(env: Path) -> None:  # noqa: F811
    from scipy.stats import spearmanr

    at = open_path("pages/cohort.py")
    for section in cohort_sections(at):
        line = next(m.value for m in section.markdown if m.value.startswith("**Key figures**"))
        assert "Kruskal-Wallis p" in line and "lesions vs HI ratio: Spearman r = " in line
        assert "pain vs lesions" in line and "pain vs HI ratio" in line
    studies = store().list_studies()[["lesion_count", "high_intensity_ratio"]].dropna()
    r = spearmanr(studies["lesion_count"], studies["high_intensity_ratio"]).statistic
    assert f"lesions vs HI ratio: Spearman r = {r:.2f} " in line


def test_counted_cliffs_delta_equals_the_rank_sum() -> None:
    """The counting path of the effect size's bootstrap statistic gives the rank-sum
    value exactly (ties, a batch axis, broadcast jackknife shapes)."""
    rng = np.random.default_rng(11)
    for a, b in ((rng.integers(0, 11, (50, 40)), rng.integers(0, 11, (50, 30))),
                 (rng.integers(0, 21, (1, 9)) / 2, rng.integers(0, 21, (1, 7)) / 2),
                 (rng.integers(0, 11, 25), rng.integers(0, 11, 60))):
        a, b = a.astype(float), b.astype(float)
        values = np.unique(np.concatenate([a.ravel(), b.ravel()]))
        ranked = cohort_stats._delta(a, b)
        counted = cohort_stats._delta(a, b, values=values)
        assert np.asarray(counted).shape == np.asarray(ranked).shape
        assert np.allclose(counted, ranked, rtol=0, atol=1e-12)
        # the values' positions stand for the values (the bootstrap resamples positions)
        coded = cohort_stats._delta(np.searchsorted(values, a), np.searchsorted(values, b),
                                    values=values, coded=True)
        assert np.array_equal(coded, counted)
    jack = rng.integers(0, 11, (12, 11)).astype(float)  # jackknife rows vs one sample
    other = rng.integers(0, 11, (1, 15)).astype(float)
    values = np.unique(np.concatenate([jack.ravel(), other.ravel()]))
    assert np.allclose(cohort_stats._delta(jack, other, values=values),
                       cohort_stats._delta(jack, np.broadcast_to(other, (12, 15))))
    x, y = rng.integers(0, 11, 40).astype(float), rng.integers(0, 11, 30).astype(float)
    low, high = cohort_stats.delta_ci(x, y, n_resamples=300)
    assert -1 <= low <= cohort_stats.cliffs_delta(x, y) <= high <= 1
    # resampling positions gives the interval of resampling the values, to the bit
    values = np.unique(np.concatenate([x, y]))
    by_value = stats.bootstrap((x, y), functools.partial(cohort_stats._delta, values=values),
                               vectorized=True, paired=False, n_resamples=300,
                               method="BCa", rng=np.random.default_rng(7), batch=200)
    assert cohort_stats.delta_ci(x, y, n_resamples=300, seed=7) == (
        by_value.confidence_interval.low, by_value.confidence_interval.high)


def test_teaching_on_an_empty_store_says_so_in_every_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk-through no longer waits for the case library (it reads the cohort), and
    still says plainly when there is nothing to teach on."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import app_env
    from tests.test_app_pages import APP, TIMEOUT
    from ui import teaching

    with app_env(tmp_path, monkeypatch):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.switch_page("pages/teaching.py").run()
        assert_ok(at)
        for part in teaching.SECTIONS:
            at.radio(key=teaching.SECTION_KEY).set_value(part).run()
            assert_ok(at)
            assert [i.value for i in at.info] == [teaching.EMPTY_NOTE], part
            assert not charts_of(at)
