#!/usr/bin/env bash
# Owns: the local Apache Kafka 3.9.1 node (KRaft, broker+controller) in .run/kafka: jars, config, data, logs, PID,
# its secured listeners and their SCRAM user. Usage: deploy/kafka.sh {start|stop|status|fetch|clean}; progress on
# stderr, exit 0 on success.
#
# Listeners (each port moves with its variable): PLAINTEXT on KAFKA_PORT (9092), what everything uses by default;
# SASL_SSL on KAFKA_SASL_SSL_PORT (9094), SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN for user comment_ingest; SSL with
# client certificates required (mutual TLS) on KAFKA_SSL_PORT (9095); the controller on KAFKA_CONTROLLER_PORT (9093).
# Certificates and passwords come from deploy/tls.sh (.run/tls). No authorizer: the secured listeners authenticate
# clients but every authenticated client may do anything, as on the PLAINTEXT one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
POM="$ROOT/deploy/kafka/pom.xml"
RUN="$ROOT/.run/kafka"
LIBS="$RUN/libs"
DATA="$RUN/data"
LOGS="$RUN/logs"
CONF="$RUN/server.properties"
LOG4J="$RUN/log4j.properties"
PIDFILE="$RUN/kafka.pid"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-9094}"
SSL_PORT="${KAFKA_SSL_PORT:-9095}"
BOOTSTRAP="$HOST:$PORT"
TLS="$ROOT/.run/tls"
SASL_USER=comment_ingest
SASL_CLIENT_CONF="$RUN/client-sasl-ssl.properties" # kcat -F / KAFKA_CONFIG_FILE format, for the check below
PARTITIONS=3
TOPICS=(
  "${TOPIC_SUBMITTED:-comment-submitted}"
  "${TOPIC_DECIDED:-moderation-decided}"
  "${TOPIC_PUBLISHED:-comment-published}"
  "${TOPIC_MODERATION:-moderation-needed}"
  "${TOPIC_REJECTED:-comment-rejected}"
  "${TOPIC_MODERATED:-comment-moderated}"
  "${TOPIC_DECISION_REJECTED:-moderation-decision-rejected}"
)
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run deploy/bootstrap.sh"; }

# ---- jars ---------------------------------------------------------------------------------------
fetch() {
  local want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$LIBS/.pom.sha256" && "$(cat "$LIBS/.pom.sha256")" == "$want" ]]; then return 0; fi
  need mvn
  log "fetching Kafka jars from Maven Central into .run/kafka/libs"
  mkdir -p "$RUN"
  rm -rf "$LIBS.tmp"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" >"$RUN/mvn.log" 2>&1; then
    tail -n 40 "$RUN/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (full output: .run/kafka/mvn.log)"
  fi
  [[ -f "$LIBS.tmp/kafka_2.13-3.9.1.jar" ]] || ls "$LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 \
    || die "no kafka_2.13 jar after mvn"
  printf '%s\n' "$want" >"$LIBS.tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
}

# ---- process helpers ----------------------------------------------------------------------------
# The PID in $PIDFILE, if that process is alive and is our broker (guards against a reused PID).
running_pid() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"kafka.Kafka $CONF"* ]] || return 1
  printf '%s\n' "$pid"
}

# Something accepts TCP connections on the port ($1, default the PLAINTEXT one; fails at once when refused, where
# kcat would wait its timeout).
port_open() { (exec 3<>"/dev/tcp/$HOST/${1:-$PORT}") 2>/dev/null; }

# Broker answers a metadata request.
broker_up() { port_open && kcat -L -b "$BOOTSTRAP" -m 2 >/dev/null 2>&1; }

# Prints "topic partitions partitions-with-a-leader" for every topic the broker knows.
list_topics() {
  local md
  md="$(kcat -L -b "$BOOTSTRAP" -m 5 2>/dev/null)" || return 1
  awk '
    /^  topic "/ { t = $2; gsub(/"/, "", t); n[t] = ($3 == "with") ? $4 : 0; ok[t] = 0; order[++k] = t; next }
    /^    partition [0-9]+, leader [0-9]+,/ { if (t != "") ok[t]++ }
    END { for (i = 1; i <= k; i++) print order[i], n[order[i]], ok[order[i]] }
  ' <<<"$md"
}

# All our topics exist and every partition has a leader.
topics_ready() {
  local have t
  have="$(list_topics)" || return 1
  for t in "${TOPICS[@]}"; do
    awk -v t="$t" '$1 == t && $2 > 0 && $2 == $3 { f = 1 } END { exit !f }' <<<"$have" || return 1
  done
}

# Topics from $TOPICS that do not exist yet (one per line).
missing_topics() {
  local have t
  have="$(list_topics)" || return 1
  for t in "${TOPICS[@]}"; do
    awk -v t="$t" '$1 == t { f = 1 } END { exit !f }' <<<"$have" || printf '%s\n' "$t"
  done
}

# ---- config -------------------------------------------------------------------------------------
LISTENERS="PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT,SASL_SSL://$HOST:$SASL_SSL_PORT,SSL://$HOST:$SSL_PORT"

