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

    func run() throws {
        print("motiongpt bench \(MotionGPTVersion.string)  threads: engine \(engineThreads), BLAS \(blasThreads())")
        let textEncoderFolder = try? ModelLocator.resolve(nil, bundled: "text-encoder", environment: [:])
        // The LMM's weights and inputs go to a file first, so the reference runs the same model on them.
        let lmm = noLmm ? nil : try LMMBenchmark.Workload()
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
        let reference = noReference ? nil : TorchReference.run(python: python, textEncoder: textEncoderFolder,
                                                               lmm: lmmFile.map { ($0, lmmCode) })
        if reference == nil && !noReference {
            print("reference: PyTorch not found (set MOTIONGPT_PYTHON to a Python with torch); showing engine and raw BLAS only")
        } else if let reference {
            print("reference: torch \(reference.version), \(reference.threads) threads")
        }
        print("")
        print("matmul [M x K x N]        engine GFLOP/s   raw sgemm GFLOP/s   overhead   torch GFLOP/s   engine/torch")
        for (i, (m, k, n)) in [(64, 512, 512), (512, 512, 2048), (1, 768, 3072)].enumerated() {
            let r = EngineBenchmark.matmul(m: m, k: k, n: n)
            let shape = "[\(m)x\(k)x\(n)]".padding(toLength: 22, withPad: " ", startingAt: 0)
            var line = "  \(shape)  \(fmt(r.engineGFLOPS, 14))  \(fmt(r.blasGFLOPS, 18))  \(fmt(r.overhead * 100, 8))%"
            if let t = reference?.matmulGFLOPS[safe: i] {
                line += "  \(fmt(t, 14))  \(fmt(r.engineGFLOPS / t, 12))x"
            }
            print(line)
        }
        print("")
        let t = EngineBenchmark.transformer()
        print("transformer stack: \(t.depth) layers, width \(t.dim), batch [\(t.batch), \(t.tokens)]")
        var fwd = "  forward           \(fmt(t.forwardSeconds * 1000, 9)) ms"
        var fb = "  forward+backward  \(fmt(t.forwardBackwardSeconds * 1000, 9)) ms"
        if let r = reference {
            fwd += "   torch \(fmt(r.forwardSeconds * 1000, 9)) ms   speed vs torch \(fmt(r.forwardSeconds / t.forwardSeconds, 5))x"
            fb += "   torch \(fmt(r.forwardBackwardSeconds * 1000, 9)) ms   speed vs torch \(fmt(r.forwardBackwardSeconds / t.forwardBackwardSeconds, 5))x"
        }
        print(fwd)
        print(fb)
        print("")
        let g = try GenerationBenchmark.greedy()
        print("T5 greedy generation: T5-small shape (d_model 512, 6+6 layers, vocab 32128+515), batch 1, \(g.promptLength)-token prompt")
        var gl = "  \(g.tokens) tokens       \(fmt(g.seconds * 1000, 9)) ms   \(fmt(g.tokensPerSecond, 7)) tokens/s"
        if let r = reference, let ts = r.t5TokensPerSecond {
            gl += "   transformers \(fmt(ts, 7)) tokens/s   speed vs transformers \(fmt(g.tokensPerSecond / ts, 5))x"
        }
        print(gl)
        print("")
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
        if let lmm { try printLMM(lmm, reference: reference, exchange: exchange) }
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
    let t5TokensPerSecond: Double?
    let vqEncodeSeconds: Double?
    let vqDecodeSeconds: Double?
    let vqTrainStepSeconds: Double?
    let sentenceEncoder: (version: String, batchSeconds: Double, singleSeconds: Double)?
    /// The official LMM's rows, or why they were skipped.
    let lmm: (sampleSeconds: Double?, trainStepSeconds: Double?, skipped: String?)?

    /// `lmm`: the weights-and-inputs file `LMMBenchmark.Workload.write` made and the official checkout (nil:
    /// the rows say no checkout was given).
    static func run(python: String?, textEncoder: URL? = nil, lmm: (file: URL, code: String?)? = nil) -> TorchReference? {
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
        if let lmm {
            env["MOTIONGPT_BENCH_LMM"] = lmm.file.path
            env["MOTIONGPT_LMM_CODE"] = lmm.code
        }
        process.environment = env
        do { try process.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let mm = json["matmul"] as? [[String: Any]],
              let tr = json["transformer"] as? [String: Any]
        else { return nil }
        return TorchReference(
            version: json["torch"] as? String ?? "?", threads: json["threads"] as? Int ?? 0,
            matmulGFLOPS: mm.compactMap { $0["gflops"] as? Double },
            forwardSeconds: tr["forward_s"] as? Double ?? .nan,
            forwardBackwardSeconds: tr["forward_backward_s"] as? Double ?? .nan,
            t5TokensPerSecond: (json["t5_greedy"] as? [String: Any])?["tokens_per_second"] as? Double,
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
