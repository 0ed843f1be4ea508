"""Tumor board helpers without a browser: the burden in clinical words, the list's
regions and lumbar columns, navigation order and the linked explanation's highlights."""

from __future__ import annotations

import pandas as pd
import pytest

from core.features import FEATURES_BY_NAME
from core.vocab import NOT_RECORDED
from ui import board, board_fold, board_linked, board_nav

LEVELS = [
    {"level": "T12", "region": "thoracic", "lesion_count": 1,
     "high_intensity_volume_ml": 2.0, "high_intensity_ratio": 0.10},
    {"level": "L1", "region": "lumbar", "lesion_count": 1, "high_intensity_volume_ml": 6.0,
     "high_intensity_ratio": 0.55},
    {"level": "L2", "region": "lumbar", "lesion_count": 0, "high_intensity_volume_ml": 0.0,
     "high_intensity_ratio": 0.0},
    {"level": "L3", "region": "lumbar", "lesion_count": 1, "high_intensity_volume_ml": 1.0,
     "high_intensity_ratio": 0.20},
]
FLAT = {"lesion_count": 3, "lesion_count_cervical": 0, "lesion_count_thoracic": 1,
        "lesion_count_lumbar": 2, "lesion_count_sacral": 0, "involved_levels": 3,
        "high_intensity_ratio": 0.273, "max_level_high_intensity_ratio": 0.55}


def test_burden_names_levels_lumbar_and_hi_ratio_in_percent() -> None:
    b = board_fold.burden_of({**FLAT, "involved_levels": ["T12", "L1", "L3"]}, LEVELS)
    assert b.involved == "T12, L1, L3"
    assert b.lumbar == "yes (2 lesions)"
    assert b.regions == "thoracic + lumbar"  # never "multiple"
    assert b.total_lesions == "3"
    assert b.hi_overall == "27.3%" and b.hi_worst == "55.0% (L1)"
    html = board_fold.burden_html(b)
    assert 'data-testid="board-burden"' in html and "Lumbar involvement" in html
    assert "_" not in html.replace('data-testid="board-burden"', "")


def test_burden_of_flat_columns_takes_the_names_from_the_level_rows() -> None:
    assert board_fold.burden_of(FLAT, LEVELS).involved == "T12, L1, L3"


def test_burden_of_a_table_only_study_says_what_is_not_named() -> None:
    b = board_fold.burden_of({**FLAT, "involved_levels": 9, "lesion_count_lumbar": 0,
                              "lesion_count_thoracic": 3})
    assert b.involved == "9 levels (names not recorded: table data)"
    assert b.lumbar == "no" and b.regions == "thoracic"
    assert b.hi_worst == "55.0%"  # no level rows: no name
    missing = board_fold.burden_of({"lesion_count": 0})
    assert missing.lumbar == NOT_RECORDED and missing.regions == NOT_RECORDED
    assert missing.involved == NOT_RECORDED and missing.hi_overall == NOT_RECORDED


@pytest.mark.parametrize(("names", "count", "text"), [
    ((), 0, "none"), (None, 0, "none"), (None, 1, "1 level (names not recorded: table data)"),
    (None, float("nan"), NOT_RECORDED), (("L1",), 1, "L1")])
def test_involved_text(names, count, text) -> None:
    assert board_fold.involved_text(names, count) == text


def test_case_list_names_regions_and_lumbar_instead_of_multiple() -> None:
    frame = pd.DataFrame({
        "lesion_count_cervical": [0, 0, 1, None],
        "lesion_count_thoracic": [2, 0, 0, 1],
        "lesion_count_lumbar": [1, 0, 0, 1],
        "lesion_count_sacral": [0, 0, 1, 0]})
    assert list(board.regions_text(frame)) == ["thoracic + lumbar", "none",
                                               "cervical + sacral", NOT_RECORDED]
    assert list(board.lumbar_text(frame)) == ["yes", "no", "no", "yes"]


def test_the_card_opens_on_the_first_row_of_the_list() -> None:
    frame = pd.DataFrame({"study_id": [7, 3, 9], "has_image": [False, True, True]})
    assert board.default_study(frame) == 7


