#!/usr/bin/env bash
# Run HoloLoom's test-suite: unit, contract and end-to-end. Sets the environment up first
# (idempotent) so that it also works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Docker end-to-end test needs images built from Debian packages (several minutes on a
# fresh machine): prepare them in the background now so that work overlaps setup and the
# rest of the suite; the test (which pytest runs last) waits for it. HOLOLOOM_SKIP_DOCKER=1
# leaves Docker alone (the test then prepares in the foreground if selected).
wants_docker=1
for arg in "$@"; do  # a run limited to test paths without docker in them does not need the images
  case "$arg" in
    -*) ;;
    *docker*) wants_docker=1; break ;;
    *) [ -e "${arg%%::*}" ] && wants_docker=0 ;;  # option values (e.g. "-p no:x") are not paths
  esac
done
started_prepare=""
if [ "$wants_docker" = 1 ] && [ -z "${HOLOLOOM_SKIP_DOCKER:-}" ] && [ -z "${HOLOLOOM_DOCKER_PREPARE_PID:-}" ]; then
  prepare_log="${HOLOLOOM_DOCKER_STATE:-/tmp/hololoom-docker-e2e}"
  mkdir -p "$prepare_log" && prepare_log="$(dirname "$prepare_log")/hololoom-docker-prepare.log"
  nice -n 5 bash tests/docker/prepare.sh >"$prepare_log" 2>&1 </dev/null &
  export HOLOLOOM_DOCKER_PREPARE_PID=$!
  started_prepare=$HOLOLOOM_DOCKER_PREPARE_PID
  echo "test.sh: preparing Docker images in the background (pid $HOLOLOOM_DOCKER_PREPARE_PID, log $prepare_log)"
fi
bash scripts/setup.sh
# Browser, tmux and Prometheus for the end-to-end tests (best effort: without them those
# tests skip and say why).
bash scripts/install-system-deps.sh || echo "test.sh: system packages could not be installed; their tests will skip"
set +e
.venv/bin/python -m pytest "$@"
code=$?
if [ -n "$started_prepare" ]; then
  wait "$started_prepare" 2>/dev/null  # never leave it running (it may hold apt's lock)
  docker_state="${HOLOLOOM_DOCKER_STATE:-/tmp/hololoom-docker-e2e}"
  if [ -f "$docker_state/dockerd.pid" ]; then  # prepare started dockerd and no test stopped it
    kill "$(cat "$docker_state/dockerd.pid")" 2>/dev/null || true
    rm -f "$docker_state/dockerd.pid"
  fi
fi
set -e
if [ "$code" = 5 ]; then
  echo "pytest collected no tests"  # exit 5 is not a failure of the code under test
  exit 0
fi
exit "$code"
