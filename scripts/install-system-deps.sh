#!/usr/bin/env bash
# Install the system packages HoloLoom's end-to-end tests use, from Debian's archive:
#   chromium, chromium-driver   the dashboard tests (headless, driven by selenium)
#   tmux                        the terminal UI session tests
#   prometheus                  the test that scrapes HoloLoom through a real Prometheus
#   hey                         the HTTP load generator of `hololoom bench http` (and its test)
# Idempotent and non-interactive: only missing packages are installed, `apt-get update` runs only
# when something is missing. Needs root (or sudo). Where apt-get is absent (not Debian/Ubuntu) it
# says what to install and exits 0: the tests that need these skip and print why.
set -euo pipefail

# package -> a file it installs that tells it is there
declare -A PROVIDES=(
  [chromium]=/usr/bin/chromium
  [chromium-driver]=/usr/bin/chromedriver
  [tmux]=/usr/bin/tmux
  [prometheus]=/usr/bin/prometheus
  [hey]=/usr/bin/hey
)

missing=()
for pkg in chromium chromium-driver tmux prometheus hey; do
  if [ ! -x "${PROVIDES[$pkg]}" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-deps: chromium, chromium-driver, tmux, prometheus and hey are installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: no apt-get here; install ${missing[*]} with this system's package manager" >&2
  echo "install-system-deps: until then the tests that need them are skipped" >&2
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "install-system-deps: need root or sudo to install ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tests/docker/prepare.sh may run apt in the background at the same time: take turns.
"${SUDO[@]}" flock /tmp/hololoom-apt.lock apt-get update -qq
"${SUDO[@]}" flock /tmp/hololoom-apt.lock apt-get install -y -qq "${missing[@]}"

for pkg in "${missing[@]}"; do
  if [ ! -x "${PROVIDES[$pkg]}" ]; then
    echo "install-system-deps: $pkg installed but ${PROVIDES[$pkg]} is missing" >&2
    exit 1
  fi
done
echo "install-system-deps: done"
