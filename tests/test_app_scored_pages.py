"""AppTests of the pages that read stored scores (issue 12): the tumor board's case list
paginated and filtered in SQL, Previous / Next across a page boundary, and the scores
of the active model computed once, with a progress sentence, when a store lacks them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import test_app_pages as app_pages
from tests.conftest import app_env, store_env_cleared
from tests.test_app_pages import assert_ok, dataframe_with, open_page, store

# The session demo store and the app's environment of the page tests.
app_store = app_pages.app_store
env = app_pages.env


def _version() -> str:
    from core.model import load_model

    return load_model().version


def _board_ids(filters=None, *, limit: int | None = None, offset: int = 0) -> list[int]:
    from core.store import StudyFilter

    page = store().scored_studies(_version(), filters or StudyFilter(), order_by="board",
                                  limit=limit, offset=offset)
    return [int(i) for i in page["study_id"]]


def _listed(at: AppTest) -> list[int]:
    return [int(s) for s in dataframe_with(at, "Override")["Study"]]


def _captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def _paged(size: int = 25) -> AppTest:
    at = open_page("tumor_board")
    app_pages.board_tab(at, "Case list")
    at.selectbox(key="board_page_size").set_value(size).run()
    assert_ok(at)
    return at


def test_the_board_lists_one_page_in_sql_order_and_page_two_shows_the_next_rows(
        env: Path) -> None:
    total = store().count_studies()
    assert total > 25, "the demo store should hold more than one page of 25"
    at = _paged(25)
    assert _listed(at) == _board_ids(limit=25)
    assert f"{total:,} of {total:,} studies" in _captions(at)
    assert f"Page 1 of {-(-total // 25)}: studies 1-25 of {total:,}." in _captions(at)
    assert at.button(key="board_page_prev").disabled
    at.button(key="board_page_next").click().run()
    assert_ok(at)
    assert _listed(at) == _board_ids(limit=25, offset=25)
    assert f"Page 2 of {-(-total // 25)}: studies 26-50 of {total:,}." in _captions(at)
    # The card opens on the new page's first row; the position counts the whole list.
    assert int(at.session_state["board_study"]) == _board_ids(limit=25, offset=25)[0]
    assert at.selectbox(key="board_study").options[0].startswith(f"26/{total} · ")
    at.button(key="board_page_prev").click().run()
    assert _listed(at) == _board_ids(limit=25)


def test_next_and_previous_cross_the_page_boundary(env: Path) -> None:
    at = _paged(25)
    first_page = _listed(at)
    at.selectbox(key="board_study").set_value(first_page[-1]).run()
    assert not at.button(key="board_next").disabled  # more rows on the next page
    at.button(key="board_next").click().run()
    assert_ok(at)
    second_page = _board_ids(limit=25, offset=25)
    assert _listed(at) == second_page
    assert int(at.session_state["board_study"]) == second_page[0]
    assert f"Study {second_page[0]} " in app_pages.html_text(at)
    at.button(key="board_prev").click().run()
    assert_ok(at)
    assert _listed(at) == first_page
    assert int(at.session_state["board_study"]) == first_page[-1]


def test_a_filter_narrows_the_list_in_sql_and_goes_back_to_page_one(env: Path) -> None:
    from core.store import StudyFilter

    at = _paged(25)
    at.button(key="board_page_next").click().run()
    at.text_input(key="board_search").input("DEMO-IMG").run()
    assert_ok(at)
    wanted = StudyFilter(search="DEMO-IMG")
    n = store().count_studies(wanted)
    assert 0 < n < store().count_studies()
    assert _listed(at) == _board_ids(wanted, limit=25)
    assert f"{n:,} of {store().count_studies():,} studies" in _captions(at)
    assert at.session_state["board_page"] == 0
    app_pages.open_board_popovers(at)
    at.toggle(key="board_overrides_only").set_value(True).run()
    fired = StudyFilter(search="DEMO-IMG", overrides_only=True)
    assert _listed(at) == _board_ids(fired, limit=25)
    assert store().count_studies(fired, model_version=_version()) == len(_listed(at))


@pytest.fixture()
def unscored_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store of table-only synthetic studies imported without a model: no scores."""
    from core.demo import generate_cohort
    from core.store import CaseStore

    folder = tmp_path / "unscored"
    folder.mkdir()
    with store_env_cleared(), CaseStore(f"sqlite:///{folder / 'cases.sqlite'}") as s:
        s.import_cohort(generate_cohort(20, seed=5), source="test.csv", actor="test")
    with app_env(folder, monkeypatch) as data_dir:
        yield data_dir


@pytest.mark.parametrize("name", ["tumor_board", "cohort"])
def test_missing_scores_are_computed_once_with_a_progress_sentence(
        unscored_env: Path, name: str) -> None:
    version = _version()
    n = store().count_studies()
    assert store().score_status(version)["unscored"] == n > 0
    at = open_page(name)
    assert f"Scored {n:,} studies with model {version}" in _captions(at)
    status = store().score_status(version)
    assert status["unscored"] == 0 and status["scored"] == n
    log = store().audit_log()
    assert (log["action"] == "predict").sum() == 1  # one batch, audited once
    at.run()  # a warm rerun reads them: nothing scored again
    assert_ok(at)
    assert "Scored" not in _captions(at)
    assert (store().audit_log()["action"] == "predict").sum() == 1


def test_the_scoring_sentence_names_the_count_and_the_model() -> None:
    from ui import scores

    assert scores.scoring_sentence(1234, "v1") == "Scoring 1,234 studies with model v1…"
    assert scores.scoring_sentence(1, "v1") == "Scoring 1 study with model v1…"
    assert scores.scored_sentence(100000, "v2", 3.14).startswith(
        "Scored 100,000 studies with model v2 (3.1 s)")
