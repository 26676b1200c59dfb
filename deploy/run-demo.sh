#!/usr/bin/env bash
# run-demo.sh - what `make run` does after the build: start Kafka and PostgreSQL, run the service,
# feed it the seed article's comments (deploy/demo.py) and show each outcome, then stop the service.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

eval "$(deploy/up.sh)"
export HTTP_PORT=${HTTP_PORT:-8080}
# The production moderation rules (reload with SIGHUP); RULES_FILE= (empty) runs the built-in ones.
export RULES_FILE=${RULES_FILE-$root/deploy/rules/default.json}
mkdir -p .run/demo
log=.run/demo/service.log

./build/comment-ingest >"$log" 2>&1 &
pid=$!
stop_service() {
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
}
trap stop_service EXIT

echo "comment-ingest started (pid $pid, logs in $log); waiting for /readyz ..." >&2
for _ in $(seq 1 120); do
	if curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "comment-ingest exited early; last log lines:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	sleep 0.5
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >&2 && echo >&2

.venv/bin/python deploy/demo.py
