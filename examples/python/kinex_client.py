#!/usr/bin/env python3
"""A minimal Kinex agency client: health, publish, get, list, and errors.

Uses Debian's python3-grpcio and python3-protobuf, and the stubs that
generate.sh makes from proto/ (put their directory on PYTHONPATH):

  examples/python/generate.sh /tmp/kinex-stubs
  PYTHONPATH=/tmp/kinex-stubs python3 examples/python/kinex_client.py \\
      --address=localhost:7443 --ca=data/pki/ca.pem \\
      --cert=data/pki/agencies/local-authority-E09000033-social-worker.pem \\
      --key=data/pki/agencies/local-authority-E09000033-social-worker.key \\
      --actor="A. Example (social worker)" \\
      --publish=tools/demo/children/leo-ashworth/la.json --purpose=CARE_PLANNING

It checks the server's health, publishes the agency's part of a child's
record (a PublishRecordRequest as JSON), reads the child back, lists the
agency's cohort (every page) and, with --get, reads another child. A failed
call prints its code, its google.rpc.ErrorInfo reason and whether a retry
could help; the exit status is 1 when any call failed.
"""

import argparse
import sys
import time

import grpc  # grpcio's own package: the health stubs are top-level (README)
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
import health_pb2
import health_pb2_grpc
from kinex.common.v1 import common_pb2
from kinex.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from kinex.policy.v1 import policy_pb2
from kinex.record.v1 import options_pb2, record_pb2


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="localhost:7443", help="gateway host:port")
    p.add_argument("--ca", required=True, help="Kinex CA certificate (PEM)")
    p.add_argument("--cert", required=True, help="the agency's client certificate (PEM)")
    p.add_argument("--key", required=True, help="the agency's private key (PEM)")
    p.add_argument("--actor", required=True, help="the practitioner behind the calls")
    p.add_argument("--publish", required=True, metavar="JSON",
                   help="a PublishRecordRequest (e.g. tools/demo/children/*/la.json)")
    p.add_argument("--purpose", default="CARE_PLANNING", help="kinex.common.v1.Purpose name")
    p.add_argument("--get", metavar="CHILD",
                   help="also read this child: kx:ID, nhs:N, upn:U or la:CODE:ID")
    p.add_argument("--page-size", type=int, default=2, help="ListChildren page size")
    return p.parse_args()


# ---------------------------------------------------------------------------
# Errors: every Kinex error carries a google.rpc.Status with one ErrorInfo in
# the trailing metadata `grpc-status-details-bin`. Match on its reason.


