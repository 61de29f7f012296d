#!/usr/bin/python3
"""PyTorch reference of crtd's segment model and pose features (docs/MODEL.md).

Used by the numeric tests (expected values are made here at test time, never
pasted into a test), by mechanisms_ref.py and crt_train_ref.py (which import
it) and by `crt bench model`:

  crt_ref.py features --out DIR [--seed N]   keypoint sequences and their
                                              features (layout 1)
  crt_ref.py bench    --model FILE [--iters N] [--warmup N]
                                              microseconds per segment step,
                                              one thread, as JSON on stdout

The model is built from PyTorch's own modules where PyTorch has them
(nn.TransformerEncoderLayer with norm_first, nn.GRUCell, nn.LayerNorm), loaded
from the same safetensors file crtd reads, so that the C code is checked
against PyTorch's equations and not against a second copy of its own.
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURES_DIM = 89
SCORE_MIN = np.float32(0.2)
SCALE_INIT = np.float32(0.2)
SCALE_FLOOR = np.float32(0.05)
SCALE_SMOOTH = np.float32(0.8)
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 5, 6, 11, 12

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}


# ---- safetensors ------------------------------------------------------------


def to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns, round to nearest even (as crtd)."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = bits + 0x7FFF + ((bits >> 16) & 1)
    return (bits >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def quantize(a, dtype):
    """What a float32 array becomes after a round trip through dtype."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return from_bf16_bits(to_bf16_bits(a))
    return a


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    """tensors: list of (name, float32 array); all stored as dtype."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if dtype == "F32":
            raw = arr.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = arr.astype("<f2").tobytes()
        else:
            raw = to_bf16_bits(arr).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, desc in header.items():
        b, e = desc["data_offsets"]
        raw = data[base + b:base + e]
        if desc["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif desc["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif desc["dtype"] == "BF16":
            arr = from_bf16_bits(np.frombuffer(raw, dtype="<u2"))
        else:
            raise ValueError(f"{name}: dtype {desc['dtype']}")
        tensors[name] = arr.astype(np.float32).reshape(desc["shape"])
    return tensors, meta


# ---- pose features, layout 1 (mirror of crt/features.c) -------------------


class FeaturesState:
    def __init__(self):
        self.centre = [np.float32(0.5), np.float32(0.5)]
        self.smoothed = np.float32(0.0)
        self.scale = SCALE_INIT
        self.has_scale = False
        self.prev_seen = [False] * 17
        self.prev_pos = np.zeros(34, dtype=np.float32)


def features_v1(st, kp):
    """kp: [17, 3] float32 (x, y, score) or None when no person is seen."""
    out = np.zeros(FEATURES_DIM, dtype=np.float32)
    if kp is None:
        st.prev_seen = [False] * 17
        out[85:89] = [st.centre[0], st.centre[1], st.scale, 0.0]
        return out
    kp = np.asarray(kp, dtype=np.float32)
    f32 = np.float32
    half = f32(0.5)

    def seen(j):
        return kp[j, 2] >= SCORE_MIN

    hips = seen(L_HIP) and seen(R_HIP)
    shoulders = seen(L_SHOULDER) and seen(R_SHOULDER)
    hip = (half * (kp[L_HIP, 0] + kp[R_HIP, 0]), half * (kp[L_HIP, 1] + kp[R_HIP, 1]))
    sho = (half * (kp[L_SHOULDER, 0] + kp[R_SHOULDER, 0]),
           half * (kp[L_SHOULDER, 1] + kp[R_SHOULDER, 1]))
    if hips:
        st.centre = [hip[0], hip[1]]
    elif shoulders:
        st.centre = [sho[0], sho[1]]
    if hips and shoulders:
        dx, dy = sho[0] - hip[0], sho[1] - hip[1]
        raw = f32(math.sqrt(f32(dx * dx + dy * dy)))
        if st.has_scale:
            st.smoothed = f32(SCALE_SMOOTH * st.smoothed + (f32(1) - SCALE_SMOOTH) * raw)
        else:
            st.smoothed = raw
        st.has_scale = True
        st.scale = max(st.smoothed, SCALE_FLOOR)
    inv = f32(1) / st.scale
    presence = f32(0)
    for j in range(17):
        on = bool(seen(j))
        px = f32((kp[j, 0] - st.centre[0]) * inv) if on else f32(0)
        py = f32((kp[j, 1] - st.centre[1]) * inv) if on else f32(0)
        both = on and st.prev_seen[j]
        out[2 * j], out[2 * j + 1] = px, py
        out[34 + j] = kp[j, 2]
        out[51 + 2 * j] = px - st.prev_pos[2 * j] if both else 0
        out[51 + 2 * j + 1] = py - st.prev_pos[2 * j + 1] if both else 0
        st.prev_pos[2 * j], st.prev_pos[2 * j + 1] = px, py
        st.prev_seen[j] = on
        presence = f32(presence + kp[j, 2])
    out[85:89] = [st.centre[0], st.centre[1], st.scale, presence / f32(17)]
    return out


def make_keypoint_sequence(rng, frames):
    """A wandering, sometimes occluded, sometimes absent person."""
    base = np.array([[0.50, 0.20], [0.52, 0.18], [0.48, 0.18], [0.54, 0.19], [0.46, 0.19],
                     [0.58, 0.30], [0.42, 0.30], [0.62, 0.42], [0.38, 0.42], [0.64, 0.52],
                     [0.36, 0.52], [0.55, 0.55], [0.45, 0.55], [0.56, 0.72], [0.44, 0.72],
                     [0.56, 0.88], [0.44, 0.88]], dtype=np.float64)
    kps, present = [], []
    offset = np.zeros(2)
    size = 0.6
    for t in range(frames):
        offset += rng.normal(0, 0.01, 2)
        offset = np.clip(offset, -0.3, 0.3)
        size = float(np.clip(size + rng.normal(0, 0.01), 0.2, 1.0))
        xy = 0.5 + (base - 0.5) * size + offset + rng.normal(0, 0.005, base.shape)
        score = rng.uniform(0.3, 1.0, 17)
        mode = (t // 25) % 6
        if mode == 1:  # some keypoints drop out
            score[rng.random(17) < 0.3] = rng.uniform(0.0, 0.15)
        elif mode == 2:  # hips hidden: centre from the shoulders
            score[[L_HIP, R_HIP]] = 0.05
        elif mode == 3:  # torso hidden: the previous centre
            score[[L_HIP, R_HIP, L_SHOULDER, R_SHOULDER]] = 0.1
        elif mode == 4 and t % 25 < 6:  # nobody
            kps.append(np.zeros((17, 3), dtype=np.float32))
            present.append(0.0)
            continue
        elif mode == 5 and t % 25 < 3:  # a person with no confident keypoint
            score[:] = rng.uniform(0.0, 0.15, 17)
        # Keep clear of the threshold so that float rounding never decides.
        score = np.where(np.abs(score - 0.2) < 1e-3, score + 0.01, score)
        kps.append(np.concatenate([xy, score[:, None]], axis=1).astype(np.float32))
        present.append(1.0)
    return np.stack(kps), np.array(present, dtype=np.float32)


def cmd_features(args):
    rng = np.random.default_rng(args.seed)
    kps, present = make_keypoint_sequence(rng, 300)
    st = FeaturesState()
    expected = np.stack([features_v1(st, kp if p else None) for kp, p in zip(kps, present)])
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "features.safetensors"),
                      [("keypoints", kps), ("present", present), ("expected", expected)])


# ---- the segment model ----------------------------------------------------------


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


class NCGRUCell(nn.Module):
    """NC-GRU (arXiv 2208.06496) in docs/MODEL.md's form, inference only."""

    def __init__(self, d):
        super().__init__()
        self.d = d
        self.weight_ih = nn.Parameter(torch.zeros(3 * d, d))
        self.weight_hh = nn.Parameter(torch.zeros(2 * d, d))
        self.bias = nn.Parameter(torch.zeros(2 * d))
        self.u_c = nn.Parameter(torch.zeros(d, d))
        self.bias_c = nn.Parameter(torch.zeros(d))

    def forward(self, s, m):
        d = self.d
        gi = s @ self.weight_ih.t()
        gh = m @ self.weight_hh.t() + self.bias
        r = torch.sigmoid(gi[:, :d] + gh[:, :d])
        u = torch.sigmoid(gi[:, d:2 * d] + gh[:, d:])
        z = gi[:, 2 * d:] + (r * m) @ self.u_c.t()
        c = torch.sign(z) * torch.relu(torch.abs(z) + self.bias_c)
        return u * m + (1 - u) * c


