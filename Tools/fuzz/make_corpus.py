#!/usr/bin/env python3
"""Builds the seed corpus of the fuzz harness (Tools/fuzz/corpus/<target>/) from the test fixtures and
/work/shared/data. Every seed is a valid file its parser accepts; keep the whole corpus under ~1 MB.
Run from the repository root: /work/venv/bin/python Tools/fuzz/make_corpus.py"""
import io, json, math, os, shutil, struct, zipfile
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tools/fuzz/corpus")
DATA = os.path.join(ROOT, "Data")
IO = os.path.join(ROOT, "Tests/TensorEngineTests/Fixtures/io")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(target, src, name=None):
    with open(src, "rb") as f:
        put(target, name or os.path.basename(src), f.read())


shutil.rmtree(OUT, ignore_errors=True)

# .npy: the dtype/order/version fixtures, plus real HumanML3D data (a few frames of joints).
for n in ["f4.npy", "f2.npy", "f8_be.npy", "i8.npy", "i1.npy", "u1.npy", "b1.npy", "fortran.npy", "v2.npy", "v3.npy", "f4_scalar.npy"]:
    copy("npy", os.path.join(IO, n))
joints = np.load(os.path.join(DATA, "humanml3d-sample/new_joints_012314.npy"))
buf = io.BytesIO(); np.save(buf, joints[:4].astype(np.float32)); put("npy", "joints_4x22x3.npy", buf.getvalue())

# .npz: stored, deflated at several levels, ZIP64.
for n in ["stored.npz", "compressed.npz", "zip64.npz", "levels.npz"]:
    copy("npz", os.path.join(IO, n))

# safetensors: F32 and mixed dtypes (with metadata).
for n in ["f32.safetensors", "mixed.safetensors"]:
    copy("safetensors", os.path.join(IO, n))

# torch: a plain state dict and a Lightning checkpoint (nested dicts, hyper-parameters).
for n in ["state_dict.pt", "lightning.ckpt"]:
    copy("torch", os.path.join(IO, n))

# spiece.model: the identity-normalisation fixture and a tiny byte-fallback model trained here.
copy("spiece", os.path.join(ROOT, "Tests/TextTokenizerTests/Fixtures/identity.model"))
import sentencepiece as spm
text = ("a person walks forward then waves\nsomeone jumps twice and turns around\n"
        "the man kicks with his left leg\na figure dances in a circle\n") * 20
m = io.BytesIO()
# A handful of rewrite rules keeps the precompiled charsmap (a Darts trie) small but present.
import tempfile
rules = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False)
rules.write("41\t61\nFF21\t61\n2460\t31\n3000\t20\nFB01\t66 69\n")
rules.close()
spm.SentencePieceTrainer.train(sentence_iterator=iter(text.splitlines()), model_writer=m, vocab_size=290, hard_vocab_limit=False, minloglevel=2,
                               model_type="unigram", byte_fallback=True, character_coverage=1.0,
                               normalization_rule_tsv=rules.name, bos_id=-1, eos_id=1, unk_id=2, pad_id=0)
put("spiece", "tiny_bytefallback.model", m.getvalue())

# BVH: CMU-style, SMPL-named and HumanML3D-named hierarchies (all retarget with the built-in maps).
def bvh(tree, frames, frame_time, root_channels, joint_channels, eol="\n"):
    out = ["HIERARCHY"]
    order = []
    def emit(node, depth, root=False):
        name, off, kids = node
        pad = "\t" * depth
        out.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {off[0]:.4f} {off[1]:.4f} {off[2]:.4f}")
        ch = root_channels if root else joint_channels
        out.append(f"{pad}\tCHANNELS {len(ch)} {' '.join(ch)}")
        order.append(len(ch))
        for k in kids:
            emit(k, depth + 1)
        if not kids:
            out.extend([pad + "\tEnd Site", pad + "\t{", pad + "\t\tOFFSET 0.0000 0.5000 0.0000", pad + "\t}"])
        out.append(pad + "}")
    emit(tree, 0, True)
    width = sum(order)
    out += ["MOTION", f"Frames: {frames}", f"Frame Time: {frame_time:.7f}"]
    for t in range(frames):
        row = [10 * math.sin(0.3 * t + 0.7 * k) for k in range(width)]
        row[1] += 17
        out.append(" ".join(f"{v:.4f}" for v in row))
    return eol.join(out) + eol

def chain(names, step):
    node = None
    for n in reversed(names):
        node = (n, step, [node] if node else [])
    return node

def side(prefix, names, sx, first):
    c = chain([prefix + n for n in names], (0, -7, 0))
    return (c[0], (first * sx, -1, 0), c[2])

cmu = ("Hips", (0, 0, 0), [
    ("LHipJoint", (0, 0, 0), [side("Left", ["UpLeg", "Leg", "Foot", "ToeBase"], 1, 1.7)]),
    ("RHipJoint", (0, 0, 0), [side("Right", ["UpLeg", "Leg", "Foot", "ToeBase"], -1, 1.7)]),
    ("LowerBack", (0, 0, 0), [("Spine", (0, 2, 0), [("Spine1", (0, 2.1, 0), [
        ("Neck", (0, 3.6, 0), [("Neck1", (0, 1.6, 0), [("Head", (0, 1.6, 0), [])])]),
        ("LeftShoulder", (0, 2.8, 0), [chain(["LeftArm", "LeftForeArm", "LeftHand"], (5, 0, 0))]),
        ("RightShoulder", (0, 2.8, 0), [chain(["RightArm", "RightForeArm", "RightHand"], (-5, 0, 0))]),
    ])])]),
])
put("bvh", "cmu_style.bvh", bvh(cmu, 8, 1 / 120, ["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"],
                               ["Zrotation", "Yrotation", "Xrotation"]))
