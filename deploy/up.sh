#!/usr/bin/env bash
# Owns: starting the local services (PostgreSQL, then Kafka); idempotent, already running is fine.
# Prints only the SPEC's `export ...` lines on stdout; all progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PORT="${PGPORT:-55432}"
KPORT="${KAFKA_PORT:-9092}"

"$ROOT/deploy/postgres.sh" start >&2
"$ROOT/deploy/kafka.sh" start >&2

printf 'export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s\n' "$KPORT"
printf 'export DATABASE_URL=postgresql://comment_ingest@127.0.0.1:%s/comment_ingest\n' "$PORT"
