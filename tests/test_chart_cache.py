"""Charts built once per input (issue 12: warm page switches): ``ui.components.cached_chart``
draws the same element as ``st.altair_chart`` without building, validating and
serialising the chart again on the next run."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.test_app_pages import charts_of

BUILDS: list[dict] = []


def probability_chart(probabilities: dict, *, highlight: str) -> object:
    """A small layered Altair chart (bars and their text) of ``probabilities``."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame({"category": list(probabilities),
                          "probability": list(probabilities.values())})
    frame["predicted"] = frame["category"] == highlight
    base = alt.Chart(frame).encode(y=alt.Y("category:N", title=None))
    bars = base.mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
        opacity=alt.condition("datum.predicted", alt.value(1.0), alt.value(0.55)))
    return (bars + base.mark_text(align="left").encode(x="probability:Q", text="category:N")
            ).properties(height=140, title="Probabilities")


def counting_bars(probabilities: dict, *, highlight: str) -> object:
    """:func:`probability_chart` that records each build."""
    BUILDS.append(dict(probabilities))
    return probability_chart(probabilities, highlight=highlight)


def _both_ways() -> None:
    import streamlit as st

    from tests.test_chart_cache import probability_chart
    from ui import components as c

    probabilities = {"mild": 0.2, "moderate": 0.5, "severe": 0.3}
    chart = probability_chart(probabilities, highlight="moderate")
    st.altair_chart(chart, key="plain", height=int(chart.height) + 95)
    c.chart(c.cached_chart(probability_chart, probabilities, highlight="moderate"),
            key="cached")
    from ui import board_linked

    levels = [{"level": "L1", "region": "lumbar", "lesion_count": 1,
               "high_intensity_ratio": 0.2, "high_intensity_volume_ml": 1.0,
               "vertebra_volume_ml": 30.0}]
    st.altair_chart(board_linked.selectable_spine(levels, ("L1",)), key="plain_pick",
                    on_select="rerun", selection_mode=[board_linked.PICK])
    c.chart(c.cached_chart(board_linked.selectable_spine, levels, ("L1",)), key="cached_pick",
            on_select="rerun", selection_mode=[board_linked.PICK])


def _counted() -> None:
    import streamlit as st

    from tests.test_chart_cache import counting_bars
    from ui import components as c

    moderate = st.session_state.get("moderate", 0.5)
    c.chart(c.cached_chart(counting_bars, {"mild": 0.5 - moderate / 2, "moderate": moderate,
                                           "severe": 0.5 - moderate / 2},
                           highlight="moderate"), key="bars")


def test_a_cached_chart_is_the_same_element_as_st_altair_chart() -> None:
    at = AppTest.from_function(_both_ways, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    plain, cached, plain_pick, cached_pick = at.get("vega_lite_chart")
    assert json.loads(plain_pick.proto.spec) == json.loads(cached_pick.proto.spec)
    assert list(cached_pick.proto.selection_mode) == ["pick"]
    assert list(plain_pick.proto.selection_mode) == ["pick"]
    assert json.loads(plain.proto.spec) == json.loads(cached.proto.spec)
    assert [(d.name, d.data.data) for d in plain.proto.datasets] == [
        (d.name, d.data.data) for d in cached.proto.datasets]
    (_, rows_a), (_, rows_b), *_ = charts_of(at)
    assert rows_a == rows_b and len(rows_a) == 3


def test_a_cached_chart_is_built_once_per_input() -> None:
    BUILDS.clear()
    at = AppTest.from_function(_counted, default_timeout=60).run()
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(BUILDS) == 1  # three runs, one build
    at.session_state["moderate"] = 0.7
    at.run()
    assert len(BUILDS) == 2  # a new input builds a new chart ...
    assert BUILDS[-1]["moderate"] == 0.7
    rows = charts_of(at)[0][1]
    assert sorted(round(r["probability"], 2) for r in rows if "probability" in r) == [
        0.15, 0.15, 0.7]
