#!/usr/bin/env bash
# Owns: starting the local services (PostgreSQL, then Kafka); idempotent, already running is fine.
# Prints only the SPEC's `export ...` lines on stdout (the Makefile evals them); all progress goes to stderr.
# Besides KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL it prints, under names of their own that change nothing by
# themselves, the settings of the secured listeners: KAFKA_SECURE_* (SASL_SSL, SCRAM-SHA-512), KAFKA_MTLS_*
# (mutual TLS) and DATABASE_TLS_* (PostgreSQL over TLS, verify-full). README "Secured Kafka and PostgreSQL"
# shows how to run the service with them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PORT="${PGPORT:-25432}"
KPORT="${KAFKA_PORT:-9092}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-9094}"
SSL_PORT="${KAFKA_SSL_PORT:-9095}"
TLS="$ROOT/.run/tls"

"$ROOT/deploy/postgres.sh" start >&2
"$ROOT/deploy/kafka.sh" start >&2

# One `export NAME=value` line, the value quoted for the shell that evals it.
export_line() { printf 'export %s=%q\n' "$1" "$2"; }

export_line KAFKA_BOOTSTRAP_SERVERS "127.0.0.1:$KPORT"
export_line DATABASE_URL "postgresql://comment_ingest@127.0.0.1:$PORT/comment_ingest"
printf '# The secured listeners: give the service these under the names without SECURE_/MTLS_/TLS_ (README).\n'
export_line KAFKA_SECURE_BOOTSTRAP_SERVERS "127.0.0.1:$SASL_SSL_PORT"
export_line KAFKA_SECURE_SECURITY_PROTOCOL SASL_SSL
export_line KAFKA_SECURE_SASL_MECHANISM SCRAM-SHA-512
export_line KAFKA_SECURE_SASL_USERNAME comment_ingest
export_line KAFKA_SECURE_SASL_PASSWORD_FILE "$TLS/kafka-sasl.password"
export_line KAFKA_SECURE_SSL_CA_LOCATION "$TLS/ca.crt"
export_line KAFKA_MTLS_BOOTSTRAP_SERVERS "127.0.0.1:$SSL_PORT"
export_line KAFKA_MTLS_SECURITY_PROTOCOL SSL
export_line KAFKA_MTLS_SSL_CA_LOCATION "$TLS/ca.crt"
export_line KAFKA_MTLS_SSL_CERTIFICATE_LOCATION "$TLS/client.crt"
export_line KAFKA_MTLS_SSL_KEY_LOCATION "$TLS/client.key"
export_line KAFKA_MTLS_SSL_KEY_PASSWORD_FILE "$TLS/client-key.password"
export_line DATABASE_TLS_URL \
  "postgresql://comment_ingest_tls@127.0.0.1:$PORT/comment_ingest?sslmode=verify-full&sslrootcert=$TLS/ca.crt"
export_line DATABASE_TLS_PASSWORD_FILE "$TLS/pg-tls.password"
