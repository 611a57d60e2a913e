import ArgumentParser
import Foundation
import Generation
import ModelHub
import MotionDiffusion
import MotionVQ
import NeuralNetwork
import TensorEngine
import TextEncoder

/// `motiongpt bench`: engine speed beside raw BLAS and, when installed, PyTorch on the same machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the engine: matmul GFLOP/s against raw cblas_sgemm, transformer forward+backward time, and the PyTorch reference when available.",
        discussion: """
        The PyTorch reference runs in the same invocation when a Python with torch is found \
        ($MOTIONGPT_PYTHON, else python3); ratios are engine against reference. The sentence encoder \
        (bundled Models/text-encoder) embeds 32 captions at once and one at a time, beside \
        sentence-transformers' encode on the same folder when that Python has it. The Large Motion Model's \
        denoiser (LMMBenchmark.config) samples 196 frames with 50 guided DDIM steps and takes a training step \
        [16 x 120]; the official PyTorch modules run on the same weights and inputs when a checkout of \
        mingyuan-zhang/LMM is given ($MOTIONGPT_LMM_CODE or --lmm-code), and the two outputs are compared.

        Example: MOTIONGPT_PYTHON=../venv/bin/python motiongpt bench
        """)

    @Flag(name: .long, help: "Skip the PyTorch reference even when it is installed.")
    var noReference = false

    @Option(name: .long, help: "Python interpreter with torch for the reference (default: $MOTIONGPT_PYTHON, else python3).")
    var python: String?

    @Option(name: .long, help: "Checkout of mingyuan-zhang/LMM (a folder holding mogen/) for the PyTorch LMM rows (default: $MOTIONGPT_LMM_CODE).")
    var lmmCode: String?

    @Flag(name: .long, help: "Skip the Large Motion Model rows (about a minute on 2 cores, as long again for PyTorch).")
    var noLmm = false

    static let sections = ["matmul", "memory", "transformer", "scaling", "generation", "tokenizer", "lmm", "text-encoder"]

    @Option(name: .long, help: ArgumentHelp("The instruction set the PyTorch reference may use: matched (default: AVX2 when OpenBLAS runs its AVX2 kernels, as the engine's compute does) or native (torch's own choice, AVX-512 where the CPU has it).", valueName: "matched|native"))
    var torchIsa: String = "matched"

    /// Internal: run one peak-memory workload in this (fresh) process and print its growth as JSON.
    @Option(name: .long, help: .hidden)
    var peakMemory: String?

    @Option(name: .long, help: ArgumentHelp("Only these sections, comma separated: \(Bench.sections.joined(separator: ", ")) (default: all).", valueName: "sections"))
    var only: String?

    func validate() throws {
        guard ["matched", "native"].contains(torchIsa) else { throw ValidationError("--torch-isa: \(torchIsa) is not matched or native") }
        for s in selected where !Self.sections.contains(s) {
            throw ValidationError("--only: unknown section \"\(s)\" (known: \(Self.sections.joined(separator: ", ")))")
        }
    }

    private var selected: [String] { (only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    private func wants(_ section: String) -> Bool { selected.isEmpty || selected.contains(section) }

    func run() throws {
        if let name = peakMemory {
            let bytes: Int?
            switch name {
            case "transformer": bytes = EngineBenchmark.peakResidentGrowth { EngineBenchmark.transformerSteps() }
            case "tokenizer": bytes = try EngineBenchmark.peakResidentGrowth { try VQVAEBenchmark.trainingSteps() }
            default: throw ValidationError("--peak-memory: unknown workload \(name)")
            }
            print("{\"peak_bytes\": \(bytes ?? -1)}")
            return
        }
        print("motiongpt bench \(MotionGPTVersion.string)  threads: engine \(engineThreads), BLAS \(blasThreads()) (OpenBLAS \(blasCoreName) kernels); "
              + "compact-weight kernels: \(CompactMatrix.vectorized ? "AVX2+FMA+F16C" : "portable C")")
        let textEncoderFolder = wants("text-encoder") ? try? ModelLocator.resolve(nil, bundled: "text-encoder", environment: [:]) : nil
        // The LMM's weights and inputs go to a file first, so the reference runs the same model on them.
        let lmm = noLmm || !wants("lmm") ? nil : try LMMBenchmark.Workload()
        let exchange = FileManager.default.temporaryDirectory.appendingPathComponent("motiongpt-bench-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: exchange) }
        var lmmFile: URL?
        if let lmm {
            try FileManager.default.createDirectory(at: exchange, withIntermediateDirectories: true)
            lmmFile = exchange.appendingPathComponent("lmm_bench.safetensors")
            try lmm.write(to: lmmFile!)
        }
        let lmmCode = self.lmmCode ?? ProcessInfo.processInfo.environment["MOTIONGPT_LMM_CODE"]
        if let lmmCode, !FileManager.default.fileExists(atPath: lmmCode + "/mogen") {
            throw ValidationError("--lmm-code \(lmmCode) holds no mogen/ (expected a checkout of mingyuan-zhang/LMM)")
        }
        // A fair ratio has both sides on the same instruction set: with OpenBLAS on its AVX2 kernels
        // (Haswell, Zen) torch is held to AVX2 too; oneDNN would otherwise use AVX-512 where it exists.
        let torchISA: String? = torchIsa == "matched" && blasUsesAVX2Kernels ? "avx2" : nil
        let reference = noReference ? nil : TorchReference.run(python: python, textEncoder: textEncoderFolder,
                                                               lmm: lmmFile.map { ($0, lmmCode) }, only: selected, isa: torchISA)
        if reference == nil && !noReference {
            print("reference: PyTorch not found (set MOTIONGPT_PYTHON to a Python with torch); showing engine and raw BLAS only")
        } else if let reference {
            print("reference: torch \(reference.version), \(reference.threads) threads, instruction set "
                  + (torchISA.map { "\($0) (matched to OpenBLAS's \(blasCoreName) kernels; --torch-isa native lifts it)" } ?? "torch's own choice"))
        }
        print("")
        // The sgemm peak (largest raw GFLOP/s over the shapes) and the memory bandwidth are the limits
        // the generation rows are read against.
        var sgemmPeak: Double?
        if wants("matmul") || wants("generation") {
            print("matmul [M x K x N]        engine GFLOP/s   raw sgemm GFLOP/s   overhead   torch GFLOP/s   engine/torch")
            for (i, (m, k, n)) in [(64, 512, 512), (512, 512, 2048), (1, 768, 3072)].enumerated() {
                let r = EngineBenchmark.matmul(m: m, k: k, n: n)
                sgemmPeak = max(sgemmPeak ?? 0, r.blasGFLOPS)
                let shape = "[\(m)x\(k)x\(n)]".padding(toLength: 22, withPad: " ", startingAt: 0)
                var line = "  \(shape)  \(fmt(r.engineGFLOPS, 14))  \(fmt(r.blasGFLOPS, 18))  \(fmt(r.overhead * 100, 8))%"
                if let t = reference?.matmulGFLOPS[safe: i] {
                    line += "  \(fmt(t, 14))  \(fmt(r.engineGFLOPS / t, 12))x"
                }
                print(line)
            }
            print("")
        }
        var bandwidth: EngineBenchmark.BandwidthResult?
        if wants("memory") || wants("generation") {
            let b = EngineBenchmark.memoryBandwidth()
            bandwidth = b
            print("memory bandwidth (256 MB buffers, \(engineThreads) threads): copy \(fmt(b.copyGBps, 6)) GB/s (read + write), read \(fmt(b.readGBps, 6)) GB/s")
            print("")
        }
        if wants("memory") { printPeakMemory(reference) }
        if wants("transformer") { printTransformer(reference) }
        if wants("scaling") { printScaling(reference) }
        if wants("generation") { try printGeneration(reference, sgemmPeak: sgemmPeak, bandwidth: bandwidth) }
        if wants("tokenizer") { try printTokenizer(reference) }
        if let lmm { try printLMM(lmm, reference: reference, exchange: exchange) }
        guard wants("text-encoder") else { return }
        guard let folder = textEncoderFolder else {
            print("sentence encoder: no bundled Models/text-encoder found; skipped")
            return
        }
        let encoder = try SentenceEncoder.load(directory: folder)
        let s = SentenceEncoderBenchmark.run(encoder)
        let ref = reference?.sentenceEncoder
        print("sentence encoder: all-MiniLM-L6-v2 (Models/text-encoder, F16 stored, Float32 compute), \(s.texts) captions"
              + (ref.map { ", sentence-transformers \($0.version)" } ?? ""))
        for (name, mine, theirs) in [("32 at once (batch 32)", s.batchSeconds, ref?.batchSeconds), ("one at a time        ", s.singleSeconds, ref?.singleSeconds)] {
            var line = "  \(name)  \(fmt(mine * 1000, 9)) ms"
            if let theirs { line += "   sentence-transformers \(fmt(theirs * 1000, 9)) ms   speed vs sentence-transformers \(fmt(theirs / mine, 5))x" }
            print(line)
        }
    }

    /// Peak resident growth of building a workload and running 3 training steps, each in a fresh child
    /// process (engine: this executable; torch: the reference script).
    private func printPeakMemory(_ reference: TorchReference?) {
        print("peak resident memory of 3 training steps (growth over the fresh process; model, gradients, activations)")
        for (name, label) in [("transformer", "6x512 transformer [8, 64]"), ("tokenizer", "VQ-VAE [8x64]           ")] {
            var line = "  \(label)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            p.arguments = ["bench", "--peak-memory", name]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            var mine: Double?
            if (try? p.run()) != nil {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                if let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let b = j["peak_bytes"] as? Int, b >= 0 { mine = Double(b) }
            }
            line += mine.map { "  engine \(fmt($0 / 1e6, 8)) MB" } ?? "  engine (not measured)"
            if let t = reference?.peakMemory[name] ?? nil {
                line += "   torch \(fmt(t / 1e6, 8)) MB"
                if let mine { line += "   engine/torch \(fmt(mine / t, 5))" }
            }
            print(line)
        }
        print("")
    }

    /// How a training step's time grows with batch size and sequence length (2 layers, width 512).
    private func printScaling(_ reference: TorchReference?) {
        print("scaling: 2-layer, 512-wide transformer, forward+backward step")
        let rows = EngineBenchmark.scaling()
        for (i, r) in rows.enumerated() {
            var line = "  batch \(String(format: "%2d", r.batch)) x \(String(format: "%3d", r.tokens)) tokens  \(fmt(r.seconds * 1000, 9)) ms"
            line += "  \(fmt(r.seconds * 1e6 / Double(r.batch * r.tokens), 7)) us/token"
            if let t = reference?.scaling[safe: i], t.batch == r.batch, t.tokens == r.tokens {
                line += "   torch \(fmt(t.seconds * 1000, 9)) ms   speed vs torch \(fmt(t.seconds / r.seconds, 5))x"
            }
            print(line)
        }
        print("")
    }

    private func printTransformer(_ reference: TorchReference?) {
        let t = EngineBenchmark.transformer()
        print("transformer stack: \(t.depth) layers, width \(t.dim), batch [\(t.batch), \(t.tokens)]")
        var fwd = "  forward           \(fmt(t.forwardSeconds * 1000, 9)) ms"
        var fb = "  forward+backward  \(fmt(t.forwardBackwardSeconds * 1000, 9)) ms"
        if let r = reference, r.forwardSeconds.isFinite {
            fwd += "   torch \(fmt(r.forwardSeconds * 1000, 9)) ms   speed vs torch \(fmt(r.forwardSeconds / t.forwardSeconds, 5))x"
            fb += "   torch \(fmt(r.forwardBackwardSeconds * 1000, 9)) ms   speed vs torch \(fmt(r.forwardBackwardSeconds / t.forwardBackwardSeconds, 5))x"
        }
        print(fwd)
        print(fb)
        if let s = try? GenerationBenchmark.trainingStep() {
            var line = "  T5-small training step [8 x 64 -> 64], forward+backward  \(fmt(s * 1000, 9)) ms"
            if let r = reference?.t5TrainStepSeconds { line += "   torch \(fmt(r * 1000, 9)) ms   speed vs torch \(fmt(r / s, 5))x" }
            print(line)
        }
        print("")
    }

    /// Greedy decoding with the weights in Float32, F16 and int8 (Float32 compute throughout): speed
    /// beside transformers (Float32), the weight bytes a token reads, and what share of the measured
    /// read bandwidth and of the sgemm peak that is.
    private func printGeneration(_ reference: TorchReference?, sgemmPeak: Double?, bandwidth: EngineBenchmark.BandwidthResult?) throws {
        print("T5 greedy generation: T5-small shape (d_model 512, 6+6 layers, vocab 32128+515), batch 1, 16-token prompt, 64 tokens")
        for format in [nil, CompactMatrix.Format.f16, .int8] {
            let g = try GenerationBenchmark.greedy(weights: format)
            let name = (format?.rawValue ?? "f32").padding(toLength: 5, withPad: " ", startingAt: 0)
            var gl = "  weights \(name) \(fmt(g.seconds * 1000, 8)) ms  \(fmt(g.tokensPerSecond, 7)) tokens/s"
            if let r = reference, let ts = r.t5TokensPerSecond {
                gl += "   transformers (f32) \(fmt(ts, 6)) tokens/s   speed vs transformers \(fmt(g.tokensPerSecond / ts, 5))x"
            }
            let gbps = g.bytesPerToken * g.tokensPerSecond / 1e9
            gl += "   \(fmt(g.bytesPerToken / 1e6, 6)) MB of weights a token = \(fmt(gbps, 5)) GB/s"
            if let b = bandwidth { gl += " (\(fmt(100 * gbps / b.readGBps, 4))% of read bandwidth)" }
            let gflops = 2 * Double(g.weightsPerToken) * g.tokensPerSecond / 1e9
            gl += ", \(fmt(gflops, 5)) GFLOP/s"
            if let p = sgemmPeak { gl += " (\(fmt(100 * gflops / p, 4))% of sgemm peak)" }
            print(gl)
        }
        print("")
    }

    private func printTokenizer(_ reference: TorchReference?) throws {
        let v = try VQVAEBenchmark.run()
        print("motion tokenizer: MotionGPT's VQ-VAE (width 512, 512 codes, 19.4M weights)")
        let rows: [(String, Double, Double?)] = [
            ("encode \(v.frames) frames    ", v.encodeSeconds, reference?.vqEncodeSeconds),
            ("decode \(v.frames / 4) codes      ", v.decodeSeconds, reference?.vqDecodeSeconds),
            ("train step [\(v.batch)x\(v.window)]  ", v.trainStepSeconds, reference?.vqTrainStepSeconds)]
        for (name, s, ref) in rows {
            var line = "  \(name)\(fmt(s * 1000, 9)) ms"
            if let ref { line += "   torch \(fmt(ref * 1000, 9)) ms   speed vs torch \(fmt(ref / s, 5))x" }
            print(line)
        }
        print("")
    }

    /// The LMM rows: guided sampling and a training step, beside the official PyTorch modules when they ran.
    private func printLMM(_ w: LMMBenchmark.Workload, reference: TorchReference?, exchange: URL) throws {
        let c = w.model.config
        print("LMM denoiser: \(c.numLayers) layers, 10 parts x \(c.latentPartDim) (width \(c.latentDim)), time embedding \(c.timeEmbedDim), "
              + "text \(c.textMaxTokens) x \(c.textInputDim ?? 0), \(c.numExperts) expert(s), \(w.model.parameterCount) weights")
        let s = try LMMBenchmark.sampling(w)
        let train = try LMMBenchmark.trainingStep(w)
        let ref = reference?.lmm
        var sl = "  sample [1x\(w.shape.frames)], \(s.steps) DDIM steps, guidance \(c.guidanceScale)  \(fmt(s.secondsPerSample, 7)) s (\(fmt(s.secondsPerStep * 1000, 6)) ms/step)"
        var tl = "  train step [\(w.shape.trainBatch)x\(w.shape.trainFrames)]                   \(fmt(train * 1000, 9)) ms"
        if let ref, let ts = ref.sampleSeconds, let tt = ref.trainStepSeconds {
            sl += "   torch \(fmt(ts, 7)) s   speed vs torch \(fmt(ts / s.secondsPerSample, 5))x"
            tl += "   torch \(fmt(tt * 1000, 9)) ms   speed vs torch \(fmt(tt / train, 5))x"
        }
        print(sl)
        print(tl)
        if let ref, ref.sampleSeconds != nil {
            let out = exchange.appendingPathComponent("torch_lmm.safetensors")
            if let file = try? SafeTensorsFile(url: out), let first = try? file.tensor("first"), let sample = try? file.tensor("sample"),
               let e1 = LMMBenchmark.agreement(s.firstStep, first), let e2 = LMMBenchmark.agreement(s.sample, sample) {
                print("  same weights and inputs as torch: first step's guided x0 within \(String(format: "%.1e", e1)), "
                      + "the 50-step sample within \(String(format: "%.1e", e2)) (max difference over the reference's largest value)")
            } else {
                print("  torch outputs unreadable (\(out.path)); no comparison")
            }
        } else if let why = ref?.skipped {
            print("  torch: \(why)")
        } else if reference != nil {
            print("  torch: the reference script did not run the LMM rows")
        }
        print("")
    }

    private func fmt(_ v: Double, _ width: Int) -> String {
        String(format: "%\(width).2f", v)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

/// Runs Tools/bench/torch_reference.py and reads its JSON line.
struct TorchReference {
    let version: String
    let threads: Int
    let matmulGFLOPS: [Double]
    let forwardSeconds: Double
    let forwardBackwardSeconds: Double
    /// Peak resident growth of the training workloads in bytes, by name (nil: not measured).
    let peakMemory: [String: Double?]
    /// The scaling table's rows.
    let scaling: [(batch: Int, tokens: Int, seconds: Double)]
    let t5TokensPerSecond: Double?
    let t5TrainStepSeconds: Double?
    let vqEncodeSeconds: Double?
    let vqDecodeSeconds: Double?
    let vqTrainStepSeconds: Double?
    let sentenceEncoder: (version: String, batchSeconds: Double, singleSeconds: Double)?
    /// The official LMM's rows, or why they were skipped.
    let lmm: (sampleSeconds: Double?, trainStepSeconds: Double?, skipped: String?)?

    /// `lmm`: the weights-and-inputs file `LMMBenchmark.Workload.write` made and the official checkout (nil:
    /// the rows say no checkout was given).
    static func run(python: String?, textEncoder: URL? = nil, lmm: (file: URL, code: String?)? = nil, only: [String] = [],
                    isa: String? = nil) -> TorchReference? {
        let script = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            .appendingPathComponent("Tools/bench/torch_reference.py")
        guard FileManager.default.fileExists(atPath: script.path) else { return nil }
        let interpreter = python ?? ProcessInfo.processInfo.environment["MOTIONGPT_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [interpreter, script.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        if let textEncoder, let captions = try? JSONSerialization.data(withJSONObject: SentenceEncoderBenchmark.captions) {
            env["MOTIONGPT_BENCH_TEXT_ENCODER"] = textEncoder.path
            env["MOTIONGPT_BENCH_CAPTIONS"] = String(decoding: captions, as: UTF8.self)
        }
        env["MOTIONGPT_LMM_CODE"] = nil
        env["MOTIONGPT_BENCH_ONLY"] = only.joined(separator: ",")
        if let isa {
            // ATen's vectorised kernels and oneDNN's (convolutions, GEMM) both honour a ceiling.
            env["ATEN_CPU_CAPABILITY"] = isa
            env["ONEDNN_MAX_CPU_ISA"] = isa.uppercased()
        }
        if let lmm {
            env["MOTIONGPT_BENCH_LMM"] = lmm.file.path
            env["MOTIONGPT_LMM_CODE"] = lmm.code
        }
        process.environment = env
        do { try process.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        let mm = json["matmul"] as? [[String: Any]] ?? [], tr = json["transformer"] as? [String: Any] ?? [:]
        return TorchReference(
            version: json["torch"] as? String ?? "?", threads: json["threads"] as? Int ?? 0,
            matmulGFLOPS: mm.compactMap { $0["gflops"] as? Double },
            forwardSeconds: tr["forward_s"] as? Double ?? .nan,
            forwardBackwardSeconds: tr["forward_backward_s"] as? Double ?? .nan,
            peakMemory: ((json["peak_memory"] as? [String: Any]) ?? [:]).mapValues { ($0 as? NSNumber)?.doubleValue },
            scaling: ((json["scaling"] as? [[String: Any]]) ?? []).compactMap { d in
                guard let b = d["batch"] as? Int, let t = d["tokens"] as? Int, let s = d["forward_backward_s"] as? Double else { return nil }
                return (b, t, s)
            },
            t5TokensPerSecond: (json["t5_greedy"] as? [String: Any])?["tokens_per_second"] as? Double,
            t5TrainStepSeconds: json["t5_train_step_s"] as? Double,
            vqEncodeSeconds: (json["vqvae"] as? [String: Any])?["encode_s"] as? Double,
            vqDecodeSeconds: (json["vqvae"] as? [String: Any])?["decode_s"] as? Double,
            vqTrainStepSeconds: (json["vqvae"] as? [String: Any])?["train_step_s"] as? Double,
            sentenceEncoder: (json["sentence_encoder"] as? [String: Any]).flatMap { d in
                guard let b = d["batch_s"] as? Double, let s = d["single_s"] as? Double else { return nil }
                return (d["version"] as? String ?? "?", b, s)
            },
            lmm: (json["lmm"] as? [String: Any]).map { d in
                (d["sample_s"] as? Double, d["train_step_s"] as? Double, d["skipped"] as? String)
            })
    }
}