# A running broker was started with the listeners asked for now (ports may be overridden by env).
check_same_listeners() {
  local have
  have="$(sed -n 's/^listeners=//p' "$CONF" 2>/dev/null)"
  [[ "$have" == "$LISTENERS" ]] \
    || die "the broker in $RUN is running with listeners=$have, not $LISTENERS; run '$0 stop' first"
}

write_config() {
  mkdir -p "$DATA" "$LOGS"
  local store_pw sasl_pw
  store_pw="$(cat "$TLS/kafka-store.password")"
  sasl_pw="$(cat "$TLS/kafka-sasl.password")"
  (umask 077 && : >"$CONF.tmp") # it holds the store and PLAIN passwords
  cat >"$CONF.tmp" <<EOF
# Generated by deploy/kafka.sh: one local KRaft node (broker + controller). Do not edit.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=$LISTENERS
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_SSL://$HOST:$SASL_SSL_PORT,SSL://$HOST:$SSL_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
# TLS for both secured listeners: the broker's key in a PKCS12 keystore, the CA in a PKCS12 truststore.
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/kafka-broker.p12
ssl.keystore.password=$store_pw
ssl.key.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS/kafka-truststore.p12
ssl.truststore.password=$store_pw
# SSL: mutual TLS, a client without a certificate from the CA is refused.
listener.name.ssl.ssl.client.auth=required
# SASL_SSL: SCRAM users live in the cluster metadata (added by '$0 start'); PLAIN users are listed here.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$sasl_pw";
log.dirs=$DATA
num.partitions=$PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
  mv "$CONF.tmp" "$CONF"
  cat >"$LOG4J" <<EOF
# Generated by deploy/kafka.sh: broker logs under .run/kafka/logs.
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=$LOGS/server.log
log4j.appender.server.MaxFileSize=20MB
log4j.appender.server.MaxBackupIndex=3
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.controller=INFO
EOF
}

JAVA_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$LOGS")

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  # A KRaft cluster id is 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints).
  local cid
  cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  log "formatting storage (cluster id $cid)"
  java "${JAVA_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$cid" -c "$CONF" --ignore-formatted \
    >"$LOGS/format.log" 2>&1 || { tail -n 30 "$LOGS/format.log" >&2; die "storage format failed"; }
}

create_topics() {
  local missing
  missing="$(missing_topics)" || die "cannot list topics"
  [[ -z "$missing" ]] && return 0
  # shellcheck disable=SC2086
  log "creating topics: "$missing
  if [[ -x "$ROOT/.venv/bin/python" ]] && "$ROOT/.venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
    # One admin request for all topics (a JVM tool would cost several seconds per topic).
    # shellcheck disable=SC2086
    "$ROOT/.venv/bin/python" - "$BOOTSTRAP" "$PARTITIONS" $missing <<'PY' >&2
import sys
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, parts, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
admin = AdminClient({"bootstrap.servers": bootstrap})
futs = admin.create_topics([NewTopic(n, num_partitions=parts, replication_factor=1) for n in names],
                           request_timeout=30, operation_timeout=30)
for name, fut in futs.items():
    try:
        fut.result()
    except Exception as e:  # noqa: BLE001
        err = e.args[0] if e.args else None
        if getattr(err, "code", lambda: None)() != KafkaError.TOPIC_ALREADY_EXISTS:
            sys.exit(f"create topic {name}: {e}")
PY
  else
    local t
    for t in $missing; do
      java -Xmx256m -Dlog4j.configuration="file:$LOG4J" -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$t" \
        --partitions "$PARTITIONS" --replication-factor 1 >&2
    done
  fi
}

# ---- the SCRAM user of the SASL_SSL listener ----------------------------------------------------
# kcat's settings for the SASL_SSL listener (also a ready example of them), mode 0600: it holds the password.
write_sasl_client_conf() {
  (umask 077 && cat >"$SASL_CLIENT_CONF.tmp" <<EOF
# Generated by deploy/kafka.sh: librdkafka settings for the SASL_SSL listener $HOST:$SASL_SSL_PORT.
# kcat -b $HOST:$SASL_SSL_PORT -F $SASL_CLIENT_CONF -L
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$SASL_USER
sasl.password=$(cat "$TLS/kafka-sasl.password")
ssl.ca.location=$TLS/ca.crt
EOF
  )
  mv "$SASL_CLIENT_CONF.tmp" "$SASL_CLIENT_CONF"
}

# The user authenticates on the SASL_SSL listener with SCRAM-SHA-512.
sasl_ok() { kcat -b "$HOST:$SASL_SSL_PORT" -F "$SASL_CLIENT_CONF" -L -m 3 >/dev/null 2>&1; }

