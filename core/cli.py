"""Command line: ``python -m core {extract,import-cohort,demo,train,predict}``.

These command lines and their JSON keys are public interfaces; keep them stable.
Bad input exits with code 2 and one plain line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.levels import LABEL_CONVENTIONS


def _emit(payload: object, out: str | None) -> None:
    text = json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


def _cmd_extract(args: argparse.Namespace) -> int:
    from core.io import read_image, read_label_map
    from core.lesions import extract
    from core.provenance import sha256_file

    loaded = read_image(args.image, series_uid=args.series)
    # extract() aligns both maps onto the image grid, naming which one does not overlap.
    vertebrae = read_label_map(args.vertebrae)
    lesions = read_label_map(args.lesions) if args.lesions else None
    result = extract(
        loaded.image,
        vertebrae,
        lesions,
        convention=args.convention,
        input_sha256=loaded.meta.input_sha256,
    )
    payload = result.metrics.to_dict()
    payload["provenance"]["image"] = loaded.meta.to_dict()
    for key, path in (("vertebrae_sha256", args.vertebrae), ("lesions_sha256", args.lesions)):
        # File content hash; None when not given or a DICOM folder (no single file).
        is_file = bool(path) and Path(path).is_file()
        payload["provenance"][key] = sha256_file(path) if is_file else None
    _emit(payload, args.out)
    return 0


def _cmd_import_cohort(args: argparse.Namespace) -> int:
    from core.clinical import load_clinical_table
    from core.store import CaseStore

    table = load_clinical_table(args.file)
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
    store = CaseStore(args.db)
    try:
        summary = store.import_cohort(table.rows, source=name, actor=args.actor)
    finally:
        store.close()
    sys.stderr.writelines(f"warning: {w}\n" for w in summary["warnings"])
    summary["rows_skipped"] = len(table.invalid_rows)
    _emit(summary, None)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import build_demo_store

    summary = build_demo_store(args.db, seed=args.seed, n_patients=args.patients)
    _emit(summary, None)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from core.model import train_from_file

    card = train_from_file(args.cohort, out_dir=args.out, seed=args.seed,
                           synthetic=args.synthetic)
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


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m core`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Spinal metastasis bone-pain decision support (not a diagnosis).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="measure lesions per vertebral level")
    p.add_argument("image", help="MRI: NIfTI, NRRD, MHA/MHD, DICOM .zip or .dcm")
    p.add_argument("--vertebrae", required=True, help="vertebra label map")
    p.add_argument("--lesions", help="optional lesion mask (replaces detection)")
    p.add_argument(
        "--convention",
        default="verse",
        choices=list(LABEL_CONVENTIONS),
        help="label convention of the vertebra map (default: verse); totalsegmentator_mr "
             "reads the MR vertebrae_mr task",
    )
    p.add_argument("--series", help="DICOM SeriesInstanceUID (pseudonymised) to read")
    p.add_argument("--out", help="write JSON here instead of stdout")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("import-cohort", help="validate and import a clinical CSV/Excel file")
    p.add_argument("file")
    p.add_argument("--db", help="SQLAlchemy URL (default: SQLite in the data directory)")
    p.add_argument("--valid-rows-only", action="store_true",
                   help="import the valid rows even if some rows are invalid")
    p.add_argument("--actor", default="cli", help="name recorded in the audit log")
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
    p.set_defaults(func=_cmd_train)

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
    except (ValueError, FileNotFoundError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"error: {message}\n")
        return 2
