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


def t5_small():
    """A random T5-small-shaped model (the engine's GenerationBenchmark.t5SmallConfig), or None without transformers."""
    try:
        from transformers import T5Config, T5ForConditionalGeneration
    except ImportError:
        return None
    cfg = T5Config(vocab_size=32128 + 515, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                   num_heads=8, feed_forward_proj="relu", tie_word_embeddings=True, dropout_rate=0.0,
                   decoder_start_token_id=0)
    return T5ForConditionalGeneration(cfg)


def t5_greedy(tokens=64, prompt_length=16):
    """Greedy generation of exactly `tokens` tokens with a random T5-small-sized model at batch 1."""
    model = t5_small()
    if model is None:
        return None
    model.eval()
    ids = torch.randint(2, 32000, (1, prompt_length))
    with torch.no_grad():
        t = median_time(lambda: model.generate(input_ids=ids, max_new_tokens=tokens, min_new_tokens=tokens,
                                               do_sample=False, num_beams=1), warmup=1, min_iter=3, budget=0)
    return {"tokens": tokens, "seconds": t, "tokens_per_second": tokens / t}


def t5_train_step(batch=8, input_length=64, label_length=64):
    """A training step of the same random T5-small (forward with labels, backward; no optimiser)."""
    model = t5_small()
    if model is None:
        return None
    model.train()
    ids = torch.randint(2, 32000, (batch, input_length))
    labels = torch.randint(2, 32000, (batch, label_length))

    def step():
        model.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()

    return median_time(step, warmup=1, min_iter=3, budget=1)


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


def vq_module():
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "make_vq_fixtures.py")
    spec = importlib.util.spec_from_file_location("vqfix", path)
    vq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vq)
    vq.WIDTH, vq.CODES, vq.DEPTH = 512, 512, 3
    return vq


def vqvae_step(batch=8, window=64, model=None, vq=None):
    """A training step of the tokenizer on [batch, window, 263] (straight-through VQ, smooth L1 + commitment)."""
    vq = vq or vq_module()
    model = model or vq.VQ()
    cb = model.quantizer.codebook
    x = torch.randn(batch, window, 263)
    model.train()

    def step():
        model.zero_grad()
        h = model.encoder(x.permute(0, 2, 1)).permute(0, 2, 1).reshape(-1, 512)
        q = cb[vq.nearest(h.detach(), cb)]
        st = h + (q - h).detach()
        rec = model.decoder(st.view(batch, -1, 512).permute(0, 2, 1)).permute(0, 2, 1)
        (torch.nn.functional.smooth_l1_loss(rec, x) + 0.02 * torch.nn.functional.mse_loss(h, q)).backward()

    return step


def vqvae(frames=196, batch=8, window=64):
    """MotionGPT's tokenizer at its published size (the fixture script's module tree, width 512)."""
    vq = vq_module()
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
    step = vqvae_step(batch, window, model, vq)
    return {"encode_s": enc, "decode_s": dec, "train_step_s": median_time(step, warmup=1, min_iter=3, budget=1)}


