#!/usr/bin/env bash
# Opens the HTML viewer of a motion in headless Chromium and fails on any JavaScript error.
#
# Needs Chromium (Debian: apt-get install -y chromium) and, unless given an .html file, a built motiongpt.
# Not part of CI (Chromium is large); run it after changing Sources/MotionRender/HTMLViewer.swift:
#   bash Tools/check_html_viewer.sh [motion file | page.html]   (default: the HumanML3D sample clip)
# MOTIONGPT_BIN=path/to/motiongpt picks the binary (default: the newer of .build/release and .build/debug).
# It renders the motion to HTML (or takes the given page), loads it with a 3-second virtual time budget,
# and reads the console messages Chromium logs; the check passes when the page's script ran (it sets the
# frame counter on its first draw) and no console message, uncaught exception or script error was logged.
# Exit status: 0 passed, 1 errors found, 2 cannot run (no Chromium, no binary).
set -euo pipefail
cd "$(dirname "$0")/.."
input="${1:-Data/humanml3d-sample/new_joints_012314.npy}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "check_html_viewer: no Chromium found (apt-get install -y chromium)"; exit 2; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [[ "$input" == *.html ]]; then
    cp "$input" "$work/viewer.html"
else
    bin="${MOTIONGPT_BIN:-$(ls -t .build/release/motiongpt .build/debug/motiongpt 2>/dev/null | head -1)}"   # given, or the newer build
    [ -n "$bin" ] && [ -x "$bin" ] || { echo "check_html_viewer: build motiongpt first (swift build)"; exit 2; }
    "$bin" render "$input" -o "$work/viewer.html" --title "viewer check" > /dev/null
fi
"$browser" --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --virtual-time-budget=3000 \
    --user-data-dir="$work/profile" --dump-dom "file://$work/viewer.html" > "$work/dom.html" 2> "$work/console.log" || true
# Chromium logs every console message of the page as "...:CONSOLE(line)] "text", source: ..." (level INFO
# for console.log, which the viewer never calls) and uncaught exceptions the same way.
if grep -E "CONSOLE|Uncaught|SyntaxError|ReferenceError|TypeError" "$work/console.log" > "$work/errors.txt"; then
    echo "check_html_viewer: console errors:"; cat "$work/errors.txt"; exit 1
fi
# The script fills the frame counter ("N / total") on its first draw; an empty counter means it never ran.
grep -Eq '<span id="count">[0-9]+ / [0-9]+</span>' "$work/dom.html" || { echo "check_html_viewer: the page's script did not run"; exit 1; }
echo "check_html_viewer: OK (the page drew frame $(grep -o '<span id="count">[^<]*' "$work/dom.html" | sed 's/.*>//'), no console errors)"
