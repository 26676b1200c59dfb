#!/usr/bin/env bash
# Owns: the local CA, the certificates and the passwords of the secured listeners, in .run/tls (made with
# openssl and keytool when missing; nothing is checked in). Usage: deploy/tls.sh {ensure|clean}; progress on stderr.
#
# What it makes (all under .run/tls, keys and passwords mode 0600):
#   ca.crt ca.key                       the local CA (10 years); every certificate below is signed by it
#   kafka-broker.p12                    the broker's key and certificate (SAN 127.0.0.1, localhost), PKCS12
#   kafka-truststore.p12                the CA, for the broker to verify client certificates (mutual TLS)
#   kafka-store.password                the password of both PKCS12 stores
#   client.crt client.key               a client certificate (CN=comment_ingest) for mutual TLS; the key is
#   client-key.password                 encrypted (PKCS#8, AES-256) with this password
#   kafka-sasl.password                 the password of Kafka user comment_ingest (SCRAM-SHA-256/512, PLAIN)
#   pg-server.crt pg-server.key         PostgreSQL's certificate (SAN 127.0.0.1, localhost)
#   pg-tls.password                     the password of PostgreSQL role comment_ingest_tls
# A missing CA regenerates everything signed by it; a missing leaf or password is made alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TLS="$ROOT/.run/tls"
DAYS=3650

log() { printf 'tls: %s\n' "$*" >&2; }
die() { printf 'tls: error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run deploy/bootstrap.sh"; }

# A random password of 32 characters from [A-Za-z0-9] (no character a shell or URL would need quoted).
new_password() {
  [[ -s "$1" ]] && return 0
  (umask 077 && head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$1.tmp" && mv "$1.tmp" "$1")
}

new_key() { (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null); }

# $1 = base name, $2 = subject, $3 = extensions (x509v3 config lines); signs $1.crt with the CA.
new_leaf() {
  local base="$1" subj="$2" ext="$3"
  new_key "$TLS/$base.key.tmp"
  openssl req -new -key "$TLS/$base.key.tmp" -subj "$subj" -out "$TLS/$base.csr" 2>/dev/null
  openssl x509 -req -in "$TLS/$base.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -extfile <(printf '%s\n' "$ext") -out "$TLS/$base.crt.tmp" 2>/dev/null
  rm -f "$TLS/$base.csr"
  mv "$TLS/$base.key.tmp" "$TLS/$base.key"
  mv "$TLS/$base.crt.tmp" "$TLS/$base.crt"
}

SERVER_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost'
CLIENT_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'

ensure() {
  need openssl
  need keytool
  mkdir -p "$TLS"
  chmod 0700 "$TLS"
  if [[ ! -s "$TLS/ca.crt" || ! -s "$TLS/ca.key" ]]; then
    log "making the local CA in .run/tls"
    rm -f "$TLS"/*.crt "$TLS"/*.key "$TLS"/*.p12 "$TLS"/ca.srl
    new_key "$TLS/ca.key"
    openssl req -x509 -new -key "$TLS/ca.key" -subj "/CN=comment-ingest local CA" -days "$DAYS" -sha256 \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
      -out "$TLS/ca.crt" 2>/dev/null
  fi
  new_password "$TLS/kafka-store.password"
  new_password "$TLS/client-key.password"
  new_password "$TLS/kafka-sasl.password"
  new_password "$TLS/pg-tls.password"

  if [[ ! -s "$TLS/kafka-broker.p12" ]]; then
    log "making the Kafka broker's keystore (PKCS12)"
    new_leaf kafka-broker "/CN=localhost" "$SERVER_EXT"
    (umask 077 && openssl pkcs12 -export -in "$TLS/kafka-broker.crt" -inkey "$TLS/kafka-broker.key" \
      -certfile "$TLS/ca.crt" -name kafka-broker -passout "file:$TLS/kafka-store.password" \
      -out "$TLS/kafka-broker.p12.tmp")
    mv "$TLS/kafka-broker.p12.tmp" "$TLS/kafka-broker.p12"
    rm -f "$TLS/kafka-broker.key" # it lives in the keystore
  fi
  if [[ ! -s "$TLS/kafka-truststore.p12" ]]; then
    log "making the Kafka broker's truststore (PKCS12, keytool)"
    rm -f "$TLS/kafka-truststore.p12.tmp"
    keytool -importcert -noprompt -alias comment-ingest-ca -file "$TLS/ca.crt" -storetype PKCS12 \
      -keystore "$TLS/kafka-truststore.p12.tmp" -storepass:file "$TLS/kafka-store.password" >/dev/null 2>&1 \
      || die "keytool -importcert failed"
    chmod 0600 "$TLS/kafka-truststore.p12.tmp"
    mv "$TLS/kafka-truststore.p12.tmp" "$TLS/kafka-truststore.p12"
  fi
  if [[ ! -s "$TLS/client.crt" || ! -s "$TLS/client.key" ]]; then
    log "making a client certificate for mutual TLS"
    new_leaf client "/CN=comment_ingest" "$CLIENT_EXT"
    (umask 077 && openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$TLS/client.key" \
      -passout "file:$TLS/client-key.password" -out "$TLS/client.key.tmp")
    mv "$TLS/client.key.tmp" "$TLS/client.key"
  fi
  if [[ ! -s "$TLS/pg-server.crt" || ! -s "$TLS/pg-server.key" ]]; then
    log "making PostgreSQL's certificate"
    new_leaf pg-server "/CN=localhost" "$SERVER_EXT"
  fi
  chmod 0600 "$TLS"/*.key "$TLS"/*.password "$TLS"/*.p12
  chmod 0644 "$TLS"/*.crt
}

clean() { rm -rf "$TLS"; }

case "${1:-}" in
  ensure) ensure ;;
  clean) clean ;;
  *) echo "usage: $0 {ensure|clean}" >&2; exit 2 ;;
esac