def lmm():
    """The official LargeMotionModel (a checkout of mingyuan-zhang/LMM at MOTIONGPT_LMM_CODE, imported through
    Tools/fixtures/lmm_official.py as the fixture script does) on the weights and inputs `motiongpt bench` wrote
    to MOTIONGPT_BENCH_LMM: one guided 50-step sample with the official SpacedDiffusion.ddim_sample_loop (eta 0,
    text features encoded once as the official architecture does) and one training step (the official
    training_losses and training-mode forward, x0 loss on the present parts plus the template KL, backward).
    Writes the first step's guided x0 and the sample to torch_lmm.safetensors beside the input file."""
    exchange, code = os.environ.get("MOTIONGPT_BENCH_LMM"), os.environ.get("MOTIONGPT_LMM_CODE")
    if not exchange:
        return None
    if not code:
        return {"skipped": "no LMM checkout (set MOTIONGPT_LMM_CODE or --lmm-code to a checkout of mingyuan-zhang/LMM)"}
    try:
        import importlib.util
        from safetensors.torch import load_file, save_file
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "lmm_official.py")
        spec = importlib.util.spec_from_file_location("lmm_official", path)
        official = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(official)
        off = official.load(code)
    except Exception as e:  # noqa: BLE001  (reported in the bench's LMM row)
        return {"skipped": f"cannot import the official LMM from {code}: {type(e).__name__}: {e}"}
    f = load_file(exchange)
    cfg = {k[7:]: f[k] for k in f if k.startswith("config.")}
    size = {k: int(v.item()) for k, v in cfg.items() if v.numel() == 1 and k != "guidance_scale"}
    scale = float(cfg["guidance_scale"].item())
    model = off.LargeMotionModel(
        input_feats=669, max_seq_len=size["max_seq_len"], num_parts=10, latent_part_dim=size["latent_part_dim"],
        time_embed_dim=size["time_embed_dim"], dataset_names=["all"], num_layers=size["num_layers"],
        num_cond_layers=size["num_cond_layers"], num_datasets=1, dropout=0,
        ca_block_cfg=dict(type="ArtAttention", num_experts=size["num_experts"], topk=1, gate_type="top", gate_noise=0.0,
                          num_datasets=1, has_text=True),
        text_input_dim=size["text_input_dim"], guidance_cfg={"all": dict(type="linear", scale=scale)},
        use_pos_embedding=False, cond_drop_rate=0.1)
    model.load_state_dict({k[6:]: v for k, v in f.items() if k.startswith("param.")}, strict=True)
    model.eval()
    noise, text, mask = f["in.noise"], f["in.text"], f["in.part_mask"]
    b, t = noise.shape[:2]
    metas = [{"meta_data": {"framerate": 20.0, "dataset_name": "all", "rotation_type": "h3d_rot"}}] * b
    text_cond = torch.ones(b, 1)
    sections = ",".join(str(int(v)) for v in cfg["sections"].tolist())
    diffusion = off.gd.build_diffusion(dict(beta_scheduler="linear", diffusion_steps=1000, model_mean_type="start_x",
                                            model_var_type="fixed_large", respace=sections))

    def sample():
        kwargs = model.get_precompute_condition(text_word_feat=text, text_cond=text_cond)
        kwargs.update({"motion_mask": mask, "motion_length": torch.full((b, 1), t), "num_intervals": 1,
                       "motion_metas": metas, "text_word_feat": text, "text_cond": text_cond})
        return diffusion.ddim_sample_loop(model, tuple(noise.shape), noise=noise.clone(), clip_denoised=False,
                                          progress=False, model_kwargs=kwargs, eta=0)

    with torch.no_grad():
        first = model(motion=noise, timesteps=torch.full((b,), 999), motion_mask=mask.clone(),
                      motion_length=torch.full((b, 1), t), motion_metas=metas, text_word_feat=text,
                      text_cond=text_cond.clone())
        t0 = time.perf_counter()
        out = sample()
        sample_s = time.perf_counter() - t0
    save_file({"first": first.contiguous(), "sample": out.contiguous()},
              os.path.join(os.path.dirname(exchange), "torch_lmm.safetensors"))

    x0, tmask = f["in.train_motion"], f["in.train_part_mask"]
    tb, tt = x0.shape[:2]
    tmetas = [{"meta_data": {"framerate": 20.0, "dataset_name": "all", "rotation_type": "h3d_rot"}}] * tb
    train_diffusion = off.gd.build_diffusion(dict(beta_scheduler="linear", diffusion_steps=1000,
                                                  model_mean_type="start_x", model_var_type="fixed_large"))
    # Values of each present part: the part mask spread over the 669 values (the official expand_mask_to_all).
    value_mask = torch.zeros(tb, tt, 669)
    for p, name in enumerate(["root", "head", "stem", "larm", "rarm", "lleg", "rleg", "lhnd", "rhnd", "face"]):
        idx = torch.tensor(getattr(model.joint_embed.models[0], name + "_slice"))
        value_mask[:, :, idx] = tmask[:, :, p:p + 1]
    model.train()

    def step():
        model.zero_grad()
        ts = torch.randint(0, 1000, (tb,))
        terms = train_diffusion.training_losses(model, x0, ts, model_kwargs={
            "motion_mask": tmask, "motion_length": torch.full((tb, 1), tt), "num_intervals": 1, "motion_metas": tmetas,
            "text_word_feat": f["in.train_text"], "text_cond": torch.ones(tb, 1)})
        recon = (((terms["pred"] - terms["target"]) ** 2) * value_mask).sum() / value_mask.sum()
        (recon + sum(model.aux_loss().values())).backward()

    train_s = median_time(step, warmup=1, min_iter=3, budget=0)
    model.eval()
    return {"sample_s": sample_s, "steps": int(cfg["sections"].sum().item()), "train_step_s": train_s}


