/**
 * The entrypoint scripts of the postgres and redis base images (`bootstrap.ts` writes them to
 * /usr/local/bin/docker-entrypoint.sh). They keep the official images' contract where an
 * add-on relies on it: the same variables, the same users (uid/gid 999), data initialised on
 * first start, any other command run as given. busybox sh only: there is no bash, no gosu.
 *
 * Dropping root: busybox-static has no chpst and its setpriv cannot change ids, but its `su`,
 * run by root, needs no setuid bit and no password: it sets the groups, gid and uid and execs
 * the shell, so the server stays pid 1 (or the child of this script, below) with no helper
 * left in between. The runtime's user field (`-u 999`) cannot do it alone: root must first
 * give the volume, often a fresh root-owned directory, to the server's user.
 */

/**
 * PostgreSQL: on an empty PGDATA, initdb as `postgres` (UTF8, the C.UTF-8 locale shipped in
 * the image), a superuser POSTGRES_USER with POSTGRES_PASSWORD, host connections by
 * scram-sha-256 (or POSTGRES_HOST_AUTH_METHOD), listen on every address, then POSTGRES_DB
 * through a server on the unix socket only. The server then runs as this script's child:
 * PostgreSQL reads SIGTERM as a "smart" shutdown that waits for every client to leave, so the
 * script turns SIGTERM (and SIGINT) into SIGINT, the fast shutdown: clients are cut, the
 * checkpoint is written and the data directory is left clean.
 */
export const POSTGRES_ENTRYPOINT = `#!/bin/sh
set -eu

fail() {
  echo "error: $*" >&2
  exit 1
}

# a first argument that is an option is an option of postgres
first="\${1:-}"
if [ "\${first#-}" != "$first" ]; then set -- postgres "$@"; fi
# anything else (psql, pg_dump, sh) runs as given
if [ "\${1:-}" != postgres ]; then exec "$@"; fi

: "\${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  # a volume arrives owned by root: give it (and only what is not already its) to postgres
  find "$PGDATA" /var/run/postgresql \\! -user postgres -exec chown postgres:postgres {} +
  # busybox su takes options after the user too: -- keeps the server's own (-c) from it
  exec su -s /bin/sh postgres -c 'exec "$0" "$@"' -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="\${POSTGRES_USER:-postgres}"
  db="\${POSTGRES_DB:-$user}"
  auth="\${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  password="\${POSTGRES_PASSWORD:-}"
  if [ -z "$password" ] && [ -z "\${POSTGRES_HOST_AUTH_METHOD:-}" ]; then
    fail "the database is uninitialized and POSTGRES_PASSWORD is not set: give it a password" \\
      "(-e POSTGRES_PASSWORD=...), or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one"
  fi
  case "$password" in *'
'*) fail "POSTGRES_PASSWORD holds a newline: initdb would keep only its first line" ;;
  esac
  pwfile=
  if [ -n "$password" ]; then
    pwfile="$(mktemp)"
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\\n' "$password" >"$pwfile"
  fi
  # word splitting of POSTGRES_INITDB_ARGS is wanted, as in the official image
  # shellcheck disable=SC2086
  initdb --username="$user" \${pwfile:+--pwfile="$pwfile"} --auth-local=trust --auth-host="$auth" \\
    --encoding=UTF8 --locale=C.UTF-8 \${POSTGRES_INITDB_ARGS:-}
  if [ -n "$pwfile" ]; then
    rm -f "$pwfile"
    trap - EXIT
  fi
  printf "\\nhost all all all %s\\n" "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\\nlisten_addresses = '*'\\n" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # the unix socket only: nothing reaches the server before the database exists
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -s start
    psql -v ON_ERROR_STOP=1 -q --username="$user" --dbname=postgres -v db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
    pg_ctl -D "$PGDATA" -m fast -w -s stop
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi

"$@" &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || :' TERM INT
trap 'kill -QUIT "$pid" 2>/dev/null || :' QUIT
trap 'kill -HUP "$pid" 2>/dev/null || :' HUP
# wait returns early when a trapped signal arrives: wait again until postgres is gone
while :; do
  status=0
  wait "$pid" || status=$?
  kill -0 "$pid" 2>/dev/null || exit "$status"
done
`;

/**
 * Redis: /data (the volume) given to `redis`, then redis-server as `redis` with an append-only
 * file fsynced every second in /data, ahead of the command's own options (which win), and
 * REDIS_PASSWORD as requirepass. The password goes in through stdin (`-` as the last
 * argument reads configuration from there): on the command line it would show in every
 * `ps` on the host. Without a password, protected mode is off as in the official image, so
 * other containers can connect at all.
 */
export const REDIS_ENTRYPOINT = `#!/bin/sh
set -eu

fail() {
  echo "error: $*" >&2
  exit 1
}

# a first argument that is an option or a .conf file is redis-server's
first="\${1:-}"
if [ "\${first#-}" != "$first" ] || [ "\${first%.conf}" != "$first" ]; then set -- redis-server "$@"; fi
if [ "\${1:-}" != redis-server ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  find /data \\! -user redis -exec chown redis:redis {} +
  exec su -s /bin/sh redis -c 'exec "$0" "$@"' -- "$0" "$@"
fi

shift
conf=
case "\${1:-}" in
  -* | '') ;;
  *) conf="$1" && shift ;;
esac
set -- redis-server \${conf:+"$conf"} --dir /data --appendonly yes --appendfsync everysec --protected-mode no "$@"

password="\${REDIS_PASSWORD:-}"
if [ -z "$password" ]; then exec "$@"; fi
case "$password" in *'
'*) fail "REDIS_PASSWORD holds a newline: redis cannot read it as one password" ;;
esac
# redis-server's config quoting: backslash and double quote escaped inside double quotes
quoted="$(printf '%s' "$password" | sed 's/[\\\\"]/\\\\&/g')"
exec "$@" - <<EOF
requirepass "$quoted"
EOF
`;

/**
 * `locale -a` as glibc's answers it (C, POSIX and the compiled locales in /usr/lib/locale):
 * initdb runs it to import the system's collations, and without it warns that there are none.
 * The image has no other use for the rest of glibc's `locale`.
 */
export const LOCALE_LIST = `#!/bin/sh
if [ "$#" != 1 ] || [ "$1" != -a ]; then
  echo "locale: this image's locale only lists locales (-a)" >&2
  exit 1
fi
printf 'C\\nPOSIX\\n'
ls /usr/lib/locale
`;
