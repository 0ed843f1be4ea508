"""Rules applied at the edge (issue 11): the pseudonymous-ID rule, spreadsheet-safe CSV
written by every exporter, bounded error messages, output paths checked before work."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from core.batch.output import FEATURE_COLUMNS, write_features
from core.cli import MAX_ERROR_CHARS, error_line, main
from core.clinical import (
    COHORT_COLUMNS,
    DEFAULT_ID_PATTERN,
    ID_PATTERN_ENV,
    export_csv,
    load_clinical_table,
    parse_patient_id,
    validate_clinical,
)
from core.outputs import check_database_url, check_output_file, check_output_folder
from core.vocab import quote_names

REPO = Path(__file__).resolve().parents[1]
HEADER = (REPO / "data" / "demo" / "cohort.csv").read_text(encoding="utf-8").splitlines()[0]
ROW = (REPO / "data" / "demo" / "cohort.csv").read_text(encoding="utf-8").splitlines()[1]


# ------------------------------------------------------------------- pseudonymous IDs


@pytest.mark.parametrize("value", ["P0001", "BRCA-017", "site3_case12", "DEMO-0001", "7",
                                   "a1", "P_A1", "x" * 63 + "1"])
def test_pseudonymous_ids_pass(value):
    assert parse_patient_id(value) == value


@pytest.mark.parametrize("value", [
    "John.Smith", "john smith", "Jane_Doe", "x_Jane_Doe_7", "Jane_Doe_1", "jane.doe7",
    "UNSAVED", "Smith", "P-19630201", "123-45-6789", "MRN0012345678", "NA", "null",
    "a" * 65 + "1", "-P001", "P001!", "=HYPERLINK(1)", "P 001",
])
def test_identifying_or_malformed_ids_are_refused_without_echo(value):
    with pytest.raises(ValueError) as info:
        parse_patient_id(value)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    for part in re.split(r"[^A-Za-z0-9]+", value):
        if len(part) >= 3:
            assert part.lower() not in message.lower(), (value, message)


def test_whole_number_ids_are_text():
    assert parse_patient_id(17) == "17"
    assert parse_patient_id(17.0) == "17"
    with pytest.raises(ValueError, match="must be text"):
        parse_patient_id(1.5)


def test_site_pattern_from_the_environment(monkeypatch):
    monkeypatch.setenv(ID_PATTERN_ENV, r"SITE3-[0-9]{4}")
    assert parse_patient_id("SITE3-0042") == "SITE3-0042"
    with pytest.raises(ValueError, match=r"site's pseudonym rule \(SPINEPAIN_ID_PATTERN\)"):
        parse_patient_id("P0001")
    # a permissive site rule still never lets a name-shaped ID through
    monkeypatch.setenv(ID_PATTERN_ENV, r"[A-Za-z0-9. _-]+")
    assert parse_patient_id("case.12") == "case.12"
    for name in ("John.Smith", "john smith", "Jane_Doe"):
        with pytest.raises(ValueError, match="person's name"):
            parse_patient_id(name)
    monkeypatch.setenv(ID_PATTERN_ENV, "([unclosed")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        parse_patient_id("P0001")
    monkeypatch.setenv(ID_PATTERN_ENV, "  ")
    assert parse_patient_id("P0001") == "P0001"
    assert re.fullmatch(DEFAULT_ID_PATTERN, "P0001")


def test_the_rule_applies_to_tables_rows_and_manifests(tmp_path, capsys):
    table = load_clinical_table(
        (HEADER + "\n" + ROW.replace("DEMO-0001", "John.Smith", 1) + "\n").encode(),
        filename="t.csv")
    assert [(e.row, e.column) for e in table.errors] == [(2, "patient_id")]
    assert "John" not in table.errors[0].reason and "Smith" not in table.errors[0].reason
    record = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    with pytest.raises(ValueError, match=r"^patient_id looks like a person's name"):
        validate_clinical({**record, "patient_id": "Jane_Doe"})
    # the New case form and predict stand a placeholder for "no ID yet"
    clean = validate_clinical({**record, "patient_id": "UNSAVED"}, placeholder_id="UNSAVED")
    assert clean["patient_id"] == "UNSAVED"
    with pytest.raises(ValueError, match=r"^patient_id is not a pseudonymous code"):
        validate_clinical({**record, "patient_id": "UNSAVED"})
    (tmp_path / "a.nii").write_bytes(b"x")
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,study_date,image,vertebrae,lesions,convention\n"
                        "John.Smith,2024-01-01,a.nii,a.nii,,verse\n", encoding="utf-8")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert "person's name" in err and "John" not in err and "Smith" not in err
    assert not (tmp_path / "f.csv").exists()


# ---------------------------------------------------------------- CSV formula safety

FORMULAS = ["\r=1+1", "=1+1", "+1+1", "-1+A1", "@SUM(A1)", "\t=1", "\n=1", " =1",
            "＝1+1", "x\r=2", "y\n@A1"]


def line_breaks_outside_quotes(text: str) -> int:
    """How many CR/LF a spreadsheet sees as row ends (outside double quotes; CRLF = 1)."""
    quoted, count, previous = False, 0, ""
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted and not (char == "\n" and previous == "\r"):
            count += 1
        previous = char
    return count


def assert_spreadsheet_safe(data: bytes, n_rows: int) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    assert line_breaks_outside_quotes(text) == n_rows + 1  # header + rows
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == n_rows + 1
    for record in records:
        for cell in record:
            # nothing a spreadsheet would evaluate, at the start of a cell or of a line
            assert not re.match(r"[ ]*[=+@\t\r\n＝＋－＠-]", cell) or re.fullmatch(
                r"-?\d+(\.\d+)?", cell), cell
    return records


def test_export_neutralises_and_quotes_every_formula_cell():
    frame = pd.DataFrame({"text": FORMULAS, "n": range(len(FORMULAS))})
    records = assert_spreadsheet_safe(export_csv(frame), len(FORMULAS))
    assert [r[0] for r in records[1:]] == [
        "'\r=1+1", "'=1+1", "'+1+1", "'-1+A1", "'@SUM(A1)", "'\t=1", "'\n=1", "' =1",
        "'＝1+1", "x\r=2", "y\n@A1"]
    assert export_csv(pd.DataFrame({"v": [-3, 1.5]})) == b"v\n-3\n1.5\n"
    assert export_csv(pd.DataFrame({"=bad": [1]})).startswith(b"'=bad\n")
    assert export_csv(pd.DataFrame({"a": ["x"]}), bom=True) == b"\xef\xbb\xbfa\nx\n"


def test_batch_features_csv_is_spreadsheet_safe_when_read_back(tmp_path):
    out = tmp_path / "features.csv"
    rows = [{c: None for c in FEATURE_COLUMNS} | {"patient_id": f"P{i:04d}",
                                                   "study_date": "2024-01-01",
                                                   "status": "error", "error": text}
            for i, text in enumerate(FORMULAS)]
    write_features(out, rows)
    records = assert_spreadsheet_safe(out.read_bytes(), len(FORMULAS))
    error_at = records[0].index("error")
    assert [r[error_at] for r in records[1:]][:2] == ["'\r=1+1", "'=1+1"]


def test_store_export_is_spreadsheet_safe_when_read_back(tmp_path):
    from core.store import CaseStore

    record = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    record["primary_tumor"] = "breast"
    frame = pd.DataFrame([record], columns=list(COHORT_COLUMNS))
    with CaseStore(f"sqlite:///{tmp_path / 's.sqlite'}", data_dir=tmp_path) as store:
        store.import_cohort(load_clinical_table(export_csv(frame), filename="c.csv").rows,
                            source="c.csv", actor="test")
        data = store.export_csv("test")
    records = assert_spreadsheet_safe(data, 1)
    assert records[1][0] == "DEMO-0001"


# ----------------------------------------------------------------- bounded messages


def test_name_lists_are_bounded():
    names = [f"column_{i}" for i in range(20_000)]
    text = quote_names(names)
    assert text == "'column_0', 'column_1', 'column_2' and 19997 more"
    assert quote_names(["a", "b"]) == "'a', 'b'"
    assert quote_names(["x" * 500]) == repr("x" * 37 + "...")
    header = "patient_id,study_date," + ",".join("x" * 200 + str(i) for i in range(1000))
    with pytest.raises(ValueError) as info:
        load_clinical_table((header + "\nP1,2024-01-01\n").encode(), filename="t.csv")
    assert len(str(info.value)) < 300 and "and 997 more" in str(info.value)


def test_cli_error_lines_are_one_bounded_line():
    assert len(error_line(ValueError("x" * 5000))) == MAX_ERROR_CHARS
    assert error_line(ValueError("first line\nsecond")) == "first line"
    assert error_line(PermissionError(13, "Permission denied", "/a/b/secret.csv")) == \
        "Permission denied: secret.csv."
    assert error_line(IsADirectoryError(21, "Is a directory", "/x/out")) == \
        "Is a directory: out."
    assert error_line(RecursionError()) == "the input is nested too deeply to read."


# ------------------------------------------------------------------- output paths


def test_output_checks(tmp_path):
    assert check_output_file(tmp_path / "x.json", "--out") == tmp_path / "x.json"
    with pytest.raises(ValueError, match=r"^--out is a folder"):
        check_output_file(tmp_path, "--out")
    with pytest.raises(ValueError, match=r"^the folder of --out does not exist"):
        check_output_file(tmp_path / "no" / "x.json", "--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"^the folder of --out is a file, not a folder\.$"):
        check_output_file(tmp_path / "file" / "x.json", "--out")
    existing = tmp_path / "model"
    existing.write_text("x")
    with pytest.raises(ValueError, match="--force"):
        check_output_folder(existing, "--out")
    assert check_output_folder(existing, "--out", force=True) == existing
    assert existing.read_text() == "x"  # the check itself never deletes
    assert check_output_folder(tmp_path / "new", "--out") == tmp_path / "new"
    assert check_output_folder(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert not (tmp_path / "new").exists() and not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match=r"^the folder that would hold --out is a file"):
        check_output_folder(tmp_path / "file" / "a" / "m", "--out")
    check_database_url(None)
    check_database_url("sqlite://")
    check_database_url("sqlite:///:memory:")
    check_database_url("postgresql://u@h/db")
    check_database_url(f"sqlite:///{tmp_path / 'deep' / 'er' / 's.sqlite'}")
    with pytest.raises(ValueError, match="folder, not a database"):
        check_database_url(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize("url", ["sqlite+pysqlite:///{folder}", "sqlite:///{folder}?mode=rwc",
                                 "sqlite:///{encoded}"])
def test_a_database_url_naming_a_folder_is_refused_in_every_sqlite_spelling(tmp_path, url):
    # SQLAlchemy reads a driver name, a query string and percent-escapes in the URL; the
    # check must see the same file the store would open.
    folder = tmp_path / "a folder"
    folder.mkdir()
    encoded = str(folder).replace(" ", "%20")
    with pytest.raises(ValueError, match=r"^--db names a folder, not a database file\.$"):
        check_database_url(url.format(folder=folder, encoded=encoded))


def test_extract_out_is_checked_before_the_image_is_read(tmp_path, capsys):
    # the image does not exist: the --out error comes first, so no work was done
    code = main(["extract", str(tmp_path / "none.nii.gz"), "--vertebrae", "v",
                 "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == "error: --out is a folder; give a file path.\n"


def test_train_out_is_checked_before_the_cohort_is_read(tmp_path, capsys):
    target = tmp_path / "model"
    target.write_text("keep me")
    code = main(["train", "--cohort", str(tmp_path / "none.csv"), "--out", str(target)])
    assert code == 2
    assert "--force" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_the_store_refuses_a_name_shaped_id_before_writing(tmp_path):
    from core.store import CaseStore

    with CaseStore(f"sqlite:///{tmp_path / 's.sqlite'}", data_dir=tmp_path) as store:
        with pytest.raises(ValueError) as info:
            store.save_case("John.Smith", "2024-01-01", clinical={"age": 60, "sex": "F"},
                            actor="test")
        assert "person's name" in str(info.value)
        assert "John" not in str(info.value) and "Smith" not in str(info.value)
        assert store.counts()["studies"] == 0
