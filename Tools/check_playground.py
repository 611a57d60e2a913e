"""Drives the playground in headless Chromium over the DevTools protocol (see check_playground.sh).

Types the prompt into the page's text box, clicks Generate with real mouse events, waits until a
result has arrived and the viewer has advanced frames, then saves a screenshot. Exits 1 on any
console error, uncaught exception, failed network request, or an error the page itself reported.
"""
import argparse, asyncio, base64, json, sys, time, urllib.request

import websockets


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.pending, self.problems = ws, 0, {}, []

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
                continue
            method, p = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                self.problems.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                self.problems.append("exception: %s" % d.get("exception", {}).get("description", d.get("text")))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                self.problems.append("log: %s %s" % (e.get("text"), e.get("url", "")))
            elif method == "Network.loadingFailed" and not p.get("canceled"):
                self.problems.append("request failed: %s" % p.get("errorText"))

    async def call(self, method, **params):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 60)
        if "error" in msg:
            raise RuntimeError("%s: %s" % (method, msg["error"]))
        return msg["result"]

    async def js(self, expression):
        r = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    async def click(self, selector):
        box = await self.js("(() => { const r = document.querySelector(%s).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


async def main(args):
    targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % args.cdp))
    ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    async with websockets.connect(ws_url, max_size=64 * 1024 * 1024) as ws:
        page = Page(ws)
        pump = asyncio.create_task(page.pump())
        for domain in ("Runtime", "Log", "Page", "Network"):
            await page.call(domain + ".enable")
        await page.call("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False)
        await page.call("Page.navigate", url=args.url)
        deadline = time.time() + 30
        while await page.js("document.readyState") != "complete" or not await page.js("!!window.playground"):
            if time.time() > deadline:
                raise SystemExit("the page did not load")
            await asyncio.sleep(0.2)
        await page.js("document.getElementById('prompt').focus()")
        await page.call("Input.insertText", text=args.prompt)
        typed = await page.js("document.getElementById('prompt').value")
        assert typed == args.prompt, "typed %r, the box holds %r" % (args.prompt, typed)
        started = time.time()
        await page.click("#generate")
        deadline = time.time() + args.timeout
        while True:
            st = await page.js("({generated: playground.state.generated, played: playground.viewer.played, frames: playground.viewer.frameCount,"
                               " errors: playground.state.errors, status: document.getElementById('status').textContent,"
                               " progress: document.getElementById('progress').value, history: document.querySelectorAll('#history li').length})")
            if st["errors"] or (st["generated"] >= 1 and st["played"] >= 20):
                break
            if time.time() > deadline:
                page.problems.append("timed out waiting for the viewer: %s" % st)
                break
            await asyncio.sleep(0.2)
        took = time.time() - started
        shot = await page.call("Page.captureScreenshot", format="png")
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        pump.cancel()
    problems = page.problems + ["page error: %s" % e for e in st["errors"]]
    print("generated %d result(s) in %.1f s; the viewer advanced %d frames of %d; status: %r; last results listed: %d; screenshot %s"
          % (st["generated"], took, st["played"], st["frames"], st["status"], st["history"], args.screenshot))
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print("OK: no console errors")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cdp", type=int, required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--timeout", type=float, default=90)
    sys.exit(asyncio.run(main(ap.parse_args())))
