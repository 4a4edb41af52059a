#!/usr/bin/env python3
"""examples/python against a real `kinex --target=all` over mTLS.

Generates the stubs with examples/python/generate.sh into a temporary
directory, starts kinex (port 0, SQLite in a temporary directory, the PKI
certs/make-dev-pki.sh made), runs kinex_client.py as demo agencies and
asserts its output line by line; then holds the client's should_retry
against the catalogue in docs/integrating.md.

  python_client_e2e_test.py --kinex=build/bin/kinex --source-dir=. [--pki=DIR]

Without --pki, the PKI is made in the temporary directory (slower).
"""

import argparse
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

OPTS = None


def start_kinex(kinex, config_path, log_path):
    """Starts kinex and returns (process, "localhost:PORT") from its serving line."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([kinex, f"--config={config_path}"], stdout=subprocess.PIPE,
                                stderr=log)
    deadline = time.monotonic() + 30
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    match = re.search(rb'"address":"[^"]*:(\d+)"', line)
    if not match:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        with open(log_path, "rb") as f:
            raise RuntimeError(f"kinex did not start: {line!r} {f.read()[-2000:]!r}")
    # The certificates name localhost: dial by name, as cluster.h does.
    return proc, f"localhost:{match.group(1).decode()}"


class PythonClientE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        src = OPTS.source_dir
        cls.tmp = tempfile.mkdtemp(prefix="kinex-python-client-")
        cls.stubs = os.path.join(cls.tmp, "stubs")
        subprocess.run(["bash", os.path.join(src, "examples/python/generate.sh"), cls.stubs],
                       check=True, stdout=subprocess.DEVNULL)
        pki = OPTS.pki
        if not pki:
            pki = os.path.join(cls.tmp, "pki")
            subprocess.run([os.path.join(src, "certs/make-dev-pki.sh"), pki], check=True,
                           stdout=subprocess.DEVNULL)
        cls.pki = pki
        data = os.path.join(cls.tmp, "data")
        config = os.path.join(cls.tmp, "kinex.textproto")
        with open(config, "w") as f:
            f.write(f'''target: "all"
data_dir: "{data}"
trust_domain: "kinex.dev"
tls {{ ca_file: "{pki}/ca.pem" cert_file: "{pki}/services/gateway.pem"
      key_file: "{pki}/services/gateway.key" crl_dir: "{pki}/crl" }}
listen {{ gateway: "127.0.0.1:0" metrics: "127.0.0.1:0" }}
policy {{ policy_dir: "{src}/policy" }}
audit {{ signing_key_file: "{pki}/audit-signing.key"
        pseudonym_key_file: "{pki}/audit-pseudonym.key" }}
''')
        cls.proc, cls.address = start_kinex(OPTS.kinex, config, os.path.join(cls.tmp, "kinex.log"))

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=30)
        cls.proc.stdout.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, agency, child, *extra):
        """Runs kinex_client.py as `agency`, publishing tools/demo/children/<child>/la.json."""
        src = OPTS.source_dir
        cert = os.path.join(self.pki, "agencies", agency)
        env = dict(os.environ, PYTHONPATH=self.stubs)
        return subprocess.run(
            [sys.executable, os.path.join(src, "examples/python/kinex_client.py"),
             f"--address={self.address}", f"--ca={self.pki}/ca.pem", f"--cert={cert}.pem",
             f"--key={cert}.key", "--actor=Test Integrator",
             f"--publish={src}/tools/demo/children/{child}/la.json", *extra],
            env=env, capture_output=True, text=True, timeout=60)

    def assertOutput(self, result, rc, expected):
        """Exact lines, with Kinex ids, audit leaves and request ids made symbolic."""
        self.assertEqual(result.stderr, "")
        ids = {}

        def kx(m):
            return ids.setdefault(m.group(0), f"KX{len(ids) + 1}")
        text = re.sub(r"kx_[A-Z0-9]{16}", kx, result.stdout)
        text = re.sub(r"audit leaf \d+$", "audit leaf N", text, flags=re.M)
        text = re.sub(r"request id [0-9a-f]{32}", "request id RID", text)
        self.assertEqual(text.splitlines(), expected, result.stdout)
        self.assertEqual(result.returncode, rc, result.stdout)

    def test_1_local_authority_publishes_gets_and_lists(self):
        leo = self.client("local-authority-E09000033-social-worker", "leo-ashworth")
        self.assertOutput(leo, 0, [
            "health (server): SERVING",
            "health kinex.exchange.v1.Exchange: SERVING",
            "published: kinex_id=KX1 version=1 link_state=LINK_STATE_UNSPECIFIED",
            "get: Leo Ashworth (KX1), 30 fields disclosed, audit leaf N",
            "  disclosed financial_support: allowances.start_date, allowances.type, "
            "allowances.weekly_amount_pence, support_services",
            "  disclosed identity: date_of_birth, family_name, given_name, kinex_id, "
            "la_child_id, sex",
            "  disclosed legal_status: arrangement, end_date, looked_after, order_date, "
            "previously_looked_after, ssda903_legal_status, ssda903_reason_ceased, start_date",
            "  disclosed named_agencies: *",
            "  disclosed placement: address, carers.holds_parental_responsibility, carers.name, "
            "carers.phone, carers.relationship, postcode",
            "  disclosed safeguarding: social_worker.email, social_worker.name, "
            "social_worker.phone, social_worker.team",
            "  disclosed scope: responsible_la_code",
            "  withheld IDENTITY: NEEDS_CONSENT_OR_BASIS (partial)",
            "  withheld HEALTH: NEEDS_CONSENT_OR_BASIS",
            "  withheld POLICE: NEEDS_CONSENT_OR_BASIS (partial)",
            "list CARE_PLANNING: 1 children in 1 pages",
            "  KX1 Leo Ashworth",
        ])
        # A second child, listed one per page: every page is read.
        ruby = self.client("local-authority-E09000033-social-worker", "ruby-hartwell",
                           "--page-size=1")
        lines = ruby.stdout.splitlines()
        at = lines.index("list CARE_PLANNING: 2 children in 2 pages")
        self.assertEqual(sorted(re.sub(r"kx_\w+ ", "", l) for l in lines[at + 1:]),
                         ["  Leo Ashworth", "  Ruby Hartwell"])
        self.assertEqual(ruby.returncode, 0, ruby.stdout)

    def test_2_publishing_again_without_the_etag_is_refused_not_retried(self):
        again = self.client("local-authority-E09000033-social-worker", "leo-ashworth")
        self.assertOutput(again, 1, [
            "health (server): SERVING",
            "health kinex.exchange.v1.Exchange: SERVING",
            "PublishRecord: ABORTED [ETAG_MISMATCH] retry=no: etag: required; this "
            "local-authority's part already exists at version 1 (GetMyPart returns it with "
            "its etag; retry with that etag)",
        ])

    def test_3_another_las_child_is_permission_denied(self):
        esme = self.client("local-authority-E08000025-social-worker", "esme-caldwell",
                           "--get=la:E09000033:WCC-100488")
        lines = esme.stdout.splitlines()
        self.assertIn("published: kinex_id=KX1 version=1 link_state=LINK_STATE_UNSPECIFIED",
                      [re.sub(r"kx_\w+", "KX1", l) for l in lines])
        # Esme only: Leo and Ruby belong to another LA.
        at = lines.index("list CARE_PLANNING: 1 children in 1 pages")
        self.assertRegex(lines[at + 1], r"^  kx_\w+ Esme Caldwell$")
        self.assertEqual(
            re.sub(r"request id [0-9a-f]{32}", "request id RID", lines[-1]),
            "get la:E09000033:WCC-100488: PERMISSION_DENIED [CHILD_NOT_FOUND_OR_OUT_OF_SCOPE] "
            "retry=no: no record you may see for this child and purpose (request id RID)")
        self.assertEqual(esme.returncode, 1, esme.stdout)

    def test_4_should_retry_matches_the_error_catalogue(self):
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        sys.path.insert(0, self.stubs)
        sys.path.insert(0, os.path.join(OPTS.source_dir, "examples/python"))
        import grpc
        import kinex_client
        with open(os.path.join(OPTS.source_dir, "docs/integrating.md")) as f:
            doc = f.read()
        rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (yes|no) \| .*\|$", doc, re.M)
        self.assertGreater(len(rows), 60)
        checked = 0
        for reason, codes, retry in rows:
            for code in re.findall(r"`([A-Z_]+)`", codes):
                with self.subTest(reason=reason, code=code):
                    self.assertEqual(
                        kinex_client.should_retry(grpc.StatusCode[code], reason),
                        retry == "yes")
                    checked += 1
        self.assertGreater(checked, 70)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinex", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--pki", default="")
    OPTS, rest = parser.parse_known_args()
    OPTS.source_dir = os.path.abspath(OPTS.source_dir)
    OPTS.pki = os.path.abspath(OPTS.pki) if OPTS.pki else ""
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
