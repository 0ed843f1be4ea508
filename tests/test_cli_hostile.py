"""Bad-input corpus for the command line (issue 11, item 6: tables, prediction inputs,
paths) and a property test of the CSV reader.

Each item of ``CORPUS`` builds hostile input in a temporary folder and returns the
``python -m core`` arguments. Run in-process through :func:`core.cli.main`, each must end
with exit code 2 and exactly one line on stderr (``error: ...``, under 300 characters, no
traceback, no patient data), write nothing to stdout and no output file, and keep the
peak resident-set increase under ``PEAK_BOUND``. With the image corpus of
``tests/test_io_corpus.py`` the two corpora hold more than 80 items (checked below).

Output paths under ``/proc/sys`` are refused by the kernel even for root, so the
"not writable" items are real; "no read permission" uses ``chmod 000`` and, when the
tests run as root (who reads anything), an ``open`` that raises ``PermissionError`` for
that one file, as the kernel would for another user.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.clinical import MAX_TABLE_BYTES, load_clinical_table
from tests.data_io_helpers import PeakRss
from tests.test_io_corpus import CORPUS as IMAGE_CORPUS

REPO = Path(__file__).resolve().parents[1]
MIB = 1 << 20
#: Peak RSS increase allowed for one item (the largest input is a 10 MB line).
PEAK_BOUND = 160 * MIB
COHORT_HEADER = (REPO / "data" / "demo" / "cohort.csv").read_text(
    encoding="utf-8").splitlines()[0]
COHORT_ROWS = (REPO / "data" / "demo" / "cohort.csv").read_text(
    encoding="utf-8").splitlines()[1:4]
CASE = json.loads((REPO / "tests" / "golden" / "predict_input_lumbar.json").read_text(
    encoding="utf-8"))
#: Names a hostile file may carry; they must never reach an error line.
NAMES = ("John", "Smith", "Jane", "Doe")
READ_ONLY = Path("/proc/sys")

Build = Callable[[Path, pytest.MonkeyPatch], list[str]]


# ------------------------------------------------------------------------- builders


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def table(*rows: str, header: str = COHORT_HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def edit_row(column: str, value: str) -> str:
    """The first demo row with one cell replaced."""
    names = COHORT_HEADER.split(",")
    cells = COHORT_ROWS[0].split(",")
    cells[names.index(column)] = value
    return ",".join(cells)


def cohort_import(data: bytes | str, name: str = "t.csv") -> Build:
    def build(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
        return ["import-cohort", str(write(tmp, name, data)),
                "--db", f"sqlite:///{tmp / 'store.sqlite'}"]
    return build


def cohort_train(data: bytes | str, name: str = "t.csv") -> Build:
    def build(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
        return ["train", "--cohort", str(write(tmp, name, data)), "--out", str(tmp / "m")]
    return build


def case_file(data: bytes | str | dict) -> Build:
    def build(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
        text = json.dumps(data) if isinstance(data, dict) else data
        return ["predict", "--features", str(write(tmp, "case.json", text))]
    return build


def case_with(**fields: object) -> Build:
    return case_file({**CASE, **fields})


def deep_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def fifo(tmp: Path) -> Path:
    path = tmp / "pipe"
    os.mkfifo(path)
    return path


def unreadable(tmp: Path, patch: pytest.MonkeyPatch, name: str, data: str) -> Path:
    path = write(tmp, name, data)
    path.chmod(0)
    if os.geteuid() == 0:
        real_open = builtins.open

        def denying_open(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(file, *args, **kwargs)

        patch.setattr(builtins, "open", denying_open)
        patch.setattr(io, "open", denying_open)
    return path


def argv(*args: str | Callable[[Path, pytest.MonkeyPatch], str]) -> Build:
    """Arguments, some made from the temporary folder (``lambda tmp, patch: ...``)."""
    def build(tmp: Path, patch: pytest.MonkeyPatch) -> list[str]:
        return [a(tmp, patch) if callable(a) else a for a in args]
    return build


def in_tmp(name: str, data: str | None = None) -> Callable[[Path, pytest.MonkeyPatch], str]:
    def make(tmp: Path, _: pytest.MonkeyPatch) -> str:
        if data is not None:
            write(tmp, name, data)
        return str(tmp / name)
    return make


def a_dir(tmp: Path, _: pytest.MonkeyPatch) -> str:
    (tmp / "folder").mkdir(exist_ok=True)
    return str(tmp / "folder")


def a_fifo(tmp: Path, _: pytest.MonkeyPatch) -> str:
    return str(fifo(tmp))


def sparse_table(tmp: Path, _: pytest.MonkeyPatch) -> str:
    path = write(tmp, "huge.csv", COHORT_HEADER + "\n")
    with open(path, "r+b") as handle:
        handle.truncate(MAX_TABLE_BYTES + 1)
    return str(path)


def manifest_with_id(patient_id: str) -> Build:
    """A manifest whose one study has existing files and this patient ID."""
    def build(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
        write(tmp, "a.nii", b"x")
        write(tmp, "b.nii", b"x")
        manifest = write(tmp, "m.csv", f"{MANIFEST}{patient_id},2024-01-01,a.nii,b.nii,,verse\n")
        return ["batch", str(manifest), "--out", str(tmp / "f.csv")]
    return build


MANIFEST = "patient_id,study_date,image,vertebrae,lesions,convention\n"
ROW = edit_row("patient_id", "P0001")

# ------------------------------------------------------------------------ the corpus

TABLES: list[tuple[str, Build]] = [
    ("table-empty", cohort_import(b"")),
    ("table-blank-lines", cohort_import(b" \r\n\r\n\t\n")),
    ("table-binary", cohort_import(bytes(range(256)) * 64)),
    ("table-png", cohort_import(b"\x89PNG\r\n\x1a\n" + bytes(2000))),
    ("table-utf16-bom", cohort_import(table(ROW).encode("utf-16"))),
    ("table-utf16-no-bom", cohort_import(table(ROW).encode("utf-16-le"))),
    ("table-bom-header-only", cohort_import(b"\xef\xbb\xbf" + COHORT_HEADER.encode())),
    ("table-latin1", cohort_import(table(edit_row("primary_tumor", "m\xe9lanome"))
                                   .encode("latin-1"))),
    ("table-nul-bytes", cohort_import(table(ROW).replace("P0001", "P\x000001"))),
    ("table-huge-field", cohort_import(table(ROW) + '"' + ("x" * 999 + "\n") * 5_000 + '"\n')),
    ("table-10mb-line", cohort_import(table(ROW) + "y," * 5_000_000 + "\n")),
    ("table-over-size-limit", argv("import-cohort", sparse_table)),
    ("table-semicolons", cohort_import(table(ROW).replace(",", ";"))),
    ("table-tabs", cohort_import(table(ROW).replace(",", "\t"))),
    ("table-duplicate-header", cohort_import(table(ROW + ",1", header=COHORT_HEADER
                                                   + ",vas"))),
    ("table-20000-unknown-columns", cohort_import(
        table(ROW, header=COHORT_HEADER + "," + ",".join(f"c{i}" for i in range(20000))))),
    ("table-name-column", cohort_import(table(ROW + ",Jane Doe",
                                              header=COHORT_HEADER + ",name"))),
    ("table-missing-required", cohort_import("patient_id,age\nP0001,50\n")),
    ("table-unnamed-column-values", cohort_import(table(ROW + ",,5",
                                                        header=COHORT_HEADER + ",,"))),
    ("table-xls-suffix", cohort_import(table(ROW), name="t.xls")),
    ("table-pdf-suffix", cohort_import(table(ROW), name="t.pdf")),
    ("table-fake-xlsx", cohort_import(b"PK\x03\x04 not really a zip", name="t.xlsx")),
    ("table-unterminated-quote", cohort_train(table(ROW, '"P0002,2024-01-01'))),
    ("table-nan-vas", cohort_train(table(edit_row("vas", "NaN")))),
    ("table-inf-age", cohort_train(table(edit_row("age", "inf")))),
    ("table-negative-count", cohort_train(table(edit_row("lesion_count", "-3")))),
    ("table-huge-number", cohort_train(table(edit_row("lesion_count", "1e400")))),
    ("table-ragged-rows", cohort_train(table(ROW + ",1,2", ROW[:20]))),
    ("table-formula-cell", cohort_train(table(edit_row("sex", "=cmd|' /C calc'!A0")))),
    ("table-name-shaped-id", cohort_train(table(edit_row("patient_id", "John.Smith")))),
    ("table-name-with-space", cohort_train(table(edit_row("patient_id", '"John Smith"')))),
    ("table-vas-out-of-range", cohort_train(table(edit_row("vas", "15")))),
    ("table-header-only", cohort_train(COHORT_HEADER + "\n")),
    ("manifest-name-id", manifest_with_id("Jane_Doe")),
    ("manifest-name-dot-id", manifest_with_id("John.Smith")),
    ("manifest-10mb-line", argv("batch", in_tmp("m.csv", MANIFEST + "y," * 5_000_000),
                                "--out", in_tmp("f.csv"))),
    ("manifest-binary", argv("batch", in_tmp("m.csv", "\x00\x01\x02" * 100),
                             "--out", in_tmp("f.csv"))),
]

PREDICT: list[tuple[str, Build]] = [
    ("json-deep-10000", case_file(deep_json(10_000))),
    ("json-deep-50", case_file(deep_json(50))),
    ("json-not-json", case_file("lesion_count: 3")),
    ("json-empty", case_file("")),
    ("json-binary", case_file(b"\xff\xfe\x00\x01" * 100)),
    ("json-array", case_file("[1, 2, 3]")),
    ("json-string", case_file('"a case"')),
    ("json-nan", case_file('{"lesion_count": NaN}')),
    ("json-infinity", case_file('{"vas": Infinity}')),
    ("json-too-large", case_file('{"x": "' + "a" * 1_100_000 + '"}')),
    ("json-overflow-number", case_file('{"lesion_count": 1e400}')),
    ("case-vas-15", case_with(vas=15)),
    ("case-vas-negative", case_with(vas=-1)),
    ("case-vas-text", case_with(vas="seven")),
    ("case-vas-list", case_with(vas=[1, 2])),
    ("case-vas-bool", case_with(vas=True)),
    ("case-age-200", case_with(age=200)),
    ("case-age-object", case_with(age={"years": 60})),
    ("case-ecog-9", case_with(ecog=9)),
    ("case-count-negative", case_with(lesion_count=-3, lesion_count_by_region=None)),
    ("case-unknown-level", case_with(involved_levels=["Z99"])),
    ("case-levels-not-text", case_with(involved_levels=[1, 2])),
    ("case-unknown-region", case_with(lesion_count_by_region={"brain": 1})),
    ("case-region-not-map", case_with(lesion_count_by_region=5)),
    ("case-hi-contradiction", case_with(high_intensity_ratio=0.6,
                                        max_level_high_intensity_ratio=0.2)),
    ("case-hi-above-one", case_with(high_intensity_ratio=1.5)),
    ("case-formula-sex", case_with(sex="=cmd|' /C calc'!A0")),
    ("case-cr-formula", case_with(primary_tumor="\r=1+1")),
    ("case-name-id", case_with(patient_id="John.Smith")),
    ("case-deficit-maybe", case_with(neurologic_deficit="maybe")),
    ("case-sins-pain-2", case_with(sins_pain=2)),
    ("case-future-date", case_with(patient_id="P0001", study_date="2099-01-01")),
]

PATHS: list[tuple[str, Build]] = [
    ("extract-image-missing", argv("extract", in_tmp("none.nii.gz"), "--vertebrae", "v")),
    ("extract-image-fifo", argv("extract", a_fifo, "--vertebrae", "v")),
    ("extract-out-folder", argv("extract", "x.nii", "--out", a_dir)),
    ("extract-out-fifo", argv("extract", "x.nii", "--out", a_fifo)),
    ("extract-out-no-folder", argv("extract", "x.nii", "--out", in_tmp("no/x.json"))),
    ("extract-out-under-a-file", argv("extract", "x.nii", "--out",
                                      lambda tmp, p: in_tmp("f", "x")(tmp, p) + "/x.json")),
    ("extract-out-read-only", argv("extract", "x.nii", "--out", str(READ_ONLY / "x.json"))),
    ("extract-save-levels-folder", argv("extract", "x.nii", "--save-levels", a_dir)),
    ("import-missing", argv("import-cohort", in_tmp("none.csv"))),
    ("import-folder", argv("import-cohort", a_dir)),
    ("import-fifo", argv("import-cohort", a_fifo)),
    ("import-no-permission", argv("import-cohort", lambda tmp, patch: str(
        unreadable(tmp, patch, "t.csv", table(ROW))), "--db", in_tmp("s.sqlite"))),
    ("import-db-folder", argv("import-cohort", "x.csv", "--db",
                              lambda tmp, p: f"sqlite:///{a_dir(tmp, p)}")),
    ("import-db-read-only", argv("import-cohort", "x.csv", "--db",
                                 f"sqlite:///{READ_ONLY / 's.sqlite'}")),
    ("demo-db-folder", argv("demo", "--db", lambda tmp, p: f"sqlite:///{a_dir(tmp, p)}")),
    ("demo-db-driver-folder", argv("demo", "--db",
                                   lambda tmp, p: f"sqlite+pysqlite:///{a_dir(tmp, p)}")),
    ("import-db-not-a-url", argv("import-cohort", "x.csv", "--db", "cases.sqlite")),
    ("demo-db-read-only", argv("demo", "--db", f"sqlite:///{READ_ONLY / 's.sqlite'}")),
    ("train-cohort-missing", argv("train", "--cohort", in_tmp("none.csv"), "--out",
                                  in_tmp("m"))),
    ("train-cohort-folder", argv("train", "--cohort", a_dir, "--out", in_tmp("m"))),
    ("train-cohort-fifo", argv("train", "--cohort", a_fifo, "--out", in_tmp("m"))),
    ("train-cohort-no-permission", argv("train", "--cohort", lambda tmp, patch: str(
        unreadable(tmp, patch, "t.csv", table(ROW))), "--out", in_tmp("m"))),
    ("train-out-existing-file", argv("train", "--cohort", "x.csv", "--out",
                                     in_tmp("model", "not a folder"))),
    ("train-out-under-a-file", argv("train", "--cohort", "x.csv", "--out",
                                    lambda tmp, p: in_tmp("f", "x")(tmp, p) + "/m")),
    ("train-out-read-only", argv("train", "--cohort", "x.csv", "--out",
                                 str(READ_ONLY / "m"))),
    ("batch-manifest-missing", argv("batch", in_tmp("none.csv"), "--out", in_tmp("f.csv"))),
    ("batch-manifest-folder", argv("batch", a_dir, "--out", in_tmp("f.csv"))),
    ("batch-out-folder", argv("batch", in_tmp("m.csv", MANIFEST), "--out", a_dir)),
    ("batch-out-fifo", argv("batch", in_tmp("m.csv", MANIFEST), "--out", a_fifo)),
    ("batch-out-read-only", argv("batch", in_tmp("m.csv", MANIFEST), "--out",
                                 str(READ_ONLY / "f.csv"))),
    ("batch-json-dir-is-file", argv("batch", in_tmp("m.csv", MANIFEST), "--out",
                                    in_tmp("f.csv"), "--json-dir", in_tmp("j", "x"))),
    ("batch-db-folder", argv("batch", in_tmp("m.csv", MANIFEST), "--out", in_tmp("f.csv"),
                             "--db", lambda tmp, p: f"sqlite:///{a_dir(tmp, p)}")),
    ("predict-missing", argv("predict", "--features", in_tmp("none.json"))),
    ("predict-folder", argv("predict", "--features", a_dir)),
    ("predict-fifo", argv("predict", "--features", a_fifo)),
    ("predict-no-permission", argv("predict", "--features", lambda tmp, patch: str(
        unreadable(tmp, patch, "case.json", json.dumps(CASE))))),
    ("predict-model-missing", argv("predict", "--features", in_tmp("c.json", json.dumps(
        CASE)), "--model", in_tmp("no-model"))),
]

CORPUS = TABLES + PREDICT + PATHS


def test_corpus_is_large_enough():
    assert len({name for name, _ in CORPUS}) == len(CORPUS)
    assert len(TABLES) >= 30 and len(PREDICT) >= 30 and len(PATHS) >= 30
    assert len(CORPUS) + len(IMAGE_CORPUS) >= 80


@pytest.mark.parametrize(("name", "build"), CORPUS, ids=[name for name, _ in CORPUS])
def test_hostile_cli_input_exits_2_with_one_line(name, build, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    args = build(tmp_path, monkeypatch)
    made = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    with PeakRss() as peak:
        code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, (name, code, err[:300])
    assert out == "", name
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), (name, err[:500])
    line = lines[0]
    assert line.startswith("error: ") and len(line) < 300, (name, line)
    assert "Traceback" not in line, (name, line)
    for word in NAMES:
        assert not re.search(rf"\b{word}\b", line), (name, word, line)
    assert peak.delta < PEAK_BOUND, f"{name}: peak RSS grew {peak.delta / MIB:.0f} MiB"
    # nothing was written: the folder holds what the builder made, and no more
    assert before == [] and sorted(p.name for p in tmp_path.iterdir()) == made, name


# ------------------------------------------------------------------ CSV reader fuzzing

CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NA", "nan", "inf", "-1", "1e400", "=1+1", "\r=1+1", '"', '""',
                     "P0001", "John.Smith", "2024-01-01", "7.5", "\x00", "\ufeff", ";"]),
)
HEADERS = st.lists(st.sampled_from([*COHORT_HEADER.split(","), "", "name", "Vas", " age "]),
                   min_size=0, max_size=8)


@st.composite
def csv_bytes(draw) -> bytes:
    header = draw(HEADERS)
    rows = draw(st.lists(st.lists(CELLS, max_size=9), max_size=5))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(sep.join(r) for r in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data = data + draw(st.binary(max_size=40))
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=csv_bytes())
def test_fuzzed_csv_tables_give_a_table_or_one_sentence(data):
    try:
        result = load_clinical_table(data, filename="fuzz.csv")
    except ValueError as exc:
        message = str(exc)
        assert type(exc) is ValueError and message and "\n" not in message
        assert len(message) < 300, message
        return
    for error in result.errors:
        assert "\n" not in error.reason and len(error.reason) < 300, error.reason
    assert len(result.rows) <= result.n_rows
