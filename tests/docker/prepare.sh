#!/usr/bin/env bash
# Prepare what the Docker end-to-end test (tests/docker/test_production_compose.py) needs,
# from Debian packages and this checkout; idempotent and cached between runs:
#   1. docker.io, docker-compose (v1) and debootstrap from apt, if missing
#   2. dockerd, started in the background if no daemon answers (no systemd here);
#      its pid goes to $STATE/dockerd.pid so the test session can stop it again
#   3. the base image (build-base-image.sh: debootstrap + docker import; cached by recipe)
#   4. the stand-in image for neo4j/qdrant/prometheus (tests/docker/standins/)
#   5. the HoloLoom image from Dockerfile.production, built on that base
# Writes $STATE/prepare.rc (0 = ready) and $STATE/timings; scripts/test.sh starts it in the
# background so it overlaps the rest of the suite, and the test waits for prepare.rc.
#
# Exit code 3 means docker cannot run on this machine (the test then skips and says why).
set -uo pipefail
cd "$(dirname "$0")/../.."
STATE="${HOLOLOOM_DOCKER_STATE:-/tmp/hololoom-docker-e2e}"
BASE_IMAGE="${HOLOLOOM_TEST_BASE_IMAGE:-hololoom-test/python:trixie}"
STANDINS_IMAGE=hololoom-test/standins:latest
API_IMAGE="${HOLOLOOM_TEST_IMAGE:-hololoom:e2e}"
mkdir -p "$STATE"
rm -f "$STATE/prepare.rc"
: >"$STATE/timings"

finish() { echo "$1" >"$STATE/prepare.rc"; exit "$1"; }
step() { echo "prepare: $*"; }
timed() {  # timed NAME command...: run, record seconds
  local name="$1" started=$SECONDS; shift
  "$@" || return $?
  echo "$name $((SECONDS - started))" >>"$STATE/timings"
}

install_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null || [ "$(id -u)" -ne 0 ]; then
    echo "prepare: need root and apt-get to install ${missing[*]}" >&2
    return 3
  fi
  step "installing ${missing[*]}"
  # scripts/install-system-deps.sh may be running apt at the same moment: take turns.
  DEBIAN_FRONTEND=noninteractive flock /tmp/hololoom-apt.lock \
    bash -c 'apt-get update -qq && apt-get install -y -qq "$@" >/dev/null' _ "${missing[@]}"
}

DOCKER=/usr/bin/docker
start_dockerd() {
  [ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
  "$DOCKER" info >/dev/null 2>&1 && return 0
  step "starting dockerd"
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 60); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break
    sleep 1
  done
  echo "prepare: dockerd did not start:" >&2
  tail -n 15 "$STATE/dockerd.log" >&2
  return 3
}

build_standins() {
  local ctx jar
  jar="$(python3 -c 'import sys; sys.path.insert(0, "tests"); import neo4j_harness as h; print(h.build_server())')" || return 1
  ctx="$(mktemp -d)"
  cp tests/docker/standins/* "$ctx/"
  cp "$jar" "$ctx/neo4j-test-server.jar"
  cp -r "$(dirname "$jar")/lib" "$ctx/lib"  # the jar's manifest Class-Path: lib/*.jar
  local qdrant="${HOLOLOOM_QDRANT_BIN:-}"
  for candidate in ../shared/bin/qdrant ../../shared/bin/qdrant; do  # shared/ sits beside the checkout
    [ -n "$qdrant" ] || { [ -x "$candidate" ] && qdrant="$candidate"; }
  done
  [ -n "$qdrant" ] || { echo "prepare: no qdrant binary (set HOLOLOOM_QDRANT_BIN)" >&2; rm -rf "$ctx"; return 1; }
  cp "$qdrant" "$ctx/qdrant"
  "$DOCKER" build -q --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$STANDINS_IMAGE" "$ctx" >/dev/null
  local rc=$?
  rm -rf "$ctx"
  return $rc
}

build_api_image() {
  # The command PRODUCTION_DEPLOYMENT.md gives, on the local base, with host networking for pip.
  "$DOCKER" build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    -f Dockerfile.production -t "$API_IMAGE" . >"$STATE/build.log" 2>&1 || { tail -n 30 "$STATE/build.log" >&2; return 1; }
  "$DOCKER" image inspect -f '{{ .Size }}' "$API_IMAGE" >"$STATE/image-size"
}

install_tools; rc=$?; [ $rc -eq 0 ] || finish $rc
start_dockerd; rc=$?; [ $rc -eq 0 ] || finish $rc
step "base image $BASE_IMAGE"
timed base env DOCKER="$DOCKER" tests/docker/build-base-image.sh "$BASE_IMAGE" || finish 1
step "stand-in image $STANDINS_IMAGE"
timed standins build_standins || finish 1
step "HoloLoom image $API_IMAGE"
timed api_image build_api_image || finish 1
step "ready ($(tr '\n' ' ' <"$STATE/timings"))"
finish 0