put("bvh", "cmu_style_crlf_xyz.bvh", bvh(cmu, 5, 1 / 30, ["Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"],
                                        ["Xrotation", "Yrotation", "Zrotation"], eol="\r\n"))

def smpl_tree(p):
    leg = lambda s, sx: (p(s + "Hip"), (sx * 0.1, -0.1, 0), [chain([p(s + "Knee"), p(s + "Ankle"), p(s + "Foot")], (0, -0.4, 0.02))])
    arm = lambda s, sx: (p(s + "Collar"), (sx * 0.05, 0.1, 0), [chain([p(s + "Shoulder"), p(s + "Elbow"), p(s + "Wrist")], (sx * 0.25, 0, 0))])
    return (p("Pelvis"), (0, 0.9, 0), [leg("L_", 1), leg("R_", -1),
        (p("Spine1"), (0, 0.1, 0), [(p("Spine2"), (0, 0.12, 0), [(p("Spine3"), (0, 0.05, 0), [
            (p("Neck"), (0, 0.2, 0), [(p("Head"), (0, 0.1, 0), [])]), arm("L_", 1), arm("R_", -1)])])])])
put("bvh", "smpl_names_metres.bvh", bvh(smpl_tree(lambda n: n), 6, 1 / 60,
                                       ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"],
                                       ["Zrotation", "Xrotation", "Yrotation"]))

# Rigs (--rig): the two test rigs (Mixamo names in centimetres, CMU names facing -Z) and a CMU-style BVH.
copy("rig", os.path.join(ROOT, "Tests/MotionDataTests/Fixtures/rigs/mixamo-tall.bvh"))
copy("rig", os.path.join(ROOT, "Tests/MotionDataTests/Fixtures/rigs/cmu-stocky.bvh"))
# Joint maps (--joint-map) for the fuzz target's built-in rig (Hips, Spine, Chest, Neck, Head, Left/Right
# UpLeg, Leg, Foot, ToeBase, Arm, ForeArm, Hand): full, legs only with nulls, alternatives as lists.
full = {"pelvis": "Hips", "spine1": "Spine", "spine3": "Chest", "neck": "Neck", "head": "Head"}
for side, S in (("left", "Left"), ("right", "Right")):
    full.update({f"{side}_hip": S + "UpLeg", f"{side}_knee": S + "Leg", f"{side}_ankle": S + "Foot", f"{side}_foot": S + "ToeBase",
                 f"{side}_shoulder": S + "Arm", f"{side}_elbow": S + "ForeArm", f"{side}_wrist": S + "Hand"})
put("joint-map", "full.json", json.dumps(full))
legs = {k: v for k, v in full.items() if any(w in k for w in ("pelvis", "hip", "knee", "ankle"))}
legs.update({"spine2": None, "left_collar": None})
put("joint-map", "legs_nulls.json", json.dumps(legs))
put("joint-map", "alternatives.json", json.dumps({**full, "spine3": ["Spine2", "Chest"], "left_hip": ["mixamorig:LeftUpLeg", "LeftUpLeg"]}))

# Motion .json: HumanML3D joints (22, named skeleton) and a KIT-sized clip with no skeleton name.
def motion_json(frames, skeleton=None, fps=20):
    d = {"fps": fps, "joints": [[[round(float(v), 5) for v in j] for j in f] for f in frames]}
    if skeleton: d["skeleton"] = skeleton
    return json.dumps(d, separators=(",", ":"))
put("motion-json", "humanml3d_3frames.json", motion_json(joints[:3], "humanml3d"))
put("motion-json", "kit_2frames.json", motion_json(joints[:2, :21] * 1000, None, 12.5))

# Config JSON: T5 configs from the test fixtures and the motion tokenizer's.
copy("config", os.path.join(ROOT, "Tests/MotionT5Tests/Fixtures/t5-relu/config.json"), "t5_relu.json")
copy("config", os.path.join(ROOT, "Tests/MotionT5Tests/Fixtures/t5-gated/config.json"), "t5_gated.json")
copy("config", os.path.join(ROOT, "Tests/MotionGPTTests/Fixtures/motiongpt-tiny/flan-t5-tokenizer/config.json"), "flan_t5.json")
put("config", "motion_tokenizer.json", json.dumps({"model_type": "motion_vqvae", "nfeats": 263, "code_num": 512, "code_dim": 512,
                                                   "output_emb_width": 512, "down_t": 2, "stride_t": 2, "width": 512, "depth": 3,
                                                   "dilation_growth_rate": 3, "activation": "relu", "quantizer": "ema_reset", "mu": 0.99}))

# The engine's JSON parser: real safetensors headers, plus escapes and nesting.
for n in ["f32.safetensors", "mixed.safetensors"]:
    with open(os.path.join(IO, n), "rb") as f:
        raw = f.read()
    (hl,) = struct.unpack("<Q", raw[:8])
    put("json", n.replace(".safetensors", "_header.json"), raw[8:8 + hl])
put("json", "escapes.json", '{"a\\u00e9\\ud83d\\ude00":[1,-2.5e-3,true,false,null,{"b":[[],{}]}],"\\n\\t\\"":"x\\/y"}')
