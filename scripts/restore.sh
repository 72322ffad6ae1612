#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the database and MEDIA_ROOT the settings name.
# The database must not exist or be empty, and MEDIA_ROOT must be empty or absent: a restore never
# mixes with live data. Stop the web server and the workers first; start them after (migrate is
# run here, so a backup of an older release is brought up to this code).
# Usage: scripts/restore.sh BACKUP_FOLDER
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
src=${1:?usage: scripts/restore.sh BACKUP_FOLDER}
(cd "$src" && sha256sum --quiet -c SHA256SUMS) || { echo "restore: checksums of $src do not match" >&2; exit 2; }
eval "$("$PY" manage.py backup_settings)"
[ "$DB_ENGINE" = mysql ] || { echo "restore: this script restores into MariaDB/MySQL" >&2; exit 2; }
started=$(date +%s.%N)
db=(--host="$DB_HOST" --port="$DB_PORT" --protocol=TCP --user="$DB_USER")
mariadb "${db[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
tables=$(mariadb "${db[@]}" -N -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB_NAME'")
[ "$tables" = 0 ] || { echo "restore: database $DB_NAME is not empty ($tables tables); drop it first" >&2; exit 2; }
if [ -f "$src/files.tar.gz" ]; then
  [ "$FILE_STORAGE" != s3 ] || { echo "restore: this backup has its files in a folder but FILE_STORAGE=s3: copy files.tar.gz into the bucket yourself, or restore with FILE_STORAGE=local" >&2; exit 2; }
  if [ -d "$MEDIA" ] && [ -n "$(ls -A "$MEDIA")" ]; then echo "restore: $MEDIA is not empty" >&2; exit 2; fi
elif [ "$FILE_STORAGE" != s3 ]; then
  echo "restore: $src has no files.tar.gz (its files were in a bucket): set FILE_STORAGE=s3 and the bucket first" >&2; exit 2
fi
gunzip -c "$src/database.sql.gz" | mariadb "${db[@]}" "$DB_NAME"
if [ -f "$src/files.tar.gz" ]; then
  mkdir -p "$MEDIA"
  tar -C "$MEDIA" -xzf "$src/files.tar.gz"
else
  MEDIA="bucket $BUCKET (files not restored here: restore the bucket from its own backup first)"
fi
"$PY" manage.py migrate --no-input -v0
echo "restore: $DB_NAME and $MEDIA from $src in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $started}") s"
