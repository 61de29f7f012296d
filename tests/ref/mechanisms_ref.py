#!/usr/bin/python3
"""PyTorch reference of every memory mechanism of crtd (docs/MODEL.md): the
CRT (crt_ref.CRT: GRU / NC-GRU memory), the "none" baseline, RMT,
Transformer-XL and full attention, the Block-Recurrent Transformer and
SRformer. The shared parts (embedding, pre-LN encoder from PyTorch's
nn.TransformerEncoder, ln_f, classifier) are the same as crt_ref.py's, whose
safetensors helpers and random weights this script uses.

The mechanisms to write are named on the command line as architecture/variant
pairs (the model file's metadata), as tests/test_mechanisms.c lists them from
crtd's registry; this script keeps no list of its own. File names are
<architecture>_<variant>.

  mechanisms_ref.py models --out DIR [--seed N] ARCH/VARIANT...
      per pair: a random-weight model file at the default sizes (F32) and two
      at odd small sizes (F16, BF16), each with clips of features and the
      logits and memories PyTorch computes for them
  mechanisms_ref.py grads --out DIR [--seed N] ARCH/VARIANT...
      per pair: a small model, a batch of clips over 3 segments with targets
      and weights, and PyTorch's gradient of sum(weight * cross-entropy) for
      every tensor, from the initial memory

Expected values are made here at test time, never pasted into a test.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crt_ref  # noqa: E402  (safetensors, metadata, the CRT, the shared tensors)


def sized(cfg, architecture, variant):
    return dict(cfg, architecture=architecture, variant=variant)


def default_config(architecture, variant):
    """The sizes crtd ships (d 128, 31 Smarthome classes)."""
    return sized(crt_ref.default_config("gru"), architecture, variant)


def small_config(architecture, variant):
    """Odd sizes: d 48, N 3, H 6, FFN 80, L 5, 7 classes."""
    return sized(crt_ref.small_config("gru"), architecture, variant)


def train_config(architecture, variant):
    """Small sizes for the gradient check."""
    cfg = small_config(architecture, variant)
    cfg.update(d_model=32, n_layers=2, n_heads=4, d_ff=64, segment_len=4, n_classes=6,
               classes=[f"act{i}" for i in range(6)])
    return cfg


# ---- mechanisms ------------------------------------------------------------------


class NoneMemory(nn.Module):
    """No memory: a learned token; "mean" reports the running mean of the
    segment logits (state: their sum, then the count), "last" the segment's."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.mean = cfg["variant"] == "mean"
        self.cls = nn.Parameter(torch.zeros(cfg["d_model"]))

    def names(self):
        return {"none.cls": self.cls}

    def state_floats(self):
        return self.cfg["n_classes"] + 1 if self.mean else 0

    def initial(self, batch):
        return torch.zeros(batch, self.state_floats())

    def tokens(self, mem):
        return self.cls.expand(mem.shape[0], 1, -1)

    def update(self, h, mem):
        return h[:, 0], mem

    def output(self, logits, mem):
        if not self.mean:
            return logits, mem
        C = self.cfg["n_classes"]
        total = mem[:, :C] + logits
        count = mem[:, C:] + 1
        return total / count, torch.cat([total, count], dim=1)

    def random_tensors(self, gen):
        return [("none.cls", torch.randn(self.cfg["d_model"], generator=gen) * 0.5)]


