"""Teaching mode (no extra login): the paper's findings step by step, two cases side by
side with their SHAP differences, a seeded quiz with a score kept in the session, and an
anonymised case library.

Content and draws come from :mod:`core.teaching`; the findings' charts are the cohort
page's sections (:mod:`ui.cohort_views`) on one study per patient, as the paper counted
patients. Cases are shown as clinicians read them (Bilsky "1b", yes/no, %), with no
patient id, study id or date.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core import teaching
from core.assess import Assessment, assess
from core.vocab import ANALGESIC_STEPS, CATEGORIES, REGIONS, display
from ui import advice, cache, chart_export, cohort, cohort_views, scores, trend_charts
from ui import components as c
from ui.session import KEEP
from ui.tables import static_table

SECTIONS = ("Walk-through", "Compare two cases", "Quiz", "Case library")
SECTION_KEY = "teach_section"
STEP_KEY = "teach_step"
QUIZ_KEY = "teach_quiz"
SCORE_KEY = "teach_score"
#: Shown instead of a part when the store has no assessed study with a recorded VAS.
EMPTY_NOTE = ("The store has no assessed study with a recorded VAS; load the demo cohort "
              "with `python -m core demo`.")


# ----------------------------------------------------------------------------- data


@st.cache_resource(show_spinner=False, max_entries=2)
def _library(url: str, revision: int, model_version: str, seed: int) -> pd.DataFrame:
    return teaching.case_library(scores.scored_cohort((url, revision, model_version)),
                                 seed=seed)


def library(seed: int = teaching.DEFAULT_SEED) -> pd.DataFrame:
    """The anonymised case library (:func:`core.teaching.case_library` of the stored
    scores), cached per store revision and model (shared: never modified in place)."""
    return _library(*scores.ensure_scores(), seed)


def case_row(lib: pd.DataFrame, case: str) -> pd.Series:
    """The library row of a case label."""
    return lib.loc[lib["case"] == case].iloc[0]


def assessment_of(lib: pd.DataFrame, case: str) -> Assessment:
    """The active model's assessment of a library case (fetched by its hidden study id)."""
    record = cache.get_store().get_study(int(case_row(lib, case)["study_id"]))
    return assess(cache.get_model(), record.case())


def section_choice() -> str:
    """The four parts of the page (a radio kept across page switches)."""
    return st.radio("Part", SECTIONS, horizontal=True, key=SECTION_KEY, persist_state=KEEP,
                    label_visibility="collapsed")


# ------------------------------------------------------------------------ case card


