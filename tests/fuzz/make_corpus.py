#!/usr/bin/python3
"""Writes the seed inputs of fuzz_safetensors into corpus/safetensors/: tiny
valid model files (GRU, NC-GRU; F32, F16, BF16) and a few small damaged ones.
Run it again only to change the seeds; the files are kept in git."""
import os
import struct
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "ref"))
import crt_ref  # noqa: E402

out = os.path.join(here, "corpus", "safetensors")
os.makedirs(out, exist_ok=True)


def tiny(variant):
    return dict(architecture="crt", variant=variant, d_model=8, n_layers=1, n_heads=2, d_ff=8,
                n_features=89, feature_layout=1, segment_len=2, fps=10.0, layer_norm_eps=1e-5,
                n_classes=2, classes=["a", "b"])


for i, (variant, dtype) in enumerate([("gru", "F32"), ("ncgru", "F16"), ("gru", "BF16")]):
    cfg = tiny(variant)
    gen = torch.Generator().manual_seed(i)
    crt_ref.write_safetensors(os.path.join(out, f"tiny_{variant}_{dtype.lower()}.safetensors"),
                              crt_ref.random_tensors(cfg, gen), crt_ref.metadata(cfg, "fuzz seed"),
                              dtype)


def raw(name, header, data=b""):
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


raw("plain.safetensors",
    b'{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
    b"\0" * 8)
raw("overlap.safetensors",
    b'{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},'
    b'"b":{"dtype":"BF16","shape":[2],"data_offsets":[2,6]}}', b"\0" * 6)
raw("empty.safetensors", b"{}")
