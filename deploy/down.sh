#!/usr/bin/env bash
# Owns: stopping the local services started by deploy/up.sh (Kafka, then PostgreSQL); idempotent.
# Progress on stderr; data in .run/ is kept (delete .run/ for a clean slate).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

rc=0
"$ROOT/deploy/kafka.sh" stop >&2 || rc=1
"$ROOT/deploy/postgres.sh" stop >&2 || rc=1
exit "$rc"