def findings_rows(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A case's burden and findings as ``(label, value)`` in clinical words."""
    rows = [("Age", str(row.get("age_band"))), ("Sex", display("text", row.get("sex"))),
            ("Primary tumour", display("text", row.get("primary_tumor")))]
    rows += [(f"{r.capitalize()} lesions", display("count", row.get(f"lesion_count_{r}")))
             for r in REGIONS]
    step = row.get("analgesic_step")
    rows += [
        ("Involved levels", display("count", row.get("involved_levels"))),
        ("HI ratio (overall)", display("percent", row.get("high_intensity_ratio"))),
        ("HI ratio (worst level)", display("percent", row.get("max_level_high_intensity_ratio"))),
        ("Bilsky grade", display("bilsky", row.get("bilsky_grade"))),
        ("SINS total", display("points", row.get("sins_total"))),
        ("Pathologic fracture", display("yes_no", row.get("pathologic_fracture"))),
        ("Neurologic deficit", display("deficit", row.get("neurologic_deficit"))),
        ("ECOG", display("integer", row.get("ecog"))),
        ("Today's WHO analgesic step",
         ANALGESIC_STEPS.get(int(step), str(step)) if pd.notna(step) else display("number", None)),
    ]
    return rows


def case_card(row: Mapping[str, Any], *, key: str, tags: bool = True) -> None:
    """A de-identified case: label, difficulty, tags (left out in the quiz, where tags
    such as "override" would give the answer away), burden and findings, every row shown
    without scrolling."""
    st.markdown(f"#### {row['case']}")
    st.caption(f"Difficulty: {row['difficulty']}"
               + (f" · tags: {row['tags'] or 'none'}" if tags else ""))
    static_table(pd.DataFrame(findings_rows(row), columns=["Finding", "Value"]), key=key)


def outcome(row: Mapping[str, Any], result: Assessment) -> None:
    """Recorded pain, the model's estimate and the advice's headline."""
    st.markdown(f"Recorded pain: **VAS {display('number', row.get('vas'))}** "
                f"({row['recorded_category']}) · model: **{result.prediction.category}** "
                f"(expected VAS {result.prediction.expected_vas:.1f})")
    advice.style()
    advice.headline_banner(result.tier)


# ---------------------------------------------------------------------- walk-through


def _set_step(step: int) -> None:
    st.session_state[STEP_KEY] = step


def _walkthrough_frame(key: scores.ViewKey | None = None) -> pd.DataFrame:
    """The walk-through's studies: the assessed ones, one per patient (the first)."""
    return scores.cohort_view(cohort.CohortFilter(), "first", assessed_only=True, key=key)


def warm_views(model_dir: Path) -> None:
    """Compute the walk-through's first finding into its caches (:mod:`ui.warmup`; the
    walk-through is the page's first part)."""
    key = scores.warm_key(model_dir)
    if key is None:
        return
    frame = _walkthrough_frame(key)
    if frame["vas"].notna().any() and teaching.FINDINGS[0].chart == "region":
        cohort_views.warm_region(frame)


def walkthrough() -> None:
    """One finding at a time: claim and citation, the chart on the loaded cohort's
    assessed studies (one study per patient), what to look for, and the caution."""
    step = min(max(int(st.session_state.get(STEP_KEY, 0)), 0), len(teaching.FINDINGS) - 1)
    finding = teaching.FINDINGS[step]
    frame = _walkthrough_frame()
    if not frame["vas"].notna().any():
        st.info(EMPTY_NOTE)
        return
    st.progress((step + 1) / len(teaching.FINDINGS),
                text=f"Finding {step + 1} of {len(teaching.FINDINGS)}")
    st.subheader(finding.title)
    st.html(f'<div class="dss-mid" data-testid="teach-claim">{finding.claim} '
            f"<small>({finding.citation})</small></div>")
    share = float(frame["synthetic"].astype(bool).mean()) if len(frame) else 0.0
    st.warning(teaching.caution(frame["patient_id"].nunique(), share),
               icon=":material/science:")
    st.caption("Drawn on one study per patient (each patient's first), as the paper "
               "counted patients.")
    if finding.chart == "region":
        cohort_views.region_section(frame, prefix="teach")
    elif finding.chart == "burden_correlation":
        cohort_views.burden_correlation_section(frame, prefix="teach")
    else:
        cohort_views.burden_pain_section(frame, prefix="teach")
    st.markdown("**What to look for**\n" + "\n".join(f"- {t}" for t in finding.look_for))
    a, b, _ = st.columns([1, 1, 3])
    a.button("Previous finding", key="teach_prev", disabled=step == 0,
             icon=":material/arrow_back:", on_click=_set_step, args=(step - 1,))
    b.button("Next finding", key="teach_next", disabled=step == len(teaching.FINDINGS) - 1,
             icon=":material/arrow_forward:", on_click=_set_step, args=(step + 1,),
             type="primary")


# ------------------------------------------------------------------------ compare


def _pair_label(pair: Mapping[str, Any]) -> str:
    return (f"{pair['case_a']} (lumbar, {pair['lesions_a']:g} lesions, HI "
            f"{display('percent', pair['hi_a'])}) vs {pair['case_b']} (thoracic only, "
            f"{pair['lesions_b']:g} lesions, HI {display('percent', pair['hi_b'])})")


def _pick_cases(lib: pd.DataFrame) -> tuple[str, str] | None:
    pairs = teaching.suggest_pairs(lib, k=5)
    own = "Choose two cases myself"
    options = [_pair_label(p) for p in pairs.to_dict(orient="records")] + [own]
    choice = st.selectbox("Suggested pairs: lumbar vs thoracic only with similar burden",
                          options, key="teach_pair")
    if choice != own:
        pair = pairs.iloc[options.index(choice)]
        return str(pair["case_a"]), str(pair["case_b"])
    cases = list(lib["case"])
    a, b = st.columns(2)
    first = _case_box(a, "Case A", cases, "teach_case_a", 0)
    second = _case_box(b, "Case B", cases, "teach_case_b", 1)
    if first == second:
        st.info("Choose two different cases.")
        return None
    return str(first), str(second)


#: Most cases a case box offers; a larger library is searched by case number first.
PICK_LIMIT = 50


def _case_box(column: Any, label: str, cases: list[str], key: str, index: int) -> str:
    """A case select box; over :data:`PICK_LIMIT` cases, a number search above it and
    the first matches as its options."""
    if len(cases) > PICK_LIMIT:
        wanted = column.text_input(f"{label}: case number contains", key=f"{key}_search",
                                   placeholder="e.g. 042").strip()
        matches = [c for c in cases if wanted in c.removeprefix("Case ")] if wanted else cases
        cases = matches[:PICK_LIMIT] or cases[:PICK_LIMIT]
        if st.session_state.get(key) not in cases:
            st.session_state.pop(key, None)
    return str(column.selectbox(label, cases, index=min(index, len(cases) - 1), key=key))


def compare(lib: pd.DataFrame) -> None:
    """Two cases side by side with their grouped and per-feature SHAP differences."""
    picked = _pick_cases(lib)
    if picked is None:
        return
    results = [assessment_of(lib, case) for case in picked]
    for column, case, result, key in zip(st.columns(2), picked, results, ("a", "b"),
                                         strict=True):
        with column:
            row = case_row(lib, case)
            case_card(row, key=f"teach_compare_{key}")
            outcome(row, result)
    a_label, b_label = picked
    grouped = teaching.grouped_difference(results[0].explanation, results[1].explanation)
    diff = teaching.shap_difference(results[0].explanation, results[1].explanation)
    st.subheader("Where their explanations differ")
    gap = results[0].explanation.output_value - results[1].explanation.output_value
    st.caption(f"SHAP values in the model's output units; difference = {a_label} minus "
               f"{b_label}. The differences add up to the difference of the two outputs "
               f"({gap:+.3f}).")
    x, y = st.columns([1, 1.4])
    with x:
        chart_export.chart(trend_charts.grouped_comparison(grouped, a_label, b_label), grouped,
                           key="teach_grouped_diff", name="shap-groups-compared")
    with y:
        chart_export.chart(trend_charts.shap_comparison(diff, a_label, b_label), diff,
                           key="teach_feature_diff", name="shap-features-compared")
    static_table(pd.DataFrame({
        "Feature": diff["label"], "Group": diff["group"], a_label: diff["value_a"],
        b_label: diff["value_b"], f"SHAP {a_label}": diff["shap_a"].round(3),
        f"SHAP {b_label}": diff["shap_b"].round(3), "Difference": diff["difference"].round(3),
    }), key="teach_diff_table")


# ---------------------------------------------------------------------------- quiz


def _new_quiz(lib: pd.DataFrame) -> None:
    ss = st.session_state
    try:
        cases = teaching.draw_quiz(lib, int(ss.get("teach_n", 5)),
                                   seed=int(ss.get("teach_seed", teaching.DEFAULT_SEED)),
                                   tags=tuple(ss.get("teach_tags", ())),
                                   difficulty=tuple(ss.get("teach_difficulty", ())))
    except ValueError as exc:
        ss[QUIZ_KEY] = {"error": c.plain_sentence(exc)}
        return
    round_id = int(ss.get(QUIZ_KEY, {}).get("round", 0)) + 1
    ss[QUIZ_KEY] = {"round": round_id, "cases": cases, "index": 0, "answers": [],
                    "revealed": False}


def _reveal(lib: pd.DataFrame, case: str, category: str, action: str) -> None:
    ss = st.session_state
    quiz = ss[QUIZ_KEY]
    row = case_row(lib, case)
    result = assessment_of(lib, case)
    graded = teaching.grade(case, category, action, recorded_category=row["recorded_category"],
                            predicted_category=result.prediction.category,
                            action=teaching.expected_action(result.tier))
    quiz["answers"].append(graded)
    quiz["revealed"] = True
    total = ss.get(SCORE_KEY, {"points": 0, "possible": 0})
    ss[SCORE_KEY] = {"points": total["points"] + graded.points,
                     "possible": total["possible"] + 2}


def _next_case() -> None:
    quiz = st.session_state[QUIZ_KEY]
    quiz["index"] += 1
    quiz["revealed"] = False


def quiz_settings(lib: pd.DataFrame) -> None:
    """Number of cases, seed, tags and difficulty; the New quiz button."""
    a, b, d, e = st.columns([0.8, 0.8, 1.6, 1.2])
    a.number_input("Cases", min_value=1, max_value=10, value=5, key="teach_n")
    b.number_input("Seed", min_value=0, max_value=2**31 - 1, value=teaching.DEFAULT_SEED,
                   key="teach_seed", help="The same seed draws the same cases.")
    d.multiselect("Tags (all of)", list(teaching.TAGS), key="teach_tags")
    e.multiselect("Difficulty", list(teaching.DIFFICULTY_LEVELS), key="teach_difficulty")
    st.button("New quiz", key="teach_new_quiz", icon=":material/casino:", type="primary",
              on_click=_new_quiz, args=(lib,))


def quiz_score() -> None:
    """This quiz's score and the session's total."""
    quiz = st.session_state.get(QUIZ_KEY) or {}
    answers = quiz.get("answers", [])
    total = st.session_state.get(SCORE_KEY, {"points": 0, "possible": 0})
    a, b = st.columns(2)
    a.metric("Score (this quiz)", f"{sum(r.points for r in answers)} / {2 * len(answers)}")
    b.metric("Score (this session)", f"{total['points']} / {total['possible']}")


def quiz(lib: pd.DataFrame) -> None:
    """Predict the category and the action, then reveal; one point each."""
    st.caption("Your pain category is scored against the patient's recorded pain (VAS "
               "bands 0-3 / 4-6 / 7-10); your action against the advice's headline for the "
               "case. The model's own estimate is shown beside them on reveal.")
    quiz_settings(lib)
    state = st.session_state.get(QUIZ_KEY)
    if not state:
        st.info("Press **New quiz** to draw the cases.")
        return
    if "error" in state:
        st.warning(state["error"])
        return
    quiz_score()
    if state["index"] >= len(state["cases"]):
        st.success(f"Quiz finished: {len(state['cases'])} cases. Draw a new one with "
                   "another seed.", icon=":material/flag:")
        return
    case = state["cases"][state["index"]]
    st.markdown(f"**Case {state['index'] + 1} of {len(state['cases'])}**")
    row = case_row(lib, case)
    case_card(row, key="teach_quiz_case", tags=False)
    tag = f"{state['round']}_{state['index']}"
    category = st.radio("Your pain category", CATEGORIES, index=None, horizontal=True,
                        key=f"teach_q_cat_{tag}", disabled=state["revealed"])
    action = st.radio("Your action", list(teaching.ACTIONS), index=None,
                      format_func=teaching.ACTIONS.get, key=f"teach_q_act_{tag}",
                      disabled=state["revealed"])
    if not state["revealed"]:
        st.button("Reveal", key="teach_reveal", icon=":material/visibility:", type="primary",
                  disabled=category is None or action is None, on_click=_reveal,
                  args=(lib, case, category, action))
        return
    _reveal_view(lib, state["answers"][-1])


def _reveal_view(lib: pd.DataFrame, graded: teaching.QuizResult) -> None:
    mark = {True: ":green[correct]", False: ":red[not quite]"}
    st.markdown(f"Pain category: you said **{graded.category_guess}**, recorded "
                f"**{graded.recorded_category}** — {mark[graded.category_correct]}; "
                f"the model said **{graded.predicted_category}**.")
    st.markdown(f"Action: you said *{teaching.ACTIONS[graded.action_guess]}*; the advice "
                f"leads with *{teaching.ACTIONS[graded.action]}* — "
                f"{mark[graded.action_correct]}.")
    outcome(case_row(lib, graded.case), assessment_of(lib, graded.case))
    st.button("Next case", key="teach_next_case", icon=":material/arrow_forward:",
              on_click=_next_case)


# ------------------------------------------------------------------------ library


#: Most rows the case library table shows.
LIBRARY_ROWS = 500


def library_view(lib: pd.DataFrame) -> None:
    """The anonymised case library with tag and difficulty filters."""
    a, b = st.columns([2, 1])
    tags = a.multiselect("Tags (all of)", list(teaching.TAGS), key="teach_lib_tags",
                         format_func=lambda t: f"{t} — {teaching.TAGS[t]}")
    levels = b.multiselect("Difficulty", list(teaching.DIFFICULTY_LEVELS),
                           key="teach_lib_difficulty")
    shown = teaching.filter_library(lib, tags=tuple(tags), difficulty=tuple(levels))
    table = shown[list(teaching.LIBRARY_DISPLAY_COLUMNS)].rename(columns={
        "case": "Case", "difficulty": "Difficulty", "tags": "Tags", "age_band": "Age",
        "sex": "Sex", "primary_tumor": "Primary tumour", "region_group": "Region group",
        "lesion_count": "Lesions", "involved_levels": "Involved levels",
        "high_intensity_ratio": "HI ratio (overall)"})
    table["HI ratio (overall)"] = [display("percent", v) for v in table["HI ratio (overall)"]]
    st.dataframe(table.head(LIBRARY_ROWS), hide_index=True, key="teach_library")
    if len(table) > LIBRARY_ROWS:
        st.caption(f"Showing the first {LIBRARY_ROWS} of {len(table):,} matching cases; "
                   "choose tags or a difficulty to narrow the list.")
    st.caption(f"{len(shown):,} of {len(lib):,} cases. Difficulty: {teaching.DIFFICULTY_RULE} "
               "No patient id, study id or date is shown; ages are in decades.")
