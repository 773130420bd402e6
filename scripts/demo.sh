#!/usr/bin/env bash
# The end-to-end demo behind `make demo`: a private PostgreSQL under ./.trellis,
# the schema migrated, and its status shown. It grows with the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
trellis=".build/debug/trellis"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "trellis db start"
$trellis db start
step "trellis migrate up"
$trellis migrate up
step "trellis migrate status"
$trellis migrate status
step "trellis migrate verify"
$trellis migrate verify
step "tables in schema trellis"
psql "$($trellis db url)" -X -q -c "\\dt trellis.*"

cat <<EOT

The local cluster keeps running so you can explore:
  psql "\$($trellis db url)"
  $trellis migrate status
Stop it with: $trellis db stop
EOT
