#!/usr/bin/env python3
"""The error catalogue in docs/integrating.md matches services/common/error_reason.h.

Every reason the header declares has a row in the catalogue's "Every reason"
table; every UPPER_SNAKE_CASE name in backticks in the catalogue is a
declared reason or a gRPC code's name (a reason derived from its code); every
public method of the Exchange, Consent and Audit services has a row.

  error_catalogue_test.py --source-dir=.
"""

import argparse
import os
import re
import sys
import unittest

SOURCE = "."
CODES = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
}


def read(path):
    with open(os.path.join(SOURCE, path)) as f:
        return f.read()


def header_reasons():
    text = read("services/common/error_reason.h")
    return set(re.findall(
        r'inline constexpr absl::string_view k\w+\s*=\s*"([A-Z0-9_]+)";', text)) - {"kinex.dev"}


def catalogue():
    doc = read("docs/integrating.md")
    start = doc.index("## 4. Error catalogue")
    end = doc.find("\n## ", start + 1)
    return doc[start:] if end < 0 else doc[start:end]


def every_reason_rows(cat):
    table = cat[cat.index("### Every reason"):]
    return re.findall(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (yes|no) \| .+ \|$", table, re.M)


class ErrorCatalogueTest(unittest.TestCase):
    def test_header_parses(self):
        reasons = header_reasons()
        self.assertIn("CHILD_NOT_FOUND_OR_OUT_OF_SCOPE", reasons)
        self.assertGreater(len(reasons), 60)

    def test_every_reason_in_the_header_has_a_row(self):
        listed = [r for r, _, _ in every_reason_rows(catalogue())]
        self.assertEqual(sorted(set(header_reasons()) - set(listed)), [],
                         "reasons in error_reason.h missing from docs/integrating.md")
        self.assertEqual(sorted(r for r in set(listed) if listed.count(r) > 1), [],
                         "reasons listed twice in 'Every reason'")

    def test_no_unknown_reason_in_the_catalogue(self):
        known = header_reasons() | CODES
        named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})`", catalogue()))
        self.assertEqual(sorted(named - known), [],
                         "names in docs/integrating.md's catalogue that are neither a reason "
                         "in error_reason.h nor a gRPC code")

    def test_every_reason_row_has_known_codes(self):
        for reason, codes, _ in every_reason_rows(catalogue()):
            with self.subTest(reason=reason):
                found = re.findall(r"`([A-Z_]+)`", codes)
                self.assertTrue(found or "failing step" in codes, codes)
                self.assertEqual([c for c in found if c not in CODES], [])

    def test_every_public_method_has_a_row(self):
        cat = catalogue()
        for proto, service in (("kinex/exchange/v1/exchange.proto", "Exchange"),
                               ("kinex/consent/v1/consent.proto", "Consent"),
                               ("kinex/audit/v1/audit.proto", "Audit"),
                               ("kinex/notifications/v1/notifications.proto", "Notifications")):
            text = read(os.path.join("proto", proto))
            body = text[text.index(f"service {service} {{"):]
            body = body[:body.index("\n}")]
            methods = re.findall(r"^\s*rpc (\w+)\(", body, re.M)
            self.assertTrue(methods, service)
            for m in methods:
                with self.subTest(method=f"{service}.{m}"):
                    self.assertRegex(cat, rf"\n\| (`\w+`, )*`{m}`( ,|, `\w+`)* \|")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    opts, rest = parser.parse_known_args()
    SOURCE = opts.source_dir
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
