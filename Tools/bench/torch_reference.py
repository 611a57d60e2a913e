#!/usr/bin/env python3
"""PyTorch side of `motiongpt bench`: the same measurements on the same machine, printed as JSON.

Run by the benchmark when a Python with torch is found (MOTIONGPT_PYTHON, else python3).
Threads: torch uses as many as the machine has cores, as OpenBLAS does for the Swift engine.
"""
import json
import os
import sys
import time

import torch


def median_time(fn, warmup=2, min_iter=5, budget=0.6):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_iter or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[len(samples) // 2]


def t5_greedy(tokens=64, prompt_length=16):
    """Greedy generation of exactly `tokens` tokens with a random T5-small-sized model at batch 1."""
    try:
        from transformers import T5Config, T5ForConditionalGeneration
    except ImportError:
        return None
    cfg = T5Config(vocab_size=32128 + 515, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                   num_heads=8, feed_forward_proj="relu", tie_word_embeddings=True, dropout_rate=0.0,
                   decoder_start_token_id=0)
    model = T5ForConditionalGeneration(cfg).eval()
    ids = torch.randint(2, 32000, (1, prompt_length))
    with torch.no_grad():
        t = median_time(lambda: model.generate(input_ids=ids, max_new_tokens=tokens, min_new_tokens=tokens,
                                               do_sample=False, num_beams=1), warmup=1, min_iter=3, budget=0)
    return {"tokens": tokens, "seconds": t, "tokens_per_second": tokens / t}


def sentence_encoder():
    """sentence-transformers' encode on the captions `motiongpt bench` passes (MOTIONGPT_BENCH_CAPTIONS, a
    JSON list) with the model folder it passes (MOTIONGPT_BENCH_TEXT_ENCODER), in Float32, both ways."""
    folder, captions = os.environ.get("MOTIONGPT_BENCH_TEXT_ENCODER"), os.environ.get("MOTIONGPT_BENCH_CAPTIONS")
    if not folder or not captions:
        return None
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    texts = json.loads(captions)
    model = SentenceTransformer(folder, device="cpu", model_kwargs={"dtype": torch.float32})
    model.float()
    batch = median_time(lambda: model.encode(texts, batch_size=32), warmup=1, min_iter=3, budget=1)
    single = median_time(lambda: [model.encode([t]) for t in texts], warmup=1, min_iter=3, budget=1)
    import sentence_transformers
    return {"version": sentence_transformers.__version__, "texts": len(texts), "batch_s": batch, "single_s": single}


def vqvae(frames=196, batch=8, window=64):
    """MotionGPT's tokenizer at its published size (the fixture script's module tree, width 512)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "make_vq_fixtures.py")
    spec = importlib.util.spec_from_file_location("vqfix", path)
    vq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vq)
    vq.WIDTH, vq.CODES, vq.DEPTH = 512, 512, 3
    model = vq.VQ().eval()
    motion = torch.randn(1, frames, 263)
    cb = model.quantizer.codebook

    def encode():
        h = model.encoder(motion.permute(0, 2, 1)).permute(0, 2, 1).reshape(-1, 512)
        return vq.nearest(h, cb)

    with torch.no_grad():
        codes = encode()
        enc = median_time(encode, warmup=1, min_iter=3, budget=0.5)
        dec = median_time(lambda: model.decoder(cb[codes].t().unsqueeze(0)), warmup=1, min_iter=3, budget=0.5)
    x = torch.randn(batch, window, 263)
    model.train()

    def step():
        model.zero_grad()
        h = model.encoder(x.permute(0, 2, 1)).permute(0, 2, 1).reshape(-1, 512)
        q = cb[vq.nearest(h.detach(), cb)]
        st = h + (q - h).detach()
        rec = model.decoder(st.view(batch, -1, 512).permute(0, 2, 1)).permute(0, 2, 1)
        (torch.nn.functional.smooth_l1_loss(rec, x) + 0.02 * torch.nn.functional.mse_loss(h, q)).backward()

    return {"encode_s": enc, "decode_s": dec, "train_step_s": median_time(step, warmup=1, min_iter=3, budget=1)}


def main():
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul": [], "transformer": None}
    for m, k, n in [(64, 512, 512), (512, 512, 2048), (1, 768, 3072)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        with torch.no_grad():
            t = median_time(lambda: torch.matmul(a, b))
        result["matmul"].append({"m": m, "k": k, "n": n, "gflops": 2 * m * k * n / t / 1e9})
    args = dict(zip(["depth", "dim", "heads", "batch", "tokens"], map(int, sys.argv[1:6]))) if len(sys.argv) >= 6 else {}
    depth, dim, heads = args.get("depth", 6), args.get("dim", 512), args.get("heads", 8)
    batch, tokens = args.get("batch", 8), args.get("tokens", 64)
    layer = lambda: torch.nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu",
                                                      batch_first=True, norm_first=True)
    stack = torch.nn.Sequential(*[layer() for _ in range(depth)])
    x = torch.randn(batch, tokens, dim)
    with torch.no_grad():
        fwd = median_time(lambda: stack(x), budget=1)

    def step():
        stack.zero_grad()
        stack(x).square().mean().backward()

    fb = median_time(step, warmup=1, min_iter=3, budget=2)
    result["transformer"] = {"forward_s": fwd, "forward_backward_s": fb}
    result["t5_greedy"] = t5_greedy()
    result["vqvae"] = vqvae()
    result["sentence_encoder"] = sentence_encoder()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
