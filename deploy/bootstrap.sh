#!/usr/bin/env bash
# Owns: installing the build/test dependencies (Debian packages, the Kafka jars, the Python venv .venv).
# Idempotent and quiet on success: progress goes to stderr, nothing to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
REQ="$ROOT/tests/requirements.txt"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages -------------------------------------------------------------------------
PACKAGES=(
  ca-certificates
  gcc make pkg-config valgrind
  librdkafka-dev libpq-dev libjansson-dev libuv1-dev libhttp-parser-dev libutf8proc-dev
  libcmocka-dev libssl-dev
  clang-14 libclang-rt-14-dev llvm-14
  kcat postgresql-15 openssl
  openjdk-17-jre-headless maven   # keytool (deploy/tls.sh) comes with the JRE
  python3 python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; install them with:"
    printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# ---- 2. Kafka jars (Maven Central) --------------------------------------------------------------
"$ROOT/deploy/kafka.sh" fetch

# ---- 3. Python venv -----------------------------------------------------------------------------
# Prefer Debian's interpreter (python3-venv above provides ensurepip for it); a pyenv shim first in
# PATH may point at a build that differs between machines.
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY="$(command -v python3)" || die "python3 not found"; fi

[[ -f "$REQ" ]] || die "missing $REQ"

venv_ok() { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; }

if ! venv_ok; then
  log "creating $VENV with $PY ($("$PY" --version 2>&1))"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" >&2
  venv_ok || die "venv at $VENV does not run"
fi

want="$( { cat "$REQ"; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
  log "installing Python packages from tests/requirements.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q --no-input -r "$REQ" >&2
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip check >/dev/null || die "pip check failed"
  printf '%s\n' "$want" >"$STAMP"
fi
