#!/usr/bin/env python3
"""Reads back a VSH cohort export (CSV and XLSX) and asserts its cells.

  check_cohort_export.py COHORT.csv COHORT.xlsx leo=ID maisie=ID jayden=ID formula=ID

Run by tests/tools/cohort_export_test.cc; the column set is documented in
docs/cohort-export.md. Exits non-zero naming the first wrong cell.
"""
import csv
import datetime
import sys

import openpyxl

HEADER = [
    "Kinex ID", "LA child ID", "UPN", "Given name", "Family name", "Date of birth", "Sex",
    "Responsible LA", "Current status", "Current arrangement", "School URN",
    "Part-time timetable", "Attendance %", "Possible sessions", "Sessions attended",
    "Authorised absences", "Unauthorised absences", "Persistently absent", "Exclusions",
    "Latest exclusion type", "Latest exclusion date", "Latest exclusion sessions",
    "Latest exclusion reason", "SEN provision", "SEN primary need", "PEP last review",
    "PEP status", "PEP next review due", "Pupil Premium Plus", "Pupil Premium Plus basis",
    "Missing education", "Kinship indicator", "SDQ band",
]

# Expected CSV text per child, by column (columns not named are checked below).
EXPECTED = {
    "leo": {
        "Given name": "Leo", "Family name": "Ashworth",
        "Current status": "Previously looked after",
        "Current arrangement": "Special guardianship order",
        "School URN": "137000", "Attendance %": "90.8", "Possible sessions": "120",
        "Sessions attended": "109", "Persistently absent": "No", "Exclusions": "0",
        "Latest exclusion type": "", "Latest exclusion date": "",
        "SEN provision": "SEN support", "SEN primary need": "SEMH",
        "PEP status": "", "PEP last review": "",
        "Pupil Premium Plus": "Yes", "Pupil Premium Plus basis": "Previously looked after",
        "Missing education": "No", "Kinship indicator": "Yes",
    },
    "maisie": {
        "Given name": "Maisie", "Family name": "Thornbury",
        "Current status": "Looked after", "Current arrangement": "Kinship foster care",
        "PEP last review": "2026-09-30", "PEP status": "Current",
        "PEP next review due": "2027-03-30",
        "Pupil Premium Plus": "Yes", "Pupil Premium Plus basis": "Looked after",
    },
    "jayden": {
        "Given name": "Jayden", "Family name": "Whitlock", "LA child ID": "WCC-100733",
        "Current status": "Not looked after",
        "Current arrangement": "Informal family arrangement",
        "PEP status": "", "Pupil Premium Plus": "", "Pupil Premium Plus basis": "",
    },
    "formula": {
        "Given name": "Siân-Zoë", "Family name": "'=HYPERLINK(\"http://x\")",
        "LA child ID": "WCC-900001", "UPN": "not available",
        "Current status": "Not looked after", "Unauthorised absences": "0",
        "Persistently absent": "No", "Exclusions": "1",
        "Latest exclusion type": "Suspension", "Latest exclusion date": "2026-10-05",
        "Latest exclusion sessions": "2", "Latest exclusion reason": "PP",
    },
}
DATE_COLUMNS = ["Date of birth", "Latest exclusion date", "PEP last review",
                "PEP next review due"]
NUMBER_COLUMNS = ["Possible sessions", "Sessions attended", "Authorised absences",
                  "Unauthorised absences", "Exclusions", "Latest exclusion sessions"]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def main():
    csv_path, xlsx_path = sys.argv[1], sys.argv[2]
    ids = dict(a.split("=", 1) for a in sys.argv[3:])
    names = {v: k for k, v in ids.items()}

    # --- CSV ---
    raw = open(csv_path, "rb").read()
    expect("CSV starts with a UTF-8 BOM", raw[:3], b"\xef\xbb\xbf")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    expect("CSV header", rows[0], HEADER)
    body = rows[1:]
    expect("CSV children", sorted(r[0] for r in body), sorted(ids.values()))
    by_child = {names[r[0]]: dict(zip(HEADER, r)) for r in body}
    for child, cells in EXPECTED.items():
        for column, want in cells.items():
            expect("CSV %s / %s" % (child, column), by_child[child][column], want)
    # A column the policy does not grant (health.sdq.band needs consent the
    # VSH does not have): the same text in every row, data or not.
    for child in ids:
        expect("CSV %s / SDQ band" % child, by_child[child]["SDQ band"], "not available")
        expect("CSV %s / Responsible LA" % child, by_child[child]["Responsible LA"], "E09000033")
    # Dates as dates, zeros and "No" printed.
    expect("CSV leo / Date of birth is a date", len(by_child["leo"]["Date of birth"]), 10)

    # --- XLSX ---
    wb = openpyxl.load_workbook(xlsx_path)
    expect("XLSX sheets", wb.sheetnames, ["Cohort"])
    ws = wb["Cohort"]
    expect("XLSX frozen pane", ws.freeze_panes, "A2")
    expect("XLSX autofilter", ws.auto_filter.ref, "A1:AG5")
    header = [c.value for c in ws[1]]
    expect("XLSX header", header, HEADER)
    for c in ws[1]:
        expect("XLSX header %s bold" % c.value, c.font.b, True)
    xrows = {}
    for row in ws.iter_rows(min_row=2):
        xrows[names[row[0].value]] = {HEADER[i]: c for i, c in enumerate(row)}
    expect("XLSX children", sorted(xrows), sorted(ids))
    for child, cells in EXPECTED.items():
        for column, want in cells.items():
            cell = xrows[child][column]
            if column in DATE_COLUMNS and want:
                expect("XLSX %s / %s is a date" % (child, column), cell.is_date, True)
                expect("XLSX %s / %s" % (child, column), cell.value.date(),
                       datetime.date.fromisoformat(want))
                expect("XLSX %s / %s format" % (child, column), cell.number_format, "yyyy-mm-dd")
            elif column in NUMBER_COLUMNS and want:
                expect("XLSX %s / %s" % (child, column), cell.value, int(want))
                expect("XLSX %s / %s is a number" % (child, column), cell.data_type, "n")
            elif column == "Attendance %":
                expect("XLSX %s / %s format" % (child, column), cell.number_format, "0.0%")
                expect("XLSX %s / %s" % (child, column), round(cell.value, 4), 0.9083)
            else:
                expect("XLSX %s / %s" % (child, column), cell.value or "", want)
    for child in ids:
        expect("XLSX %s / SDQ band" % child, xrows[child]["SDQ band"].value, "not available")
    print("cohort export: csv and xlsx checked (%d children)" % len(ids))


if __name__ == "__main__":
    main()
