#!/usr/bin/env bash
# JSON-RPC load test: infra-node vs anvil, and the node's RPC gateway on vs off.
#
#   scripts/load.sh                     # 10 s per run
#   DURATION=30 scripts/load.sh         # 30 s per run
#
# Starts, on loopback:
#   anvil      the pinned @foundry-rs/anvil npm package (tests/wallets/node_modules),
#              --chain-id 13370, the default dev mnemonic
#   node       infra-node --dev, gateway off (no API keys, no rate limits)
#   node+gw    infra-node --dev --rpc.api-keys --rpc.key-rps 1000000 --rpc.ip-rps 1000000,
#              load sent to /v1/<key> (a key made with admin_createKey)
# populates all three with the same signed transactions (scripts/load/populate.mjs:
# TestToken + 300 transfers to 30 recipients, ~301 Transfer logs), checks that
# every server answers every request body with a result (and the same number of
# logs / the same eth_call result), then runs wrk (scripts/load/rpc.lua) per
# method and server:
#   eth_getBalance  dev account 0 at latest
#   eth_call        TestToken.balanceOf(recipient 0) at latest
#   eth_getLogs     the token's Transfer topic over each server's populated block range
# and prints a markdown table (req/s, p50, p99) plus the ratios node/anvil and
# gateway-on/gateway-off; the report is also written to $LOAD_REPORT.
# Any error body, non-2xx response or socket error in a run makes the script
# exit 1 (after the report, with the run marked FAIL).
#
# Env:
#   DURATION      seconds (or a wrk duration such as 30s) per measured run (default 10)
#   WARMUP        unmeasured wrk run before each measured one (default 2s; 0: none)
#   THREADS CONNS wrk -t / -c (default 2 / 16)
#   BASE_PORT     anvil on it, node on +10, node+gw on +20 (each node also uses
#                 port+1 for its embedded L1 and port+2 for p2p) (default 18600)
#   LOAD_REPORT   report file (default /tmp/infra-load-report.md)
#   INFRA_NODE_BIN  (default $HOME/.cache/infra-node/target/release/infra-node)
#   ANVIL_BIN     (default: the binary of the pinned npm package)
#   KEEP_WORK=1   keep the work directory (server logs, wrk outputs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LUA="$ROOT/scripts/load/rpc.lua"
POPULATE="$ROOT/scripts/load/populate.mjs"
NODE_BIN=${INFRA_NODE_BIN:-$HOME/.cache/infra-node/target/release/infra-node}
DURATION=${DURATION:-10}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
WARMUP=${WARMUP:-2s}
[[ $WARMUP =~ ^[0-9]+$ && $WARMUP != 0 ]] && WARMUP="${WARMUP}s"
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
BASE_PORT=${BASE_PORT:-18600}
REPORT=${LOAD_REPORT:-/tmp/infra-load-report.md}
CHAIN_ID=13370
BLOCK_TIME_MS=250
MNEMONIC='test test test test test test test test test test test junk'
DEV_ACCOUNT=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

die() { echo "load.sh: FAIL: $*" >&2; exit 1; }
log() { echo "[load] $*" >&2; }

# The nodes read INFRA_* variables as flags; start them from a clean slate.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^INFRA_' || true)

if [[ -z ${ANVIL_BIN:-} ]]; then
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  ANVIL_BIN="$ROOT/tests/wallets/node_modules/@foundry-rs/anvil-linux-$arch/bin/anvil"
  [[ -x $ANVIL_BIN ]] || ANVIL_BIN="$ROOT/tests/wallets/node_modules/.bin/anvil"
fi

# ---- prerequisites ----
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
for tool in wrk curl jq node awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -x $ANVIL_BIN ]] || die "anvil not found at $ANVIL_BIN (run npm ci in tests/wallets)"
[[ -x $NODE_BIN ]] || die "infra-node not found at $NODE_BIN (cargo build --release)"
[[ -f $ROOT/tests/wallets/node_modules/ethers/lib.esm/index.js ]] || die "ethers not installed (npm ci in tests/wallets)"