class CRT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, F_, L = cfg["d_model"], cfg["n_features"], cfg["segment_len"]
        self.cfg = cfg
        eps = cfg["layer_norm_eps"]
        self.embed = nn.Linear(F_, d)
        self.pos = nn.Parameter(torch.zeros(L, d))
        self.mem_embed = nn.Linear(d, d)
        self.mem_pos = nn.Parameter(torch.zeros(d))
        self.mem_init = nn.Parameter(torch.zeros(d))
        layer = nn.TransformerEncoderLayer(
            d, cfg["n_heads"], cfg["d_ff"], dropout=0.0, activation=gelu_tanh,
            layer_norm_eps=eps, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg["n_layers"], enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d, eps=eps)
        if cfg["variant"] == "gru":
            self.cell = nn.GRUCell(d, d)
        else:
            self.cell = NCGRUCell(d)
        self.head_ln = nn.LayerNorm(d, eps=eps)
        self.head = nn.Linear(d, cfg["n_classes"])

    # crtd tensor name -> this module's parameter
    def name_map(self):
        m = {
            "embed.weight": self.embed.weight, "embed.bias": self.embed.bias,
            "embed.pos": self.pos,
            "enc.ln_f.weight": self.ln_f.weight, "enc.ln_f.bias": self.ln_f.bias,
            "mem.embed.weight": self.mem_embed.weight, "mem.embed.bias": self.mem_embed.bias,
            "mem.pos": self.mem_pos, "mem.init": self.mem_init,
            "head.ln.weight": self.head_ln.weight, "head.ln.bias": self.head_ln.bias,
            "head.weight": self.head.weight, "head.bias": self.head.bias,
        }
        for i, blk in enumerate(self.encoder.layers):
            p = f"enc.{i}."
            m.update({
                p + "ln1.weight": blk.norm1.weight, p + "ln1.bias": blk.norm1.bias,
                p + "attn.qkv.weight": blk.self_attn.in_proj_weight,
                p + "attn.qkv.bias": blk.self_attn.in_proj_bias,
                p + "attn.proj.weight": blk.self_attn.out_proj.weight,
                p + "attn.proj.bias": blk.self_attn.out_proj.bias,
                p + "ln2.weight": blk.norm2.weight, p + "ln2.bias": blk.norm2.bias,
                p + "ffn.fc1.weight": blk.linear1.weight, p + "ffn.fc1.bias": blk.linear1.bias,
                p + "ffn.fc2.weight": blk.linear2.weight, p + "ffn.fc2.bias": blk.linear2.bias,
            })
        v = self.cfg["variant"]
        for n in (["weight_ih", "weight_hh", "bias_ih", "bias_hh"] if v == "gru"
                  else ["weight_ih", "weight_hh", "bias", "u_c", "bias_c"]):
            m[f"mem.{v}.{n}"] = getattr(self.cell, n)
        return m

    def load(self, tensors):
        params = self.name_map()
        if set(params) != set(tensors):
            raise ValueError(f"tensor names differ: {sorted(set(params) ^ set(tensors))}")
        with torch.no_grad():
            for name, p in params.items():
                t = torch.from_numpy(np.array(tensors[name]))
                if tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"{name}: shape {tuple(t.shape)} expected {tuple(p.shape)}")
                p.copy_(t)

    def initial_memory(self, batch):
        """m_0 for a batch (with gradients to mem.init when they are on)."""
        return self.mem_init.expand(batch, -1)

    def step(self, feats, mem):
        """feats [B, L, F], mem [B, d] -> logits [B, C], new memory [B, d]."""
        x = self.embed(feats) + self.pos
        m = (self.mem_embed(mem) + self.mem_pos).unsqueeze(1)
        h = self.encoder(torch.cat([m, x], dim=1))
        s = self.ln_f(h[:, 0])
        mem = self.cell(s, mem)
        return self.head(self.head_ln(mem)), mem

    def step_functional(self, feats, mem):
        """The same step written out op by op (checks the module path, and is
        the second thing the benchmark times)."""
        cfg = self.cfg
        d, H, eps = cfg["d_model"], cfg["n_heads"], cfg["layer_norm_eps"]
        x = torch.cat([(self.mem_embed(mem) + self.mem_pos).unsqueeze(1),
                       self.embed(feats) + self.pos], dim=1)
        B, T, _ = x.shape
        for blk in self.encoder.layers:
            a = F.layer_norm(x, (d,), blk.norm1.weight, blk.norm1.bias, eps)
            q, k, v = F.linear(a, blk.self_attn.in_proj_weight,
                               blk.self_attn.in_proj_bias).split(d, dim=2)
            q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // H), dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, d)
            x = x + F.linear(y, blk.self_attn.out_proj.weight, blk.self_attn.out_proj.bias)
            a = F.layer_norm(x, (d,), blk.norm2.weight, blk.norm2.bias, eps)
            x = x + blk.linear2(gelu_tanh(blk.linear1(a)))
        s = self.ln_f(x[:, 0])
        mem = self.cell(s, mem)
        return self.head(self.head_ln(mem)), mem


