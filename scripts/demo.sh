#!/usr/bin/env bash
# The end-to-end demo behind `make demo`: a private PostgreSQL under ./.trellis, the
# schema migrated, the example workflows and templates seeded and shown, a template
# instantiated and a grant made, two schedulers started, real runs executed and their
# history queried with SQL, and everything stopped cleanly.
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
step "two schedulers in the background: trellis scheduler --name demo-1 / demo-2 --allow-sql"
log_dir=$(mktemp -d)
$trellis scheduler --name demo-1 --concurrency 4 --allow-sql 2>"$log_dir/demo-1.log" &
s1=$!
$trellis scheduler --name demo-2 --concurrency 4 --allow-sql 2>"$log_dir/demo-2.log" &
s2=$!
trap 'kill -TERM $s1 $s2 2>/dev/null || true' EXIT

step "trellis run start fan-out-fan-in --input '{\"topic\": \"graph databases\"}' --wait"
$trellis run start fan-out-fan-in --input '{"topic": "graph databases"}' --wait
step "trellis run start condition-branch --input '{\"order\": \"A-17\", \"score\": 91}' --wait"
$trellis run start condition-branch --input '{"order": "A-17", "score": 91}' --wait
step "trellis run start parallel-items --input '{\"items\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}' --wait"
$trellis run start parallel-items --input '{"items": ["a", "b", "c", "d", "e"]}' --wait

step "a human gate: demo-requester starts human-approval, demo-reviewer approves it"
$trellis principal create demo-requester 2>/dev/null || true
$trellis grant run human-approval demo-requester >/dev/null
$trellis grant approve human-approval demo-reviewer >/dev/null
$trellis grant approve human-approval demo-requester >/dev/null
gated=$($trellis run start human-approval --input '{"version": "1.4", "notes": "faster claims"}' --as demo-requester | awk '{print $3}')
echo "started run $gated as demo-requester"
approval=""
for _ in $(seq 1 100); do
  approval=$($trellis approval list --run "$gated" | awk 'NR == 2 {print $1}')
  [ -n "$approval" ] && break
  sleep 0.1
done
$trellis approval list --run "$gated"
echo "\$ trellis approval approve $approval --as demo-requester   # self-approval is refused"
$trellis approval approve "$approval" --as demo-requester || true
echo "\$ trellis approval approve $approval --as demo-reviewer --comment 'ship it'"
$trellis approval approve "$approval" --as demo-reviewer --comment "ship it"
for _ in $(seq 1 100); do
  $trellis run show "$gated" | head -1 | grep -q succeeded && break
  sleep 0.1
done
$trellis run show "$gated"

step "more history: 6 linear-pipeline runs, 6 flaky-enrich runs (2 strict), one rejected approval"
for i in 1 2 3 4 5 6; do
  $trellis run start linear-pipeline --input "{\"record\": {\"id\": $i}, \"source\": \"demo\"}" >/dev/null
  strict=false; [ "$i" -gt 4 ] && strict=true
  $trellis run start flaky-enrich --input "{\"record\": {\"id\": $i}, \"strict\": $strict}" >/dev/null
done
rejected=$($trellis run start human-approval --input '{"version": "1.5", "notes": "risky"}' --as demo-requester | awk '{print $3}')
for _ in $(seq 1 100); do
  approval=$($trellis approval list --run "$rejected" | awk 'NR == 2 {print $1}')
  [ -n "$approval" ] && break
  sleep 0.1
done
$trellis approval reject "$approval" --as demo-reviewer --comment "not this week"
for _ in $(seq 1 300); do
  open=$(psql "$($trellis db url)" -X -tAq -c "SELECT count(*) FROM trellis.workflow_runs WHERE finished_at IS NULL")
  [ "$open" = "0" ] && break
  sleep 0.1
done

step "trellis history stats"
$trellis history stats
step "trellis history failures --limit 5"
$trellis history failures --limit 5
step "trellis history slowest --limit 3 --format csv"
$trellis history slowest --limit 3 --format csv
step "an analyst question in plain SQL (docs/history.md): which nodes needed retries?"
$trellis sql -- -X -q -c "SELECT workflow, node_key, count(*) FILTER (WHERE attempt > 1) AS retries,
  count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'lost')) AS failed_attempts
  FROM trellis.attempt_history GROUP BY 1, 2 HAVING count(*) FILTER (WHERE attempt > 1) > 0 ORDER BY 3 DESC"

step "the event log of the last approved run (SQL)"
psql "$($trellis db url)" -X -q -c "SELECT e.seq, e.type, e.data ->> 'node_key' AS node, e.data ->> 'status' AS status
  FROM trellis.run_events e WHERE e.run_id = '$gated' ORDER BY e.seq"
step "who ran what (SQL over node_attempts)"
psql "$($trellis db url)" -X -q -c "SELECT scheduler_name, outcome, count(*) FROM trellis.node_attempts GROUP BY 1, 2 ORDER BY 1, 2"

step "a workflow as an A2A agent: trellis relay, its agent card, a JSON-RPC SendMessage (docs/agents.md)"
if command -v curl >/dev/null; then
  $trellis relay --port 0 >"$log_dir/relay.out" 2>"$log_dir/relay.log" &
  relay=$!
  for _ in $(seq 1 100); do grep -q "relay listening" "$log_dir/relay.out" 2>/dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^relay listening on //p' "$log_dir/relay.out")
  token=$($trellis token create --principal admin --expires 1h --description demo | head -1)
  echo "\$ curl -H 'Authorization: Bearer …' $base/v1/a2a/fan-out-fan-in/.well-known/agent-card.json"
  curl -s -H "Authorization: Bearer $token" "$base/v1/a2a/fan-out-fan-in/.well-known/agent-card.json" \
    | python3 -c 'import json, sys; c = json.load(sys.stdin); print(json.dumps({k: c[k] for k in ("name", "description", "supportedInterfaces", "skills")}, indent=1))'
  echo "\$ curl -X POST … $base/v1/a2a/fan-out-fan-in   # SendMessage: a data part becomes the run's input"
  curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$base/v1/a2a/fan-out-fan-in" -d '{"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
    "params": {"message": {"messageId": "demo-'"$(date +%s)"'", "role": "ROLE_USER", "parts": [{"data": {"topic": "agents"}}]}}}' \
    | python3 -c 'import json, sys; t = json.load(sys.stdin)["result"]["task"]; print("task", t["id"], t["status"]["state"], "artifact:", json.dumps(t["artifacts"][0]["parts"][0]["data"])[:160], "…")'
  kill -TERM $relay; wait $relay || true
else
  echo "(curl is not installed: skipped)"
fi

step "stopping the schedulers (SIGTERM: finish in-flight work, deregister)"
kill -TERM $s1 $s2
wait $s1 $s2
trap - EXIT
cat "$log_dir/demo-1.log" "$log_dir/demo-2.log"
rm -rf "$log_dir"

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
