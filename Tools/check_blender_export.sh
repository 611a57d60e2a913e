#!/usr/bin/env bash
# Opens our exports in Blender (headless) and compares them with our joints: our own-skeleton BVH and glTF
# (foot positions within 2 cm of our joints), and a clip retargeted onto a rig with other proportions (BVH
# and glTF: the rig's foot against the file's own forward kinematics as our BVH reader gives it, and the
# rig's limb directions against ours: within 5 degrees on average with the foot lock, 0.05 without). Not in CI (Blender is large): apt-get install -y blender python3-numpy
# (Debian 12: Blender 3.4; its glTF importer needs numpy).
#   Tools/check_blender_export.sh [CLIP.npy] [RIG.bvh]        (SCRATCH=.build-x picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v blender >/dev/null || { echo "blender not found (apt-get install -y blender)" >&2; exit 1; }
CLIP=${1:-Data/cmu-mocap-h3d/new_joints/05_01_00.npy}
RIG=${2:-Tests/MotionDataTests/Fixtures/rigs/mixamo-tall.bvh}
swift build --scratch-path "${SCRATCH:-.build}" --product motiongpt >/dev/null
M="$(swift build --scratch-path "${SCRATCH:-.build}" --show-bin-path)/motiongpt"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$M" convert "$CLIP" -o "$OUT/source.json" >/dev/null
"$M" convert "$CLIP" -o "$OUT/own.bvh" >/dev/null
"$M" convert "$CLIP" -o "$OUT/own.glb" >/dev/null
"$M" convert "$CLIP" -o "$OUT/rig.bvh" --rig "$RIG" >/dev/null
"$M" convert "$CLIP" -o "$OUT/rig.glb" --rig "$RIG" >/dev/null
"$M" convert "$CLIP" -o "$OUT/rig-free.bvh" --rig "$RIG" --no-foot-lock >/dev/null
"$M" convert "$CLIP" -o "$OUT/rig-free.glb" --rig "$RIG" --no-foot-lock >/dev/null
# The retargeted file read back through our import maps, in metres: the rig's own joint positions.
"$M" convert "$OUT/rig.bvh" -o "$OUT/rig-back.json" >/dev/null
python3 - "$OUT" "$RIG" <<'PY'
import json, re, sys
out, rig = sys.argv[1], sys.argv[2]
src = json.load(open(f"{out}/source.json"))
names = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
         "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"]
hierarchy, motion = open(f"{out}/rig.bvh").read().split("MOTION")
joints = re.findall(r"(?:ROOT|JOINT)\s+(\S+)", hierarchy)
def find(name):  # Mixamo and CMU names, with or without a namespace
    for j in joints:
        if j.split(":")[-1] == name:
            return j
    raise SystemExit(f"{rig} has no joint {name}")
side = {"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "foot": "ToeBase", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand"}
bones = {f"{s}_{k}": find(S + v) for s, S in (("left", "Left"), ("right", "Right")) for k, v in side.items()}
# Metres per rig unit: the read-back pelvis height (metres) over the file's root Yposition in frame 0.
root_channels = re.search(r"CHANNELS\s+\d+\s+([^\n]+)", hierarchy).group(1).split()
row0 = [float(v) for v in motion.strip().split("\n")[2].split()]
back = json.load(open(f"{out}/rig-back.json"))["joints"]
frames = len(src["joints"])
json.dump({"source": f"{out}/source.json", "own_bvh": f"{out}/own.bvh", "own_glb": f"{out}/own.glb",
           "rig_bvh": f"{out}/rig.bvh", "rig_glb": f"{out}/rig.glb",
           "rig_free_bvh": f"{out}/rig-free.bvh", "rig_free_glb": f"{out}/rig-free.glb", "rig_back": f"{out}/rig-back.json",
           "rig_name": rig.split("/")[-1], "rig_bones": bones, "joint_names": names, "fps": int(round(src["fps"])),
           "frames": frames, "check_frames": [0, frames // 2, frames - 1],
           "rig_metres_per_unit": back[0][0][1] / row0[root_channels.index("Yposition")]},
          open(f"{out}/config.json", "w"))
PY
status=0
blender -b --factory-startup --python-exit-code 1 --python Tools/blender/check_export.py -- "$OUT/config.json" > "$OUT/blender.log" 2>&1 || status=$?
# Blender's own start-up and importer chatter is dropped; the script's lines all start with == or a file name.
grep -E "^(==|  frame|[a-z-]+\.(bvh|glb):|FAILED|all Blender|Traceback|  File|[A-Za-z]*Error)" "$OUT/blender.log" || true
blender --version | head -1
exit $status