def main():
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    # MOTIONGPT_BENCH_ONLY: the sections `motiongpt bench --only` asked for (comma separated; empty: all).
    only = [s for s in os.environ.get("MOTIONGPT_BENCH_ONLY", "").split(",") if s]
    wants = lambda section: not only or section in only
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul": [], "transformer": None}
    if wants("matmul") or wants("generation"):
        matmul(result)
    # (section, result key, measurement), in the order the engine prints them.
    for section, key, measure in [("transformer", "transformer", transformer), ("scaling", "scaling", scaling),
                                  ("memory", "peak_memory", peak_memory), ("generation", "t5_greedy", t5_greedy),
                                  ("transformer", "t5_train_step_s", t5_train_step), ("tokenizer", "vqvae", vqvae),
                                  ("text-encoder", "sentence_encoder", sentence_encoder)]:
        if wants(section):
            result[key] = measure()
    if wants("lmm"):
        try:
            result["lmm"] = lmm()
        except Exception as e:  # noqa: BLE001  (the other rows stand; the LMM row says why it has no reference)
            result["lmm"] = {"skipped": f"the official LMM failed: {type(e).__name__}: {e}"}
    print(json.dumps(result))


def matmul(result):
    for m, k, n in [(64, 512, 512), (512, 512, 2048), (1, 768, 3072)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        with torch.no_grad():
            t = median_time(lambda: torch.matmul(a, b))
        result["matmul"].append({"m": m, "k": k, "n": n, "gflops": 2 * m * k * n / t / 1e9})


def transformer_stack(depth=6, dim=512, heads=8, batch=8, tokens=64):
    """The engine's TransformerStack in torch: pre-norm GELU encoder layers, no dropout; a step is
    forward + backward of the mean square of the output."""
    layer = lambda: torch.nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu",
                                                      batch_first=True, norm_first=True)
    stack = torch.nn.Sequential(*[layer() for _ in range(depth)])
    x = torch.randn(batch, tokens, dim)

    def step():
        stack.zero_grad()
        stack(x).square().mean().backward()

    return stack, x, step


def transformer():
    stack, x, step = transformer_stack()
    with torch.no_grad():
        fwd = median_time(lambda: stack(x), budget=1)
    fb = median_time(step, warmup=1, min_iter=3, budget=2)
    return {"forward_s": fwd, "forward_backward_s": fb}


# The scaling table: a 2-layer, 512-wide stack's training step over batch sizes and sequence lengths
# (the same list as EngineBenchmark.scalingShapes).
SCALING_SHAPES = [(1, 64), (4, 64), (16, 64), (8, 32), (8, 128), (8, 256)]


def scaling():
    rows = []
    for batch, tokens in SCALING_SHAPES:
        _, _, step = transformer_stack(depth=2, batch=batch, tokens=tokens)
        rows.append({"batch": batch, "tokens": tokens, "forward_backward_s": median_time(step, warmup=1, min_iter=3, budget=0.5)})
    return rows


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def peak_growth(name):
    """Bytes the peak resident set grows by, in this fresh process, while building `name`'s workload and
    running 3 of its training steps (the same workloads as the engine's peak-memory rows)."""
    base = status_kb("VmRSS")
    if name == "transformer":
        step = transformer_stack()[2]
    else:
        step = vqvae_step()
    for _ in range(3):
        step()
    return (status_kb("VmHWM") - base) * 1024


def peak_memory():
    import subprocess
    out = {}
    for name in ("transformer", "tokenizer"):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--peak", name], capture_output=True, text=True)
        out[name] = json.loads(r.stdout)["peak_bytes"] if r.returncode == 0 else None
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peak":
        torch.set_num_threads(os.cpu_count() or 1)
        print(json.dumps({"peak_bytes": peak_growth(sys.argv[2])}))
    else:
        main()
