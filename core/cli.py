"""Command line: ``python -m core {extract,batch,import-cohort,demo,train,predict}``.

These command lines and their JSON keys are public interfaces; keep them stable.
Bad input exits with code 2 and one plain line on stderr; so does a level map that label
QA refuses (the line is the first error's sentence). ``extract --segment`` writes the
engine's progress lines to stderr, prefixed ``progress:``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.conventions import LABEL_CONVENTIONS
from core.outputs import (
    check_database_url,
    check_output_file,
    write_atomic,
)

#: Longest error line written to stderr (characters after ``error: ``): a safety net for
#: runaway messages (a huge path); the sentences of the checks are far shorter.
MAX_ERROR_CHARS = 500


def _emit(payload: object, out: str | None) -> None:
    text = json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)
    if out:
        write_atomic(Path(out), (text + "\n").encode("utf-8"))
    else:
        sys.stdout.write(text + "\n")


def _progress(line: str) -> None:
    sys.stderr.write(f"progress: {line}\n")
    sys.stderr.flush()


def _extract_inputs(args: argparse.Namespace, image) -> tuple[object, str, dict | None]:
    """The level map (read, or made by ``--segment``), its convention and the engine's
    provenance."""
    from core.io import read_label_map

    if args.segment:
        from core.engines import run_engine

        if args.vertebrae:
            raise ValueError("Give --vertebrae or --segment, not both.")
        made = run_engine(args.segment, image, task=args.segment_task,
                          timeout_s=args.segment_timeout, progress=_progress)
        return made.label_map, made.convention, made.provenance()
    if not args.vertebrae:
        raise ValueError("Give a vertebra label map (--vertebrae) or --segment ENGINE.")
    # extract() aligns the maps onto the image grid, naming which one does not overlap.
    return read_label_map(args.vertebrae), args.convention, None


def _naming(args: argparse.Namespace, convention: str):
    from core.io import read_label_map
    from core.levels import get_convention
    from core.measure import Naming

    given = (args.lowest, args.highest, args.level_names_from, args.sacrum_label)
    if not get_convention(convention).needs_naming:
        if any(v is not None for v in given):
            raise ValueError("--lowest, --highest, --level-names-from and --sacrum-label "
                             "name a plain mask: use them with --convention binary or "
                             "total_mr.")
        return None
    names_from = read_label_map(args.level_names_from) if args.level_names_from else None
    return Naming(lowest=args.lowest, highest=args.highest, names_from=names_from,
                  names_convention=args.level_names_convention,
                  sacrum_label=args.sacrum_label)


def _cmd_extract(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    from core.batch import extract_json
    from core.io import read_image, read_label_map
    from core.measure import measure_study

    if args.out:
        check_output_file(args.out, "--out")
    if args.save_levels:
        check_output_file(args.save_levels, "--save-levels")
    loaded = read_image(args.image, series_uid=args.series)
    vertebrae, convention, engine = _extract_inputs(args, loaded.image)
    lesions = read_label_map(args.lesions) if args.lesions else None
    study = measure_study(
        loaded.image, vertebrae, lesions, convention=convention,
        naming=_naming(args, convention), meta=loaded.meta, sequence=args.sequence,
        input_sha256=loaded.meta.input_sha256,
    )
    if args.save_levels:
        sitk.WriteImage(study.vertebrae, str(args.save_levels), useCompression=True)
    study.raise_for_errors()
    # The file hashes are None when not given or a DICOM folder (no single file).
    payload = extract_json(study, loaded.meta, vertebrae=args.vertebrae,
                           lesions=args.lesions, engine=engine)
    _emit(payload, args.out)
    return 0


class _RowsBar:
    """``progress(done, total)`` drawn as a tqdm bar on stderr (off when not a terminal,
    unless ``--progress``)."""

    def __init__(self, desc: str, unit: str, force: bool) -> None:
        self.desc, self.unit, self.force = desc, unit, force
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr,
                            disable=False if self.force else None, dynamic_ncols=True,
                            unit_scale=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB, from ``getrusage``)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _load_cohort_table(args: argparse.Namespace):
    from core.clinical.bulk_tables import load_clinical_table_bulk

    bar = _RowsBar("validating", "row", args.progress)
    try:
        table = load_clinical_table_bulk(args.file, progress=bar)
    finally:
        bar.close()
    name = Path(args.file).name
    if table.errors:
        prefix = "skipped " if args.valid_rows_only else ""
        for err in table.errors[:50]:
            sys.stderr.write(f"{prefix}row {err.row}, column {err.column}: {err.reason}\n")
        if len(table.errors) > 50:
            sys.stderr.write(f"... and {len(table.errors) - 50} more invalid value(s)\n")
        if not args.valid_rows_only:
            raise ValueError(
                f"{name} has {len(table.errors)} invalid value(s) in "
                f"{len(table.invalid_rows)} row(s); nothing was imported "
                "(use --valid-rows-only to import the valid rows)."
            )
        if table.rows.empty:
            raise ValueError(f"{name} has no valid rows; nothing was imported.")
    return table


def _cmd_import_cohort(args: argparse.Namespace) -> int:
    import time

    from core.store import CaseStore

    check_database_url(args.db)
    started = time.perf_counter()
    table = _load_cohort_table(args)
    model = None
    if args.model:
        from core.model import load_model

        model = load_model(args.model)
    store = CaseStore(args.db)
    bar = _RowsBar("importing", "row", args.progress)
    scoring = _RowsBar("scoring", "study", args.progress)
    try:
        # the bulk loader's validated rows: the store does not validate them again
        rows = table.validated if table.validated is not None else table.rows
        summary = store.import_cohort(rows, source=Path(args.file).name,
                                      actor=args.actor, progress=bar, model=model,
                                      score_progress=scoring)
    finally:
        bar.close()
        scoring.close()
        store.close()
    summary["rows_skipped"] = len(table.invalid_rows)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["peak_rss_mb"] = _peak_rss_mb()
    sys.stderr.write(f"imported {summary['rows']} rows in {summary['seconds']} s; peak "
                     f"memory {summary['peak_rss_mb']} MB\n")
    sys.stderr.writelines(f"warning: {w}\n" for w in summary["warnings"])
    _emit(summary, None)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import build_demo_store

    check_database_url(args.db)
    summary = build_demo_store(args.db, seed=args.seed, n_patients=args.patients)
    _emit(summary, None)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from core.model import train_from_file

    card = train_from_file(args.cohort, out_dir=args.out, seed=args.seed,
                           synthetic=args.synthetic, force=args.force)
    _emit(card, None)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from core.assess import predict_case_json
    from core.case_checks import load_case_json

    case = load_case_json(args.features)
    payload = predict_case_json(case, model_path=args.model)
    for warning in payload["context_warnings"]:
        sys.stderr.write(f"warning: {warning}\n")
    _emit(payload, None)
    return 0


class _ProgressBar:
    """``core.batch.BatchProgress`` drawn with tqdm on stderr (off when not a terminal)."""

    def __init__(self) -> None:
        self.bar = None
        self.failed = 0

    def start(self, total: int, resumed: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="study", file=sys.stderr, disable=None,
                        desc="measuring", dynamic_ncols=True)
        if resumed and not self.bar.disable:
            self.bar.write(f"resuming: {resumed} studies already measured", file=sys.stderr)

    def update(self, result) -> None:
        if self.bar is None:
            return
        self.failed += result.status != "ok"
        self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_batch(args: argparse.Namespace) -> int:
    from core.batch import ManifestError, run_batch

    check_database_url(args.db)
    bar = _ProgressBar()
    try:
        summary = run_batch(args.manifest, args.out, workers=args.workers, dask=args.dask,
                            json_dir=args.json_dir, db=args.db, actor=args.actor,
                            progress=bar)
    except ManifestError as exc:
        for problem in exc.problems[:50]:
            sys.stderr.write(f"error: manifest {problem}\n")
        if len(exc.problems) > 50:
            sys.stderr.write(f"error: ... and {len(exc.problems) - 50} more bad rows\n")
        return 2
    except KeyboardInterrupt:
        bar.close()
        sys.stderr.write("interrupted: --out lists the studies measured so far; run the "
                         "same command again to resume.\n")
        return 130
    finally:
        bar.close()
    _emit(summary.to_dict(), None)
    return 0


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", help="CSV with columns patient_id, study_date, image, "
                                    "vertebrae, lesions (may be empty), convention; paths "
                                    "relative to the manifest's folder")
    p.add_argument("--out", required=True,
                   help="features CSV to write (one row per study); an existing one is "
                        "resumed: studies already ok with the same inputs are kept")
    p.add_argument("--db", help="SQLAlchemy URL of a case store: import the ok rows "
                                "(imaging values) in one transaction at the end")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (or --dask local workers); default: CPUs")
    p.add_argument("--dask", metavar="SCHEDULER",
                   help="run on a Dask cluster: a scheduler address (tcp://HOST:PORT) or "
                        "'local' for a LocalCluster on 127.0.0.1")
    p.add_argument("--json-dir", metavar="DIR",
                   help="also write each study's extract JSON here "
                        "(<patient_id>_<study_date>.json)")
    p.add_argument("--actor", default="cli", help="name recorded in the audit log (--db)")


def _extract_arguments(p: argparse.ArgumentParser) -> None:
    from core.engines import DEFAULT_TIMEOUT_S, ENGINES

    p.add_argument("image", help="MRI: NIfTI, NRRD, MHA/MHD, DICOM .zip or .dcm")
    p.add_argument("--vertebrae", help="vertebra label map (or --segment)")
    p.add_argument("--lesions", help="optional lesion mask (replaces detection)")
    p.add_argument(
        "--convention",
        default="verse",
        choices=list(LABEL_CONVENTIONS),
        help="label convention of the vertebra map (default: verse); totalsegmentator_mr "
             "reads the MR vertebrae_mr task; binary and total_mr are plain body masks "
             "that the app names (--lowest, --highest, --level-names-from, a sacrum label)",
    )
    p.add_argument("--series", help="DICOM SeriesInstanceUID (pseudonymised) to read")
    p.add_argument("--out", help="write JSON here instead of stdout")
    p.add_argument("--lowest", metavar="LEVEL",
                   help="plain mask: the most caudal body is LEVEL (e.g. L5)")
    p.add_argument("--highest", metavar="LEVEL",
                   help="plain mask: the most cranial body is LEVEL (e.g. T10)")
    p.add_argument("--level-names-from", metavar="MAP",
                   help="plain mask: name the bodies from this cord-level or disc map")
    p.add_argument("--level-names-convention", default="sct", metavar="CONVENTION",
                   help="convention of --level-names-from (default: sct)")
    p.add_argument("--sacrum-label", type=int, metavar="ID",
                   help="binary mask: the id that marks the sacrum (names the body above "
                        "it L5)")
    p.add_argument("--save-levels", metavar="OUT.nii.gz",
                   help="write the level map used (named, on the image grid)")
    p.add_argument("--sequence", choices=["STIR", "T2-FS", "T2", "T1", "T1-FS"],
                   help="the image's sequence when its file does not say (T1 is flagged)")
    p.add_argument("--segment", choices=list(ENGINES),
                   help="make the level map with a segmentation engine installed here")
    p.add_argument("--segment-task", metavar="TASK",
                   help="engine task (totalsegmentator: vertebrae_mr or total_mr; "
                        "spineps: t2w or t1w)")
    p.add_argument("--segment-timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   metavar="SECONDS", help=f"engine timeout (default {DEFAULT_TIMEOUT_S:.0f})")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m core`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Spinal metastasis bone-pain decision support (not a diagnosis).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="check the level map, then measure lesions per level")
    _extract_arguments(p)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("import-cohort", help="validate and import a clinical CSV/Excel file")
    p.add_argument("file")
    p.add_argument("--db", help="SQLAlchemy URL (default: SQLite in the data directory)")
    p.add_argument("--valid-rows-only", action="store_true",
                   help="import the valid rows even if some rows are invalid")
    p.add_argument("--actor", default="cli", help="name recorded in the audit log")
    p.add_argument("--model", metavar="DIR",
                   help="also score the imported studies with this model (stored per "
                        "study and model version)")
    p.add_argument("--progress", action="store_true",
                   help="draw the progress bars even when stderr is not a terminal")
    p.set_defaults(func=_cmd_import_cohort)

    p = sub.add_parser("demo", help="build the synthetic demo store")
    p.add_argument("--db", help="SQLAlchemy URL (default: SQLite in the data directory)")
    p.add_argument("--seed", type=int, default=20250301)
    p.add_argument("--patients", type=int, default=300)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", help="train the pain model on a cohort file")
    p.add_argument("--cohort", required=True, help="cohort CSV/Excel (clinical + imaging columns)")
    p.add_argument("--out", required=True, help="output folder, e.g. models/site-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", action="store_true",
                   help="mark the training data as synthetic in the model card")
    p.add_argument("--force", action="store_true",
                   help="replace a file that stands where the --out folder should be")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("batch", help="measure the studies of a manifest into one features "
                                     "CSV (local processes or Dask), resumable")
    _batch_arguments(p)
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("predict", help="predict pain, explain it and suggest a tier")
    p.add_argument("--features", required=True, help="case JSON (extract output + clinical)")
    p.add_argument("--model", help="model folder (default: models/demo)")
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError, RecursionError) as exc:
        sys.stderr.write(f"error: {error_line(exc)}\n")
        return 2


def error_line(exc: BaseException) -> str:
    """One line of at most :data:`MAX_ERROR_CHARS` characters for an error: the first
    line of a ``ValueError``/``FileNotFoundError``'s message; for another ``OSError``
    (a path that cannot be read or written) its reason and the file's name."""
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and exc.strerror:
        name = Path(str(exc.filename)).name if exc.filename else ""
        message = f"{exc.strerror}" + (f": {name}" if name else "") + "."
    elif isinstance(exc, RecursionError):
        message = "the input is nested too deeply to read."
    else:
        text = str(exc).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return message
