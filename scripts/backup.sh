#!/usr/bin/env bash
# Back up Tool OCR: the MariaDB/MySQL database (mariadb-dump --single-transaction: a consistent
# snapshot while the app runs), then the files storage (MEDIA_ROOT; with FILE_STORAGE=s3 the files stay in
# the bucket, which is backed up there: docs/scaling.md), into one new folder:
#   database.sql.gz   files.tar.gz   SHA256SUMS   manifest.txt
# Usage: scripts/backup.sh DEST_FOLDER        (the settings come from .env or TOOL_OCR_ENV_FILE)
# Restore with scripts/restore.sh DEST_FOLDER. The database goes first: a file written after the
# dump is at worst an orphan after a restore (storage_report --fix removes it), never a row without a file,
# unless cleanup_tasks deleted files meanwhile (run backups away from its run; README "Backup and restore").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
dest=${1:?usage: scripts/backup.sh DEST_FOLDER}
mkdir -p "$dest"
[ -z "$(ls -A "$dest")" ] || { echo "backup: $dest is not empty; give a new folder" >&2; exit 2; }
# shellcheck disable=SC2046
eval "$("$PY" manage.py backup_settings)"   # DB_ENGINE DB_HOST DB_PORT DB_USER DB_NAME MEDIA (and MYSQL_PWD)
[ "$DB_ENGINE" = mysql ] || { echo "backup: this script backs up MariaDB/MySQL (DATABASE_URL=mysql://...)" >&2; exit 2; }
started=$(date +%s.%N)
mariadb-dump --single-transaction --quick --routines --triggers --hex-blob --default-character-set=utf8mb4 \
  --host="$DB_HOST" --port="$DB_PORT" --protocol=TCP --user="$DB_USER" "$DB_NAME" | gzip -c >"$dest/database.sql.gz"
if [ "$FILE_STORAGE" = s3 ]; then
  # The files live in a bucket: back it up there (versioning + replication or rclone/mc mirror, docs/scaling.md).
  files="bucket $BUCKET at $BUCKET_ENDPOINT (not in this folder: back the bucket up with versioning and replication)"
  (cd "$dest" && sha256sum database.sql.gz >SHA256SUMS)
  echo "backup: the files are in bucket $BUCKET, not in this folder: back it up there (docs/scaling.md)" >&2
else
  mkdir -p "$MEDIA"
  tar -C "$MEDIA" -czf "$dest/files.tar.gz" .
  files="$MEDIA"
  (cd "$dest" && sha256sum database.sql.gz files.tar.gz >SHA256SUMS)
fi
{
  echo "created: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "database: $DB_NAME on $DB_HOST:$DB_PORT"
  echo "files: $files"
  echo "migrations: $("$PY" manage.py showmigrations --plan | grep -c '\[X\]') applied"
} >"$dest/manifest.txt"
echo "backup: $dest ($(du -sh "$dest" | cut -f1)) in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $started}") s"
