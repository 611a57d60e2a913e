import Foundation
import MotionData

/// A single self-contained HTML page that plays a motion in 3D: the motion embedded as JSON, a canvas
/// drawn by inline JavaScript (own projection, no library, no network), play/pause, a frame slider,
/// mouse-drag orbit and wheel zoom, floor grid, root path, title.
public enum HTMLViewer {
    /// `s` as HTML text or a double-quoted attribute value (`&`, `<`, `>`, `"` escaped).
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public static func page(_ motion: Motion, title: String) -> String {
        // Joint positions in millimetres as integers keep the page small and exact to 1 mm.
        let frames = motion.positions.map { "[" + $0.map { "\(Int(($0.x * 1000).rounded())),\(Int(($0.y * 1000).rounded())),\(Int(($0.z * 1000).rounded()))" }.joined(separator: ",") + "]" }
        let sides = sides(of: motion.skeleton)
        let bones = motion.skeleton.bones.map { "[\($0.0),\($0.1)]" }.joined(separator: ",")
        let safeTitle = escape(title)
        let jsTitle = String(decoding: (try? JSONSerialization.data(withJSONObject: [title], options: [])) ?? Data("[\"\"]".utf8), as: UTF8.self)
            .replacingOccurrences(of: "</", with: "<\\/")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(safeTitle.isEmpty ? "motion" : safeTitle)</title>
        <style>body{margin:0;font:14px sans-serif;background:#fafaf7;color:#222}#bar{padding:8px;display:flex;gap:8px;align-items:center}
        canvas{display:block;width:100%;height:calc(100vh - 48px);cursor:grab}input[type=range]{flex:1}</style></head>
        <body><div id="bar"><button id="play">Pause</button><input id="slider" type="range" min="0" value="0"><span id="count"></span></div>
        <canvas id="view"></canvas>
        <script>
        "use strict";
        const TITLE = \(jsTitle)[0];
        const FPS = \(motion.fps);
        const SIDES = [\(sides.map(String.init).joined(separator: ","))];
        const BONES = [\(bones)];
        const HEAD = \(motion.skeleton.jointNames.firstIndex(of: "head") ?? -1);
        const FRAMES = [\(frames.joined(separator: ",\n"))];
        \(viewerScript)
        MotionViewer(document.getElementById("view"), document.getElementById("slider"), document.getElementById("count"), document.getElementById("play"))
          .show({title: TITLE, fps: FPS, sides: SIDES, bones: BONES, head: HEAD, frames: FRAMES});
        </script></body></html>

        """
    }

    /// The side of each joint as the viewer colours it: 0 centre, 1 left, 2 right (by the joint's name).
    public static func sides(of skeleton: Skeleton) -> [Int] { skeleton.jointNames.map { BodySide.of($0).rawValue } }

    /// The viewer's JavaScript, shared by `page` and pages that show motions they fetch (the server's
    /// playground). It defines `MotionViewer(canvas, slider, count, play)`, whose `show(data)` plays
    /// `data = {title, fps, sides, bones: [[parent, child]], head, frames: [[x0,y0,z0,x1,...] in mm]}`;
    /// `played` counts frames advanced since the last `show` (a page's self-test waits on it).
    public static let viewerScript = """
    function MotionViewer(canvas, slider, count, play) {
      const ctx = canvas.getContext("2d");
      let D = null, N = 0, J = 0, frame = 0, playing = true, yaw = 0.6, pitch = 0.35, zoom = 1, last = performance.now(), acc = 0, played = 0;
      let lo = [0, 0, 0], hi = [0, 0, 0], centre = [0, 0, 0], extent = 500;
      function project(x, y, z) {
        x -= centre[0]; y -= centre[1]; z -= centre[2];
        const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
        const x1 = cy*x - sy*z, z1 = sy*x + cy*z, y1 = cp*y - sp*z1, z2 = sp*y + cp*z1;
        const s = Math.min(canvas.width, canvas.height) / (extent * 1.4) * zoom, d = 3 * extent;
        const persp = d / (d + z2);
        return [canvas.width/2 + x1*s*persp, canvas.height*0.55 - y1*s*persp, z2];
      }
      function seg(a, b, colour, width) { ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke(); }
      function draw() {
        canvas.width = canvas.clientWidth * devicePixelRatio; canvas.height = canvas.clientHeight * devicePixelRatio;
        ctx.fillStyle = "#fafaf7"; ctx.fillRect(0, 0, canvas.width, canvas.height);
        if (!D) return;
        const FRAMES = D.frames;
        const step = 500, x0 = Math.floor(lo[0]/step-1)*step, x1 = Math.ceil(hi[0]/step+1)*step, z0 = Math.floor(lo[2]/step-1)*step, z1 = Math.ceil(hi[2]/step+1)*step;
        for (let x = x0; x <= x1; x += step) seg(project(x, 0, z0), project(x, 0, z1), "#cdd0d6", 1);
        for (let z = z0; z <= z1; z += step) seg(project(x0, 0, z), project(x1, 0, z), "#cdd0d6", 1);
        for (let f = 1; f <= frame; f++) seg(project(FRAMES[f-1][0], 0, FRAMES[f-1][2]), project(FRAMES[f][0], 0, FRAMES[f][2]), "#78aae6", 2);
        const p = FRAMES[frame], pts = [];
        for (let j = 0; j < J; j++) pts.push(project(p[3*j], p[3*j+1], p[3*j+2]));
        const order = D.bones.slice().sort((a, b) => pts[b[1]][2] - pts[a[1]][2]);
        ctx.lineCap = "round";
        for (const [a, b] of order) seg(pts[a], pts[b], ["#3c3c46", "#dc463c", "#286ec8"][D.sides[b]], 5 * devicePixelRatio);
        ctx.fillStyle = "#1e1e1e";
        for (const q of pts) { ctx.beginPath(); ctx.arc(q[0], q[1], 3 * devicePixelRatio, 0, 2*Math.PI); ctx.fill(); }
        if (D.head >= 0) { ctx.fillStyle = "#3c3c46"; ctx.beginPath(); ctx.arc(pts[D.head][0], pts[D.head][1], 9 * devicePixelRatio, 0, 2*Math.PI); ctx.fill(); }
        ctx.fillStyle = "#141414"; ctx.font = (16 * devicePixelRatio) + "px sans-serif"; ctx.fillText(D.title, 12 * devicePixelRatio, 24 * devicePixelRatio);
        slider.value = String(frame); count.textContent = (frame + 1) + " / " + N;
      }
      function tick(now) {
        if (playing && D) { acc += (now - last) / 1000; while (acc >= 1 / D.fps) { frame = (frame + 1) % N; acc -= 1 / D.fps; played++; } }
        last = now; draw(); requestAnimationFrame(tick);
      }
      play.onclick = () => { playing = !playing; play.textContent = playing ? "Pause" : "Play"; };
      slider.oninput = () => { frame = Number(slider.value); playing = false; play.textContent = "Play"; };
      let drag = null;
      canvas.onmousedown = e => { drag = [e.clientX, e.clientY]; };
      window.addEventListener("mouseup", () => { drag = null; });
      window.addEventListener("mousemove", e => { if (!drag) return; yaw += (e.clientX - drag[0]) * 0.01; pitch = Math.max(-1.4, Math.min(1.4, pitch + (e.clientY - drag[1]) * 0.01)); drag = [e.clientX, e.clientY]; });
      canvas.onwheel = e => { e.preventDefault(); zoom = Math.max(0.2, Math.min(5, zoom * Math.exp(-e.deltaY * 0.001))); };
      requestAnimationFrame(tick);
      return {
        show(data) {
          D = data; N = data.frames.length; J = data.sides.length; frame = 0; played = 0; acc = 0;
          slider.max = String(N - 1);
          lo = [1e9, 1e9, 1e9]; hi = [-1e9, -1e9, -1e9];
          for (const f of data.frames) for (let j = 0; j < J; j++) for (let k = 0; k < 3; k++) { lo[k] = Math.min(lo[k], f[3*j+k]); hi[k] = Math.max(hi[k], f[3*j+k]); }
          lo[1] = Math.min(lo[1], 0);
          centre = [(lo[0]+hi[0])/2, (lo[1]+hi[1])/2, (lo[2]+hi[2])/2];
          extent = Math.max(hi[0]-lo[0], hi[1]-lo[1], hi[2]-lo[2], 500);
        },
        get played() { return played; },
        get frameCount() { return N; }
      };
    }
    """
}

/// Writes a motion as a picture by the file extension: `.gif` (animated, delay 100/fps cs), `.png` (one frame:
/// `frame`, default the middle one),
/// `.html` (interactive viewer), `.mp4` (through ffmpeg, when installed).
public enum MotionRenderer {
    public static let extensions = ["gif", "png", "html", "mp4"]

    public static func write(_ motion: Motion, to url: URL, options: RenderOptions = RenderOptions(), frame: Int? = nil, force: Bool = false) throws {
        let ext = url.pathExtension.lowercased()
        guard extensions.contains(ext) else { throw RenderError.badInput("\(url.lastPathComponent): cannot render to .\(url.pathExtension) (use .gif, .png, .html or .mp4)") }
        if !force && FileManager.default.fileExists(atPath: url.path) { throw RenderError.io("\(url.path) already exists") }
        let data: Data
        switch ext {
        case "html":
            data = Data(HTMLViewer.page(motion, title: options.title).utf8)
        case "png":
            let r = try StickFigureRenderer(motion: motion, options: options)
            let i = frame ?? motion.frameCount / 2
            guard (0..<motion.frameCount).contains(i) else { throw RenderError.badInput("frame \(i) is outside 0..<\(motion.frameCount)") }
            data = PNGEncoder.encode(r.frame(i))
        case "gif":
            data = try GIFEncoder.encode(try StickFigureRenderer(motion: motion, options: options).frames(), fps: motion.fps)
        default:
            try writeMP4(motion, to: url, options: options)
            return
        }
        do { try data.write(to: url, options: .atomic) } catch { throw RenderError.io("\(url.path): \(error.localizedDescription)") }
    }

    /// ffmpeg on the PATH, if any.
    public static func ffmpeg() -> URL? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let u = URL(fileURLWithPath: String(dir)).appendingPathComponent("ffmpeg")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return nil
    }

    /// Pipes raw rgb24 frames to ffmpeg (H.264, yuv420p). ffmpeg writes a temporary file beside the
    /// output that replaces it only on success, so a failed run never leaves a broken or clobbered file.
    static func writeMP4(_ motion: Motion, to url: URL, options: RenderOptions) throws {
        guard let ffmpeg = ffmpeg() else {
            throw RenderError.io("writing .mp4 needs ffmpeg on the PATH (apt-get install ffmpeg); .gif and .html need nothing")
        }
        var o = options
        o.width -= o.width % 2; o.height -= o.height % 2     // yuv420p needs even sizes
        let renderer = try StickFigureRenderer(motion: motion, options: o)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
        defer { try? FileManager.default.removeItem(at: partial) }
        let p = Process()
        p.executableURL = ffmpeg
        p.arguments = ["-y", "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(o.width)x\(o.height)",
                       "-r", String(motion.fps), "-i", "pipe:0", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-movflags", "+faststart",
                       "-f", "mp4", partial.path]
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        // An ffmpeg that quits early closes the pipe: without this the next write would kill us by SIGPIPE
        // instead of reporting ffmpeg's message.
        signal(SIGPIPE, SIG_IGN)
        do { try p.run() } catch { throw RenderError.io("cannot start ffmpeg: \(error.localizedDescription)") }
        // Read ffmpeg's messages while writing, so a chatty ffmpeg cannot block on a full stderr pipe.
        let messages = MessageBuffer()
        err.fileHandleForReading.readabilityHandler = { h in messages.append(h.availableData) }
        var writeFailed = false
        for i in 0..<motion.frameCount where !writeFailed {
            do { try input.fileHandleForWriting.write(contentsOf: Data(renderer.frame(i).rgb)) } catch { writeFailed = true }
        }
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        messages.append(err.fileHandleForReading.readDataToEndOfFile())
        guard p.terminationStatus == 0, !writeFailed else {
            let first = messages.text.split(separator: "\n").first.map(String.init) ?? "exit status \(p.terminationStatus)"
            throw RenderError.io("ffmpeg failed writing \(url.lastPathComponent): \(first)")
        }
        do {
            if FileManager.default.fileExists(atPath: url.path) { _ = try FileManager.default.replaceItemAt(url, withItemAt: partial) }
            else { try FileManager.default.moveItem(at: partial, to: url) }
        } catch { throw RenderError.io("\(url.path): \(error.localizedDescription)") }
    }
}

/// Bytes collected from another thread (ffmpeg's standard error).
private final class MessageBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