class RMTMemory(nn.Module):
    """RMT, encoder form: M memory tokens (memory + slot position) in front;
    the normed outputs there are the next memory; the classifier reads their
    mean; learned initial memory. Variant "m<M>"."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.M = int(cfg["variant"][1:])
        d = cfg["d_model"]
        self.pos = nn.Parameter(torch.zeros(self.M, d))
        self.init = nn.Parameter(torch.zeros(self.M, d))

    def names(self):
        return {"rmt.pos": self.pos, "rmt.init": self.init}

    def state_floats(self):
        return self.M * self.cfg["d_model"]

    def initial(self, batch):
        return self.init.reshape(1, -1).expand(batch, -1)

    def tokens(self, mem):
        return mem.view(mem.shape[0], self.M, -1) + self.pos

    def update(self, h, mem):
        return h.mean(dim=1), h.reshape(h.shape[0], -1)

    def output(self, logits, mem):
        return logits, mem

    def random_tensors(self, gen):
        d = self.cfg["d_model"]
        return [("rmt.pos", torch.randn(self.M, d, generator=gen) * 0.3),
                ("rmt.init", torch.randn(self.M, d, generator=gen) * 0.5)]


class XLMemory(nn.Module):
    """Cached attention ("xl": variant m<M>, M cached segments; "full":
    variant w<W>, M = W - 1): every block's frame-token keys and values of the
    last M segments, as constants (stop-gradient), are attended to before the
    segment's own; a learned token reads the segment. State: the number of
    filled segments, then per layer keys [M*L, d] and values [M*L, d]."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        n = int(cfg["variant"][1:])
        self.M = n - 1 if cfg["architecture"] == "full" else n
        self.rows = self.M * cfg["segment_len"]
        self.cls = nn.Parameter(torch.zeros(cfg["d_model"]))

    def names(self):
        return {"xl.cls": self.cls}

    def state_floats(self):
        return 1 + self.cfg["n_layers"] * 2 * self.rows * self.cfg["d_model"]

    def initial(self, batch):
        return torch.zeros(batch, self.state_floats())

    def tokens(self, mem):
        return self.cls.expand(mem.shape[0], 1, -1)

    def encode(self, model, x, mem):
        cfg = self.cfg
        d, H, L, eps = cfg["d_model"], cfg["n_heads"], cfg["segment_len"], cfg["layer_norm_eps"]
        B, T, _ = x.shape
        hs, R = d // H, self.rows
        count = mem[:, 0]
        first = R - count * L
        valid = torch.arange(R + T).unsqueeze(0) >= first.unsqueeze(1)  # [B, R+T]
        parts = [torch.clamp(count + 1, max=self.M).unsqueeze(1)]
        for l, blk in enumerate(model.encoder.layers):
            off = 1 + l * 2 * R * d
            ck = mem[:, off:off + R * d].reshape(B, R, d).detach()
            cv = mem[:, off + R * d:off + 2 * R * d].reshape(B, R, d).detach()
            a = F.layer_norm(x, (d,), blk.norm1.weight, blk.norm1.bias, eps)
            q, k, v = F.linear(a, blk.self_attn.in_proj_weight,
                               blk.self_attn.in_proj_bias).split(d, dim=2)
            keys, vals = torch.cat([ck, k], 1), torch.cat([cv, v], 1)
            qh = q.view(B, T, H, hs).transpose(1, 2)
            kh = keys.view(B, R + T, H, hs).transpose(1, 2)
            vh = vals.view(B, R + T, H, hs).transpose(1, 2)
            sc = qh @ kh.transpose(-1, -2) / math.sqrt(hs)
            sc = sc.masked_fill(~valid[:, None, None, :], float("-inf"))
            y = (torch.softmax(sc, dim=-1) @ vh).transpose(1, 2).reshape(B, T, d)
            x = x + F.linear(y, blk.self_attn.out_proj.weight, blk.self_attn.out_proj.bias)
            a = F.layer_norm(x, (d,), blk.norm2.weight, blk.norm2.bias, eps)
            x = x + blk.linear2(crt_ref.gelu_tanh(blk.linear1(a)))
            nt = T - L
            parts.append(torch.cat([ck[:, L:], k[:, nt:]], 1).reshape(B, -1))
            parts.append(torch.cat([cv[:, L:], v[:, nt:]], 1).reshape(B, -1))
        return x, torch.cat(parts, dim=1)

    def update(self, h, mem):
        return h[:, 0], mem

    def output(self, logits, mem):
        return logits, mem

    def random_tensors(self, gen):
        return [("xl.cls", torch.randn(self.cfg["d_model"], generator=gen) * 0.5)]


