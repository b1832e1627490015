#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the benchmark, with the server's default durability (fsync on):
#   bench/postgres-cluster.sh start   -> prints the connection string
#   bench/postgres-cluster.sh stop
#   RUNBOOK_BENCH_PGSTATS=1 bench/postgres-cluster.sh start   -> also preloads pg_stat_statements (statements per step in the drains)
# Needs Debian's postgresql package (apt-get install postgresql). Runs the server as the postgres user when root.
set -euo pipefail
dir=${RUNBOOK_BENCH_PGDATA:-/tmp/runbook-bench-pg}
port=${RUNBOOK_BENCH_PGPORT:-55433}
stats=(); [ "${RUNBOOK_BENCH_PGSTATS:-}" = 1 ] && stats=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
case "${1:-}" in
  start)
    rm -rf "$dir"; mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U runbook --auth=trust -E UTF8 --locale=C >/dev/null
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${stats[*]}" start >/dev/null
    echo "Host=127.0.0.1;Port=$port;Username=runbook;Database=postgres" ;;
  stop)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
