"""AppTests of the tumor board (issue 13): the card opens on the list's first row,
previous / next, a click on a row, the agenda with decisions saved and audited, the fold
of cases with and without images, and the linked explanation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import test_app_pages as app_pages
from tests.test_app_pages import (
    assert_ok,
    board_tab,
    dataframe_with,
    html_text,
    htmls,
    open_page,
    store,
)

# The session demo store and the app's environment of the page tests.
app_store = app_pages.app_store
env = app_pages.env


def _listed(at: AppTest) -> list[int]:
    return [int(s) for s in dataframe_with(at, "Override")["Study"]]


def _title(at: AppTest) -> str:
    found = [h for h in htmls(at) if 'data-testid="board-card-title"' in h]
    assert len(found) == 1, f"{len(found)} case titles"
    return found[0]


def _presented(at: AppTest) -> int:
    return int(at.session_state["board_study"])


def _board() -> AppTest:
    """The Tumor board with its Case list tab open."""
    at = open_page("tumor_board")
    board_tab(at, "Case list")
    assert_ok(at)
    return at


def test_card_opens_on_the_first_row_and_steps_with_next_and_previous(env: Path) -> None:
    at = _board()
    listed = _listed(at)
    assert len(listed) == len(set(listed)) >= 5  # never a study twice
    assert _presented(at) == listed[0]
    assert f"Study {listed[0]} " in _title(at)
    assert at.button(key="board_prev").disabled and not at.button(key="board_next").disabled
    for i in range(1, 5):
        at.button(key="board_next").click().run()
        assert_ok(at)
        assert _presented(at) == listed[i]
        assert f"Study {listed[i]} " in _title(at)
        assert _listed(at) == listed  # the list does not move under the board
    at.button(key="board_prev").click().run()
    assert _presented(at) == listed[3] and f"Study {listed[3]} " in _title(at)
    assert at.selectbox(key="board_study").value == listed[3]


def test_a_click_on_a_row_presents_that_case(env: Path) -> None:
    at = _board()
    listed = _listed(at)
    table_key, ids, presented = at.session_state["board_table_state"]
    assert ids == listed and presented == listed[0]
    at.session_state[table_key] = {"selection": {"rows": [3], "columns": [],
                                                 "cells": []}}
    at.run()
    assert_ok(at)
    assert _presented(at) == listed[3]
    assert f"Study {listed[3]} " in _title(at)
    # The table follows: its selected row is the case on screen.
    new_key, _, now = at.session_state["board_table_state"]
    assert new_key != table_key and now == listed[3]
    at.button(key="board_next").click().run()
    assert _presented(at) == listed[4]


def test_a_case_asked_for_by_another_page_opens(env: Path) -> None:
    at = _board()
    listed = _listed(at)
    at.session_state["board_study_id"] = listed[6]
    at.run()
    assert _presented(at) == listed[6]


def test_agenda_in_order_with_a_decision_saved_and_audited(env: Path) -> None:
    at = _board()
    day = dt.date(2031, 5, 6)  # a date of its own: other tests leave its agenda empty
    at.session_state["board_date"] = day
    at.run()
    listed = _listed(at)
    board_tab(at, "Agenda")
    assert not [d for d in at.dataframe if "Override" in d.value.columns]  # one tab drawn
    at.button(key="board_next").click().run()
    at.button(key="board_agenda_add").click().run()
    assert_ok(at)
    assert list(store().agenda(day)["study_id"]) == [listed[1]]
    at.button(key="board_prev").click().run()
    at.button(key="board_agenda_add").click().run()
    assert list(store().agenda(day)["study_id"]) == [listed[1], listed[0]]
    # Step through the agenda: it opens on its first case, in the agenda's order.
    at.segmented_control(key="board_source").set_value("Agenda").run()
    assert_ok(at)
    assert _presented(at) == listed[1]
    shown = dataframe_with(at, "Decision")
    assert list(shown["Study"]) == [listed[1], listed[0]] and list(shown["#"]) == [1, 2]
    at.button(key="board_next").click().run()
    assert _presented(at) == listed[0]
    assert at.button(key="board_next").disabled
    # The decision: discussed, one line, saved with its audit entry.
    at.checkbox(key=f"board_note_discussed_{listed[0]}").check()
    at.text_input(key=f"board_note_text_{listed[0]}").input("SBRT to L1-L3; review 6 weeks")
    at.button(key="board_note_save").click().run()
    assert_ok(at)
    saved = store().agenda(day).set_index("study_id").loc[listed[0]]
    assert bool(saved["discussed"]) and saved["note"] == "SBRT to L1-L3; review 6 weeks"
    entry = store().audit_log().iloc[-1]
    assert entry["action"] == "board-note" and entry["target"] == f"study {listed[0]}"
    assert any("board-note" in s.value for s in at.success)
    shown = dataframe_with(at, "Decision")
    assert list(shown["Discussed"]) == ["", "yes"]
    assert list(shown["Decision"]) == ["", "SBRT to L1-L3; review 6 weeks"]
    at.button(key="board_agenda_remove").click().run()
    assert list(store().agenda(day)["study_id"]) == [listed[1]]


def test_a_board_decision_keeps_the_cached_case_list(env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Agenda entries and decisions change no study or score (they do not move the data
    revision), so the runs after them read the case list, its counts, the score status
    and the date range from the caches: on 100,000 studies that re-read took over a
    second after every decision."""
    from core.store import CaseStore

    at = _board()
    day = dt.date(2031, 6, 7)  # a date of its own
    at.session_state["board_date"] = day
    at.run()
    listed = _listed(at)
    board_tab(at, "Agenda")
    reads: list[str] = []
    for name in ("count_studies", "scored_studies", "score_status", "study_date_range",
                 "assessment_errors", "study_counts"):
        original = getattr(CaseStore, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(CaseStore, name, counted)
    at.button(key="board_agenda_add").click().run()
    at.segmented_control(key="board_source").set_value("Agenda").run()
    at.checkbox(key=f"board_note_discussed_{listed[0]}").check()
    at.text_input(key=f"board_note_text_{listed[0]}").input("RT 8 Gy/1 to T9")
    at.button(key="board_note_save").click().run()
    assert_ok(at)
    assert store().agenda(day).set_index("study_id").loc[listed[0], "note"] == "RT 8 Gy/1 to T9"
    assert reads == []
    # a write to the scores moves the data revision: the next run reads the list again
    from core.model import load_model

    store().recompute_scores(load_model())
    at.run()
    assert_ok(at)
    assert "count_studies" in reads and "scored_studies" in reads


def test_an_empty_agenda_says_so_and_offers_the_case_list(env: Path) -> None:
    at = open_page("tumor_board")
    at.session_state["board_date"] = dt.date(2032, 1, 2)
    at.segmented_control(key="board_source").set_value("Agenda").run()
    assert_ok(at)
    assert any("agenda of this date is empty" in w.value for w in at.warning)
    at.segmented_control(key="board_source").set_value("Case list").run()
    board_tab(at, "Case list")
    assert _presented(at) == _listed(at)[0]


def _study_of(patient: str) -> int:
    studies = store().list_studies()
    return int(studies[studies["patient_id"] == patient]["study_id"].iloc[0])


def test_fold_of_an_imaging_case_names_levels_lumbar_and_hi_ratio(env: Path) -> None:
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(_study_of("DEMO-IMG-03")).run()
    assert_ok(at)
    assert at.image, "no key image"
    burden = next(h for h in htmls(at) if 'data-testid="board-burden"' in h)
    assert "Involved levels: T12, L1, L3" in burden
    assert "Lumbar involvement: <b" in burden and "yes (" in burden
    assert "HI ratio overall <b>" in burden and "%" in burden
    pain = next(h for h in htmls(at) if 'data-testid="board-pain"' in h)
    assert "Recorded VAS" in pain and "Predicted:" in pain
    # Order on the page: title, headline, pain and burden, then the explanation (its
    # tab open first).
    order = htmls(at)
    index = {k: next(i for i, h in enumerate(order) if f'data-testid="{k}"' in h)
             for k in ("board-card-title", "advice-headline", "board-pain", "board-burden",
                       "probability-bars")}
    assert (index["board-card-title"] < index["advice-headline"] < index["board-pain"]
            < index["probability-bars"])
    assert index["board-burden"] < index["probability-bars"]
    assert "predicted-category" not in html_text(at)  # the estimate is shown once, above
    assert "board-history-short" not in html_text(at)  # the image takes that space


def test_fold_without_an_image_shows_burden_and_history_instead(env: Path) -> None:
    studies = store().list_studies()
    counts = studies.groupby("patient_id")["study_id"].transform("count")
    row = studies[(~studies["has_image"].astype(bool)) & (counts > 1)].iloc[-1]
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(int(row["study_id"])).run()
    assert_ok(at)
    assert not at.image
    history = next(h for h in htmls(at) if 'data-testid="board-history-short"' in h)
    assert history.count("<li>") == int(counts[row.name])
    assert "(this study)" in history
    burden = next(h for h in htmls(at) if 'data-testid="board-burden"' in h)
    assert "Lumbar involvement:" in burden
    assert "multiple" not in burden
    assert "level(s)" not in burden


def test_case_list_names_regions_and_lumbar(env: Path) -> None:
    at = _board()
    listed = dataframe_with(at, "Lumbar")
    assert set(listed["Lumbar"]) <= {"yes", "no", "not recorded"}
    assert "multiple" not in set(listed["Regions"])
    assert "Region" not in listed.columns


def test_selecting_a_shap_bar_highlights_its_levels(env: Path) -> None:
    from core.features import FEATURES_BY_NAME

    study_id = _study_of("DEMO-IMG-03")
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(study_id).run()
    label = FEATURES_BY_NAME["lesion_count_lumbosacral"].label
    at.session_state[f"board_shap_{study_id}"] = {
        "selection": {"pick": [{"label": f"{label} = 2"}]}}
    at.run()
    assert_ok(at)
    info = [i.value for i in at.info if "comes from" in i.value]
    assert info == [f"{label} comes from L1, L3."], [i.value for i in at.info]
    assert at.session_state[f"board_link_{study_id}"].levels == ("L1", "L3")
    # A level picked in the spine diagram is the newer selection: it wins.
    at.session_state[f"board_spine_{study_id}"] = {"selection": {"pick": [{"level": "T12"}]}}
    at.run()
    assert_ok(at)
    assert at.session_state[f"board_link_{study_id}"].levels == ("T12",)
    assert any(i.value == "Level T12 selected." for i in at.info)
    slice_key = "board_viewer_slice_sagittal"
    assert slice_key in at.session_state


@pytest.mark.parametrize("projection", [True, False])
def test_both_layouts_keep_the_headline_above_the_estimate(env: Path, projection: bool) -> None:
    at = open_page("tumor_board")
    at.toggle(key="board_projection").set_value(projection).run()
    assert_ok(at)
    order = htmls(at)
    head = next(i for i, h in enumerate(order) if 'data-testid="advice-headline"' in h)
    est = next(i for i, h in enumerate(order) if 'data-testid="board-pain"' in h)
    assert head < est
    styles = "\n".join(order)
    assert ('[data-testid="stSidebar"]' in styles) is projection  # projection hides it


def test_a_level_row_jumps_the_viewer_to_that_level(env: Path) -> None:
    from ui import slice_render
    from ui.cache import stored_study_images

    study_id = _study_of("DEMO-IMG-03")
    images = stored_study_images(store().get_study(study_id))
    assert images is not None
    label = {v: k for k, v in images.level_names.items()}
    at = open_page("tumor_board")
    at.selectbox(key="board_study").set_value(study_id).run()
    levels = dataframe_with(at, "Vertebra volume (ml)")
    names = list(levels["Level"])
    for name in ("T12", "L3"):
        at.session_state[f"board_levels_{study_id}"] = {
            "selection": {"rows": [names.index(name)], "columns": [], "cells": []}}
        at.run()
        assert_ok(at)
        expected = slice_render.jump_slice("sagittal", images.vertebrae, label[name],
                                           images.lesions)
        assert at.session_state["board_viewer_slice_sagittal"] == expected, name
        assert at.session_state[f"board_link_{study_id}"].levels == (name,)
        caption = next(i.captions[0] for i in at.image if "highlighted in yellow" in
                       (i.captions[0] or ""))
        assert f"highlighted in yellow: {name}" in caption


def test_the_filters_open_from_a_button_and_the_active_ones_are_named(env: Path) -> None:
    """The search stays on the page; the other filters are in a popover (its widgets
    exist only while it is open, so its label stays "Filters": a new label would make it
    a new popover, closed at each pick), and the caption beside it names the active ones,
    open or closed."""
    from ui import board

    at = _board()
    captions = [str(x.value) for x in at.caption]
    assert "No filter on: every study." in captions
    closed = {p.proto.popover.label: p for p in at.get("popover")}
    assert set(closed) == {"Filters"}  # the findings' popover is in the Explanation tab
    assert not closed["Filters"].get("multiselect")
    app_pages.open_board_popovers(at)
    popovers = {p.proto.popover.label: p for p in at.get("popover")}
    assert set(popovers) == {"Filters"}
    inside = popovers["Filters"]
    assert {w.key for w in inside.get("multiselect")} == {"board_region", "board_tier",
                                                          "board_category"}
    assert {w.key for w in inside.get("toggle")} == {"board_synthetic", "board_images_only",
                                                     "board_overrides_only"}
    assert [w.key for w in inside.get("date_input")] == ["board_dates"]
    assert not inside.get("text_input")  # the ID search is outside it
    at.multiselect(key="board_region").set_value(["lumbar"]).run()
    assert at.get("popover")[0].get("multiselect")  # still open after a pick
    at.toggle(key="board_synthetic").set_value(False).run()
    assert_ok(at)
    captions = [str(x.value) for x in at.caption]
    assert "Filters on: region lumbar; SYNTHETIC left out" in captions
    assert at.get("popover")[0].proto.popover.label == "Filters"
    listed = len(dataframe_with(at, "Study"))
    at.session_state[board.FILTERS_OPEN_KEY] = False  # closed: the filters still apply
    at.run()
    assert_ok(at)
    assert not at.get("popover")[0].get("multiselect")
    assert "Filters on: region lumbar; SYNTHETIC left out" in [str(x.value) for x in at.caption]
    assert len(dataframe_with(at, "Study")) == listed


def _vega_keys(at: AppTest) -> list[str]:
    return [str(el.proto.id) for el in at.get("vega_lite_chart")]


def test_the_shap_waterfall_is_clickable_only_when_the_study_has_levels(env: Path) -> None:
    """A study measured level by level gets the Vega waterfall whose bars select levels;
    one without per-level rows gets the inline SVG (a click would have nothing to show)."""
    studies = store().list_studies()
    flat = next(int(s) for s in studies["study_id"] if not store().get_study(int(s)).levels)
    imaging = _study_of("DEMO-IMG-03")
    at = open_page("tumor_board")
    for study_id, linked in ((flat, False), (imaging, True), (flat, False)):
        at.selectbox(key="board_study").set_value(study_id).run()
        assert_ok(at)
        charts = [k for k in _vega_keys(at) if f"board_shap_{study_id}" in k]
        svgs = [m.value for m in at.markdown if 'data-testid="shap-waterfall"' in m.value]
        assert len(charts) == int(linked), _vega_keys(at)
        assert len(svgs) == int(not linked)
        if not linked:
            assert svgs[0].count("<rect") >= 5  # one bar per feature
            assert "raises the predicted pain" in svgs[0]
            assert not any("click an imaging bar" in m.value for m in at.markdown)


def test_below_the_fold_only_the_open_tab_is_drawn_and_it_stays_open(env: Path) -> None:
    """The views below the fold are tabs, Explanation open first; only the open one is
    drawn (a page switch draws the fold and one view). The tab opened stays open while
    stepping through cases and after a visit to another page."""
    from ui import board

    at = open_page("tumor_board")
    tabs = at.tabs
    assert [t.label for t in tabs] == list(board.BOARD_TABS)
    assert board.BOARD_TABS[0] == "Explanation"

    def drawn() -> dict[str, bool]:
        text = html_text(at) + "".join(str(m.value) for m in at.markdown)
        return {"Explanation": 'data-testid="probability-bars"' in text,
                "Case list": any("Override" in d.value.columns for d in at.dataframe),
                "Agenda": any(b.key == "board_agenda_add" for b in at.button),
                "History": 'data-testid="history-chart"' in text
                or any("Only one study" in str(c.value) for c in at.caption)}

    assert drawn() == {"Explanation": True, "Case list": False, "Agenda": False,
                       "History": False}
    # The fold names what the model learnt from, whichever tab is open.
    notice = next(h for h in htmls(at) if 'data-testid="decision-support-notice"' in h)
    assert "trained on a synthetic cohort" in notice
    for name in board.BOARD_TABS[1:]:
        board_tab(at, name)
        assert_ok(at)
        assert drawn() == {n: n == name for n in board.BOARD_TABS}, name
        assert 'data-testid="board-pain"' in html_text(at)  # the fold stays
    at.button(key="board_next").click().run()
    assert_ok(at)
    assert drawn()["History"] and not drawn()["Explanation"]
    at.switch_page(app_pages.PAGES["home"]).run()
    at.switch_page(app_pages.PAGES["tumor_board"]).run()
    assert_ok(at)
    assert drawn() == {n: n == "History" for n in board.BOARD_TABS}
