"""Pain-category model: an ordinal cumulative-logit model with enforced monotonicity.

Target
------
Bone pain on the 0-10 visual analogue scale (VAS) is banded into three ordered
categories, the common clinical NRS/VAS bands (e.g. NCCN Adult Cancer Pain
guideline: 1-3 mild, 4-6 moderate, 7-10 severe, with 0 counted as mild here):

* ``mild``      VAS < 4   (0-3 on integer scores)
* ``moderate``  4 <= VAS < 7   (4-6)
* ``severe``    VAS >= 7  (7-10)

Serlin et al. (Pain 1995;61:277-284) derived cut-points for cancer pain
interference of 5 and 7 (mild 1-4, moderate 5-6, severe 7-10): the severe boundary
(>= 7) is the same, the mild/moderate boundary here is one point lower, following
the guideline bands clinicians use. Non-integer VAS values are banded on the
continuous scale with boundaries 4 and 7 (:data:`VAS_CUTOFFS`).

The *expected VAS* reported with a prediction is
``E[VAS] = sum_k P(k) * m_k`` where ``m_k`` is the mean VAS of the training studies
in category ``k`` (stored in the model card as ``class_mean_vas``). It is a summary of
the predicted distribution, not a separately fitted regression.

Model
-----
:class:`OrdinalLogisticRegression`, a proportional-odds (cumulative-logit) model::

    P(Y <= k | x) = sigma(theta_k - eta),   eta = w . z,   k = 0 .. K-2

on standardised features ``z = (x_imputed - mean) / sd``, fitted by penalised
maximum likelihood (negative log-likelihood + ``alpha/2 * ||w||^2``) with
``scipy.optimize.minimize(method="L-BFGS-B")`` and an analytic gradient.

Predictors (:data:`core.features.FEATURES`, each with its inclusion rule in the card)
describe the metastatic burden on imaging and pain-independent clinical context; what
follows from pain (current analgesic step, prior radiotherapy, bone-modifying agent) or
scores it (``sins_total`` with its pain item, ``sins_pain``) is excluded
(:data:`core.features.EXCLUDED_PREDICTORS`) and only shapes the advice.

Bounds: ``w_j >= WEIGHT_FLOOR`` (0.05 per SD) for the ``floor=True`` features - the
nested site counts ``lesion_count`` >= ``lesion_count_noncervical`` >=
``lesion_count_lumbosacral`` and both HI ratios - and ``w_j >= 0`` for the other
monotone features (involved levels, SINS without pain, Bilsky grade, fracture, deficit);
age and ECOG are free. The floor imposes the literature's direction (Kong et al. 2025):
every metastatic site raises the latent score, a thoracic, lumbar or sacral site more than
a cervical one (it also counts in ``lesion_count_noncervical``) and a lumbar or sacral
one most; the correlated counts and ratios cannot clip each other to zero as plain
``>= 0`` bounds allowed. Because ``sd > 0`` a bound on the standardised weight is a bound
of the same sign on the raw-unit weight. More lesions, a higher HI ratio, SINS or Bilsky
grade, a fracture or a deficit therefore never lower the predicted pain (P(severe) and
expected VAS never fall, P(mild) never rises).

The ridge penalty ``alpha`` is chosen by the same repeated grouped cross-validation
(:func:`core.model.evaluation.alpha_search`, grid :data:`ALPHA_GRID`, lowest mean
out-of-fold log loss); the card lists the whole table. Choosing it on the folds that also
report the metrics makes them slightly optimistic; on the demo cohort the log loss of the
grid's alphas differs in the third decimal.

Preprocessing is median imputation (training medians) followed by standardisation.
Missing values are explicit: :func:`predict` reports which features were imputed so
the interface can show it; missingness indicators are deliberately *not* model
inputs (they would learn one site's documentation habits rather than pain).

Choice
------
Training compares, by repeated stratified group k-fold cross-validation (groups =
``patient_id`` so one patient's studies never sit on both sides of a split), the
candidates of :data:`core.model.candidates.REGISTRY`: the ordinal model, a multinomial
logistic regression and a histogram gradient boosting classifier. The ordinal model is
the deployed model because it is the only candidate that (1) respects the ordering of
the pain categories with one weight per feature (one interpretable log-odds ratio per
SD instead of one per class), (2) enforces the clinical monotonicity constraints and the
weight floors (scikit-learn's HistGradientBoosting refuses monotonic constraints for
multiclass targets; the multinomial model has one unconstrained weight per class), and
(3) has exact SHAP values in a single output (the latent ``eta``). The cross-validated
metrics of all candidates are written to the model card so the price of these
requirements is visible; a warning is added when the ordinal model's macro AUC is more
than :data:`AUC_WARNING_MARGIN` below the best candidate. On the synthetic demonstration
cohort (``data/demo/cohort.csv``, 564 studies of 300 patients, seed 0, 5 x 5-fold) the
ordinal model was also the most accurate (mean over repeats, alpha 30): balanced
accuracy 0.651, macro AUC 0.812, Brier 0.469, against 0.632 / 0.800 / 0.482
(multinomial) and 0.600 / 0.772 / 0.539 (gradient boosting) - see
``models/demo/model_card.json``. (The model before issue 9 reached 0.711 / 0.877 / 0.385
because it read the current analgesic step, which the old cohort derived from the pain:
pain predicted pain.)

Uncertainty
-----------
:mod:`core.model.uncertainty`: a split-conformal prediction set with 90 % coverage
(score ``1 - p(true category)``, calibrated on the out-of-fold probabilities; quantile,
empirical and held-out-patient coverage in the card) and out-of-distribution reasons
(training feature ranges, Mahalanobis distance, sequence, field of view).

Artifacts (``models/<name>/``)
------------------------------
``model.skops`` (the fitted scikit-learn :class:`~sklearn.pipeline.Pipeline`, written
with :mod:`skops.io` and canonicalised so that the bytes are reproducible: no
timestamps, no memory addresses), ``model_card.json`` and ``shap_background.csv``
(see :mod:`core.explain`).

Modules
-------
``target`` (categories, VAS cut-offs), ``ordinal`` (the estimator), ``candidates`` (the
name -> factory table of compared models), ``cohort`` (cohort table -> arrays),
``evaluation`` (metrics, cross-validation, the ridge penalty), ``card`` (model card),
``training`` (:func:`train`, :func:`train_from_file`), ``predictor``
(:class:`TrainedModel`, :func:`predict`), ``uncertainty`` (prediction sets,
out-of-distribution reasons), ``artifacts`` (:func:`save`, :func:`load_model`). The public names
are re-exported here. The ``python -m core predict`` payload (model + explanation +
tier) is built in :mod:`core.assess`; this package never imports :mod:`core.explain`.
"""