def error_info(err: grpc.RpcError):
    """The ErrorInfo of a failed call, or None (e.g. a connection failure)."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


# Reasons that mean "do not repeat this call as it is", whatever the code.
NO_RETRY_REASONS = {
    "AUDIT_PENDING",         # the write is stored; its audit event will follow
    "AUDIT_NOT_CONFIGURED",  # a deployment error, not a passing one
    "ETAG_MISMATCH",         # GetMyPart for the current etag, then publish again
    "PART_TOO_LARGE",
    "AUDIT_EVENT_TOO_LARGE",
}
# Codes a later attempt can succeed with (with backoff).
RETRY_CODES = {
    grpc.StatusCode.UNAVAILABLE,         # a dependency or the server is down
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # rate limit, calls in flight, streams
    grpc.StatusCode.ABORTED,             # RECORD_CHANGED, STORAGE_CONFLICT, ID_COLLISION
}


def should_retry(code: grpc.StatusCode, reason: str) -> bool:
    """Whether repeating the same call later may succeed (docs/integrating.md)."""
    return code in RETRY_CODES and reason not in NO_RETRY_REASONS


def call(method, request, metadata, attempts=3):
    """Calls `method`, retrying what should_retry allows; raises the last error."""
    for attempt in range(1, attempts + 1):
        try:
            return method(request, metadata=metadata, timeout=10)
        except grpc.RpcError as err:
            info = error_info(err)
            reason = info.reason if info else err.code().name
            if attempt == attempts or not should_retry(err.code(), reason):
                raise
            time.sleep(0.2 * 2 ** attempt)


def report(name, err):
    info = error_info(err)
    reason = info.reason if info else err.code().name
    retry = "yes" if should_retry(err.code(), reason) else "no"
    print(f"{name}: {err.code().name} [{reason}] retry={retry}: {err.details()}")


# ---------------------------------------------------------------------------


def child_ref(text):
    kind, _, value = text.partition(":")
    if kind == "kx":
        return common_pb2.ChildRef(kinex_id=value)
    if kind == "nhs":
        return common_pb2.ChildRef(nhs_number=value)
    if kind == "upn":
        return common_pb2.ChildRef(upn=value)
    if kind == "la":
        code, _, local_id = value.partition(":")
        return common_pb2.ChildRef(la_child_id=common_pb2.LaChildId(la_code=code, id=local_id))
    sys.exit(f"--get: {text!r} is not kx:ID, nhs:N, upn:U or la:CODE:ID")


def print_record(prefix, record, receipt):
    identity = record.identity
    print(f"{prefix}: {identity.given_name} {identity.family_name} ({identity.kinex_id}), "
          f"{len(receipt.disclosed_paths)} fields disclosed, audit leaf {receipt.leaf_index}")
    sections = {}  # "identity.given_name" -> sections["identity"] = ["given_name"]
    for path in receipt.disclosed_paths:
        section, _, rest = path.partition(".")
        sections.setdefault(section, []).append(rest or "*")
    for section, fields in sorted(sections.items()):
        print(f"  disclosed {section}: {', '.join(sorted(fields))}")
    for w in receipt.withheld:
        print(f"  withheld {options_pb2.Category.Name(w.category)}: "
              f"{policy_pb2.WithheldReason.Name(w.reason)}{' (partial)' if w.partial else ''}")


def main():
    args = parse_args()
    with open(args.ca, "rb") as ca, open(args.cert, "rb") as cert, open(args.key, "rb") as key:
        creds = grpc.ssl_channel_credentials(
            root_certificates=ca.read(), private_key=key.read(), certificate_chain=cert.read())
    channel = grpc.secure_channel(args.address, creds)
    metadata = (("x-kinex-actor", args.actor),)
    purpose = common_pb2.Purpose.Value(args.purpose)
    exchange = exchange_pb2_grpc.ExchangeStub(channel)
    failed = False

    # 1. Health: the server as a whole, then the Exchange service.
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "kinex.exchange.v1.Exchange"):
        reply = call(health.Check, health_pb2.HealthCheckRequest(service=service), metadata)
        print(f"health {service or '(server)'}: "
              f"{health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")

    # 2. Publish the agency's own part (only fields its agency kind owns).
    with open(args.publish) as f:
        request = json_format.Parse(f.read(), exchange_pb2.PublishRecordRequest())
    try:
        published = call(exchange.PublishRecord, request, metadata)
        print(f"published: kinex_id={published.kinex_id} version={published.version} "
              f"link_state={record_pb2.LinkState.Name(published.link_state)}")
    except grpc.RpcError as err:
        report("PublishRecord", err)
        return 1

    # 3. Read the child back: what policy lets this agency see for the purpose.
    get = exchange_pb2.GetChildRecordRequest(
        child=common_pb2.ChildRef(kinex_id=published.kinex_id), purpose=purpose)
    try:
        reply = call(exchange.GetChildRecord, get, metadata)
        print_record("get", reply.record, reply.receipt)
    except grpc.RpcError as err:
        report("GetChildRecord", err)
        failed = True

    # 4. The agency's cohort for the purpose, every page.
    listed, page_token, pages = [], "", 0
    try:
        while True:
            page = call(exchange.ListChildren, exchange_pb2.ListChildrenRequest(
                purpose=purpose, page_size=args.page_size, page_token=page_token), metadata)
            pages += 1
            listed += [entry.record.identity for entry in page.children]
            page_token = page.next_page_token
            if not page_token:
                break
        print(f"list {args.purpose}: {len(listed)} children in {pages} pages")
        for identity in listed:
            print(f"  {identity.kinex_id} {identity.given_name} {identity.family_name}")
    except grpc.RpcError as err:
        report("ListChildren", err)
        failed = True

    # 5. Another child, e.g. one this agency has no relationship with.
    if args.get:
        try:
            reply = call(exchange.GetChildRecord, exchange_pb2.GetChildRecordRequest(
                child=child_ref(args.get), purpose=purpose), metadata)
            print_record(f"get {args.get}", reply.record, reply.receipt)
        except grpc.RpcError as err:
            report(f"get {args.get}", err)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
