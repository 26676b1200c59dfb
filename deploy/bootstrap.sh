#!/usr/bin/env bash
# Owns: installing the build/test dependencies (Debian packages, the Kafka jars, the Python venv .venv).
# podman, mmdebstrap and runc build and run the container image (deploy/image.sh, make image-test).
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
  prometheus
  openjdk-17-jre-headless maven   # keytool (deploy/tls.sh) comes with the JRE
  python3 python3-venv
  podman mmdebstrap runc
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
  # Packages with a daemon (prometheus, postgresql) must not start it: the tests run their own, on
  # their own ports. invoke-rc.d and deb-systemd-invoke ask policy-rc.d; exit 101 = "not now".
  # An existing policy (e.g. a container image's) is left as it is.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# comment-ingest bootstrap: no daemon starts during this install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  rc=0
  { apt-get update -q >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } || rc=$?
  ((own_policy)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get failed (status $rc)"
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