ANVIL_PORT=$BASE_PORT
NODE_PORT=$((BASE_PORT + 10))
GW_PORT=$((BASE_PORT + 20))
for p in $ANVIL_PORT $NODE_PORT $((NODE_PORT + 1)) $((NODE_PORT + 2)) $GW_PORT $((GW_PORT + 1)) $((GW_PORT + 2)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use (set BASE_PORT)"; fi
done

WORK=$(mktemp -d /tmp/infra-load.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then
    echo "[load] logs and wrk outputs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rpc() { # url method params-json -> whole response body
  curl -sS --max-time 30 -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1"
}

wait_rpc() { # name url pid log
  local i
  for i in $(seq 1 300); do
    kill -0 "$3" 2>/dev/null || { tail -30 "$4" >&2; die "$1 exited during startup (log: $4)"; }
    if rpc "$2" eth_chainId 2>/dev/null | jq -e '.result' >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  tail -30 "$4" >&2
  die "$1 did not answer eth_chainId on $2 within 60 s"
}

start_node() { # name port extra-args... ; sets STARTED_PID
  local name=$1 port=$2
  shift 2
  "$NODE_BIN" --dev --rpc.port "$port" --sequencer.block-time-ms "$BLOCK_TIME_MS" --p2p.disable "$@" \
    >"$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  local i
  for i in $(seq 1 600); do
    kill -0 "$STARTED_PID" 2>/dev/null || { tail -30 "$WORK/$name.log" >&2; die "$name exited during startup"; }
    grep -q '^Listening on ' "$WORK/$name.log" && return 0
    sleep 0.2
  done
  tail -30 "$WORK/$name.log" >&2
  die "$name did not print 'Listening on' within 120 s"
}

# ---- servers ----
log "starting anvil on $ANVIL_PORT"
"$ANVIL_BIN" --chain-id "$CHAIN_ID" --port "$ANVIL_PORT" --silent --mnemonic "$MNEMONIC" >"$WORK/anvil.log" 2>&1 &
ANVIL_PID=$!
PIDS+=("$ANVIL_PID")

log "starting infra-node (gateway off) on $NODE_PORT"
start_node node "$NODE_PORT"
NODE_PID=$STARTED_PID
log "starting infra-node (gateway on) on $GW_PORT"
start_node node-gw "$GW_PORT" --rpc.api-keys --rpc.key-rps 1000000 --rpc.ip-rps 1000000
GW_PID=$STARTED_PID

ANVIL_URL="http://127.0.0.1:$ANVIL_PORT"
NODE_URL="http://127.0.0.1:$NODE_PORT"
wait_rpc anvil "$ANVIL_URL" "$ANVIL_PID" "$WORK/anvil.log"
wait_rpc node "$NODE_URL" "$NODE_PID" "$WORK/node.log"

# node+gw: without a key it must refuse; admin_createKey is served on loopback.
GW_ROOT="http://127.0.0.1:$GW_PORT"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$GW_ROOT/")
[[ $status == 401 ]] || die "node+gw: eth_chainId without a key answered HTTP $status, expected 401 (is --rpc.api-keys on?)"
KEY=$(rpc "$GW_ROOT/" admin_createKey '[{"project":"load"}]' | jq -er '.result.key') ||
  die "node+gw: admin_createKey failed: $(rpc "$GW_ROOT/" admin_createKey '[{"project":"load"}]')"
GW_URL="$GW_ROOT/v1/$KEY"
wait_rpc node+gw "$GW_URL" "$GW_PID" "$WORK/node-gw.log"

SERVERS=(anvil node node+gw)
declare -A URL=([anvil]=$ANVIL_URL [node]=$NODE_URL [node+gw]=$GW_URL)
for s in "${SERVERS[@]}"; do
  cid=$(rpc "${URL[$s]}" eth_chainId | jq -r '.result')
  [[ $((cid)) == "$CHAIN_ID" ]] || die "$s: chain id $cid, expected $CHAIN_ID"
done

# ---- the same chain data everywhere ----
log "populating (same signed transactions on all three)"
node "$POPULATE" "$ANVIL_URL" "$NODE_URL" "$GW_URL" >"$WORK/populated.json" || die "populate.mjs failed"
POP=$(cat "$WORK/populated.json")
TOKEN=$(jq -r '.token' <<<"$POP")
TOPIC=$(jq -r '.transferTopic' <<<"$POP")
NLOGS=$(jq -r '.logs' <<<"$POP")
RECIPIENT=$(jq -r '.recipients[0]' <<<"$POP")
log "token $TOKEN, $NLOGS Transfer logs"

declare -A FROM TO BLOCKS
for i in 0 1 2; do
  s=${SERVERS[$i]}
  FROM[$s]=$(jq -r ".servers[$i].fromBlockHex" <<<"$POP")
  TO[$s]=$(jq -r ".servers[$i].toBlockHex" <<<"$POP")
  BLOCKS[$s]=$(jq -r ".servers[$i] | \"\(.fromBlock)..\(.toBlock) (\(.toBlock - .fromBlock + 1) blocks, \(.blocksWithTxs) with txs)\"" <<<"$POP")
done

METHODS=(eth_getBalance eth_call eth_getLogs)
balance_of_data="0x70a08231000000000000000000000000${RECIPIENT#0x}"
body() { # method server
  case $1 in
    eth_getBalance) echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBalance\",\"params\":[\"$DEV_ACCOUNT\",\"latest\"]}" ;;
    eth_call) echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"to\":\"$TOKEN\",\"data\":\"${balance_of_data,,}\"},\"latest\"]}" ;;
    eth_getLogs) echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getLogs\",\"params\":[{\"address\":\"$TOKEN\",\"topics\":[\"$TOPIC\"],\"fromBlock\":\"${FROM[$2]}\",\"toBlock\":\"${TO[$2]}\"}]}" ;;
  esac
}

