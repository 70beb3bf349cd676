#!/usr/bin/env bash
# Browser tests of the web UI (issue 8): headless Chromium driven by Selenium against a real stack of one gateway,
# two workers and one scheduler, started from copies of the debug binaries against the Redis and PostgreSQL that
# scripts/test runs. scripts/test calls it on a full run and for `scripts/test --browser`.
#
#   NETRA_TEST_REDIS_URL=redis://… NETRA_TEST_DATABASE_URL=postgres://…/netra_test \
#     bash scripts/lib/browser.sh PG_DIR PG_PORT [unittest arguments, e.g. BrowserTests.test_3_stop_cancels_the_run]
#
# PG_DIR and PG_PORT name the PostgreSQL that scripts/lib/services.sh started (its socket is used to recreate the
# database netra_browser). Redis is shared with the Swift tests, so nothing is flushed: the stack uses the key prefix
# `netra-browser` and only keys under it are deleted first. The gateway listens on 28180, the scheduler on 28182
# (below the ephemeral port range). Logs: .data/browser/logs; screenshots: .data/screenshots (both git-ignored).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# shellcheck source=services.sh
source scripts/lib/services.sh

[ $# -ge 2 ] || die "usage: scripts/lib/browser.sh PG_DIR PG_PORT [unittest arguments]"
PG_DIR=$1 PG_PORT=$2
shift 2
: "${NETRA_TEST_REDIS_URL:?must be set (scripts/test sets it)}"
: "${NETRA_TEST_DATABASE_URL:?must be set (scripts/test sets it)}"

GATEWAY_PORT=28180
SCHEDULER_PORT=28182
REDIS_PREFIX=netra-browser
DATABASE=netra_browser
SELENIUM_VERSION=4.51.0
WORK="$REPO/.data/browser"
BIN="$WORK/bin"
LOGS="$WORK/logs"
VENV="$REPO/.data/venv-browser"
SCREENSHOTS="$REPO/.data/screenshots"
READY_TIMEOUT=60 # seconds each process may take to answer its health check
PROCESSES=(gateway worker-1 worker-2 scheduler)
declare -A PIDS=()

# Chromium, its WebDriver and the venv module come from Debian's packages.
ensure_browser_packages() {
  local missing=()
  for package in chromium chromium-driver python3-venv; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing"
  [ -x /usr/bin/chromedriver ] || die "/usr/bin/chromedriver is missing"
}

# A virtualenv of Debian's python3 with Selenium (installed only when it cannot be imported there).
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    /usr/bin/python3 -m venv "$VENV" || die "cannot create a virtualenv in $VENV"
  fi
  if ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
    log "installing selenium $SELENIUM_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "selenium==$SELENIUM_VERSION"
  fi
}

# Copies of the binaries, so that a concurrent `swift build` cannot replace them while the tests run.
copy_binaries() {
  mkdir -p "$BIN"
  for name in netra-gateway netra-worker netra-scheduler; do
    [ -x "$REPO/.build/debug/$name" ] || die ".build/debug/$name is missing (swift build --product $name)"
    cp -f "$REPO/.build/debug/$name" "$BIN/$name.tmp"
    mv -f "$BIN/$name.tmp" "$BIN/$name"
  done
}

# A fresh database netra_browser, and no keys left under our prefix by an earlier run.
prepare_stores() {
  if [ -n "$(psql_admin "$PG_DIR" "$PG_PORT" "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    psql_admin "$PG_DIR" "$PG_PORT" "DROP DATABASE $DATABASE WITH (FORCE)" >/dev/null
  fi
  ensure_database "$PG_DIR" "$PG_PORT" "$DATABASE"
  redis-cli -u "$NETRA_TEST_REDIS_URL" --scan --pattern "$REDIS_PREFIX:*" \
    | xargs -r -n 500 redis-cli -u "$NETRA_TEST_REDIS_URL" del >/dev/null
}

# The test database URL with its database name replaced (the query string, if any, is kept).
database_url() {
  local url=$NETRA_TEST_DATABASE_URL
  local base=${url%%\?*}
  local query=${url#"$base"}
  echo "${base%/*}/$DATABASE$query"
}

# start NAME ARGS...: one process in the background, its output in $LOGS/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
  log "started $name (pid $!)"
}

# wait_ready NAME URL: polls URL until it answers 2xx, failing early when the process has exited.
wait_ready() {
  local name=$1 url=$2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || die "$name exited before it was ready (see $LOGS/$name.log)"
    [ "$SECONDS" -lt "$deadline" ] || die "$name was not ready at $url within ${READY_TIMEOUT}s"
    sleep 0.2
  done
}

log_tails() {
  for name in "${PROCESSES[@]}"; do
    [ -f "$LOGS/$name.log" ] || continue
    printf '\n----- last 40 lines of %s -----\n' "$LOGS/$name.log" >&2
    tail -n 40 "$LOGS/$name.log" >&2
  done
}

# Stops what this script started (by pid): SIGTERM, then SIGKILL after 30 s.
stop_all() {
  local name pid
  for name in "${!PIDS[@]}"; do kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do
    pid=${PIDS[$name]}
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

status=1
on_exit() {
  stop_all
  [ "$status" -eq 0 ] || log_tails
}
trap on_exit EXIT

mkdir -p "$LOGS" "$SCREENSHOTS"
rm -f "$LOGS"/*.log
ensure_browser_packages
ensure_venv
copy_binaries
prepare_stores

export NETRA_REDIS_URL=$NETRA_TEST_REDIS_URL
export NETRA_REDIS_PREFIX=$REDIS_PREFIX
NETRA_DATABASE_URL=$(database_url)
export NETRA_DATABASE_URL
NETRA_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
NETRA_ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export NETRA_JWT_SECRET NETRA_ADMIN_TOKEN
export NETRA_LOG_LEVEL=${NETRA_LOG_LEVEL:-info}

log "starting the browser-test stack (gateway on $GATEWAY_PORT, scheduler on $SCHEDULER_PORT)"
# The gateway applies the migrations before it listens; the others start once it is ready.
start gateway "$BIN/netra-gateway" --http-port "$GATEWAY_PORT"
wait_ready gateway "http://127.0.0.1:$GATEWAY_PORT/health/ready"
start worker-1 "$BIN/netra-worker"
start worker-2 "$BIN/netra-worker"
start scheduler "$BIN/netra-scheduler" --http-port "$SCHEDULER_PORT"
wait_ready scheduler "http://127.0.0.1:$SCHEDULER_PORT/health"

EMAIL=browser@netra.local
PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
http=$(curl -sS -o "$WORK/tenant.json" -w '%{http_code}' -X POST "http://127.0.0.1:$GATEWAY_PORT/api/admin/tenants" \
  -H "Authorization: Bearer $NETRA_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"name\":\"Browser tests\",\"user\":{\"name\":\"Browser Tester\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}}")
[ "$http" = 201 ] || { cat "$WORK/tenant.json" >&2; die "creating the test tenant failed with HTTP $http"; }

log "running the browser tests (screenshots in $SCREENSHOTS, logs in $LOGS)"
set +e
NETRA_BROWSER_BASE_URL="http://127.0.0.1:$GATEWAY_PORT" \
  NETRA_BROWSER_ADMIN_TOKEN=$NETRA_ADMIN_TOKEN \
  NETRA_BROWSER_EMAIL=$EMAIL \
  NETRA_BROWSER_PASSWORD=$PASSWORD \
  NETRA_BROWSER_SCREENSHOTS=$SCREENSHOTS \
  "$VENV/bin/python" Tests/Browser/test_ui.py -v "$@"
status=$?
set -e
exit "$status"
