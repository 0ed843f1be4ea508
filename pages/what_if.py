"""What-if: change the case's findings or its treatment context and watch the advice,
the prediction and its explanation."""

import streamlit as st

from ui import bars, cache, case_views, cases, layout, pickers, session, tables, whatif
from ui import components as c

layout.page_header("What-if", "Change the case's findings or its treatment context; the "
                              "advice, the prediction and its explanation update at once. "
                              "Nothing is saved.")
c.decision_support_notice("What-if results are hypothetical and only as good as the model.")
ss = st.session_state
model = cache.model_or_stop()
store = cache.store_or_stop()
synthetic_model = bool(model.card.get("synthetic"))

top0, top1, top2 = st.columns([1.3, 3, 1], vertical_alignment="bottom")
with top0:
    search = pickers.search_box("whatif_search")
with c.core_errors("The case list could not be loaded:", stop=True):
    labels = whatif.start_options(pickers.study_labels(search,
                                                       keep=[whatif.start_id()]))
if ss.get(whatif.START_KEY) not in labels:
    ss[whatif.START_KEY] = whatif.BLANK

top1.selectbox("Start from", list(labels), key=whatif.START_KEY,
               persist_state=session.KEEP, format_func=labels.get,
               on_change=whatif.reset, args=(store, model))
top2.button("Reset", key="whatif_reset", on_click=whatif.reset, args=(store, model),
            icon=":material/restart_alt:", width="stretch",
            help="Every input back to the starting case.")
whatif.ensure_loaded(store, model)
with c.core_errors("The starting case could not be read:", stop=True):
    start, start_synthetic = whatif.start_case(store)
    start_values = whatif.widget_values(start, model)
if start_synthetic:
    c.synthetic_badge(True, "starting case is synthetic demo data")

with st.container(border=True):
    values = whatif.render_widgets(model.card)
case, notes = whatif.case_from_values(values)
original, _ = whatif.case_from_values(start_values)
if lines := [*whatif.start_notes(start), *notes]:
    st.caption("  \n".join(lines))

result = c.run_safely(cases.assess, model, case, prefix="The prediction could not be made:")
baseline = c.run_safely(cases.assess, model, original,
                        prefix="The starting case could not be predicted:")
if result is None or baseline is None:
    st.stop()

st.subheader("Advice for the what-if case")
case_views.headline(result)

st.subheader("Difference from the starting case")
now, before = result.prediction, baseline.prediction
d1, d2, d3 = st.columns([1, 1, 1.6])
delta_vas = now.expected_vas - before.expected_vas
d1.metric("Expected VAS", f"{now.expected_vas:.2f}",
          delta=None if abs(delta_vas) < 0.005 else f"{delta_vas:+.2f}", delta_color="inverse")
d2.metric("Predicted category", now.category,
          delta=None if now.category == before.category else f"was {before.category}",
          delta_color="off")
deltas = {k: now.probabilities[k] - before.probabilities[k] for k in now.probabilities}
with d3:
    bars.delta_bars(deltas, title="Δ probability vs starting case")
changed = whatif.changed_inputs(start_values, values, baseline.features, result.features)
if not changed.empty:
    tables.static_table(changed, key="whatif_changed")
else:
    st.caption("No input changed yet.")
advice_changes = whatif.advice_changes(baseline.tier, result.tier)
if advice_changes:
    same = now.probabilities == before.probabilities
    st.warning(("The advice changed; the prediction did not (treatment context changes "
                "the advice, never the prediction).\n" if same else "The advice changed.\n")
               + "\n".join(f"- {line}" for line in advice_changes),
               icon=":material/compare_arrows:")

st.subheader("Model estimate and advice")
case_views.prediction_panel(result, synthetic_model=synthetic_model,
                            show_notice=False, show_headline=False)