# ---- every body answers with a result, and the same data, everywhere ----
declare -A CALL_RESULT
for m in "${METHODS[@]}"; do
  for s in "${SERVERS[@]}"; do
    out=$(curl -sS --max-time 30 -w '\n%{http_code}' -H 'content-type: application/json' --data "$(body "$m" "$s")" "${URL[$s]}")
    code=${out##*$'\n'}
    resp=${out%$'\n'*}
    [[ $code == 2?? ]] || die "$s $m: HTTP $code: ${resp:0:300}"
    jq -e 'has("result") and (.result != null) and (has("error") | not)' >/dev/null <<<"$resp" ||
      die "$s $m: no result: ${resp:0:300}"
    case $m in
      eth_getLogs)
        n=$(jq '.result | length' <<<"$resp")
        [[ $n == "$NLOGS" ]] || die "$s eth_getLogs: $n logs, expected $NLOGS (same chain data on all servers)"
        ;;
      eth_call) CALL_RESULT[$s]=$(jq -r '.result' <<<"$resp") ;;
    esac
  done
done
for s in "${SERVERS[@]}"; do
  [[ ${CALL_RESULT[$s]} == "${CALL_RESULT[anvil]}" ]] ||
    die "eth_call balanceOf differs: $s ${CALL_RESULT[$s]} vs anvil ${CALL_RESULT[anvil]}"
done
log "checked: every server answers every body with a result; $NLOGS logs and balanceOf=${CALL_RESULT[anvil]} everywhere"

# ---- load ----
to_ms() { # wrk time (123.45us, 1.23ms, 1.02s, 1.00m) -> ms
  awk -v v="$1" 'BEGIN {
    if (!match(v, /^[0-9.]+/)) { print "nan"; exit }
    n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000
    printf "%.3f", n }'
}

declare -A RPS P50 P99 STATUS
FAILED=0
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for m in "${METHODS[@]}"; do
  for s in "${SERVERS[@]}"; do
    b=$(body "$m" "$s")
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
      BODY=$b wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$LUA" "${URL[$s]}" >/dev/null 2>&1 || true
    fi
    f="$WORK/wrk-$m-$s.txt"
    log "wrk $m on $s ($DURATION)"
    BODY=$b wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$LUA" "${URL[$s]}" >"$f" 2>&1 ||
      { cat "$f" >&2; die "wrk failed for $m on $s"; }
    RPS[$m,$s]=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
    P50[$m,$s]=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$f")")
    P99[$m,$s]=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$f")")
    errs=$(awk -F= '/^errors=/ { print $2 }' "$f")
    non2xx=$(awk -F= '/^non2xx=/ { print $2 }' "$f")
    sock=$(awk -F= '/^socket_errors=/ { print $2 }' "$f")
    resps=$(awk -F= '/^responses=/ { print $2 }' "$f")
    STATUS[$m,$s]=ok
    if [[ -z ${RPS[$m,$s]} || -z $errs || -z $resps ]]; then
      STATUS[$m,$s]="FAIL (unparsable wrk output)"
    elif [[ $errs != 0 || $non2xx != 0 || $sock != 0 || $resps == 0 ]] || grep -q 'Non-2xx' "$f"; then
      STATUS[$m,$s]="FAIL (error bodies $errs, non-2xx $non2xx, socket errors $sock, responses $resps)"
    fi
    if [[ ${STATUS[$m,$s]} != ok ]]; then
      FAILED=1
      echo "load.sh: FAIL: $m on $s: ${STATUS[$m,$s]}" >&2
      grep -E '^first_error=|Non-2xx|Socket errors' "$f" >&2 || true
    fi
  done
