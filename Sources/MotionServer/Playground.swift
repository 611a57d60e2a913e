import MotionRender

/// The playground: one page, no network but its own server, the HTML viewer's code for the 3D view.
/// It generates with progress (server-sent events read from `fetch`), plays the answer, captions an
/// uploaded BVH, offers BVH / GIF / JSON downloads and keeps the last few results. Part regeneration
/// is shown only when the server has a Large Motion Model (`partEditing`).
enum Playground {
    static func page(partEditing: Bool, keyRequired: Bool) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>MotionGPT playground</title><link rel="icon" href="data:,">
        <style>
        body{margin:0;font:14px sans-serif;background:#fafaf7;color:#222;display:grid;grid-template-columns:340px 1fr;height:100vh}
        #side{padding:12px;overflow:auto;border-right:1px solid #ddd;display:flex;flex-direction:column;gap:10px}
        #main{display:flex;flex-direction:column;min-width:0}
        #bar{padding:8px;display:flex;gap:8px;align-items:center}
        canvas{display:block;width:100%;flex:1;min-height:0;cursor:grab}
        input[type=range]{flex:1} textarea{width:100%;box-sizing:border-box;font:inherit}
        fieldset{border:1px solid #ccc;border-radius:6px} label{display:inline-block;margin:2px 6px 2px 0}
        progress{width:100%} #status{min-height:1.2em;color:#555} #status.error{color:#b00020}
        #history li{cursor:pointer;margin:3px 0} #history li:hover{text-decoration:underline}
        button{padding:4px 10px}
        </style></head>
        <body>
        <div id="side">
          <h2 style="margin:0">MotionGPT</h2>
          \(keyRequired ? #"<label>API key <input id="key" type="password" autocomplete="off"></label>"# : "")
          <fieldset><legend>Text to motion</legend>
            <textarea id="prompt" rows="3" placeholder="a person walks forward and waves"></textarea>
            <label>Seconds <input id="seconds" type="number" min="0.5" max="10" step="0.5" value="4" style="width:5em"></label>
            <label>Seed <input id="seed" type="number" min="0" step="1" value="0" style="width:6em"></label>
            <div><button id="generate">Generate</button> <button id="stop" disabled>Stop</button></div>
            <progress id="progress" max="1" value="0"></progress>
          </fieldset>
          <fieldset><legend>Caption a BVH</legend>
            <input id="bvhfile" type="file" accept=".bvh">
            <button id="caption">Caption</button>
            <div id="captionText"></div>
          </fieldset>
          \(partEditing ? Self.partsSection : "")
          <fieldset><legend>Download</legend>
            <button id="dlbvh" disabled>BVH</button> <button id="dlgif" disabled>GIF</button> <button id="dljson" disabled>JSON</button>
          </fieldset>
          <div id="status"></div>
          <fieldset><legend>Last results</legend><ol id="history"></ol></fieldset>
        </div>
        <div id="main">
          <div id="bar"><button id="play">Pause</button><input id="slider" type="range" min="0" value="0"><span id="count"></span></div>
          <canvas id="view"></canvas>
        </div>
        <script>
        "use strict";
        \(HTMLViewer.viewerScript)
        const $ = id => document.getElementById(id);
        const viewer = MotionViewer($("view"), $("slider"), $("count"), $("play"));
        const state = { results: [], current: null, generated: 0, errors: [] };
        window.playground = { state, viewer };
        function headers() {
          const h = { "Content-Type": "application/json" };
          const k = $("key"); if (k && k.value) h["Authorization"] = "Bearer " + k.value;
          return h;
        }
        function status(text, isError) { const s = $("status"); s.textContent = text; s.className = isError ? "error" : ""; if (isError) state.errors.push(text); }
        function viewerData(m, title) {
          return { title, fps: m.fps, sides: m.sides, head: m.joint_names.indexOf("head"),
                   bones: m.parents.map((p, j) => [p, j]).filter(b => b[0] >= 0),
                   frames: m.joints.map(f => f.flatMap(p => p.map(v => Math.round(v * 1000)))) };
        }
        function show(result) {
          state.current = result;
          viewer.show(viewerData(result.motion, result.text));
          for (const id of ["dlbvh", "dlgif", "dljson"]) $(id).disabled = false;
        }
        function remember(result) {
          state.results.unshift(result); state.results = state.results.slice(0, 5);
          const list = $("history"); list.innerHTML = "";
          state.results.forEach(r => {
            const li = document.createElement("li");
            li.textContent = r.text + " (seed " + r.sampler.seed + ", " + r.motion.frames + " frames)";
            li.onclick = () => show(r);
            list.appendChild(li);
          });
        }
        let controller = null;
        async function generate() {
          const text = $("prompt").value.trim();
          if (!text) { status("type what the person does first", true); return; }
          const body = { text, seed: Number($("seed").value) || 0, bvh: true, gif: true, stream: true };
          const seconds = Number($("seconds").value); if (seconds > 0) body.seconds = seconds;
          controller = new AbortController();
          $("generate").disabled = true; $("stop").disabled = false; $("progress").value = 0; status("generating...");
          try {
            const r = await fetch("/v1/generate", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
            if (!r.ok) { const e = await r.json().catch(() => ({ error: r.statusText })); status(r.status + ": " + e.error, true); return; }
            const reader = r.body.getReader(), decoder = new TextDecoder();
            let buffer = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buffer += decoder.decode(value, { stream: true });
              let cut;
              while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
                const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
                const event = (block.match(/^event: (.*)$/m) || [])[1], data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
                if (event === "progress") { $("progress").max = data.max_tokens; $("progress").value = data.step; }
                else if (event === "result") { $("progress").value = $("progress").max; state.generated++; show(data); remember(data); status("generated " + data.motion.frames + " frames (" + data.tokens + " tokens)"); }
                else if (event === "error") status(data.status + ": " + data.error, true);
              }
            }
          } catch (e) {
            if (e.name === "AbortError") status("stopped"); else status(String(e), true);
          } finally {
            $("generate").disabled = false; $("stop").disabled = true; controller = null;
          }
        }
        async function caption() {
          const f = $("bvhfile").files[0];
          if (!f) { status("choose a .bvh file first", true); return; }
          status("captioning...");
          const r = await fetch("/v1/caption", { method: "POST", headers: headers(), body: JSON.stringify({ motion: { bvh: await f.text() } }) });
          const o = await r.json();
          if (!r.ok) { status(r.status + ": " + o.error, true); return; }
          $("captionText").textContent = o.text || "(no caption)"; status("captioned " + f.name);
        }
        function download(name, blob) {
          const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = name; a.click();
          setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        }
        $("generate").onclick = generate;
        $("stop").onclick = () => { if (controller) controller.abort(); };
        $("caption").onclick = caption;
        $("dlbvh").onclick = () => download("motion.bvh", new Blob([state.current.motion.bvh], { type: "text/plain" }));
        $("dlgif").onclick = () => download("motion.gif", new Blob([Uint8Array.from(atob(state.current.motion.gif), c => c.charCodeAt(0))], { type: "image/gif" }));
        $("dljson").onclick = () => {
          const m = state.current.motion;
          download("motion.json", new Blob([JSON.stringify({ fps: m.fps, skeleton: m.skeleton, joints: m.joints })], { type: "application/json" }));
        };
        \(partEditing ? Self.partsScript : "")
        </script></body></html>

        """
    }

    static let partsSection = """
    <fieldset id="parts"><legend>Regenerate body parts</legend>
      <label><input type="checkbox" value="larm">left arm</label><label><input type="checkbox" value="rarm">right arm</label>
      <label><input type="checkbox" value="lleg">left leg</label><label><input type="checkbox" value="rleg">right leg</label>
      <label><input type="checkbox" value="head">head</label><label><input type="checkbox" value="upper">upper body</label>
      <input id="partText" placeholder="waves both hands"><button id="edit">Regenerate</button>
    </fieldset>
    """

    static let partsScript = """
    $("edit").onclick = async () => {
      if (!state.current) { status("generate a motion first", true); return; }
      const parts = [...document.querySelectorAll("#parts input:checked")].map(i => i.value);
      const m = state.current.motion;
      const r = await fetch("/v1/edit", { method: "POST", headers: headers(), body: JSON.stringify({ motion: { joints: m.joints }, parts, text: $("partText").value }) });
      const o = await r.json();
      if (!r.ok) { status(r.status + ": " + o.error, true); return; }
      show(Object.assign({ text: $("partText").value, sampler: { seed: 0 } }, o)); remember(state.current);
    };
    """
}
