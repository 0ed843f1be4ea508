"""Case store: patients, studies, clinical values, imaging features, predictions, audit log.

SQLAlchemy 2 ORM. The embedded default is SQLite, the file ``cases.sqlite`` in the data
directory; any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) can be given through
the ``url`` argument or the ``SPINEPAIN_DB_URL`` environment variable.

Data directory (images and the default database), first match wins: the ``data_dir``
argument, ``SPINEPAIN_DATA_DIR``, the folder of a SQLite database file given as ``url``,
``<repo>/data/store``.

Every write runs in one transaction together with its audit entry: a failure part-way
leaves the store as it was. Opening a store written by an earlier version upgrades its
tables in place (:func:`~core.store.schema.upgrade_schema`).

Modules: :mod:`~core.store.schema` (tables, column tuples, engine),
:mod:`~core.store.records` (``CaseInput``, ``StudyRecord``), :mod:`~core.store.images`
(image files, read through :mod:`core.io`), :mod:`~core.store.importing` (cohort
tables), :mod:`~core.store.cases` (single studies and predictions),
:mod:`~core.store.queries` (reads), :mod:`~core.store.surveillance` (indexed per-patient
and per-level reads over time), :mod:`~core.store.audit`,
:mod:`~core.store.agenda` (the tumor board's agenda and decision notes), :mod:`~core.store.metrics`
(``core extract`` JSON to columns), :mod:`~core.store.checks`, :mod:`~core.store.bulk`
(cohort rows inserted with core ``insert()`` executemany), :mod:`~core.store.scores`
(scores per study and model version, the batched recompute),
:mod:`~core.store.scored` (:class:`StudyFilter`; scored studies filtered, ordered and
paginated in SQL), :mod:`~core.store.cohort_read` (studies as typed cohort rows from
core selects), :mod:`~core.store.cohort_refresh` (the scored cohort brought up to date
by reading again only the studies the audit log names), :mod:`~core.store.faults` (a
full disk or database as one sentence), and the facade :class:`CaseStore` in
:mod:`~core.store.store` with its read side :class:`~core.store.views.StoreViews`
(status, revision, audit pages, scores).
"""

from core.store.agenda import AGENDA_COLUMNS, NOTE_MAX_CHARS, AgendaItem
from core.store.faults import StorageFullError
from core.store.images import IMAGES_DIRNAME
from core.store.metrics import flatten_metrics
from core.store.records import CaseInput, ImageSource, StudyRecord
from core.store.schema import (
    AUDIT_ACTIONS,
    DATA_ACTIONS,
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    LIST_EXTRA_COLUMNS,
    NON_DATA_ACTIONS,
    SCORE_COLUMNS,
    TABLES,
    AuditEntry,
    Base,
    ClinicalValues,
    LevelFeature,
    Patient,
    PredictionRow,
    Study,
    StudyFeatures,
    scores,
    upgrade_schema,
)
from core.store.scored import ORDERS, PAGE_COLUMNS, StudyFilter
from core.store.store import (
    DB_FILENAME,
    DEFAULT_DATA_DIR,
    REPO,
    CaseStore,
    data_dir_from_env,
)
from core.store.surveillance import LEVEL_HISTORY_COLUMNS, STUDY_COUNT_COLUMNS

__all__ = [
    "AGENDA_COLUMNS",
    "AUDIT_ACTIONS",
    "DATA_ACTIONS",
    "DB_FILENAME",
    "DEFAULT_DATA_DIR",
    "HISTORY_COLUMNS",
    "IMAGES_DIRNAME",
    "LEVEL_HISTORY_COLUMNS",
    "LIST_COLUMNS",
    "LIST_EXTRA_COLUMNS",
    "NON_DATA_ACTIONS",
    "NOTE_MAX_CHARS",
    "ORDERS",
    "PAGE_COLUMNS",
    "REPO",
    "SCORE_COLUMNS",
    "STUDY_COUNT_COLUMNS",
    "TABLES",
    "AgendaItem",
    "AuditEntry",
    "Base",
    "CaseInput",
    "CaseStore",
    "ClinicalValues",
    "ImageSource",
    "LevelFeature",
    "Patient",
    "PredictionRow",
    "StorageFullError",
    "Study",
    "StudyFeatures",
    "StudyFilter",
    "StudyRecord",
    "data_dir_from_env",
    "flatten_metrics",
    "scores",
    "upgrade_schema",
]