def config_from_metadata(meta):
    cfg = {k: int(meta[k]) for k in ("d_model", "n_layers", "n_heads", "d_ff", "n_features",
                                      "segment_len", "n_classes", "feature_layout")}
    cfg.update(architecture=meta["architecture"], variant=meta["variant"],
               fps=float(meta["fps"]), layer_norm_eps=float(meta["layer_norm_eps"]),
               classes=json.loads(meta["classes"]))
    if cfg["architecture"] != "crt" or cfg["variant"] not in ("gru", "ncgru"):
        raise ValueError(f"{cfg['architecture']}/{cfg['variant']}: not a CRT")
    return cfg


def load_model(path):
    tensors, meta = read_safetensors(path)
    cfg = config_from_metadata(meta)
    model = CRT(cfg)
    model.load(tensors)
    return model.eval(), tensors, meta


def random_tensors(cfg, gen):
    """Random weights of every tensor, of the scales training starts from, with
    norms and biases away from 1 and 0 so that every parameter matters."""
    d, ff, F_, L, C = (cfg[k] for k in ("d_model", "d_ff", "n_features", "segment_len",
                                         "n_classes"))

    def mat(o, i):
        return (torch.rand(o, i, generator=gen) * 2 - 1) / math.sqrt(i)

    def vec(n, scale=0.1):
        return torch.randn(n, generator=gen) * scale

    def norm(n):
        return 1 + vec(n)

    t = [("embed.weight", mat(d, F_)), ("embed.bias", vec(d)), ("embed.pos", vec(L * d).view(L, d))]
    for i in range(cfg["n_layers"]):
        p = f"enc.{i}."
        t += [(p + "ln1.weight", norm(d)), (p + "ln1.bias", vec(d)),
              (p + "attn.qkv.weight", mat(3 * d, d)), (p + "attn.qkv.bias", vec(3 * d)),
              (p + "attn.proj.weight", mat(d, d)), (p + "attn.proj.bias", vec(d)),
              (p + "ln2.weight", norm(d)), (p + "ln2.bias", vec(d)),
              (p + "ffn.fc1.weight", mat(ff, d)), (p + "ffn.fc1.bias", vec(ff)),
              (p + "ffn.fc2.weight", mat(d, ff)), (p + "ffn.fc2.bias", vec(d))]
    t += [("enc.ln_f.weight", norm(d)), ("enc.ln_f.bias", vec(d)),
          ("mem.embed.weight", mat(d, d)), ("mem.embed.bias", vec(d)),
          ("mem.pos", vec(d)), ("mem.init", vec(d, 0.5))]
    if cfg["variant"] == "gru":
        t += [("mem.gru.weight_ih", mat(3 * d, d)), ("mem.gru.weight_hh", mat(3 * d, d)),
              ("mem.gru.bias_ih", vec(3 * d)), ("mem.gru.bias_hh", vec(3 * d))]
    else:
        # U_c = (I + A)^-1 (I - A) D: orthogonal for skew-symmetric A.
        a = torch.randn(d, d, generator=gen, dtype=torch.float64) * 0.1
        a = a - a.t()
        dsign = torch.where(torch.rand(d, generator=gen) < 0.5, -1.0, 1.0).double()
        eye = torch.eye(d, dtype=torch.float64)
        u_c = torch.linalg.solve(eye + a, eye - a) @ torch.diag(dsign)
        assert torch.allclose(u_c @ u_c.t(), eye, atol=1e-9)
        t += [("mem.ncgru.weight_ih", mat(3 * d, d)), ("mem.ncgru.weight_hh", mat(2 * d, d)),
              ("mem.ncgru.bias", vec(2 * d)), ("mem.ncgru.u_c", u_c.float()),
              ("mem.ncgru.bias_c", vec(d, 0.05))]
    t += [("head.ln.weight", norm(d)), ("head.ln.bias", vec(d)),
          ("head.weight", mat(C, d)), ("head.bias", vec(C))]
    return [(n, v.numpy().astype(np.float32)) for n, v in t]


