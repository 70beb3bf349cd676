# Shared helpers for scripts/dev, scripts/test and scripts/bench: install what is missing, and start and stop
# a private redis-server and PostgreSQL 15 with their data under the repository (git-ignored).
# Source it; it expects REPO to be set.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages that are missing (redis-server, hiredis, jemalloc, PostgreSQL 15, openssl, curl).
ensure_packages() {
  local wanted=(redis-server libhiredis-dev libjemalloc-dev postgresql-15 postgresql-client-15 libssl-dev openssl pkg-config curl ca-certificates python3 python3-websocket)
  local missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null || die "the Swift toolchain is not on PATH (expected Swift 6.x)"
  # The Debian package starts system-wide services on the default ports; ours use their own ports, so those
  # can stay as they are.
}

# start_redis DIR PORT [TLS_PORT TLS_DIR]: AOF on (everysec) and noeviction, as production should run it.
# With TLS_PORT it also serves TLS there with TLS_DIR's server.crt/server.key (see scripts/lib/tls.sh); a client
# certificate is optional, but one that is presented must be signed by TLS_DIR/ca.crt.
start_redis() {
  local dir=$1 port=$2 tls_port=${3:-} tls_dir=${4:-}
  local tls=()
  if [ -n "$tls_port" ]; then
    tls=(--tls-port "$tls_port" --tls-cert-file "$tls_dir/server.crt" --tls-key-file "$tls_dir/server.key"
      --tls-ca-cert-file "$tls_dir/ca.crt" --tls-auth-clients optional)
  fi
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    # Left running by an earlier run: keep it, unless it lacks the TLS port asked for.
    [ -z "$tls_port" ] || redis-cli -p "$port" config get tls-port | grep -qx "$tls_port" && return 0
    stop_redis "$dir" "$port"
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "${tls[@]}" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save "" >/dev/null
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "redis-server did not start on port $port (see $dir/redis.log)"
}

stop_redis() {
  local dir=$1 port=$2
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$dir/redis.pid"
}

# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR PORT [TLS_DIR]: initialises the cluster on first use; fsync stays on. With TLS_DIR it runs with
# ssl=on and TLS_DIR's server certificate (copied to DIR/tls, since PostgreSQL wants its key owned by the user it runs
# as, mode 0600); clients may still connect without TLS (pg_hba's `host` lines match both). NETRA_PG_OPTIONS adds
# server options, for profiling (e.g. "-c shared_preload_libraries=pg_stat_statements").
start_postgres() {
  local dir=$1 port=$2 tls_dir=${3:-}
  # Absolute: the server runs in its data folder, and the loop below climbs with `dirname` up to "/".
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local data="$dir/data" socket="$dir/socket"
  local tls=""
  if [ "$(id -u)" -eq 0 ]; then
    # The postgres user must be able to reach the folder through the repository's parents.
    local path=$dir
    while [ "$path" != "/" ]; do chmod o+x "$path" 2>/dev/null || true; path=$(dirname "$path"); done
    chown postgres:postgres "$dir"
  fi
  pg_run mkdir -p "$socket"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL in $data"
    pg_run "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  fi
  if [ -n "$tls_dir" ]; then
    pg_run mkdir -p "$dir/tls"
    for file in server.crt server.key ca.crt; do
      pg_run tee "$dir/tls/$file" <"$tls_dir/$file" >/dev/null
    done
    pg_run chmod 0600 "$dir/tls/server.key"
    tls="-c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key -c ssl_ca_file=$dir/tls/ca.crt"
  fi
  if [ -n "$tls" ] && pg_run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # Restarted so that it certainly runs with this run's certificate.
    pg_run "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
  if ! pg_run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    pg_run "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $socket -c listen_addresses=127.0.0.1 -c max_connections=1000 $tls ${NETRA_PG_OPTIONS:-}" start >/dev/null \
      || die "PostgreSQL did not start (see $dir/postgres.log)"
  fi
}

stop_postgres() {
  local dir=$1
  if [ -f "$dir/data/PG_VERSION" ]; then
    pg_run "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# psql_admin DIR PORT SQL: runs SQL as the postgres superuser over the private socket.
psql_admin() {
  local dir=$1 port=$2 sql=$3
  pg_run psql -h "$dir/socket" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc "$sql"
}

# ensure_database DIR PORT NAME: the `netra` role (password netra, may create databases) and a database it owns.
ensure_database() {
  local dir=$1 port=$2 name=$3
  if [ -z "$(psql_admin "$dir" "$port" "SELECT 1 FROM pg_roles WHERE rolname = 'netra'")" ]; then
    psql_admin "$dir" "$port" "CREATE ROLE netra LOGIN CREATEDB PASSWORD 'netra'"
  fi
  if [ -z "$(psql_admin "$dir" "$port" "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
    psql_admin "$dir" "$port" "CREATE DATABASE $name OWNER netra"
  fi
}
