#!/usr/bin/python3
"""PyTorch reference of crtd's trainer (docs/TRAINING.md), on the model of
crt_ref.py: autograd gradients for the numeric tests, and the speed of the
same training step for `crt bench train`.

  crt_train_ref.py grads --out DIR [--seed N]
      random-weight GRU and NC-GRU models (small sizes), a batch of clips over
      3 segments, segment targets and loss weights, and PyTorch's gradient of
      sum(weight * cross-entropy) for every tensor, from the learned initial
      memory (so mem.init has a gradient too)
  crt_train_ref.py bench --model FILE --batch B --segments W [--steps N]
      clips per second of forward + backward + AdamW on one thread, as JSON
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crt_ref  # noqa: E402  (the model, safetensors, random weights)

BATCH, SEGMENTS = 4, 3


def small_config(variant):
    cfg = crt_ref.small_config(variant)
    cfg.update(d_model=32, n_layers=2, n_heads=4, d_ff=64, segment_len=4, n_classes=6,
               classes=[f"act{i}" for i in range(6)])
    return cfg


def window_loss(model, feats, targets, weights):
    """feats [B, W*L, F]; the summed weighted cross-entropy over W segments,
    from the learned initial memory, with gradients through all of it."""
    B = feats.shape[0]
    L = model.cfg["segment_len"]
    mem = model.mem_init.expand(B, -1)
    loss = feats.new_zeros(())
    for w in range(targets.shape[1]):
        logits, mem = model.step(feats[:, w * L:(w + 1) * L], mem)
        ce = F.cross_entropy(logits, targets[:, w].clamp(min=0), reduction="none")
        mask = (targets[:, w] >= 0).float()
        loss = loss + (ce * weights[:, w] * mask).sum()
    return loss


def cmd_grads(args):
    os.makedirs(args.out, exist_ok=True)
    for i, variant in enumerate(["gru", "ncgru"]):
        cfg = small_config(variant)
        gen = torch.Generator().manual_seed(args.seed * 100 + i)
        tensors = crt_ref.random_tensors(cfg, gen)
        path = os.path.join(args.out, f"train_{variant}.safetensors")
        crt_ref.write_safetensors(path, tensors,
                                  crt_ref.metadata(cfg, f"crt_train_ref.py seed {args.seed}"))
        model, _, _ = crt_ref.load_model(path)
        model.train()
        L, F_, C = cfg["segment_len"], cfg["n_features"], cfg["n_classes"]
        feats = torch.randn(BATCH, SEGMENTS * L, F_, generator=gen)
        targets = torch.randint(0, C, (BATCH, SEGMENTS), generator=gen)
        targets[1, 0] = -1  # a segment without a label
        weights = torch.rand(BATCH, SEGMENTS, generator=gen) + 0.25
        model.zero_grad()
        loss = window_loss(model, feats, targets, weights)
        loss.backward()
        out = [("features", feats.numpy()), ("targets", targets.float().numpy()),
               ("weights", weights.numpy()), ("loss", np.array([loss.item()], np.float32))]
        for name, p in model.name_map().items():
            out.append(("grad." + name, p.grad.detach().numpy()))
        crt_ref.write_safetensors(os.path.join(args.out, f"train_{variant}.grads.safetensors"),
                                  out)


def cmd_bench(args):
    torch.set_num_threads(args.threads)
    model, _, _ = crt_ref.load_model(args.model)
    model.train()
    cfg = model.cfg
    L, F_, C = cfg["segment_len"], cfg["n_features"], cfg["n_classes"]
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(args.batch, args.segments * L, F_, generator=gen)
    targets = torch.randint(0, C, (args.batch, args.segments), generator=gen)
    weights = torch.rand(args.batch, args.segments, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        loss = window_loss(model, feats, targets, weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    secs = time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "clips_per_second": args.batch * args.steps / secs,
                      "ms_per_step": 1000 * secs / args.steps}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grads")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("bench")
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--segments", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    {"grads": cmd_grads, "bench": cmd_bench}[args.command](args)


if __name__ == "__main__":
    main()
