#!/usr/bin/python3
"""Writes crtd's models as ONNX, for ONNX Runtime as a benchmark peer.

  onnx_export.py movenet MODEL.json OUT.onnx
      the TensorFlow.js graph model (model.json and its weight shards, the
      files crtd's pose/tfjs_load.c reads) as the same graph in ONNX: every
      node of the model's topology becomes the ONNX ops that compute it, in
      the model's own NHWC layout (each convolution between transposes to
      ONNX's NCHW, which ONNX Runtime's optimiser folds away)

  onnx_export.py segment MODEL.safetensors OUT.onnx
      crtd's segment step (docs/MODEL.md) for batch 1: inputs features
      [1, L, F] and memory [1, d], outputs probabilities [1, C] and the new
      memory [1, d], written out op by op from the model's tensors

Uses Debian's python3-onnx (opset 17). Test-side only: crtd never reads ONNX.
"""

import base64
import json
import math
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
I64_MAX = np.iinfo(np.int64).max
I64_MIN = np.iinfo(np.int64).min


class ExportError(Exception):
    pass


# ---- TensorFlow.js weights ------------------------------------------------------

NP_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def read_tfjs_weights(model_path, manifest):
    """name -> numpy array, dequantised as tfjs-converter does."""
    out = {}
    base = os.path.dirname(model_path)
    for group in manifest:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qd = q["dtype"]
                item = {"float16": 2, "uint8": 1, "uint16": 2}[qd]
                raw = blob[off:off + count * item]
                off += count * item
                if qd == "float16":
                    arr = np.frombuffer(raw, "<f2").astype(np.float32)
                else:
                    vals = np.frombuffer(raw, "<u1" if qd == "uint8" else "<u2")
                    arr = (vals.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
                    if w["dtype"] == "int32":
                        arr = np.round(arr).astype(np.int32)
            else:
                dt = NP_DTYPES.get(w["dtype"])
                if dt is None:
                    raise ExportError(f"weight '{w['name']}': dtype {w['dtype']} not supported")
                size = np.dtype(dt).itemsize
                arr = np.frombuffer(blob[off:off + count * size], dt).copy()
                off += count * size
            out[w["name"]] = arr.reshape(shape)
    return out


def attr(node, name, default=None):
    a = node.get("attr", {}).get(name)
    if a is None:
        return default
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "type" in a:
        return a["type"]
    if "list" in a:
        lst = a["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        return []
    return default


# TensorFlow's integer tensors are int32; ONNX's shape and index ops want
# int64, so every int32 value of the graph is int64 here (the graph input
# excepted, which takes the same int32 tensor TensorFlow.js takes).
ONNX_TYPE = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT64,
             "DT_BOOL": TensorProto.BOOL, "DT_INT64": TensorProto.INT64}


class MoveNetExporter:
    def __init__(self, model_path):
        with open(model_path, encoding="utf-8") as f:
            self.model = json.load(f)
        topo = self.model["modelTopology"]
        self.nodes = topo["node"]
        self.weights = read_tfjs_weights(model_path, self.model["weightsManifest"])
        self.consts = {}  # tf name -> numpy value (Const nodes)
        self.onnx_nodes = []
        self.initializers = []
        self.counter = 0
        self.names = {}  # tf tensor name ("node" or "node:k") -> onnx name

    # -- helpers --

    def fresh(self, hint):
        self.counter += 1
        return f"{hint.split('/')[-1]}_{self.counter}"

    def const(self, value, hint="c"):
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def emit(self, op, inputs, hint, n_out=1, **attrs):
        outs = [self.fresh(hint) for _ in range(n_out)]
        self.onnx_nodes.append(helper.make_node(op, inputs, outs, name=outs[0], **attrs))
        return outs if n_out > 1 else outs[0]

    def inp(self, ref):
        ref = ref.lstrip("^")
        key = ref if ":" in ref else ref + ":0"
        if key not in self.names:
            raise ExportError(f"input '{ref}' is not produced by any node seen before it")
        if self.names[key] is None:
            value = self.consts[key[:-2]]
            if value.dtype == np.int32:
                value = value.astype(np.int64)
            self.names[key] = self.const(value, key[:-2])
        return self.names[key]

    def const_of(self, node, i):
        ref = node["input"][i].split(":")[0]
        if ref not in self.consts:
            raise ExportError(f"node '{node['name']}' ({node['op']}): input {i} ('{ref}') "
                              "must be a constant")
        return self.consts[ref]

    def to_nchw(self, x):
        return self.emit("Transpose", [x], "nchw", perm=[0, 3, 1, 2])

    def to_nhwc(self, x):
        return self.emit("Transpose", [x], "nhwc", perm=[0, 2, 3, 1])

    def spatial(self, node, kernel_hw, dilations_hw):
        strides = attr(node, "strides", [1, 1, 1, 1])
        pad = attr(node, "padding", "VALID")
        kw = {"strides": strides[1:3], "dilations": dilations_hw}
        if pad == "SAME":
            kw["auto_pad"] = "SAME_UPPER"  # TensorFlow puts the odd pixel after
        elif pad == "VALID":
            kw["auto_pad"] = "VALID"
        elif pad == "EXPLICIT":
            p = attr(node, "explicit_paddings")
            kw["pads"] = [p[2], p[4], p[3], p[5]]
        else:
            raise ExportError(f"node '{node['name']}': padding {pad}")
        if attr(node, "data_format", "NHWC") != "NHWC":
            raise ExportError(f"node '{node['name']}': data_format must be NHWC")
        return kw

    def activation(self, node, y, fused):
        for f in fused:
            if f in ("BiasAdd", "FusedBatchNorm"):
                continue
            if f == "Relu":
                y = self.emit("Relu", [y], "relu")
            elif f == "Relu6":
                y = self.emit("Clip", [y, self.const(np.float32(0)), self.const(np.float32(6))],
                              "relu6")
            elif f == "Sigmoid":
                y = self.emit("Sigmoid", [y], "sigmoid")
            else:
                raise ExportError(f"node '{node['name']}': fused op {f} not supported")
        return y

    def conv(self, node, depthwise):
        x = self.inp(node["input"][0])
        f = self.const_of(node, 1).astype(np.float32)
        kh, kw_, cin, m = f.shape
        if depthwise:
            w = np.transpose(f, (2, 3, 0, 1)).reshape(cin * m, 1, kh, kw_)
            group = cin
        else:
            w = np.transpose(f, (3, 2, 0, 1))
            group = 1
        fused = attr(node, "fused_ops", [])
        ins = [self.to_nchw(x), self.const(np.ascontiguousarray(w), "w")]
        if "BiasAdd" in fused:
            ins.append(self.const(self.const_of(node, 2).astype(np.float32), "b"))
        elif fused:
            raise ExportError(f"node '{node['name']}': fused ops {fused} without BiasAdd")
        dil = attr(node, "dilations", [1, 1, 1, 1])[1:3]
        y = self.emit("Conv", ins, node["name"], group=group,
                      kernel_shape=[kh, kw_], **self.spatial(node, [kh, kw_], dil))
        return self.to_nhwc(self.activation(node, y, fused))

    # -- the ops --

    def convert(self, node):
        op, name = node["op"], node["name"]
        ins = node.get("input", [])
        I = lambda i: self.inp(ins[i])  # noqa: E731
        binary = {"Sub": "Sub", "Mul": "Mul", "AddV2": "Add", "Add": "Add", "RealDiv": "Div",
                  "Maximum": "Max", "Minimum": "Min", "Less": "Less", "Greater": "Greater",
                  "GreaterEqual": "GreaterOrEqual", "Equal": "Equal", "LogicalAnd": "And",
                  "BiasAdd": "Add"}
        unary = {"Sigmoid": "Sigmoid", "Sqrt": "Sqrt", "Abs": "Abs", "Exp": "Exp",
                 "Reciprocal": "Reciprocal", "Identity": "Identity", "Relu": "Relu",
                 "Floor": "Floor", "Neg": "Neg", "Tanh": "Tanh", "Rsqrt": None}
        if op == "Const":
            value = self.weights.get(name)
            if value is None:
                raise ExportError(f"constant '{name}' has no weight in the manifest")
            self.consts[name] = value
            return [None]  # an initializer only when a node reads it as a tensor
        if op == "Placeholder":
            dims = [int(d["size"]) for d in attr_shape(node)]
            self.input_name = name
            self.input_dims = dims
            return [name]
        if op in binary:
            return [self.emit(binary[op], [I(0), I(1)], name)]
        if op == "Rsqrt":
            return [self.emit("Reciprocal", [self.emit("Sqrt", [I(0)], name)], name)]
        if op in unary:
            return [self.emit(unary[op], [I(0)], name)]
        if op == "Relu6":
            return [self.emit("Clip", [I(0), self.const(np.float32(0)),
                                       self.const(np.float32(6))], name)]
        if op == "AddN":
            return [self.emit("Sum", [I(i) for i in range(len(ins))], name)]
        if op == "SquaredDifference":
            d = self.emit("Sub", [I(0), I(1)], name)
            return [self.emit("Mul", [d, d], name)]
        if op == "FloorDiv":
            if attr(node, "T") == "DT_FLOAT":
                return [self.emit("Floor", [self.emit("Div", [I(0), I(1)], name)], name)]
            # integer division truncates in ONNX and floors in TensorFlow: the
            # same on the non-negative indices MoveNet divides
            return [self.emit("Div", [I(0), I(1)], name)]
        if op == "Cast":
            return [self.emit("Cast", [I(0)], name, to=ONNX_TYPE[attr(node, "DstT")])]
        if op in ("_FusedConv2D", "Conv2D"):
            return [self.conv(node, depthwise=False)]
        if op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            return [self.conv(node, depthwise=True)]
        if op == "MaxPool":
            k = attr(node, "ksize")[1:3]
            y = self.emit("MaxPool", [self.to_nchw(I(0))], name, kernel_shape=k,
                          **{a: v for a, v in self.spatial(node, k, [1, 1]).items()
                             if a != "dilations"})
            return [self.to_nhwc(y)]
        if op == "ResizeBilinear":
            if attr(node, "align_corners", False):
                mode = "align_corners"
            elif attr(node, "half_pixel_centers", False):
                mode = "half_pixel"
            else:
                mode = "asymmetric"
            shape = self.emit("Shape", [I(0)], name)
            n = self.emit("Slice", [shape, self.const(np.array([0])), self.const(np.array([1]))],
                          name)
            c = self.emit("Slice", [shape, self.const(np.array([3])), self.const(np.array([4]))],
                          name)
            sizes = self.emit("Concat", [n, I(1), c], name, axis=0)
            return [self.emit("Resize", [I(0), "", "", sizes], name, mode="linear",
                              coordinate_transformation_mode=mode)]
        if op == "Reshape":
            return [self.emit("Reshape", [I(0), I(1)], name)]
        if op == "ExpandDims":
            axis = np.asarray(self.const_of(node, 1)).reshape(-1).astype(np.int64)
            return [self.emit("Unsqueeze", [I(0), self.const(axis)], name)]
        if op == "Squeeze":
            dims = attr(node, "squeeze_dims", [])
            if dims:
                return [self.emit("Squeeze", [I(0), self.const(np.array(dims, np.int64))], name)]
            return [self.emit("Squeeze", [I(0)], name)]
        if op == "Pack":
            axis = attr(node, "axis", 0)
            ax = self.const(np.array([axis], np.int64))
            parts = [self.emit("Unsqueeze", [self.inp(r), ax], name) for r in ins]
            return [self.emit("Concat", parts, name, axis=axis)]
        if op == "Unpack":
            num, axis = attr(node, "num"), attr(node, "axis", 0)
            ax = self.const(np.array([axis], np.int64))
            parts = self.emit("Split", [I(0)], name, n_out=num, axis=axis) if num > 1 else [I(0)]
            return [self.emit("Squeeze", [p, ax], name) for p in parts]
        if op == "Split":
            num = attr(node, "num_split")
            axis = int(np.asarray(self.const_of(node, 0)))
            outs = self.emit("Split", [I(1)], name, n_out=num, axis=axis)
            return outs if num > 1 else [outs]
        if op == "ConcatV2":
            axis = int(np.asarray(self.const_of(node, len(ins) - 1)))
            return [self.emit("Concat", [I(i) for i in range(len(ins) - 1)], name, axis=axis)]
        if op == "ArgMax":
            axis = int(np.asarray(self.const_of(node, 1)))
            return [self.emit("ArgMax", [I(0)], name, axis=axis, keepdims=0)]
        if op == "TopKV2":
            k = np.asarray(self.const_of(node, 1)).reshape(1).astype(np.int64)
            return self.emit("TopK", [I(0), self.const(k)], name, n_out=2, axis=-1, largest=1,
                             sorted=1)
        if op == "GatherNd":
            return [self.emit("GatherND", [I(0), I(1)], name)]
        if op == "Shape":
            return [self.emit("Shape", [I(0)], name)]
        if op == "Size":
            return [self.emit("Size", [I(0)], name)]
        if op == "Range":
            return [self.emit("Range", [I(0), I(1), I(2)], name)]
        if op == "Tile":
            return [self.emit("Tile", [I(0), I(1)], name)]
        if op == "Fill":
            return [self.emit("Expand", [I(1), I(0)], name)]
        if op == "Select":
            return [self.emit("Where", [I(0), I(1), I(2)], name)]
        if op in ("Max", "Sum"):
            axes = np.asarray(self.const_of(node, 1)).reshape(-1).astype(np.int64)
            keep = int(attr(node, "keep_dims", False))
            if op == "Max":
                return [self.emit("ReduceMax", [I(0)], name, axes=list(axes), keepdims=keep)]
            return [self.emit("ReduceSum", [I(0), self.const(axes)], name, keepdims=keep)]
        if op == "StridedSlice":
            return [self.strided_slice(node)]
        raise ExportError(f"node '{name}': op {op} has no ONNX form in this exporter")

    def strided_slice(self, node):
        name = node["name"]
        begin, end, strides = (np.asarray(self.const_of(node, i)).reshape(-1).astype(np.int64)
                               for i in (1, 2, 3))
        if attr(node, "ellipsis_mask", 0):
            raise ExportError(f"node '{name}': StridedSlice with an ellipsis")
        bm, em, sm, nm = (attr(node, k, 0) for k in ("begin_mask", "end_mask",
                                                     "shrink_axis_mask", "new_axis_mask"))
        x = self.inp(node["input"][0])
        # A new axis takes no input dimension: with a size-1 dimension put in
        # at each one first, spec entry i is dimension i.
        new_axes = [i for i in range(len(begin)) if nm >> i & 1]
        if new_axes:
            x = self.emit("Unsqueeze", [x, self.const(np.array(new_axes, np.int64))], name)
        starts, ends, shrink = [], [], []
        for i in range(len(begin)):
            s, e, st = int(begin[i]), int(end[i]), int(strides[i])
            if nm >> i & 1:
                s, e, st = 0, I64_MAX, 1
            elif sm >> i & 1:
                e = s + 1 if s != -1 else I64_MAX
                st = 1
                shrink.append(i)
            else:
                if bm >> i & 1:
                    s = 0 if st > 0 else I64_MAX
                if em >> i & 1:
                    e = I64_MAX if st > 0 else I64_MIN
            starts.append(s)
            ends.append(e)
            strides[i] = st
        y = self.emit("Slice", [x, self.const(np.array(starts, np.int64)),
                                self.const(np.array(ends, np.int64)),
                                self.const(np.arange(len(begin), dtype=np.int64)),
                                self.const(strides)], name)
        if shrink:
            y = self.emit("Squeeze", [y, self.const(np.array(shrink, np.int64))], name)
        return y

    def export(self, out_path):
        for node in self.nodes:
            try:
                outs = self.convert(node)
            except ExportError:
                raise
            except Exception as e:  # a malformed node: name it
                raise ExportError(f"node '{node['name']}' ({node['op']}): {e}") from e
            for k, o in enumerate(outs):
                self.names[f"{node['name']}:{k}"] = o
        sig = self.model.get("signature", {})
        outputs = [o["name"] for o in sig.get("outputs", {}).values()] or ["Identity:0"]
        shapes = [[int(d["size"]) for d in o.get("tensorShape", {}).get("dim", [])]
                  for o in sig.get("outputs", {}).values()] or [None]
        out_vals = []
        for k, tf_name in enumerate(outputs):
            src = self.inp(tf_name)
            onnx_name = f"output_{k}"
            self.onnx_nodes.append(helper.make_node("Identity", [src], [onnx_name]))
            dims = [d if d > 0 else None for d in shapes[k]] if shapes[k] else None
            out_vals.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, dims))
        dims = [d if d > 0 else None for d in self.input_dims]
        graph = helper.make_graph(
            self.onnx_nodes, "movenet",
            [helper.make_tensor_value_info(self.input_name, TensorProto.INT32, dims)],
            out_vals, self.initializers)
        save(graph, out_path)


