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
:mod:`~core.store.queries` (reads), :mod:`~core.store.audit`,
:mod:`~core.store.agenda` (the tumor board's agenda and decision notes), :mod:`~core.store.metrics`
(``core extract`` JSON to columns), :mod:`~core.store.checks`, and the facade
:class:`CaseStore` in :mod:`~core.store.store`.
"""

from core.store.agenda import AGENDA_COLUMNS, NOTE_MAX_CHARS, AgendaItem
from core.store.images import IMAGES_DIRNAME
from core.store.metrics import flatten_metrics
from core.store.records import CaseInput, ImageSource, StudyRecord
from core.store.schema import (
    AUDIT_ACTIONS,
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    LIST_EXTRA_COLUMNS,
    TABLES,
    AuditEntry,
    Base,
    ClinicalValues,
    LevelFeature,
    Patient,
    PredictionRow,
    Study,
    StudyFeatures,
    upgrade_schema,
)
from core.store.store import (
    DB_FILENAME,
    DEFAULT_DATA_DIR,
    REPO,
    CaseStore,
    data_dir_from_env,
)

__all__ = [
    "AGENDA_COLUMNS",
    "AUDIT_ACTIONS",
    "DB_FILENAME",
    "DEFAULT_DATA_DIR",
    "HISTORY_COLUMNS",
    "IMAGES_DIRNAME",
    "LIST_COLUMNS",
    "LIST_EXTRA_COLUMNS",
    "NOTE_MAX_CHARS",
    "REPO",
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
    "Study",
    "StudyFeatures",
    "StudyRecord",
    "data_dir_from_env",
    "flatten_metrics",
    "upgrade_schema",
]
