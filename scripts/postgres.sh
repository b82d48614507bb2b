#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests. scripts/test.sh starts one with this
# when DRYDOCK_TEST_DATABASE_URL is not set, points the variable at it, and stops it
# on exit; the tests then create their own fresh databases on it.
#
#   scripts/postgres.sh start DIR   initdb into DIR/data, start on a free 127.0.0.1
#                                   port, print postgres://postgres@127.0.0.1:PORT/postgres
#                                   (the only stdout line); the port also goes to DIR/port
#   scripts/postgres.sh stop DIR    stop that server (if running) and remove DIR
#
# fsync is off (throwaway data, faster tests) unless DRYDOCK_PG_FSYNC=on (benchmarks).
# Installs Debian's postgresql package when no initdb is found. PostgreSQL refuses to
# run as root, so as root the server runs as the `postgres` user and owns DIR.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }
usage() { die "usage: $0 start DIR | stop DIR"; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a PostgreSQL server binary as a user allowed to run it.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The directory holding initdb, pg_ctl and postgres: PATH first (symlinks resolved,
# so pg_ctl finds its postgres), else the newest /usr/lib/postgresql/*/bin.
find_bindir() {
  local initdb
  if initdb=$(command -v initdb 2>/dev/null); then
    dirname "$(readlink -f "$initdb")"
    return 0
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
    return 0
  fi
  return 1
}

install_postgres() {
  local sudo=""
  is_root || sudo="sudo"
  echo "postgres.sh: no initdb found; installing Debian's postgresql package" >&2
  $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq postgresql >/dev/null
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    # Nothing accepts a connection there: take it.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found on 127.0.0.1"
}

# A refusal to remove anything that cannot be a server directory.
check_dir() {
  case "$1" in
    "" | "/" | "." | "..") die "refusing to use '$1' as the server directory" ;;
  esac
}

start() {
  local dir=$1 bindir port attempt out
  check_dir "$dir"
  if ! bindir=$(find_bindir); then
    install_postgres
    bindir=$(find_bindir) || die "postgresql installed but no initdb found"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/sock"
  if is_root; then
    chown -R postgres: "$dir"
    runuser -u postgres -- test -x "$dir" ||
      die "the postgres user cannot enter $dir: use a directory whose parents it may traverse (e.g. one from mktemp -d)"
  fi
  # Server binaries run from DIR: the postgres user may not be able to enter the
  # caller's working directory.
  cd "$dir"
  # initdb's chatter only when it fails.
  out=$(as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 2>&1) ||
    { echo "$out" >&2; die "initdb into $dir/data failed"; }
  # A port can be taken between picking and binding it: pick again. pg_ctl hands -o
  # to a shell, hence the quotes around the socket directory.
  for attempt in 1 2 3; do
    port=$(free_port)
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
      -o "-p $port -k '$dir/sock' -c listen_addresses=127.0.0.1 -c fsync=${DRYDOCK_PG_FSYNC:-off} -c max_connections=200" \
      start >&2; then
      echo "$port" >"$dir/port"
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    echo "postgres.sh: start on port $port failed (attempt $attempt); log:" >&2
    tail -n 20 "$dir/log" >&2 || true
    # A server that did not come up within the timeout may still be starting.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  done
  die "could not start PostgreSQL in $dir (see $dir/log)"
}

stop() {
  local dir=$1 bindir
  check_dir "$dir"
  [ -e "$dir" ] || return 0
  if [ -f "$dir/data/PG_VERSION" ] && bindir=$(find_bindir); then
    # Exit status 3: not running. Either way the directory goes.
    if (cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1); then
      (cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >&2) ||
        (cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2) || true
    fi
  fi
  rm -rf -- "$dir"
}

[ $# -eq 2 ] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
