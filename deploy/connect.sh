#!/usr/bin/env bash
# Owns: the Kafka Connect peer of `make bench`: Debezium's JDBC sink plugin in .run/connect/plugins.
# The Connect worker itself runs from the broker's jars (.run/kafka/libs: connect-runtime, -json and
# -transforms 3.9.1 come with kafka-tools); tests/bench/connect_peer.py starts and stops it.
# Usage: deploy/connect.sh fetch   (idempotent; progress on stderr; prints the plugin.path on stdout)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
RUN="$ROOT/.run/connect"
PLUGINS="$RUN/plugins"
# Debezium's plugin archive bundles Hibernate and the PostgreSQL driver. The plain connector jar does
# not resolve from Maven Central (its POM names a Hibernate module Central does not serve), and on the
# worker's classpath it clashes with Kafka's Jackson: it has to be a plugin of its own.
ARTIFACT="io.debezium:debezium-connector-jdbc:3.6.0.Final:tar.gz:plugin"

log() { printf 'connect: %s\n' "$*" >&2; }
die() { printf 'connect: error: %s\n' "$*" >&2; exit 1; }

fetch() {
  if [[ -f "$PLUGINS/.artifact" && "$(cat "$PLUGINS/.artifact")" == "$ARTIFACT" ]]; then
    printf '%s\n' "$PLUGINS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "'mvn' not found; run deploy/bootstrap.sh"
  ls "$ROOT/.run/kafka/libs"/connect-runtime-*.jar >/dev/null 2>&1 \
    || die "no connect-runtime jar in .run/kafka/libs; run deploy/kafka.sh fetch"
  log "fetching $ARTIFACT from Maven Central"
  mkdir -p "$RUN"
  rm -rf "$RUN/download" "$PLUGINS.tmp"
  if ! mvn -q -B dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$RUN/download" \
      >"$RUN/mvn.log" 2>&1; then
    tail -n 20 "$RUN/mvn.log" >&2
    die "mvn dependency:copy failed (full output: .run/connect/mvn.log)"
  fi
  mkdir -p "$PLUGINS.tmp"
  tar -xzf "$RUN/download"/debezium-connector-jdbc-*-plugin.tar.gz -C "$PLUGINS.tmp"
  printf '%s\n' "$ARTIFACT" >"$PLUGINS.tmp/.artifact"
  rm -rf "$PLUGINS" "$RUN/download"
  mv "$PLUGINS.tmp" "$PLUGINS"
  printf '%s\n' "$PLUGINS"
}

case "${1:-}" in
  fetch) fetch ;;
  *) die "usage: $0 fetch" ;;
esac
