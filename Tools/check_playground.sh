#!/usr/bin/env bash
# Browser check of the playground (not run by CI): builds and starts motiongpt-server on a free
# loopback port, drives headless Chromium (Debian's `chromium`) through its DevTools protocol to type a
# prompt, click Generate and wait until the viewer has played frames of the answer, saves a screenshot
# and fails on any console error, uncaught exception or failed request.
#   Tools/check_playground.sh [OUT.png]        # default: /tmp/playground.png
# Needs: chromium, python3 with `websockets` (PYTHON=/work/venv/bin/python by default).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-/tmp/playground.png}
scratch=${SCRATCH:-.build-server}
python=${PYTHON:-/work/venv/bin/python}
swift build --scratch-path "$scratch" --product motiongpt-server >/dev/null
bin="$scratch/debug/motiongpt-server"
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cdp=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp); profile=$(mktemp -d)
"$bin" --port "$port" >"$log" 2>&1 & server=$!
chromium --headless=new --no-sandbox --disable-gpu --remote-debugging-port="$cdp" --user-data-dir="$profile" --window-size=1280,800 about:blank >/dev/null 2>&1 & browser=$!
cleanup() { kill "$browser" 2>/dev/null || true; kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$profile"; }
trap cleanup EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "server did not start:"; cat "$log"; exit 1; }
"$python" Tools/check_playground.py --url "http://127.0.0.1:$port/" --cdp "$cdp" --prompt "a person walks forward and waves" --screenshot "$out"
