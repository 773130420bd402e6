#!/usr/bin/env bash
# The end-to-end demo behind `make demo`: a private PostgreSQL under ./.trellis, the
# schema migrated, the example workflows and templates seeded and shown, a template
# instantiated and a grant made. It grows into running workflows with the engine.
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
step "trellis seed"
$trellis seed
step "trellis workflow list"
$trellis workflow list
step "trellis workflow show fan-out-fan-in"
$trellis workflow show fan-out-fan-in
step "trellis template instantiate approval-gate --workflow deploy-gate --param prompt='Deploy to production?' --param approvals=2"
$trellis template instantiate approval-gate --workflow deploy-gate --param "prompt=Deploy to production?" --param approvals=2
step "trellis principal create demo-reviewer; trellis grant approve deploy-gate demo-reviewer"
$trellis principal create demo-reviewer 2>/dev/null || echo "(demo-reviewer exists)"
$trellis grant approve deploy-gate demo-reviewer
$trellis grants deploy-gate
step "trellis workflow validate (a broken definition: every problem listed, exit 1)"
broken=$(mktemp --suffix=.json)
echo '{"name": "broken", "nodes": [{"key": "a", "kind": "tool_call"}, {"key": "b", "kind": "join"}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}' > "$broken"
$trellis workflow validate "$broken" || echo "(exit $?)"
rm -f "$broken"

cat <<EOT

The local cluster keeps running so you can explore:
  psql "\$($trellis db url)"
  $trellis migrate status
Stop it with: $trellis db stop
EOT