class BRTMemory(nn.Module):
    """Block-Recurrent Transformer: the last block is the recurrent layer; S
    state vectors attend (one softmax) to themselves and to that block's token
    keys and values; projected, gated into the old state, then an FFN gated in
    too; the classifier reads the mean of the state. Variant fixed|lstm[-s<S>]."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        gate, _, rest = cfg["variant"].partition("-s")
        self.lstm = gate == "lstm"
        self.S = int(rest) if rest else 16
        d, ff = cfg["d_model"], cfg["d_ff"]
        eps = cfg["layer_norm_eps"]
        self.init = nn.Parameter(torch.zeros(self.S, d))
        self.pos = nn.Parameter(torch.zeros(self.S, d))
        self.ln = nn.LayerNorm(d, eps=eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ffn_ln = nn.LayerNorm(d, eps=eps)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)
        gdim = 2 * d if self.lstm else d
        self.gate1 = nn.Linear(d, gdim)
        self.gate2 = nn.Linear(d, gdim)

    def names(self):
        m = {"brt.init": self.init, "brt.pos": self.pos,
             "brt.ln.weight": self.ln.weight, "brt.ln.bias": self.ln.bias,
             "brt.qkv.weight": self.qkv.weight, "brt.qkv.bias": self.qkv.bias,
             "brt.proj.weight": self.proj.weight, "brt.proj.bias": self.proj.bias,
             "brt.ffn.ln.weight": self.ffn_ln.weight, "brt.ffn.ln.bias": self.ffn_ln.bias,
             "brt.ffn.fc1.weight": self.fc1.weight, "brt.ffn.fc1.bias": self.fc1.bias,
             "brt.ffn.fc2.weight": self.fc2.weight, "brt.ffn.fc2.bias": self.fc2.bias,
             "brt.gate1.bias": self.gate1.bias, "brt.gate2.bias": self.gate2.bias}
        if self.lstm:
            m.update({"brt.gate1.weight": self.gate1.weight, "brt.gate2.weight": self.gate2.weight})
        return m

    def state_floats(self):
        return self.S * self.cfg["d_model"]

    def initial(self, batch):
        return self.init.reshape(1, -1).expand(batch, -1)

    def tokens(self, mem):
        return mem.new_zeros(mem.shape[0], 0, self.cfg["d_model"])

    def gate(self, lin, c, z):
        d = self.cfg["d_model"]
        if not self.lstm:
            g = torch.sigmoid(lin.bias)
            return c * g + z * (1 - g)
        pre = F.linear(z, lin.weight, lin.bias)
        f = torch.sigmoid(pre[..., :d] + 1)
        i = torch.sigmoid(pre[..., d:] - 1)
        return c * f + z * i

    def encode(self, model, x, mem):
        cfg = self.cfg
        d, H, eps = cfg["d_model"], cfg["n_heads"], cfg["layer_norm_eps"]
        B, T, _ = x.shape
        S, hs = self.S, d // H
        layers = model.encoder.layers
        for blk in layers[:-1]:
            x = blk(x)
        last = layers[-1]
        a = F.layer_norm(x, (d,), last.norm1.weight, last.norm1.bias, eps)
        _, tk, tv = F.linear(a, last.self_attn.in_proj_weight,
                             last.self_attn.in_proj_bias).split(d, dim=2)
        c = mem.view(B, S, d)
        sa = self.ln(c) + self.pos
        q, k, v = self.qkv(sa).split(d, dim=2)
        keys, vals = torch.cat([k, tk], 1), torch.cat([v, tv], 1)
        qh = q.view(B, S, H, hs).transpose(1, 2)
        kh = keys.view(B, S + T, H, hs).transpose(1, 2)
        vh = vals.view(B, S + T, H, hs).transpose(1, 2)
        att = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(hs), dim=-1)
        y = (att @ vh).transpose(1, 2).reshape(B, S, d)
        c1 = self.gate(self.gate1, c, self.proj(y))
        m = self.fc2(crt_ref.gelu_tanh(self.fc1(self.ffn_ln(c1))))
        c2 = self.gate(self.gate2, c1, m)
        return x, c2.reshape(B, S * d)

    def update(self, h, mem):
        return mem.view(mem.shape[0], self.S, -1).mean(dim=1), mem

    def output(self, logits, mem):
        return logits, mem

    def random_tensors(self, gen):
        d, ff, S = self.cfg["d_model"], self.cfg["d_ff"], self.S

        def mat(o, i):
            return (torch.rand(o, i, generator=gen) * 2 - 1) / math.sqrt(i)

        def vec(n, scale=0.1):
            return torch.randn(n, generator=gen) * scale

        gdim = 2 * d if self.lstm else d
        t = [("brt.init", vec(S * d, 0.5).view(S, d)), ("brt.pos", vec(S * d, 0.3).view(S, d)),
             ("brt.ln.weight", 1 + vec(d)), ("brt.ln.bias", vec(d)),
             ("brt.qkv.weight", mat(3 * d, d)), ("brt.qkv.bias", vec(3 * d)),
             ("brt.proj.weight", mat(d, d)), ("brt.proj.bias", vec(d))]
        if self.lstm:
            t.append(("brt.gate1.weight", mat(gdim, d)))
        t += [("brt.gate1.bias", vec(gdim, 0.5)),
              ("brt.ffn.ln.weight", 1 + vec(d)), ("brt.ffn.ln.bias", vec(d)),
              ("brt.ffn.fc1.weight", mat(ff, d)), ("brt.ffn.fc1.bias", vec(ff)),
              ("brt.ffn.fc2.weight", mat(d, ff)), ("brt.ffn.fc2.bias", vec(d))]
        if self.lstm:
            t.append(("brt.gate2.weight", mat(gdim, d)))
        t.append(("brt.gate2.bias", vec(gdim, 0.5)))
        return t


class SRFMemory(nn.Module):
    """SRformer, causal: in-segment attention plus, per block and head, the
    running sum P of past segments' K^T V through a Recurrent
    Accumulate-and-Fire neuron (x = W P; V = lambda V + x; a = V/theta - 1;
    out = relu(a); V -= theta [a > 0]); the attention output adds
    (q out) / sqrt(sum k^2 + 1e-5). State per layer: P, V, sum k^2."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d, H, NL = cfg["d_model"], cfg["n_heads"], cfg["n_layers"]
        self.dk = d // H
        self.cls = nn.Parameter(torch.zeros(d))
        self.w = nn.ParameterList([nn.Parameter(torch.zeros(self.dk, self.dk)) for _ in range(NL)])
        self.theta = nn.ParameterList([nn.Parameter(torch.zeros(1)) for _ in range(NL)])
        self.lam = nn.ParameterList([nn.Parameter(torch.zeros(1)) for _ in range(NL)])

    def names(self):
        m = {"srf.cls": self.cls}
        for l in range(self.cfg["n_layers"]):
            m.update({f"srf.{l}.w": self.w[l], f"srf.{l}.theta": self.theta[l],
                      f"srf.{l}.lambda": self.lam[l]})
        return m

    def layer_floats(self):
        H = self.cfg["n_heads"]
        return 2 * H * self.dk * self.dk + self.cfg["d_model"]

    def state_floats(self):
        return self.cfg["n_layers"] * self.layer_floats()

    def initial(self, batch):
        return torch.zeros(batch, self.state_floats())

    def tokens(self, mem):
        return self.cls.expand(mem.shape[0], 1, -1)

    def encode(self, model, x, mem):
        cfg = self.cfg
        d, H, L, eps = cfg["d_model"], cfg["n_heads"], cfg["segment_len"], cfg["layer_norm_eps"]
        B, T, _ = x.shape
        dk, hdd, lf = self.dk, H * self.dk * self.dk, self.layer_floats()
        parts = []
        for l, blk in enumerate(model.encoder.layers):
            st = mem[:, l * lf:(l + 1) * lf]
            P = st[:, :hdd].reshape(B, H, dk, dk)
            V = st[:, hdd:2 * hdd].reshape(B, H, dk, dk)
            ksq = st[:, 2 * hdd:]
            a = F.layer_norm(x, (d,), blk.norm1.weight, blk.norm1.bias, eps)
            q, k, v = F.linear(a, blk.self_attn.in_proj_weight,
                               blk.self_attn.in_proj_bias).split(d, dim=2)
            qh, kh, vh = (t_.view(B, T, H, dk).transpose(1, 2) for t_ in (q, k, v))
            att = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(dk), dim=-1)
            y = att @ vh  # [B, H, T, dk]
            vp = self.lam[l] * V + self.w[l] @ P
            act = vp / self.theta[l] - 1
            spike = (act > 0).float()
            out = torch.relu(act)
            vnew = vp - self.theta[l] * spike
            r = torch.sqrt(ksq + 1e-5).view(B, H, 1, dk)
            y = y + (qh @ out) / r
            y = y.transpose(1, 2).reshape(B, T, d)
            x = x + F.linear(y, blk.self_attn.out_proj.weight, blk.self_attn.out_proj.bias)
            a = F.layer_norm(x, (d,), blk.norm2.weight, blk.norm2.bias, eps)
            x = x + blk.linear2(crt_ref.gelu_tanh(blk.linear1(a)))
            kf, vf = kh[:, :, T - L:], vh[:, :, T - L:]
            pnew = P + kf.transpose(-1, -2) @ vf
            knew = ksq + (k[:, T - L:] ** 2).sum(dim=1)
            parts += [pnew.reshape(B, -1), vnew.reshape(B, -1), knew]
        return x, torch.cat(parts, dim=1)

    def update(self, h, mem):
        return h[:, 0], mem

    def output(self, logits, mem):
        return logits, mem

    def random_tensors(self, gen):
        t = [("srf.cls", torch.randn(self.cfg["d_model"], generator=gen) * 0.5)]
        for l in range(self.cfg["n_layers"]):
            t += [(f"srf.{l}.w", (torch.rand(self.dk, self.dk, generator=gen) * 2 - 1) /
                   math.sqrt(self.dk)),
                  (f"srf.{l}.theta", torch.tensor([0.1 + 0.05 * l])),
                  (f"srf.{l}.lambda", torch.tensor([0.1 + 0.3 * l]))]
        return t


