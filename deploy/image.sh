#!/usr/bin/env bash
# Owns: building the service's container image (deploy/Dockerfile) with Podman, and `make image-test`.
# Usage: deploy/image.sh {base|build|test}; progress on stderr.
#   base   make the base image debian:bookworm-slim from Debian's packages (mmdebstrap), once
#   build  base, then build comment-ingest:local from deploy/Dockerfile
#   test   build, then run the image against `make up`'s Kafka and PostgreSQL (tests/image/)
#
# Nothing is pulled from a registry: the base image is made from Debian's packages through the
# mirror apt uses (deb.debian.org, with bookworm-updates and bookworm-security), and named
# docker.io/library/debian:bookworm-slim so the Dockerfile's FROM finds it. An image of that name
# already present (made here before, or pulled on a machine that can) is used as it is.
#
# Podman's settings come from deploy/podman/containers.conf (CONTAINERS_CONF: runc, ulimits this
# sandbox allows), so no global configuration of the machine is changed. Build: `--format docker`,
# or the HEALTHCHECK is dropped (OCI images have none); `--isolation chroot`, so RUN steps need no
# OCI runtime (crun, the default where installed, fails here); `--pull=never`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BASE_IMAGE="docker.io/library/debian:bookworm-slim"
IMAGE="${IMAGE:-comment-ingest:local}"
WORK="$ROOT/.run/image"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/podman/containers.conf}"

log() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run deploy/bootstrap.sh (make bootstrap)"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

BASE_SECONDS="cached"
BUILD_SECONDS=""

base() {
  need podman
  if podman image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE exists (cached)"
    return 0
  fi
  need mmdebstrap
  local t0 tar
  t0="$(now)"
  mkdir -p "$WORK"
  tar="$WORK/rootfs.tar"
  log "making $BASE_IMAGE from Debian bookworm's packages (mmdebstrap --variant=minbase)"
  rm -f "$tar"
  if ! mmdebstrap --variant=minbase --quiet bookworm "$tar" </dev/null >"$WORK/mmdebstrap.log" 2>&1; then
    tail -n 30 "$WORK/mmdebstrap.log" >&2
    die "mmdebstrap failed (full output: .run/image/mmdebstrap.log)"
  fi
  podman import --quiet \
    --change 'LABEL org.opencontainers.image.description="Debian bookworm minbase, made by mmdebstrap (deploy/image.sh)"' \
    --change 'CMD ["bash"]' \
    "$tar" "$BASE_IMAGE" >/dev/null
  rm -f "$tar"
  BASE_SECONDS="$(since "$t0")"
  log "base image $BASE_IMAGE made in ${BASE_SECONDS} s"
}

build() {
  base
  local t0
  t0="$(now)"
  log "building $IMAGE from deploy/Dockerfile"
  mkdir -p "$WORK"
  if ! podman build --format docker --isolation chroot --network host --pull=never \
      -f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    die "podman build failed (full output: .run/image/build.log)"
  fi
  BUILD_SECONDS="$(since "$t0")"
  log "built $IMAGE in ${BUILD_SECONDS} s ($(podman image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-12), $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

test_image() {
  local t0 t1 status=0
  t0="$(now)"
  build
  [[ -x "$ROOT/.venv/bin/python" ]] || die "no .venv; run make bootstrap"
  t1="$(now)"
  IMAGE="$IMAGE" "$ROOT/.venv/bin/python" -m pytest -v -p no:cacheprovider "$ROOT/tests/image" || status=$?
  local checks total
  checks="$(since "$t1")"
  total="$(since "$t0")"
  echo
  if ((status == 0)); then
    printf 'image-test: PASSED in %s s (base image: %s%s, build: %s s, checks: %s s)\n' \
      "$total" "$BASE_SECONDS" "$([[ $BASE_SECONDS == cached ]] || echo ' s')" "$BUILD_SECONDS" "$checks"
  else
    printf 'image-test: FAILED (status %d) after %s s; build log: .run/image/build.log\n' "$status" "$total"
  fi
  return "$status"
}

case "${1:-}" in
  base) base ;;
  build) build ;;
  test) test_image ;;
  *) die "usage: $0 {base|build|test}" ;;
esac
