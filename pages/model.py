"""Model: the model card, the choice of model, and retraining on a site cohort."""

import datetime as dt

import streamlit as st

from ui import cache, layout, model_card, rescoring, session
from ui import components as c

layout.page_header("Model", "What the model is, how it was trained and how well it does.")
c.decision_support_notice()
ss = st.session_state

# ----------------------------------------------------------------- model in use
models = session.available_models()
if not models:
    st.error("No model is installed under models/; run `make train`.")
    st.stop()
paths = [str(p) for p in models]
active = str(session.active_model_dir())
if ss.get("model_select") not in paths:
    ss["model_select"] = active if active in paths else paths[0]


def use_selected() -> None:
    session.set_active_model(ss["model_select"])


st.selectbox("Model used by the app (this session)", paths, key="model_select",
             format_func=lambda p: p.rsplit("/", 1)[-1], on_change=use_selected)
use_selected()
model = cache.model_or_stop()
rescoring.render_rescore(key="model_rescore", model=model)
st.divider()
model_card.render_identity(model.card)
part = model_card.section_choice()
if part == "card":
    model_card.render_card(model.card)
elif part == "design":
    model_card.render_design(model.card)
else:  # ------------------------------------------------------- retraining
    st.header("Train a site model")
    st.markdown("Upload a cohort table (CSV or Excel, the columns of `data/demo/cohort.csv`; "
                "every row needs a VAS). It is validated first; a new versioned model is saved "
                "under `models/<name>` and can then be selected above. The upload itself is "
                "not stored.")
    upload = st.file_uploader("Cohort table", type=["csv", "xlsx"], key="model_train_file")
    if upload is not None:
        data = upload.getvalue()
        table = c.run_safely(model_card.read_training_table, data, upload.name,
                             prefix="The table could not be read:")
        if table is not None:
            st.subheader("Validation report")
            v1, v2, v3 = st.columns(3)
            v1.metric("Rows read", table.n_rows)
            v2.metric("Valid rows", len(table.rows))
            v3.metric("Invalid values", len(table.errors))
            if table.errors:
                st.dataframe(table.error_frame(), hide_index=True, key="model_train_errors")
            else:
                st.success("Every row is valid.")
            n_synth = int(table.rows["synthetic"].sum()) if len(table.rows) else 0
            if n_synth:
                c.synthetic_badge(True, f"{n_synth:,} of {len(table.rows):,} rows are synthetic")
            with st.form("model_train_form"):
                a, b, d = st.columns(3)
                name = a.text_input("New model name", key="model_train_name",
                                    value=f"site-{dt.date.today():%Y%m%d}")
                seed = b.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                      key="model_train_seed")
                cv = d.radio("Cross-validation", ("quick", "full"), key="model_train_cv",
                             format_func={"quick": "quick (1 × 3 folds)",
                                          "full": "full (5 × 5 folds)"}.get)
                synthetic = st.checkbox("Training data are synthetic (demo / teaching)",
                                        value=n_synth == len(table.rows) and n_synth > 0,
                                        key="model_train_synthetic")
                valid_only = st.checkbox("Train on the valid rows only (invalid rows are left out)",
                                         value=False, key="model_train_valid_only",
                                         disabled=not table.errors)
                go = st.form_submit_button("Train and save the model", type="primary",
                                           key="model_train_button")
            if go:
                if table.errors and not valid_only:
                    st.error("The table has invalid values; fix them or tick 'Train on the valid "
                             "rows only'.")
                else:
                    with st.status("Training: cross-validating three candidates…",
                                   expanded=True) as status:
                        card = c.run_safely(
                            model_card.train_and_save, table.rows, name=name, seed=int(seed),
                            synthetic=synthetic, cv=cv, source=upload.name,
                            data=data, prefix="Training failed:")
                        if card is None:
                            status.update(label="Training failed.", state="error")
                        else:
                            status.update(label=f"Saved model {card['version']}.",
                                          state="complete")
                            ss["model_trained"] = str(session.new_model_dir(name))
trained = ss.get("model_trained")


def use_trained() -> None:
    session.set_active_model(ss["model_trained"])
    ss["model_select"] = ss.pop("model_trained")


if trained:
    st.success(f"New model saved in models/{trained.rsplit('/', 1)[-1]}.")
    st.button("Use the new model in this session", key="model_use_trained",
              on_click=use_trained)
