#!/usr/bin/env bash
# Generates the Python messages and gRPC stubs of Kinex's public API from
# proto/ with Debian's protoc (protobuf-compiler) and grpc_python_plugin
# (protobuf-compiler-grpc). The output is not committed: make it where you
# use it.
#
#   examples/python/generate.sh OUT_DIR
#
# OUT_DIR then holds kinex/<package>/v1/*_pb2.py (and *_pb2_grpc.py for the
# services), google/rpc/{status,error_details}_pb2.py, and health_pb2.py /
# health_pb2_grpc.py. The health proto is compiled from its own directory
# (-I proto/grpc/health/v1) so that it becomes the top-level module
# `health_pb2`, not a package `grpc.health.v1` that would shadow grpcio's own
# `grpc` package; its wire names (grpc.health.v1.Health/Check) are unchanged.
set -euo pipefail

[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || { echo "usage: generate.sh OUT_DIR" >&2; exit 2; }
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
proto=$root/proto
plugin=$(command -v grpc_python_plugin || true)
command -v protoc > /dev/null || { echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[ -n "$plugin" ] || { echo "generate.sh: grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)" >&2; exit 1; }

mkdir -p "$out"
cd "$proto"
# Every Kinex package (the public services import some internal messages, so
# all of them), and google.rpc for the error details.
mapfile -t files < <(find kinex google -name '*.proto' | sort)
protoc -I . --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" "${files[@]}"
protoc -I grpc/health/v1 --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" health.proto
echo "generate.sh: wrote ${#files[@]} + 1 protos' Python modules to $out"