from __future__ import annotations

from core import DECISION_SUPPORT_NOTICE
from core.model.artifacts import _CACHE as _CACHE
from core.model.artifacts import (
    BACKGROUND_FILE,
    CARD_FILE,
    DEFAULT_MODEL_DIR,
    MODEL_FILE,
    TRUSTED_TYPES,
    clear_cache,
    load_model,
    save,
)
from core.model.artifacts import _canonical_skops as _canonical_skops
from core.model.candidates import (
    CANDIDATES,
    DEPLOYED_CANDIDATE,
    FLOOR,
    MONOTONE,
    REGISTRY,
    make_estimator,
)
from core.model.card import AUC_WARNING_MARGIN, MODEL_NAME, TrainingRun, build_card
from core.model.cohort import CohortData, cohort_to_arrays, frame_sha256, read_cohort
from core.model.evaluation import (
    ALPHA_GRID,
    CALIBRATION_BINS,
    alpha_search,
    classification_metrics,
    cross_validate,
    cv_splits,
    log_loss,
    multiclass_brier,
    reliability_table,
)
from core.model.ordinal import (
    DEFAULT_ALPHA,
    OUTPUT_UNITS,
    WEIGHT_FLOOR,
    OrdinalLogisticRegression,
    ordinal_probabilities,
)
from core.model.ordinal import _ordinal_objective as _ordinal_objective
from core.model.predictor import (
    Prediction,
    RowPredictions,
    Scores,
    TrainedModel,
    predict,
    predict_rows,
    predict_scores,
    score,
    score_rows,
)
from core.model.target import CATEGORIES, CUTOFF_SOURCES, VAS_CUTOFFS, vas_to_category
from core.model.training import BACKGROUND_CENTROIDS, shap_background, train, train_from_file
from core.model.uncertainty import (
    CONFORMAL_COVERAGE,
    MAHALANOBIS_PERCENTILE,
    OodFlags,
    PredictionSet,
    ood_flags,
    ood_reasons,
    prediction_set,
    prediction_sets,
)
from core.provenance import sha256_bytes, sha256_file

NOTICE = DECISION_SUPPORT_NOTICE

__all__ = [
    "ALPHA_GRID",
    "AUC_WARNING_MARGIN",
    "BACKGROUND_CENTROIDS",
    "BACKGROUND_FILE",
    "CALIBRATION_BINS",
    "CANDIDATES",
    "CARD_FILE",
    "CATEGORIES",
    "CONFORMAL_COVERAGE",
    "CUTOFF_SOURCES",
    "DEFAULT_ALPHA",
    "DEFAULT_MODEL_DIR",
    "DEPLOYED_CANDIDATE",
    "FLOOR",
    "MAHALANOBIS_PERCENTILE",
    "MODEL_FILE",
    "MODEL_NAME",
    "MONOTONE",
    "NOTICE",
    "OUTPUT_UNITS",
    "REGISTRY",
    "TRUSTED_TYPES",
    "VAS_CUTOFFS",
    "WEIGHT_FLOOR",
    "CohortData",
    "OodFlags",
    "OrdinalLogisticRegression",
    "Prediction",
    "PredictionSet",
    "RowPredictions",
    "Scores",
    "TrainedModel",
    "TrainingRun",
    "alpha_search",
    "build_card",
    "classification_metrics",
    "clear_cache",
    "cohort_to_arrays",
    "cross_validate",
    "cv_splits",
    "frame_sha256",
    "load_model",
    "log_loss",
    "make_estimator",
    "multiclass_brier",
    "ood_flags",
    "ood_reasons",
    "ordinal_probabilities",
    "predict",
    "predict_rows",
    "predict_scores",
    "prediction_set",
    "prediction_sets",
    "read_cohort",
    "reliability_table",
    "save",
    "score",
    "score_rows",
    "sha256_bytes",
    "sha256_file",
    "shap_background",
    "train",
    "train_from_file",
    "vas_to_category",
]
