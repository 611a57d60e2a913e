"""Imports our BVH and glTF exports into Blender (headless) and compares them with our joints.

Run through Tools/check_blender_export.sh, which writes the files and a config, then calls
    blender -b --factory-startup --python Tools/blender/check_export.py -- CONFIG.json

For each file it prints the armature's bone count, the imported frame range and, at three frames, the
world position of a foot bone beside ours. For our own skeleton the positions must agree within 2 cm; for a
rig with other proportions it compares the directions of the limb bones with ours (and the foot position
with the retargeted file's own forward kinematics, read back by our BVH reader). Exits 1 on a failed check.
"""
import builtins
import json
import math
import sys

import bpy
from mathutils import Vector

# Debian's Blender 3.4 BVH importer opens files with mode 'rU', which Python 3.11 refuses.
_open = builtins.open


def _open_without_u(file, mode="r", *args, **kwargs):
    if isinstance(mode, str) and "U" in mode:
        mode = mode.replace("U", "") or "r"
    return _open(file, mode, *args, **kwargs)


builtins.open = _open_without_u

# Blender 3.4's glTF importer uses numpy.bool, an alias that Debian 12's numpy 1.24 no longer has.
try:
    import numpy
    if not hasattr(numpy, "bool"):
        numpy.bool = bool
except ImportError:
    pass

config = json.load(_open(sys.argv[sys.argv.index("--") + 1]))
failures = []


def ours_from_blender(v):
    # Both importers turn y-up files into Blender's z-up world: (x, y, z) -> (x, -z, y).
    return (v.x, v.z, -v.y)


def clear():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def joints(path):
    with _open(path) as f:
        d = json.load(f)
    return d["joints"]


def armature():
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    assert len(arms) == 1, f"{len(arms)} armatures"
    return arms[0]


def head(arm, bone, frame):
    bpy.context.scene.frame_set(frame)
    return ours_from_blender(arm.matrix_world @ arm.pose.bones[bone].head)


def dist(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def angle(a, b):
    la, lb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    c = sum(x * y for x, y in zip(a, b)) / (la * lb)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def sub(a, b):
    return tuple(x - y for x, y in zip(a, b))


def load(path, scale):
    clear()
    if path.endswith(".bvh"):
        bpy.ops.import_anim.bvh(filepath=path, global_scale=scale, frame_start=1, use_fps_scale=False,
                                update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE")
    else:
        bpy.context.scene.render.fps = config["fps"]
        bpy.ops.import_scene.gltf(filepath=path)
    arm = armature()
    action = arm.animation_data.action
    first, last = (int(round(x)) for x in action.frame_range)
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    verts = sum(len(m.data.vertices) for m in meshes)
    print(f"{path.split('/')[-1]}: armature '{arm.name}' with {len(arm.data.bones)} bones, frames {first}-{last} "
          f"({last - first + 1} frames at {bpy.context.scene.render.fps} fps), {len(meshes)} mesh(es) with {verts} vertices")
    if last - first + 1 != config["frames"]:
        failures.append(f"{path}: {last - first + 1} frames, expected {config['frames']}")
    return arm, first


def check_positions(path, scale, bones, reference, label, tolerance=0.02):
    """The foot bone's world position against `reference` joints (metres) at three frames."""
    arm, first = load(path, scale)
    ref = joints(reference)
    for k in config["check_frames"]:
        for our_name, bone in bones:
            j = config["joint_names"].index(our_name)
            got = head(arm, bone, first + k)
            want = ref[k][j]
            d = dist(got, want)
            print(f"  frame {k}: {bone} at ({got[0]:.4f}, {got[1]:.4f}, {got[2]:.4f}) m, {label} {our_name} "
                  f"({want[0]:.4f}, {want[1]:.4f}, {want[2]:.4f}), {d * 100:.3f} cm apart")
            if d > tolerance:
                failures.append(f"{path} frame {k} {bone}: {d * 100:.2f} cm from {label}")
    return arm, first


def check_directions(arm, first, bones, reference, limit):
    """Limb bone directions of the imported rig against our joints' (degrees) at three frames; `limit` is
    for the mean over the limbs of a frame, as the round-trip test has it."""
    ref = joints(reference)
    names = config["joint_names"]
    for k in config["check_frames"]:
        parts = []
        angles = []
        for (a, b), (ra, rb) in bones:
            got = sub(head(arm, rb, first + k), head(arm, ra, first + k))
            want = sub(ref[k][names.index(b)], ref[k][names.index(a)])
            angles.append(angle(got, want))
            parts.append(f"{a}->{b} {angles[-1]:.3f}")
        mean = sum(angles) / len(angles)
        print(f"  frame {k}: limb directions vs ours (degrees): mean {mean:.3f}; " + ", ".join(parts))
        if mean > limit:
            failures.append(f"frame {k}: limbs {mean:.2f} degrees off ours on average")


own_feet = [("left_ankle", "left_ankle"), ("right_foot", "right_foot")]
rig_feet = [("left_ankle", config["rig_bones"]["left_ankle"]), ("right_foot", config["rig_bones"]["right_foot"])]
limbs = [("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
         ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist")]
rig_limbs = [((a, b), (config["rig_bones"][a], config["rig_bones"][b])) for a, b in limbs]
rig_scale = config["rig_metres_per_unit"]

print("== our skeleton, BVH (metres)")
check_positions(config["own_bvh"], 1.0, own_feet, config["source"], "our")
print("== our skeleton, glTF")
check_positions(config["own_glb"], 1.0, own_feet, config["source"], "our")
print(f"== retargeted onto {config['rig_name']} (foot lock on), BVH (scaled to metres by {rig_scale:.6g})")
arm, first = check_positions(config["rig_bvh"], rig_scale, rig_feet, config["rig_back"], "the file's own FK of")
check_directions(arm, first, rig_limbs, config["source"], limit=5.0)
print(f"== retargeted onto {config['rig_name']} (foot lock on), glTF")
arm, first = check_positions(config["rig_glb"], 1.0, rig_feet, config["rig_back"], "the BVH's own FK of")
check_directions(arm, first, rig_limbs, config["source"], limit=5.0)
# Without the foot lock every limb points exactly where ours does: Blender must read our rotations as we mean them.
print(f"== retargeted onto {config['rig_name']} with --no-foot-lock, BVH and glTF: directions only")
arm, first = load(config["rig_free_bvh"], rig_scale)
check_directions(arm, first, rig_limbs, config["source"], limit=0.05)
arm, first = load(config["rig_free_glb"], 1.0)
check_directions(arm, first, rig_limbs, config["source"], limit=0.05)

if failures:
    print("FAILED: " + "; ".join(failures))
    sys.stdout.flush()
    import os
    os._exit(1)
print("all Blender checks passed")
