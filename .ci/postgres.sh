#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the metadata-store tests.
# Sourced by .ci/run: exports MARBLE_TEST_POSTGRES_URL and stops the server on exit.
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  echo "installing PostgreSQL (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

pg_port=${MARBLE_CI_PG_PORT:-55432}
pg_dir=$(mktemp -d /tmp/marble-ci-pg.XXXXXX)
# initdb refuses to run as root; the cluster belongs to the postgres user.
pg_user=postgres
id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home "$pg_user"
chown "$pg_user" "$pg_dir"
run_as_pg() { if [ "$(id -u)" = 0 ]; then su "$pg_user" -s /bin/sh -c "$*"; else sh -c "$*"; fi; }

run_as_pg "'$pg_bin/initdb' -D '$pg_dir/data' -U postgres --auth=trust -E UTF8 >/dev/null"
run_as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w \
  -o \"-h 127.0.0.1 -p $pg_port -k '$pg_dir'\" start >/dev/null"
run_as_pg "'$pg_bin/createdb' -h 127.0.0.1 -p $pg_port -U postgres marble_test"

stop_postgres() {
  run_as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast stop >/dev/null" || true
  rm -rf "$pg_dir"
}
trap stop_postgres EXIT

export MARBLE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/marble_test"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port for the metadata tests"