def metadata(cfg, provenance):
    meta = {"format_version": "1"}
    for k in ("architecture", "variant", "d_model", "n_layers", "n_heads", "d_ff", "n_features",
              "feature_layout", "segment_len", "fps", "layer_norm_eps", "n_classes"):
        meta[k] = repr(cfg[k]) if isinstance(cfg[k], float) else str(cfg[k])
    meta["classes"] = json.dumps(cfg["classes"], separators=(",", ":"))
    meta["provenance.data"] = provenance
    meta["provenance.recipe"] = "random weights, no training"
    meta["provenance.date"] = "test time"
    return meta


SMARTHOME = ["Cook.Cleandishes", "Cook.Cleanup", "Cook.Cut", "Cook.Stir", "Cook.Usestove",
             "Cutbread", "Drink.Frombottle", "Drink.Fromcan", "Drink.Fromcup", "Drink.Fromglass",
             "Eat.Attable", "Eat.Snack", "Enter", "Getup", "Laydown", "Leave",
             "Makecoffee.Pourgrains", "Makecoffee.Pourwater", "Maketea.Boilwater",
             "Maketea.Insertteabag", "Pour.Frombottle", "Pour.Fromcan", "Pour.Fromkettle",
             "Readbook", "Sitdown", "Takepills", "Uselaptop", "Usetablet", "Usetelephone", "Walk",
             "WatchTV"]


