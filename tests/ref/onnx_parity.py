#!/usr/bin/python3
"""Parity of the ONNX peers (numeric suite), run before any comparison of speed.

  onnx_parity.py --source ROOT --tmp DIR [--node PATH]

MoveNet Lightning, Thunder and MultiPose: tests/ref/onnx_export.py writes the
graph of each TensorFlow.js model.json as ONNX; ONNX Runtime (onnxruntime-node,
tests/ref/ort_peer.js) and TensorFlow.js (tfjs-backend-cpu, tests/ref/
tfjs_pose.js) then run the real photographs in third_party/images (each
letterboxed to the model's input by ffmpeg) and a random tensor, and their
outputs must agree within 1e-3 (largest absolute difference).

The segment model: models/default.safetensors and a random NC-GRU model are
written as ONNX; ONNX Runtime runs 12 segments of one stream, memory carried,
and its probabilities and memories must agree with the PyTorch reference
(tests/ref/crt_ref.py, nn.TransformerEncoder + GRUCell) within 1e-4.

Prints each comparison; exits 1 on the first that fails, naming it.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

POSE_TOL = 1e-3
SEGMENT_TOL = 1e-4
# The photographs per model and input side. TensorFlow.js's CPU backend
# takes most of the test's time, so the largest inputs get fewer.
PHOTOS = {("lightning", 192): ["messi5.jpg", "basketball1.png", "basketball2.png"],
          ("thunder", 256): ["messi5.jpg", "basketball1.png"],
          ("multipose", 256): ["basketball1.png", "basketball2.png", "messi5.jpg"],
          ("multipose", 384): ["basketball2.png"]}


class Failure(Exception):
    pass


def run(argv, what):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"{what} failed (exit {p.returncode}): {p.stderr.strip()[-2000:]}")
    return p.stdout


def photo(root, name, side):
    """The photograph letterboxed to side x side, as int32 RGB [side, side, 3]."""
    path = os.path.join(root, "third_party", "images", name)
    if not os.path.exists(path):
        raise Failure(f"{path} is missing (run scripts/setup)")
    vf = (f"scale={side}:{side}:force_original_aspect_ratio=decrease,"
          f"pad={side}:{side}:(ow-iw)/2:(oh-ih)/2")
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", vf, "-frames:v", "1",
                        "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True)
    if p.returncode != 0 or len(p.stdout) != side * side * 3:
        raise Failure(f"ffmpeg could not decode {path}: {p.stderr.decode()[-500:]}")
    return np.frombuffer(p.stdout, np.uint8).astype(np.int32).reshape(side, side, 3)


def pose_parity(args, npm, model):
    src = os.path.join(args.source, "third_party", "models", f"movenet-{model}.json")
    onnx_path = os.path.join(args.tmp, f"movenet-{model}.onnx")
    run([sys.executable, os.path.join(HERE, "onnx_export.py"), "movenet", src, onnx_path],
        f"onnx_export.py movenet {model}")
    sides = [256, 384] if model == "multipose" else [{"lightning": 192, "thunder": 256}[model]]
    worst = 0.0
    for side in sides:
        rng = np.random.default_rng(side)
        names = ["random"] + PHOTOS[(model, side)]
        inputs = [rng.integers(0, 256, (side, side, 3)).astype(np.int32)]
        inputs += [photo(args.source, n, side) for n in names[1:]]
        in_path = os.path.join(args.tmp, f"onnx-parity-{model}-{side}.i32")
        np.stack(inputs).astype("<i4").tofile(in_path)
        size = f"--size={side}x{side}"
        tf_prefix = os.path.join(args.tmp, f"onnx-parity-{model}-{side}-tfjs-")
        ort_prefix = os.path.join(args.tmp, f"onnx-parity-{model}-{side}-ort-")
        run([args.node, os.path.join(HERE, "tfjs_pose.js"), "run", npm, src, in_path, tf_prefix,
             size], f"TensorFlow.js on {model}")
        run([args.node, os.path.join(HERE, "ort_peer.js"), "run", npm, onnx_path, in_path,
             ort_prefix, size], f"ONNX Runtime on {model}")
        for k, name in enumerate(names):
            a = np.fromfile(f"{tf_prefix}{k}_0.f32", np.float32)
            b = np.fromfile(f"{ort_prefix}{k}_0.f32", np.float32)
            if a.shape != b.shape or a.size == 0:
                raise Failure(f"{model} {side}x{side} {name}: {b.size} values from ONNX Runtime, "
                              f"{a.size} from TensorFlow.js")
            diff = float(np.max(np.abs(a - b)))
            worst = max(worst, diff)
            print(f"{model:9s} {side}x{side} {name:16s} max |ort - tfjs| = {diff:.2e}"
                  f"  (largest output {float(np.max(np.abs(a))):.3f})")
            if not diff <= POSE_TOL:
                raise Failure(f"{model} {side}x{side} {name}: ONNX Runtime differs from "
                              f"TensorFlow.js by {diff:.3e} > {POSE_TOL}")
    return worst


def segment_parity(args, npm, model_path, label):
    import torch

    import crt_ref

    torch.set_num_threads(1)
    tag = label.replace("/", "-").replace(" ", "-")
    onnx_path = os.path.join(args.tmp, f"segment-{tag}.onnx")
    run([sys.executable, os.path.join(HERE, "onnx_export.py"), "segment", model_path, onnx_path],
        f"onnx_export.py segment {label}")
    model, _, _ = crt_ref.load_model(model_path)
    cfg = model.cfg
    L, F_, d = cfg["segment_len"], cfg["n_features"], cfg["d_model"]
    rng = np.random.default_rng(3)
    feats = rng.uniform(-1, 1, (12, 1, L, F_)).astype(np.float32)
    mem0 = model.initial_memory(1).detach().numpy().astype(np.float32)
    in_path = os.path.join(args.tmp, f"segment-{tag}.in.f32")
    out_path = os.path.join(args.tmp, f"segment-{tag}.out.f32")
    np.concatenate([mem0.reshape(-1), feats.reshape(-1)]).astype("<f4").tofile(in_path)
    run([args.node, os.path.join(HERE, "ort_peer.js"), "segment-run", npm, onnx_path, in_path,
         out_path], f"ONNX Runtime on the segment model ({label})")
    got = np.fromfile(out_path, np.float32)
    C = cfg["n_classes"]
    if got.size != 12 * (C + d):
        raise Failure(f"segment {label}: {got.size} values from ONNX Runtime, want {12 * (C + d)}")
    got = got.reshape(12, C + d)
    worst = 0.0
    with torch.inference_mode():
        mem = torch.from_numpy(mem0)
        for s in range(12):
            logits, mem = model.step(torch.from_numpy(feats[s]), mem)
            probs = torch.softmax(logits, dim=-1).numpy().reshape(-1)
            dp = float(np.max(np.abs(probs - got[s, :C])))
            dm = float(np.max(np.abs(mem.numpy().reshape(-1) - got[s, C:])))
            worst = max(worst, dp, dm)
            if not (dp <= SEGMENT_TOL and dm <= SEGMENT_TOL):
                raise Failure(f"segment {label}, segment {s}: ONNX Runtime differs from PyTorch "
                              f"by {dp:.3e} (probabilities), {dm:.3e} (memory) > {SEGMENT_TOL}")
    print(f"segment   {label:24s} 12 segments  max |ort - torch| = {worst:.2e}")
    return worst


def random_model(path, variant):
    import torch

    import crt_ref

    cfg = crt_ref.default_config(variant)
    tensors = crt_ref.random_tensors(cfg, torch.Generator().manual_seed(11))
    crt_ref.write_safetensors(path, tensors, crt_ref.metadata(cfg, "onnx_parity.py"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--node", default="node")
    parser.add_argument("--only", choices=["pose", "segment"])
    args = parser.parse_args()
    npm = os.path.join(args.source, "third_party", "npm", "node_modules")
    try:
        for pkg in ("onnxruntime-node", "@tensorflow/tfjs-core"):
            if not os.path.isdir(os.path.join(npm, pkg)):
                raise Failure(f"{npm}/{pkg} is missing (run scripts/setup)")
        os.makedirs(args.tmp, exist_ok=True)
        if args.only != "segment":
            for model in ("lightning", "thunder", "multipose"):
                pose_parity(args, npm, model)
        if args.only != "pose":
            segment_parity(args, npm, os.path.join(args.source, "models", "default.safetensors"),
                           "models/default")
            ncgru = os.path.join(args.tmp, "onnx-parity-ncgru.safetensors")
            random_model(ncgru, "ncgru")
            segment_parity(args, npm, ncgru, "random ncgru")
    except Failure as e:
        print(f"onnx_parity.py: FAIL: {e}", file=sys.stderr)
        return 1
    print("onnx_parity.py: all outputs agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