def attr_shape(node):
    return node["attr"]["shape"]["shape"]["dim"]


def save(graph, out_path, contrib=False):
    opsets = [helper.make_opsetid("", OPSET)]
    if contrib:  # ONNX Runtime's own operators, which the checker cannot know
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="crtd tests/ref/onnx_export.py")
    model.ir_version = 8
    if not contrib:
        onnx.checker.check_model(model)
    tmp = out_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out_path)


# ---- the segment model ------------------------------------------------------------


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for tname, desc in header.items():
        b, e = desc["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if desc["dtype"] == "F32":
            arr = np.frombuffer(raw, "<f4")
        elif desc["dtype"] == "F16":
            arr = np.frombuffer(raw, "<f2").astype(np.float32)
        elif desc["dtype"] == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ExportError(f"{path}: tensor {tname}: dtype {desc['dtype']}")
        tensors[tname] = arr.astype(np.float32).reshape(desc["shape"])
    return tensors, meta


class SegmentExporter:
    """The step of docs/MODEL.md for one stream (batch 1), written the way
    ONNX Runtime runs fastest: two-dimensional [tokens, d] tensors, Gemm with
    the bias, LayerNormalization, and ONNX Runtime's own fused CPU operators
    for attention (com.microsoft MultiHeadAttention) and the tanh GELU
    (com.microsoft FastGelu). As in crtd, the last layer computes only what
    the memory token's output needs (its query, and its projection and FFN),
    which is the same function of the inputs."""

    def __init__(self, path):
        self.t, meta = read_safetensors(path)
        try:
            self.cfg = {k: int(meta[k]) for k in ("d_model", "n_layers", "n_heads", "d_ff",
                                                  "n_features", "segment_len", "n_classes")}
            self.cfg["variant"] = meta["variant"]
            self.cfg["eps"] = float(meta["layer_norm_eps"])
        except KeyError as e:
            raise ExportError(f"{path}: metadata lacks {e}") from e
        if meta.get("architecture") != "crt" or self.cfg["variant"] not in ("gru", "ncgru"):
            raise ExportError(f"{path}: {meta.get('architecture')}/{self.cfg['variant']}: "
                              "not a CRT")
        self.nodes, self.inits, self.counter = [], [], 0

    def fresh(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def tensor(self, name):
        if name not in self.t:
            raise ExportError(f"tensor '{name}' missing from the model file")
        return self.t[name]

    def w(self, name):
        return self.const(np.ascontiguousarray(self.tensor(name)), name)

    def const(self, value, hint="c"):
        n = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(self, op, inputs, hint=None, n_out=1, domain=None, **attrs):
        outs = [self.fresh(hint or op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, domain=domain, **attrs))
        return outs if n_out > 1 else outs[0]

    def gemm(self, x, weight, bias, rows=None):
        """x [n, in] times weight [out, in] transposed, plus bias; rows picks
        a range of the weight's rows (output features)."""
        wt, b = self.tensor(weight), self.tensor(bias)
        if rows:
            wt, b = wt[rows[0]:rows[1]], b[rows[0]:rows[1]]
        return self.op("Gemm", [x, self.const(np.ascontiguousarray(wt), weight),
                                self.const(np.ascontiguousarray(b), bias)], transB=1)

    def linear(self, x, prefix, rows=None):
        return self.gemm(x, prefix + ".weight", prefix + ".bias", rows)

    def layer_norm(self, x, prefix):
        return self.op("LayerNormalization", [x, self.w(prefix + ".weight"),
                                              self.w(prefix + ".bias")],
                       axis=-1, epsilon=self.cfg["eps"])

    def export(self, out_path):
        c = self.cfg
        d, H, L, F_, C = c["d_model"], c["n_heads"], c["segment_len"], c["n_features"], \
            c["n_classes"]
        T = L + 1
        i64 = lambda *v: self.const(np.array(v, np.int64))  # noqa: E731
        feats, mem = "features", "memory"
        frames = self.op("Reshape", [feats, i64(L, F_)])
        x = self.op("Add", [self.linear(frames, "embed"), self.w("embed.pos")])  # [L, d]
        m = self.op("Add", [self.linear(mem, "mem.embed"), self.w("mem.pos")])  # [1, d]
        x = self.op("Concat", [m, x], axis=0)  # [T, d]
        n_layers = c["n_layers"]
        for i in range(n_layers):
            p = f"enc.{i}."
            last = i == n_layers - 1
            a = self.layer_norm(x, p + "ln1")
            if last:
                # the memory token's query only; keys and values of every token
                q = self.linear(self.op("Slice", [a, i64(0), i64(1), i64(0)]), p + "attn.qkv",
                                (0, d))
                k, v = self.op("Split", [self.linear(a, p + "attn.qkv", (d, 3 * d))], n_out=2,
                               axis=1)
                x = self.op("Slice", [x, i64(0), i64(1), i64(0)])  # [1, d]
                rows = 1
            else:
                q, k, v = self.op("Split", [self.linear(a, p + "attn.qkv")], n_out=3, axis=1)
                rows = T
            y = self.op("MultiHeadAttention",
                        [self.op("Unsqueeze", [q, i64(0)]), self.op("Unsqueeze", [k, i64(0)]),
                         self.op("Unsqueeze", [v, i64(0)])],
                        domain="com.microsoft", num_heads=H)  # [1, rows, d]
            y = self.op("Reshape", [y, i64(rows, d)])
            x = self.op("Add", [x, self.linear(y, p + "attn.proj")])
            a = self.layer_norm(x, p + "ln2")
            h = self.op("FastGelu", [self.linear(a, p + "ffn.fc1")], domain="com.microsoft")
            x = self.op("Add", [x, self.linear(h, p + "ffn.fc2")])
        s = self.layer_norm(x, "enc.ln_f")  # [1, d]
        new_mem = self.gru(s, mem) if c["variant"] == "gru" else self.ncgru(s, mem)
        logits = self.linear(self.layer_norm(new_mem, "head.ln"), "head")
        probs = self.op("Softmax", [logits], axis=-1)
        self.nodes.append(helper.make_node("Identity", [probs], ["probabilities"]))
        self.nodes.append(helper.make_node("Identity", [new_mem], ["new_memory"]))
        f32 = TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes, "crt_segment_step",
            [helper.make_tensor_value_info(feats, f32, [1, L, F_]),
             helper.make_tensor_value_info(mem, f32, [1, d])],
            [helper.make_tensor_value_info("probabilities", f32, [1, C]),
             helper.make_tensor_value_info("new_memory", f32, [1, d])], self.inits)
        save(graph, out_path, contrib=True)

    def gru(self, s, h):
        # torch.nn.GRUCell: r, z from (W_i s + b_i) + (W_h h + b_h); n = tanh(i_n + r * h_n)
        gi = self.op("Split", [self.gemm(s, "mem.gru.weight_ih", "mem.gru.bias_ih")], n_out=3,
                     axis=1)
        gh = self.op("Split", [self.gemm(h, "mem.gru.weight_hh", "mem.gru.bias_hh")], n_out=3,
                     axis=1)
        r = self.op("Sigmoid", [self.op("Add", [gi[0], gh[0]])])
        z = self.op("Sigmoid", [self.op("Add", [gi[1], gh[1]])])
        n = self.op("Tanh", [self.op("Add", [gi[2], self.op("Mul", [r, gh[2]])])])
        # (1 - z) n + z h = n + z (h - n)
        return self.op("Add", [n, self.op("Mul", [z, self.op("Sub", [h, n])])])

    def ncgru(self, s, m):
        wih = self.const(np.ascontiguousarray(self.tensor("mem.ncgru.weight_ih").T))
        gi = self.op("Split", [self.op("MatMul", [s, wih])], n_out=3, axis=1)
        gh_r, gh_u = self.op("Split", [self.gemm(m, "mem.ncgru.weight_hh", "mem.ncgru.bias")],
                             n_out=2, axis=1)
        r = self.op("Sigmoid", [self.op("Add", [gi[0], gh_r])])
        u = self.op("Sigmoid", [self.op("Add", [gi[1], gh_u])])
        uct = self.const(np.ascontiguousarray(self.tensor("mem.ncgru.u_c").T))
        z = self.op("Add", [gi[2], self.op("MatMul", [self.op("Mul", [r, m]), uct])])
        c = self.op("Mul", [self.op("Sign", [z]),
                            self.op("Relu", [self.op("Add", [self.op("Abs", [z]),
                                                             self.w("mem.ncgru.bias_c")])])])
        # u m + (1 - u) c = c + u (m - c)
        return self.op("Add", [c, self.op("Mul", [u, self.op("Sub", [m, c])])])


def main(argv):
    if len(argv) != 4 or argv[1] not in ("movenet", "segment"):
        sys.stderr.write(__doc__)
        return 2
    kind, src, dst = argv[1:]
    try:
        if kind == "movenet":
            MoveNetExporter(src).export(dst)
        else:
            SegmentExporter(src).export(dst)
        # one JSON object, for crt bench's child-process reader
        print(json.dumps({"onnx": dst, "source": src, "opset": OPSET,
                          "onnx_version": onnx.__version__}))
    except (ExportError, OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"onnx_export.py: {src}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