def default_config(variant):
    return dict(architecture="crt", variant=variant, d_model=128, n_layers=2, n_heads=4, d_ff=512,
                n_features=FEATURES_DIM, feature_layout=1, segment_len=8, fps=10.0,
                layer_norm_eps=1e-5, n_classes=31, classes=SMARTHOME)


def small_config(variant):
    return dict(architecture="crt", variant=variant, d_model=48, n_layers=3, n_heads=6, d_ff=80,
                n_features=FEATURES_DIM, feature_layout=1, segment_len=5, fps=7.5,
                layer_norm_eps=1e-5, n_classes=7, classes=[f"act{i}" for i in range(7)])


# ---- benchmark ------------------------------------------------------------------


def time_per_call(fn, iters, warmup):
    """Microseconds of this thread's CPU time per call, the best of nine runs of
    iters calls (as crt bench model times crtd: other processes do not count,
    and interference only ever adds)."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(9):
        t0 = time.thread_time()
        for _ in range(iters):
            fn()
        runs.append((time.thread_time() - t0) / iters)
    return min(runs) * 1e6


def cmd_bench(args):
    torch.set_num_threads(1)
    model, _, _ = load_model(args.model)
    cfg = model.cfg
    L, F_ = cfg["segment_len"], cfg["n_features"]
    gen = torch.Generator().manual_seed(7)
    feats = torch.randn(1, L, F_, generator=gen)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "us_per_step": {}}
    state = {"mem": model.initial_memory(1)}

    def run(step):
        def fn():
            lg, state["mem"] = step(feats, state["mem"])
            torch.softmax(lg, dim=-1)
        return fn

    with torch.inference_mode():
        out["us_per_step"]["module"] = time_per_call(run(model.step), args.iters, args.warmup)
        out["us_per_step"]["functional"] = time_per_call(run(model.step_functional), args.iters,
                                                         args.warmup)
        # PyTorch's fused encoder fast path: it takes the built-in GELU (erf form)
        # only, so this is the same model with that one activation swapped.
        for layer in model.encoder.layers:
            layer.activation = F.gelu
            layer.activation_relu_or_gelu = 2
        out["us_per_step"]["fastpath_erf_gelu"] = time_per_call(run(model.step), args.iters,
                                                                args.warmup)
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("features")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("bench")
    p.add_argument("--model", required=True)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    {"features": cmd_features, "bench": cmd_bench}[args.command](args)


if __name__ == "__main__":
    main()