MECHANISMS = {"none": NoneMemory, "rmt": RMTMemory, "xl": XLMemory, "full": XLMemory,
              "brt": BRTMemory, "srf": SRFMemory}


class MechanismModel(nn.Module):
    """The shared encoder and classifier around one of the mechanisms above."""

    def __init__(self, cfg):
        super().__init__()
        d, F_, L = cfg["d_model"], cfg["n_features"], cfg["segment_len"]
        eps = cfg["layer_norm_eps"]
        self.cfg = cfg
        self.embed = nn.Linear(F_, d)
        self.pos = nn.Parameter(torch.zeros(L, d))
        layer = nn.TransformerEncoderLayer(
            d, cfg["n_heads"], cfg["d_ff"], dropout=0.0, activation=crt_ref.gelu_tanh,
            layer_norm_eps=eps, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg["n_layers"], enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d, eps=eps)
        self.mech = MECHANISMS[cfg["architecture"]](cfg)
        self.head_ln = nn.LayerNorm(d, eps=eps)
        self.head = nn.Linear(d, cfg["n_classes"])

    def name_map(self):
        m = {
            "embed.weight": self.embed.weight, "embed.bias": self.embed.bias,
            "embed.pos": self.pos,
            "enc.ln_f.weight": self.ln_f.weight, "enc.ln_f.bias": self.ln_f.bias,
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
        m.update(self.mech.names())
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
        return self.mech.initial(batch)

    def step(self, feats, mem):
        """feats [B, L, F], mem [B, S] -> logits [B, C], new memory [B, S]."""
        x = self.embed(feats) + self.pos
        tok = self.mech.tokens(mem)
        nt = tok.shape[1]
        if hasattr(self.mech, "encode"):  # attention of its own in the blocks
            out, mem = self.mech.encode(self, torch.cat([tok, x], dim=1), mem)
        else:
            out = self.encoder(torch.cat([tok, x], dim=1))
        h = self.ln_f(out[:, :nt])
        readout, mem = self.mech.update(h, mem)
        return self.mech.output(self.head(self.head_ln(readout)), mem)


def build(cfg):
    """The PyTorch model of cfg's architecture: the CRT of crt_ref.py or the
    shared encoder around one of the mechanisms above."""
    if cfg["architecture"] == "crt":
        return crt_ref.CRT(cfg)
    if cfg["architecture"] not in MECHANISMS:
        raise SystemExit(f"{cfg['architecture']}: no reference of this architecture")
    return MechanismModel(cfg)


def state_floats(model):
    if isinstance(model, crt_ref.CRT):
        return model.cfg["d_model"]
    return model.mech.state_floats()


def random_tensors(cfg, gen):
    if cfg["architecture"] == "crt":
        return crt_ref.random_tensors(cfg, gen)
    shared = [(n, v) for n, v in crt_ref.random_tensors(dict(cfg, variant="gru"), gen)
              if not n.startswith("mem.")]
    mech = MECHANISMS[cfg["architecture"]](cfg)
    return shared + [(n, v.numpy().astype(np.float32)) for n, v in mech.random_tensors(gen)]


def make_model(cfg, path, gen, provenance, dtype="F32"):
    """Writes random weights to path; the model of the weights as the file
    holds them (rounded to dtype)."""
    crt_ref.write_safetensors(path, random_tensors(cfg, gen), crt_ref.metadata(cfg, provenance),
                              dtype)
    tensors, _ = crt_ref.read_safetensors(path)
    model = build(cfg)
    model.load(tensors)
    return model


# ---- commands -------------------------------------------------------------------


def pair(text):
    architecture, sep, variant = text.partition("/")
    if not sep or not architecture or not variant:
        raise argparse.ArgumentTypeError(f"{text}: not ARCHITECTURE/VARIANT")
    return architecture, variant


# Clips of the expected-value files: (complete segments, extra frames).
CLIPS = [(20, 0), (13, 4), (7, 3), (0, 4), (20, 1)]  # extra frames < every L used
SEGMENTS = 20
# Per pair: (file name suffix, sizes, dtype).
FILES = [("", default_config, "F32"), ("_small_f16", small_config, "F16"),
         ("_small_bf16", small_config, "BF16")]


def write_expected(model, cfg, name, path, gen):
    L, F_, C = cfg["segment_len"], cfg["n_features"], cfg["n_classes"]
    S = state_floats(model)
    n = len(CLIPS)
    frames = np.zeros((n, SEGMENTS * L + L, F_), dtype=np.float32)
    n_frames = np.zeros(n, dtype=np.float32)
    logits = np.zeros((n, SEGMENTS, C), dtype=np.float32)
    memory = np.zeros((n, SEGMENTS, max(S, 1)), dtype=np.float32)
    functional = getattr(model, "step_functional", None)
    with torch.no_grad():
        for c, (segs, extra) in enumerate(CLIPS):
            count = segs * L + extra
            feats = torch.randn(count, F_, generator=gen)
            frames[c, :count] = feats.numpy()
            n_frames[c] = count
            mem = model.initial_memory(1)
            for s in range(segs):
                seg = feats[s * L:(s + 1) * L].unsqueeze(0)
                lg, new = model.step(seg, mem)
                if functional:
                    # Self-check: PyTorch's modules and the op-by-op form agree.
                    lg2, new2 = functional(seg, mem)
                    err = max((lg - lg2).abs().max().item(), (new - new2).abs().max().item())
                    if err > 1e-5:
                        raise SystemExit(f"{name}: module and functional paths differ by {err}")
                mem = new
                logits[c, s] = lg[0].numpy()
                memory[c, s, :S] = mem[0].numpy()
    crt_ref.write_safetensors(path, [("features", frames), ("n_frames", n_frames),
                                     ("logits", logits), ("memory", memory)])


def cmd_models(args):
    os.makedirs(args.out, exist_ok=True)
    for i, (arch, variant) in enumerate(args.pairs):
        for k, (suffix, config, dtype) in enumerate(FILES):
            cfg = config(arch, variant)
            name = f"{arch}_{variant}{suffix}"
            gen = torch.Generator().manual_seed(args.seed * 1000 + i * len(FILES) + k)
            path = os.path.join(args.out, name + ".safetensors")
            model = make_model(cfg, path, gen,
                               f"tests/ref/mechanisms_ref.py seed {args.seed}", dtype).eval()
            write_expected(model, cfg, name,
                           os.path.join(args.out, name + ".expected.safetensors"), gen)


BATCH, WINDOW = 4, 3


def cmd_grads(args):
    os.makedirs(args.out, exist_ok=True)
    for i, (arch, variant) in enumerate(args.pairs):
        cfg = train_config(arch, variant)
        name = f"{arch}_{variant}"
        gen = torch.Generator().manual_seed(args.seed * 100 + i)
        path = os.path.join(args.out, f"train_{name}.safetensors")
        model = make_model(cfg, path, gen, f"mechanisms_ref.py grads seed {args.seed}")
        model.train()
        L, F_, C = cfg["segment_len"], cfg["n_features"], cfg["n_classes"]
        feats = torch.randn(BATCH, WINDOW * L, F_, generator=gen)
        targets = torch.randint(0, C, (BATCH, WINDOW), generator=gen)
        targets[1, 0] = -1  # a segment without a label
        weights = torch.rand(BATCH, WINDOW, generator=gen) + 0.25
        model.zero_grad()
        mem = model.initial_memory(BATCH)  # learned ones get gradients
        loss = feats.new_zeros(())
        for w in range(WINDOW):
            logits, mem = model.step(feats[:, w * L:(w + 1) * L], mem)
            ce = F.cross_entropy(logits, targets[:, w].clamp(min=0), reduction="none")
            loss = loss + (ce * weights[:, w] * (targets[:, w] >= 0).float()).sum()
        loss.backward()
        out = [("features", feats.numpy()), ("targets", targets.float().numpy()),
               ("weights", weights.numpy()), ("loss", np.array([loss.item()], np.float32))]
        for pname, p in model.name_map().items():
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            out.append(("grad." + pname, g.detach().numpy()))
        crt_ref.write_safetensors(os.path.join(args.out, f"train_{name}.grads.safetensors"), out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("models", "grads"):
        p = sub.add_parser(cmd)
        p.add_argument("--out", required=True)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("pairs", nargs="+", type=pair, metavar="ARCH/VARIANT")
    args = parser.parse_args()
    {"models": cmd_models, "grads": cmd_grads}[args.command](args)


if __name__ == "__main__":
    main()
