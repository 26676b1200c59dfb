#!/usr/bin/env bash
# Owns: stopping the local services started by deploy/up.sh (Kafka, then PostgreSQL); idempotent.
# Progress on stderr; data is kept (`deploy/kafka.sh clean; deploy/postgres.sh clean` deletes it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

rc=0
"$ROOT/deploy/kafka.sh" stop >&2 || rc=1
"$ROOT/deploy/postgres.sh" stop >&2 || rc=1
exit "$rc"