done

# ---- report ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
anvil_version=$("$ANVIL_BIN" --version 2>/dev/null | head -1 || echo unknown)
node_version=$("$NODE_BIN" --version 2>/dev/null | head -1 || echo unknown)
git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || git_rev="$git_rev (dirty tree)"

{
  echo "# JSON-RPC load test: infra-node vs anvil"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); git: $git_rev"
  echo "- machine: $(nproc) CPUs ($cpu_model), $mem; load average (1/5/15 min) before the runs: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- infra-node: $node_version ($NODE_BIN, \`--dev --sequencer.block-time-ms $BLOCK_TIME_MS --p2p.disable\`)"
  echo "- anvil: $anvil_version (\`--chain-id $CHAIN_ID --silent\`, automine)"
  echo "- wrk: $(wrk --version 2>&1 | head -1 | awk '{ print $1, $2 }'), \`-t$THREADS -c$CONNS -d$DURATION --latency\` (warm-up $WARMUP unmeasured), same machine as the servers, loopback"
  echo "- node+gw: \`--rpc.api-keys --rpc.key-rps 1000000 --rpc.ip-rps 1000000\`, requests to \`/v1/<key>\`"
  echo "- data: TestToken $TOKEN + $(jq -r .transfers <<<"$POP") transfers to $(jq -r '.recipients | length' <<<"$POP") recipients = $NLOGS Transfer logs on every server"
  for s in "${SERVERS[@]}"; do echo "  - $s: blocks ${BLOCKS[$s]}"; done
  echo "- bodies: eth_getBalance($DEV_ACCOUNT, latest); eth_call(balanceOf($RECIPIENT), latest); eth_getLogs(token, Transfer topic, the populated block range: $NLOGS logs)"
  echo
  echo "| method | server | req/s | p50 (ms) | p99 (ms) | status |"
  echo "|---|---|---:|---:|---:|---|"
  for m in "${METHODS[@]}"; do
    for s in "${SERVERS[@]}"; do
      echo "| $m | $s | $(fmt "${RPS[$m,$s]:-0}" 0) | $(fmt "${P50[$m,$s]:-0}" 3) | $(fmt "${P99[$m,$s]:-0}" 3) | ${STATUS[$m,$s]} |"
    done
  done
  echo
  echo "Ratios (req/s: higher is better for the numerator; latency: lower is better for the numerator)"
  echo
  echo "| method | node/anvil req/s | node/anvil p50 | node/anvil p99 | gw-on/gw-off req/s | gw-on/gw-off p50 | gw-on/gw-off p99 |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for m in "${METHODS[@]}"; do
    echo "| $m | $(ratio "${RPS[$m,node]}" "${RPS[$m,anvil]}") | $(ratio "${P50[$m,node]}" "${P50[$m,anvil]}") | $(ratio "${P99[$m,node]}" "${P99[$m,anvil]}") | $(ratio "${RPS[$m,node+gw]}" "${RPS[$m,node]}") | $(ratio "${P50[$m,node+gw]}" "${P50[$m,node]}") | $(ratio "${P99[$m,node+gw]}" "${P99[$m,node]}") |"
  done
} >"$REPORT.tmp"
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"
echo
log "report written to $REPORT"
[[ $FAILED == 0 ]] || die "some runs had errors (see the status column; wrk outputs in $WORK)"
