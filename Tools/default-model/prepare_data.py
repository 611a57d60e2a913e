"""Build step of the bundled default model (Models/default): caption augmentation and the text vocabulary.

Run from the repository root with a Python that has numpy and sentencepiece (never needed at run time):

    ../venv/bin/python Tools/default-model/prepare_data.py --data Data/cmu-mocap-h3d --out runs/default/data

It writes OUT, a HumanML3D-layout folder with the same motions (new_joint_vecs/ and new_joints/ are
symbolic links to DATA's), the same splits and Mean/Std, and these texts:

- train split: the clip's own captions, plus sentences written here from the CMU description and from
  what the motion does (measured on its joints): "a person walks forward", "someone jumps in place", ...
  The CMU descriptions are terse ("walk", "basketball - forward dribble"); without sentences a model
  trained on them knows no "a person ..." prompt at all.
- val and test splits: the clip's own captions only, untouched, so held-out numbers compare with the
  references as they are.

It also trains OUT/../spiece.model: a SentencePiece unigram model with T5's ids (pad 0, eos 1, unk 2; no
bos; the 100 <extra_id_N> sentinels are added by the tokenizer, as T5Tokenizer does) on the train
captions (augmented) and the bundled task templates, and writes OUT/../vocabulary.txt, the words of
the training captions (what `generate` warns about when a prompt leaves it).
Everything is deterministic: same input, same files.
"""
import argparse
import json
import os
import re
import shutil

import numpy as np
import sentencepiece as spm

# Verb phrases per CMU description kind (first keyword that matches wins). Each entry is
# (regex over the description, third-person phrase, -ing phrase).
KINDS = [
    (r"dribble", "dribbles a basketball", "dribbling a basketball"),
    (r"swordplay", "swings a sword", "swinging a sword"),
    (r"punch|strike", "punches", "punching"),
    (r"shower|wash", "washes", "washing"),
    (r"picks something up|scoop|bend over", "bends over and picks something up", "bending over to pick something up"),
    (r"climb", "climbs", "climbing"),
    (r"dance|ballet|pirouette|arabesque", "dances", "dancing"),
    (r"hop|jump", "jumps", "jumping"),
    (r"walk|stride", "walks", "walking"),
]

SUBJECTS = ["a person", "someone", "a man", "the person"]


def kind_of(captions):
    text = " ".join(captions).lower()
    for pattern, verb, ing in KINDS:
        if re.search(pattern, text):
            return verb, ing
    return None


def motion_facts(joints):
    """Root travel on the floor (m), jump height of the root above its median height (m)."""
    root = joints[:, 0, :]
    travel = float(np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]))
    lift = float(root[:, 1].max() - np.median(root[:, 1]))
    return travel, lift


def sentences(captions, joints):
    k = kind_of(captions)
    if k is None:
        return []
    verb, ing = k
    travel, lift = motion_facts(joints)
    out = []
    for s in SUBJECTS:
        out.append(f"{s} {verb}")
    out.append(f"a person is {ing}")
    if verb == "walks":
        if travel > 1.0:
            out += ["a person walks forward", "a person walks straight ahead", "someone is walking forward"]
    if verb == "jumps":
        if travel < 0.5:
            out += ["a person jumps in place", "someone jumps up"]
        elif travel > 1.0:
            out += ["a person jumps forward"]
    if verb.startswith("bends over"):
        out += ["a person bends over", "someone bends down to the floor"]
    if verb == "dances":
        out += ["a person dances ballet"]
    if travel < 0.5 and verb in ("dances", "swings a sword", "punches", "washes", "dribbles a basketball"):
        out += [f"a person {verb} in place"]
    seen, unique = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def caption_line(text):
    words = re.findall(r"[a-z0-9']+", text.lower())
    return f"{text}#{' '.join(w + '/X' for w in words)}#0.0#0.0"


def read_split(root, name):
    with open(os.path.join(root, f"{name}.txt")) as f:
        return [l.strip() for l in f if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="Data/cmu-mocap-h3d")
    ap.add_argument("--out", default="runs/default/data")
    ap.add_argument("--templates", default="Sources/MotionT5/Resources/motion_templates.json")
    ap.add_argument("--vocab-size", type=int, default=800)
    ap.add_argument("--no-augment", action="store_true", help="keep every caption as it is (HumanML3D)")
    args = ap.parse_args()

    data, out = os.path.abspath(args.data), os.path.abspath(args.out)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "texts"))
    for d in ("new_joint_vecs", "new_joints"):
        os.symlink(os.path.join(data, d), os.path.join(out, d))
    for f in ("train.txt", "val.txt", "test.txt", "Mean.npy", "Std.npy"):
        shutil.copy(os.path.join(data, f), os.path.join(out, f))

    train = set(read_split(data, "train"))
    corpus, added = [], 0
    for name in sorted(os.listdir(os.path.join(data, "texts"))):
        stem = name[:-4]
        with open(os.path.join(data, "texts", name)) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        if stem in train:
            captions = [l.split("#")[0] for l in lines]
            joints = np.load(os.path.join(data, "new_joints", stem + ".npy"))
            extra = [] if args.no_augment else [s for s in sentences(captions, joints) if s not in captions]
            lines += [caption_line(s) for s in extra]
            added += len(extra)
            corpus += [l.split("#")[0] for l in lines]
        with open(os.path.join(out, "texts", name), "w") as f:
            f.write("\n".join(lines) + "\n")

    with open(args.templates) as f:
        templates = json.load(f)
    for task in templates.values():
        for sub in task.values():
            for key in ("input", "output"):
                for t in sub.get(key, []):
                    corpus.append(re.sub(r"<[A-Za-z_]+>", " ", t))

    parent = os.path.dirname(out)
    corpus_path = os.path.join(parent, "spiece-corpus.txt")
    with open(corpus_path, "w") as f:
        f.write("\n".join(corpus) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus_path, model_prefix=os.path.join(parent, "spiece"), model_type="unigram",
        vocab_size=args.vocab_size, hard_vocab_limit=False, character_coverage=1.0,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        num_threads=1, seed_sentencepiece_size=100000, shuffle_input_sentence=False, minloglevel=2)

    train_caption_words = sorted({w for stem in train for l in open(os.path.join(out, "texts", stem + ".txt"))
                                  for w in re.findall(r"[a-z0-9']+", l.split("#")[0].lower())})
    with open(os.path.join(parent, "vocabulary.txt"), "w") as f:
        f.write("\n".join(train_caption_words) + "\n")
    print(f"{len(train)} train clips, {added} captions added; {len(train_caption_words)} caption words; "
          f"spiece.model with {spm.SentencePieceProcessor(model_file=os.path.join(parent, 'spiece.model')).get_piece_size()} pieces")


if __name__ == "__main__":
    main()