def test_navigation_order_never_holds_a_study_twice() -> None:
    assert board_nav.unique_ids([5, 3, 5, 2, 3]) == [5, 3, 2]
    assert board_nav.unique_ids(pd.Series([4.0, 1.0, 4.0])) == [4, 1]


def test_a_shap_bar_links_to_the_levels_its_value_comes_from() -> None:
    spec = FEATURES_BY_NAME["lesion_count_lumbosacral"]
    assert board_linked.feature_of_label(f"{spec.label} = 2") == spec.name
    assert board_linked.feature_of_label("2 other features") is None
    assert board_linked.feature_of_label(None) is None
    link = board_linked.link_for("shap", "lesion_count_lumbosacral", LEVELS, token=3)
    assert link.levels == ("L1", "L3")
    assert link.jump == "L1"  # the most affected (largest HI ratio) of them
    assert link.token == 3 and "L1, L3" in link.text
    worst = board_linked.link_for("shap", "max_level_high_intensity_ratio", LEVELS, token=1)
    assert worst.levels == ("L1",)
    clinical = next(n for n, f in FEATURES_BY_NAME.items() if f.group != "imaging")
    none = board_linked.link_for("shap", clinical, LEVELS, token=2)
    assert none.levels == () and none.jump is None and "clinical finding" in none.text
    level = board_linked.link_for("spine", "T12", LEVELS, token=4)
    assert level.levels == ("T12",) and level.jump == "T12"


def test_level_rows_in_percent_and_craniocaudal() -> None:
    rows = board_linked.level_rows([{**r, "vertebra_volume_ml": 30.0} for r in reversed(LEVELS)])
    assert list(rows["Level"]) == ["T12", "L1", "L2", "L3"]
    assert list(rows["HI ratio (%)"]) == [10.0, 55.0, 0.0, 20.0]


def test_active_filters_name_what_narrows_the_list() -> None:
    import datetime as dt

    full = (dt.date(2020, 1, 1), dt.date(2024, 12, 31))
    assert board.active_filters(board.BoardFilter(date_from=full[0], date_to=full[1]),
                                full) == []
    assert board.active_filters(board.BoardFilter(search="DEMO"), full) == []  # on the page
    f = board.BoardFilter(regions=("lumbar", "multiple"), tiers=("2",),
                          categories=("severe",), date_from=dt.date(2023, 1, 1),
                          date_to=full[1], include_synthetic=False, images_only=True,
                          overrides_only=True)
    assert board.active_filters(f, full) == [
        "region lumbar or multiple", "tier 2", "predicted pain severe",
        "studies 2023-01-01 to 2024-12-31", "SYNTHETIC left out", "with images only",
        "overrides only"]


def test_the_pain_box_names_imputed_inputs_and_those_outside_the_training_data() -> None:
    """The fold's estimate says which inputs the model imputed (never shown as recorded)
    and which lie outside the training data: the explanation below is one tab among
    several, so the fold carries its caveats."""
    from dataclasses import replace

    from core.assess import assess
    from core.model import load_model
    from core.report.document import field_label

    case = {"lesion_count": 3, "lesion_count_by_region": {"cervical": 0, "thoracic": 1,
                                                          "lumbar": 2, "sacral": 0},
            "involved_levels": ["T12", "L1", "L2"], "high_intensity_ratio": 0.2,
            "max_level_high_intensity_ratio": 0.3, "neurologic_deficit": "stable",
            "pathologic_fracture": False, "age": 66, "analgesic_step": 2,
            "primary_tumor": "breast", "vas": 5}  # no ECOG, no Bilsky grade
    result = assess(load_model(), case)
    assert result.prediction.imputed, "the case should leave inputs to impute"
    box = board_fold.pain_html(replace(result, ood=()))
    assert 'data-testid="board-imputed"' in box and "training median" in box
    for name in result.prediction.imputed:
        assert field_label(name) in box
    assert "board-ood" not in box
    recorded = replace(result, prediction=replace(result.prediction, imputed=()), ood=())
    assert "board-imputed" not in board_fold.pain_html(recorded)
    outside = replace(recorded, ood=("Age 104 is above the training range (40-90).",))
    box = board_fold.pain_html(outside)
    assert 'data-testid="board-ood"' in box and "Age 104 is above" in box
