#!/usr/bin/env bash
# Load run on loopback (not run by CI): 16 concurrent wrk clients for 60 s of alternating generate and
# caption requests against a fresh motiongpt-server, with the server's resident memory before, during and
# after; then a second run interrupted by SIGTERM: requests in flight when the signal arrives must finish
# with 200 (that run's queue holds every client, so none is refused) and the server must exit 0.
#   Tools/load_test.sh [SECONDS] [CLIENTS] [MAX_QUEUE]      # defaults 60 16 8
# Needs: wrk (Debian), python3, curl. Uses the debug build unless CONFIG=release.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${1:-60}; clients=${2:-16}; queue=${3:-8}
scratch=${SCRATCH:-.build-server}; config=${CONFIG:-debug}
swift build --scratch-path "$scratch" -c "$config" --product motiongpt-server >/dev/null
bin="$scratch/$config/motiongpt-server"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() {
  port=$(free_port); log=$(mktemp)
  "$bin" --port "$port" --max-queue "$queue" --log-level warning >"$log" 2>&1 & server=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.5; done
  echo "server did not start"; cat "$log"; exit 1
}
body=$(mktemp)
trap 'kill $server 2>/dev/null || true; rm -f "$body"' EXIT

echo "== load: $clients clients, ${duration}s, generate/caption alternating, --max-queue $queue ($config build) =="
start
# The caption body: a motion this server generated, as joints.
curl -sf -X POST "http://127.0.0.1:$port/v1/generate" -H 'Content-Type: application/json' \
  -d '{"text": "a person walks forward", "seconds": 3, "seed": 1, "codes": false}' \
  | python3 -c 'import json, sys; m = json.load(sys.stdin)["motion"]; print(json.dumps({"motion": {"joints": m["joints"]}, "max_tokens": 24}))' >"$body"
rss_start=$(rss "$server")
( sleep $((duration / 6)); echo "rss_warm_kb=$(rss "$server") (after $((duration / 6)) s of load)" ) & sampler=$!
CAPTION_BODY=$body wrk -t 4 -c "$clients" -d "${duration}s" --timeout 120s --latency -s Tools/load_test.lua "http://127.0.0.1:$port/" | tee /tmp/load_wrk.txt | grep -E "LOADRESULT|Requests/sec"
wait "$sampler"
rss_end=$(rss "$server")
echo "rss_start_kb=$rss_start rss_end_kb=$rss_end change=$(python3 -c "print(f'{($rss_end - $rss_start) / $rss_start * 100:+.1f}%')")"
curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^motiongpt_(requests_total\{route="/v1/(generate|caption)"|queue_rejected_total|queue_depth)' || true
kill -TERM "$server"; wait "$server" || true

# A queue deep enough for every client here, so each request in flight at the signal is real model work.
echo "== SIGTERM mid-load (--max-queue 64) =="
queue=64
start
probe=$(mktemp)
CAPTION_BODY=$body wrk -t 4 -c "$clients" -d 20s --timeout 120s -s Tools/load_test.lua "http://127.0.0.1:$port/" >/tmp/load_wrk_term.txt 2>&1 & load=$!
sleep 5
# Four requests that are surely in flight when the signal comes: sent now, answered after it.
python3 - "$port" >"$probe" <<'PY' & prober=$!
import http.client, json, sys, threading, time
port = int(sys.argv[1])
out = []
def one(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.time()
    try:
        c.request("POST", "/v1/generate", json.dumps({"text": "a person jumps", "max_tokens": 64, "seed": i}), {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        out.append((r.status, time.time() - t))
    except Exception as e:
        out.append((repr(e), time.time() - t))
ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(out))
PY
sleep 0.3
kill -TERM "$server"
t0=$(date +%s.%N)
set +e; wait "$server"; code=$?; set -e
t1=$(date +%s.%N)
wait "$prober" || true
wait "$load" || true
echo "server exit status after SIGTERM: $code (drained in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s)"
echo "in-flight probe requests (status, seconds): $(cat "$probe")"
grep LOADRESULT /tmp/load_wrk_term.txt || tail -5 /tmp/load_wrk_term.txt
grep -iE "error|warning" "$log" | head -5 || true
