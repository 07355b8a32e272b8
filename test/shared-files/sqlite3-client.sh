#!/usr/bin/env bash
# A foreign SQLite client: Debian's sqlite3 CLI, one process per open. Reads a tenant file, writes one
# tenant-owned role, now and then checkpoints, exits (closing the file); again and again over the files listed in $1.
# Prints one JSON line per committed row.
set -u
list=$1 iterations=$2 tag=$3 stamp=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
mapfile -t files < "$list"
count=${#files[@]}
for ((n = 0; n < iterations; n++)); do
  path=${files[$(( (n * 7 + 3) % count ))]}
  tenant=$(basename "$path" .sqlite)
  checkpoint=""
  if (( n % 11 == 0 )); then checkpoint="PRAGMA wal_checkpoint(PASSIVE);"; fi
  if sqlite3 -bail -cmd ".timeout 5000" "$path" \
    "SELECT count(*) FROM roles; $checkpoint SELECT cursor FROM tenantgate_sync WHERE id = 1; INSERT INTO roles (id, tenant_id, name, description, is_system, metadata, created_at, updated_at) VALUES ('own_${tag}_$n', '$tenant', 'own $tag $n', NULL, 0, NULL, '$stamp', '$stamp');" >/dev/null; then
    printf '{"id":"own_%s_%d","tenant_id":"%s","name":"own %s %d","description":null,"is_system":0,"metadata":null,"created_at":"%s","updated_at":"%s"}\n' "$tag" "$n" "$tenant" "$tag" "$n" "$stamp" "$stamp"
  fi
done
