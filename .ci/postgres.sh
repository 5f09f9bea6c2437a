#!/usr/bin/env bash
# CI helper: install and start a local PostgreSQL server (Debian packages), create a test
# role, and print the SQLAlchemy URL for AG_TEST_POSTGRES_URL on stdout, e.g.
#   postgresql+psycopg://accessguard:<random>@127.0.0.1:5432/postgres
# Needs root and apt-get. Progress goes to stderr. If anything fails it prints nothing
# and still exits 0: a CI without PostgreSQL stays green (the PostgreSQL tests skip).
# The server listens on localhost only (Debian's default); the role may CREATE DATABASE
# (each test makes and drops its own), signal backends (DROP DATABASE ... WITH FORCE) and
# CREATE ROLE (the server-enforcement tests make operator logins and drop them again).
set -uo pipefail

ROLE=accessguard
PASSWORD_FILE=${AG_PG_PASSWORD_FILE:-/root/.accessguard-ci-postgres-password}
say() { echo "postgres.sh: $*" >&2; }

as_postgres() {
    if command -v runuser >/dev/null; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

setup() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "needs root and apt-get; skipping PostgreSQL"
        return 1
    fi
    if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
        say "installing PostgreSQL from the Debian packages"
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get update -qq >&2 || return 1
        timeout 900 apt-get install -y -qq postgresql >&2 || return 1
    fi
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    [ -n "$version" ] || return 1
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
        say "creating cluster $version/main"
        pg_createcluster "$version" main >&2 || return 1
    fi
    local port
    port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        say "starting cluster $version/main on port $port"
        pg_ctlcluster "$version" main start >&2 || service postgresql start >&2 || return 1
    fi
    local tries=0
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
        tries=$((tries + 1))
        [ "$tries" -le 30 ] || { say "server did not come up"; return 1; }
        sleep 1
    done
    # The password is kept (root only) and reused: running this again, from another
    # shell or by another job, must not cut off the URL it printed before.
    local password=""
    if [ -f "$PASSWORD_FILE" ]; then
        password=$(tr -cd '0-9a-f' < "$PASSWORD_FILE")
    fi
    if [ -z "$password" ]; then
        password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
        [ -n "$password" ] || return 1
        (umask 077 && printf '%s\n' "$password" > "$PASSWORD_FILE") || return 1
    fi
    as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -d postgres >&2 <<SQL || return 1
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB CREATEROLE;
    END IF;
END \$\$;
ALTER ROLE $ROLE LOGIN CREATEDB CREATEROLE PASSWORD '$password';
GRANT pg_signal_backend TO $ROLE;
SQL
    # The URL must work over TCP with the password, as the tests will use it.
    PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -Atc "SELECT 1" \
        >/dev/null || { say "cannot log in as $ROLE over TCP"; return 1; }
    echo "postgresql+psycopg://$ROLE:$password@127.0.0.1:$port/postgres"
}

started=$(date +%s)
if url=$(setup); then
    say "ready in $(( $(date +%s) - started )) s"
    echo "$url"
else
    say "PostgreSQL is not available (after $(( $(date +%s) - started )) s); no URL"
fi
exit 0
