# Shared set-up steps for `make run` and `make test`. Each step is idempotent and cheap when
# there is nothing to do: it checks first and records what it did in stamp files under .local/.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
mkdir -p "$LOCAL"
chmod 700 "$LOCAL"

DB_NAME="${INFRAPLAN_DB_NAME:-infraplan}"
DB_ROLE="${INFRAPLAN_DB_ROLE:-infraplan}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Run a command as the postgres operating-system user (the administrative connection).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

stamp_matches() { [ -f "$LOCAL/$1.stamp" ] && [ "$(cat "$LOCAL/$1.stamp")" = "$2" ]; }
stamp_write() { printf '%s' "$2" > "$LOCAL/$1.stamp"; }

# --- system packages -------------------------------------------------------------------------

missing_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || printf '%s ' "$package"
  done
}

apt_install() {
  local missing
  missing="$(missing_packages "$@")"
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || die "these packages are needed but apt-get is not available: $missing"
  say "Installing system packages: $missing"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# The major version of the PostgreSQL server to use: an existing cluster's, else the distribution's.
postgres_major() {
  local major
  major="$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')"
  if [ -z "$major" ]; then
    major="$(apt-cache depends postgresql 2>/dev/null | awk '/Depends: postgresql-[0-9]+$/ {sub("postgresql-", "", $2); print $2; exit}')"
  fi
  [ -n "$major" ] || die "cannot tell which PostgreSQL version to install (apt-cache depends postgresql found none)"
  printf '%s' "$major"
}

ensure_system_packages() {
  local mode="$1" packages=(gdal-bin ca-certificates)
  command -v npm >/dev/null || packages+=(nodejs npm)
  # mapserver-bin and cgi-mapserver: the WFS server the wfs connector's tests run (mapserv).
  if [ "$mode" = test ]; then packages+=(chromium fonts-liberation mapserver-bin cgi-mapserver); fi
  if [ -z "${DATABASE_URL:-}" ]; then
    command -v pg_lsclusters >/dev/null || apt_install postgresql postgresql-common
    packages+=("postgresql-$(postgres_major)-postgis-3")
  fi
  apt_install "${packages[@]}"
}

# --- Python ----------------------------------------------------------------------------------

python_ok() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /root/.pyenv/versions/3.1[2-9]*/bin/python3 \
      /usr/local/bin/python3 /usr/bin/python3 python3; do
    [ -n "$candidate" ] || continue
    if [[ "$candidate" == */* ]]; then [ -x "$candidate" ] || continue
    else candidate="$(command -v "$candidate" 2>/dev/null)" || continue; fi
    if python_ok "$candidate"; then printf '%s' "$candidate"; return 0; fi
  done
  # Debian 13 and Ubuntu 24.04 ship a new enough python3 but its venv module separately.
  if /usr/bin/python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    local version
    version="$(/usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install "python${version}-venv"
    python_ok /usr/bin/python3 && { printf '%s' /usr/bin/python3; return 0; }
  fi
  return 1
}

ensure_venv() {
  local lock="$ROOT/requirements/dev.txt" digest python
  digest="$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python" && stamp_matches venv "$digest"; then
    return 0
  fi
  python="$(find_python)" || die "Python 3.12 or newer is needed (Django 6 requires it) and none was found.
  Install one, then run this again: on Debian 13 or Ubuntu 24.04, 'apt-get install python3 python3-venv';
  on Debian 12, build one with pyenv ('pyenv install 3.13') or set PYTHON=/path/to/python3.12."
  if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python"; then
    say "Creating the virtualenv with $python"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
  fi
  say "Installing Python dependencies from the lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
  stamp_write venv "$digest"
}

# --- front-end assets ------------------------------------------------------------------------

ensure_assets() {
  local digest
  digest="$(cd "$ROOT/frontend" && cat package.json package-lock.json build.mjs && find src -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)"
  digest="$(printf '%s' "$digest" | sha256sum | cut -d' ' -f1)"
  if [ -d "$ROOT/frontend/build" ] && stamp_matches assets "$digest"; then return 0; fi
  say "Installing and building front-end assets (npm)"
  (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  stamp_write assets "$digest"
  rm -f "$LOCAL/collectstatic.stamp"
}

# The OpenID Connect provider the single sign-on tests start (tests/oidc_provider, npm).
ensure_test_oidc_provider() {
  local digest
  digest="$(cd "$ROOT/tests/oidc_provider" && cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
  if [ -d "$ROOT/tests/oidc_provider/node_modules" ] && stamp_matches oidc-provider "$digest"; then return 0; fi
  say "Installing the test OpenID Connect provider (npm)"
  (cd "$ROOT/tests/oidc_provider" && npm ci --no-audit --no-fund --loglevel=error)
  stamp_write oidc-provider "$digest"
}

# --- configuration ---------------------------------------------------------------------------

ensure_secret_key() {
  if [ -n "${SECRET_KEY:-}" ] || [ -n "${SECRET_KEY_FILE:-}" ]; then return 0; fi
  if [ ! -s "$LOCAL/secret-key" ]; then
    (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$LOCAL/secret-key")
  fi
  export SECRET_KEY_FILE="$LOCAL/secret-key"
}

# --- database --------------------------------------------------------------------------------

# Start the local cluster if it exists but is down; create one if there is none. A running
# server is never stopped, restarted or reconfigured.
ensure_local_cluster() {
  local major line
  major="$(postgres_major)"
  line="$(pg_lsclusters -h | awk -v m="$major" '$1 == m {print; exit}')"
  if [ -z "$line" ]; then
    say "Creating a PostgreSQL $major cluster"
    as_root pg_createcluster "$major" main --start
  elif ! printf '%s' "$line" | grep -q online; then
    say "Starting PostgreSQL $major"
    as_root pg_ctlcluster --skip-systemctl-redirect "$major" "$(printf '%s' "$line" | awk '{print $2}')" start
  fi
}

local_port() { pg_lsclusters -h | awk -v m="$(postgres_major)" '$1 == m && /online/ {print $3; exit}'; }

admin_psql() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$(local_port)" "$@"; }

# Provision the application's role (not a superuser) and database; PostGIS is created through
# the administrative connection, since it is not a trusted extension.
ensure_local_database() {
  ensure_local_cluster
  local port password url
  port="$(local_port)"
  [ -s "$LOCAL/db-password" ] || (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))' > "$LOCAL/db-password")
  password="$(cat "$LOCAL/db-password")"
  url="postgres://$DB_ROLE:$password@127.0.0.1:$port/$DB_NAME"
  if ! PGPASSWORD="$password" psql -X -q -h 127.0.0.1 -p "$port" -U "$DB_ROLE" -d "$DB_NAME" \
      -c "SELECT postgis_version()" >/dev/null 2>&1; then
    say "Provisioning database $DB_NAME and role $DB_ROLE"
    admin_psql -d postgres -v role="$DB_ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER PASSWORD %L', :'role', :'password') \gexec
SQL
    create_database "$DB_NAME"
  fi
  export DATABASE_URL="$url"
}

# Create database $1 owned by the application role, with PostGIS, if it does not exist.
create_database() {
  admin_psql -d postgres -v db="$1" -v role="$DB_ROLE" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  admin_psql -d "$1" -c "CREATE EXTENSION IF NOT EXISTS postgis"
}

# A fresh, empty test database (with PostGIS) for the test run.
recreate_test_database() {
  admin_psql -d postgres -v db="$1" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
  create_database "$1"
}

# What template database $1 was built from (its comment); empty when it has none or is missing.
template_digest() {
  admin_psql -d postgres -At -v db="$1" <<'SQL'
SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :'db'
SQL
}

# Mark database $1 as a finished template built from $2, and close it to connections: CREATE
# DATABASE ... TEMPLATE fails while any other session is connected to the template.
template_seal() {
  admin_psql -d postgres -v db="$1" -v digest="$2" <<'SQL'
SELECT format('COMMENT ON DATABASE %I IS %L', :'db', :'digest') \gexec
SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS false', :'db') \gexec
SQL
}

# Replace database $1 with a copy of template database $2, owned by the application role.
database_copy() {
  admin_psql -d postgres -v db="$1" -v template="$2" -v role="$DB_ROLE" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SELECT format('CREATE DATABASE %I TEMPLATE %I OWNER %I', :'db', :'template', :'role') \gexec
SQL
}

ensure_database() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "Using the database in DATABASE_URL"
  else
    ensure_local_database
  fi
}

# --- the application -------------------------------------------------------------------------

infraplan() { "$VENV/bin/infraplan" "$@"; }

ensure_static() {
  local digest
  # The built assets, the apps' own static files (the administration's stylesheet) and the
  # installed packages' (Django's admin): a change to any is collected again.
  digest="$(stamp_path_digest "$ROOT/frontend/build")$(stamp_path_digest "$ROOT/infraplan" -path '*/static/*')$(cat "$LOCAL/venv.stamp")"
  if [ -d "$ROOT/staticfiles" ] && stamp_matches collectstatic "$digest"; then return 0; fi
  say "Collecting static files"
  infraplan collectstatic --noinput -v 0
  stamp_write collectstatic "$digest"
}

# A digest of the files under folder $1 (those matching the find tests after it, if any).
stamp_path_digest() {
  local folder="$1"
  shift
  find "$folder" "$@" -type f -printf '%P %s %T@\n' | sort | sha256sum | cut -d' ' -f1
}

setup() {
  local mode="$1"
  ensure_system_packages "$mode"
  ensure_venv
  ensure_assets
  if [ "$mode" = test ]; then ensure_test_oidc_provider; fi
  ensure_secret_key
  ensure_database
}