# Sets the SCRAM-SHA-256 and SCRAM-SHA-512 credentials of $SASL_USER on the running broker, then waits until
# they work. Setting them again is harmless, so this runs at every start: it works the same on a node that was
# formatted before this listener existed (format --add-scram would only apply to a fresh log dir).
ensure_sasl_user() {
  write_sasl_client_conf
  log "setting the SCRAM credentials of user $SASL_USER"
  if [[ -x "$ROOT/.venv/bin/python" ]] && "$ROOT/.venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
    "$ROOT/.venv/bin/python" - "$BOOTSTRAP" "$SASL_USER" "$TLS/kafka-sasl.password" <<'PY' >&2
import sys
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)
bootstrap, user, pw_file = sys.argv[1:4]
with open(pw_file, "rb") as f:
    password = f.read().strip()
admin = AdminClient({"bootstrap.servers": bootstrap})
for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):  # one request each: the broker refuses
    up = UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 8192), password)  # a user twice in one
    for fut in admin.alter_user_scram_credentials([up], request_timeout=30).values():
        fut.result()
PY
  else
    # The JVM tool reads the password from a file, so that it is not on a command line (in a file the
    # value goes without the brackets that --add-config needs); one call per mechanism, as above.
    local f="$RUN/scram.properties" pw m
    pw="$(cat "$TLS/kafka-sasl.password")"
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      (umask 077 && printf '%s=iterations=8192,password=%s\n' "$m" "$pw" >"$f")
      java -Xmx256m -Dlog4j.configuration="file:$LOG4J" -cp "$LIBS/*" kafka.admin.ConfigCommand \
        --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name "$SASL_USER" \
        --add-config-file "$f" >&2 || { rm -f "$f"; die "cannot set the SCRAM credentials of $SASL_USER"; }
    done
    rm -f "$f"
  fi
  local i
  for ((i = 0; i < 20; i++)); do
    sasl_ok && return 0
    sleep 0.5
  done
  die "user $SASL_USER cannot authenticate on the SASL_SSL listener $HOST:$SASL_SSL_PORT (broker log: .run/kafka/logs)"
}

# Wait until every topic is there with a leader for each partition.
wait_topics() {
  local i
  for ((i = 0; i < 100; i++)); do
    topics_ready && return 0
    sleep 0.2
  done
  list_topics >&2 || true
  die "topics not ready after 20s: ${TOPICS[*]}"
}

check_partitions() {
  local t n want
  while read -r t n _; do
    for want in "${TOPICS[@]}"; do
      if [[ "$t" == "$want" && "$n" != "$PARTITIONS" ]]; then
        log "warning: topic $t has $n partitions (expected $PARTITIONS)"
      fi
    done
  done < <(list_topics)
}

# ---- commands -----------------------------------------------------------------------------------
start() {
  need java
  need kcat
  fetch
  "$ROOT/deploy/tls.sh" ensure
  local pid
  if pid="$(running_pid)"; then
    check_same_listeners
    broker_up || wait_ready "$pid"
    create_topics
    wait_topics
    ensure_sasl_user
    return 0
  fi
  local p
  for p in "$PORT" "$SASL_SSL_PORT" "$SSL_PORT" "$CPORT"; do
    port_open "$p" && die "something else already listens on $HOST:$p (not the broker in $RUN); stop it first"
  done
  write_config
  format_storage
  log "starting broker on $BOOTSTRAP (logs: .run/kafka/logs)"
  # Detached: own session, no terminal, stdio to files, so callers capturing our output do not hang.
  # The inner shell writes its own PID and then execs java, so the PID file is right even if setsid forks.
  rm -f "$PIDFILE"
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    java "${JAVA_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$CONF" \
    </dev/null >"$LOGS/stdout.log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$PIDFILE" ]] && break; sleep 0.1; done
  pid="$(cat "$PIDFILE" 2>/dev/null)" || die "broker did not start (no PID file)"
  wait_ready "$pid"
  create_topics
  wait_topics
  check_partitions
  ensure_sasl_user
  log "ready (pid $pid; secured listeners: SASL_SSL $HOST:$SASL_SSL_PORT, SSL with client certificates $HOST:$SSL_PORT)"
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker process $pid exited; last log lines:"
      tail -n 40 "$LOGS/server.log" "$LOGS/stdout.log" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      exit 1
    fi
    broker_up && return 0
    sleep 0.2
  done
  log "broker not ready after ${START_TIMEOUT}s; last log lines:"
  tail -n 40 "$LOGS/server.log" "$LOGS/stdout.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do   # up to 30 s for a controlled shutdown
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
    sleep 0.1
  done
  log "broker did not stop after 30s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    check_same_listeners
    if broker_up; then
      printf 'kafka: running (pid %s) on %s\n' "$pid" "$BOOTSTRAP" >&2
      return 0
    fi
    printf 'kafka: process %s alive but %s not answering\n' "$pid" "$BOOTSTRAP" >&2
    return 1
  fi
  printf 'kafka: stopped\n' >&2
  return 3
}

# Stop and delete data and logs (keeps the jars).
clean() {
  stop
  rm -rf "$DATA" "$LOGS" "$CONF" "$LOG4J" "$RUN/mvn.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  clean) clean ;;
  *) echo "usage: $0 {start|stop|status|fetch|clean}" >&2; exit 2 ;;
esac
