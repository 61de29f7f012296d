#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets into corpus/<target>/. The files
are kept in git; run this again only to change the seeds:

    tests/fuzz/make_corpus.py [--crt build/tools/crt] [--fuzz-build build-fuzz] [TARGET...]

safetensors  tiny valid model files (GRU, NC-GRU; F32, F16, BF16), damaged ones
state        real state blobs, one per memory mechanism (written by fuzz_state)
poseseq      a real .pose file from `crt synth`, and damaged ones
archive      a real pose archive file from `crt archive` (vtest.avi), and damaged ones
tfjs         small graphs cut from MoveNet Lightning (third_party/models)
http         requests as clients send them
config       crtd.conf.example, and a file with a drop-in
bvh          small hand-written BVH files (never the CMU data)
asf_amc      small hand-written ASF skeletons with AMC motion, a form feed between
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def out_dir(target):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    return d


def write(target, name, data):
    with open(os.path.join(out_dir(target), name), "wb") as f:
        f.write(data)


def safetensors_header(header, data=b""):
    return struct.pack("<Q", len(header)) + header + data


def seeds_safetensors(opts):
    import torch
    sys.path.insert(0, os.path.join(here, "..", "ref"))
    import crt_ref

    def tiny(variant):
        return dict(architecture="crt", variant=variant, d_model=8, n_layers=1, n_heads=2,
                    d_ff=8, n_features=89, feature_layout=1, segment_len=2, fps=10.0,
                    layer_norm_eps=1e-5, n_classes=2, classes=["a", "b"])

    for i, (variant, dtype) in enumerate([("gru", "F32"), ("ncgru", "F16"), ("gru", "BF16")]):
        cfg = tiny(variant)
        gen = torch.Generator().manual_seed(i)
        crt_ref.write_safetensors(
            os.path.join(out_dir("safetensors"), f"tiny_{variant}_{dtype.lower()}.safetensors"),
            crt_ref.random_tensors(cfg, gen), crt_ref.metadata(cfg, "fuzz seed"), dtype)
    write("safetensors", "plain.safetensors", safetensors_header(
        b'{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
        b"\0" * 8))
    write("safetensors", "overlap.safetensors", safetensors_header(
        b'{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},'
        b'"b":{"dtype":"BF16","shape":[2],"data_offsets":[2,6]}}', b"\0" * 6))
    write("safetensors", "empty.safetensors", safetensors_header(b"{}"))


def seeds_state(opts):
    binary = os.path.join(opts["fuzz_build"], "tests", "fuzz", "fuzz_state")
    with tempfile.TemporaryDirectory() as empty:
        subprocess.run([binary, "-runs=0", empty], check=True, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, CRTD_FUZZ_STATE_SEEDS=out_dir("state")))


def seeds_poseseq(opts):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([opts["crt"], "synth", "--out", tmp, "--clips", "1", "--min-seconds", "1",
                        "--max-seconds", "1", "--seed", "7"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pose = [f for f in os.listdir(tmp) if f.endswith(".pose")][0]
        with open(os.path.join(tmp, pose), "rb") as f:
            data = f.read()
    write("poseseq", "synth.pose", data)
    write("poseseq", "truncated.pose", data[:len(data) // 2])
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["labels"]["shape"] = [header["labels"]["shape"][0] + 1]
    text = json.dumps(header).encode()
    write("poseseq", "wrong_shape.pose", struct.pack("<Q", len(text)) + text + data[8 + n:])


def seeds_tfjs(opts):
    """Graphs of the first K operations of MoveNet Lightning reachable from its
    input, with an Identity on the last and only the weights they use, on an
    8x8 input so that a loaded seed also runs."""
    base = os.path.join(root, "third_party", "models", "movenet-lightning")
    with open(base + ".json") as f:
        model = json.load(f)
    with open(base + ".bin", "rb") as f:
        weights = f.read()
    nodes = model["modelTopology"]["node"]
    by_name = {n["name"]: n for n in nodes}
    manifest = model["weightsManifest"][0]["weights"]
    offsets, at = {}, 0
    for w in manifest:
        count = 1
        for d in w["shape"]:
            count *= d
        q = w.get("quantization", {}).get("dtype")
        size = count * {"uint8": 1, "float16": 2, "uint16": 2}.get(q, 4)
        offsets[w["name"]] = (at, size, w)
        at += size

    def source(name):
        return name.lstrip("^").split(":")[0]

    for k in (2, 5, 12):
        kept, ops = set(), []
        for n in nodes:
            if n["op"] == "Placeholder":
                kept.add(n["name"])
        changed = True
        while changed and len(ops) < k:
            changed = False
            for n in nodes:
                if n["name"] in kept or n["op"] in ("Const", "Placeholder"):
                    continue
                ins = [source(i) for i in n.get("input", [])]
                if all(i in kept or by_name[i]["op"] == "Const" for i in ins) and \
                        any(i in kept for i in ins):
                    kept.add(n["name"])
                    ops.append(n)
                    changed = True
                    if len(ops) == k:
                        break
        consts = {source(i) for n in ops for i in n.get("input", [])
                  if by_name[source(i)]["op"] == "Const"}
        graph = []
        for n in nodes:
            if n["op"] == "Placeholder":
                p = json.loads(json.dumps(n))
                dims = p["attr"]["shape"]["shape"]["dim"]
                dims[1]["size"] = dims[2]["size"] = "8"
                graph.append(p)
            elif n["name"] in consts or n in ops:
                graph.append(n)
        graph.append({"name": "Identity", "op": "Identity", "input": [ops[-1]["name"]],
                      "attr": {"T": ops[-1].get("attr", {}).get("T", {"type": "DT_FLOAT"})}})
        used = [w for w in manifest if w["name"] in consts]
        shard = b"".join(weights[offsets[w["name"]][0]:sum(offsets[w["name"]][:2])]
                         for w in used)
        cut = {"format": "graph-model", "modelTopology": {"node": graph},
               "weightsManifest": [{"paths": ["model.bin"], "weights": used}]}
        text = json.dumps(cut).encode()
        write("tfjs", f"movenet_first_{k}_ops", struct.pack("<I", len(text)) + text + shard)


def seeds_http(opts):
    requests = {
        "list": b"\x00/v1/streams\n",
        "post": b'\x02/v1/streams\n{"name":"kitchen","url":"rtsp://user:pw@cam.local/1",'
                b'"fps":5,"enabled":true}',
        "history": b"\x00/v1/streams/kitchen/history\n2026-11-22T10:00:00.25+01:00",
        "history_seconds": b"\x00/v1/streams/kitchen/history/\n1763805600.5",
        "delete": b"\x03/v1/streams/hall-2\n",
        "activity_nul": b"\x00/v1/streams/%00/activity\n",
        "escaped": b"\x00/v1/streams/%6b%69tchen/activity\n",
        "metrics": b"\x01/metrics\n",
        "events": b"\x00/v1/events\n",
        "bad_body": b'\x02/v1/streams\n{"name":"../x","url":"","extra":[1,2,{"a":null}]}',
        "post_video": b'\x02/v1/streams\n{"name":"porch","url":"rtsp://cam/1","transport":"udp",'
                      b'"max_side":320}',
        "history_all": b"\x00/v1/history\nstreams=kitchen,hall&labels=Walk&track=2&site=Rose wing"
                       b"&since=2026-11-22T08:00:00Z&limit=50&before_id=1200",
        "cors": b"\x05/v1/streams\nhttp://box1:8470, https://[::1]:9000,*",
    }
    for name, data in requests.items():
        write("http", name, data)


def seeds_config(opts):
    with open(os.path.join(root, "daemon", "crtd.conf.example"), "rb") as f:
        write("config", "example.conf", f.read())
    write("config", "streams_and_dropin.conf",
          b"[server]\nlisten = [::1]:8470\nmax_connections = 8\nmax_sse_clients = 4\n"
          b"[daemon]\nhysteresis_s = 0.5 ; comment\n"
          b'[stream "kitchen"]\nurl = rtsp://u:p@10.0.0.2/s\nfps = 5\n'
          b"\f"
          b'[stream "kitchen"]\nenabled = no\n[stream "hall"]\nurl = /dev/video0\n')
    write("config", "video_options.conf",
          b'[stream "porch"]\nurl = rtsp://cam/1\ntransport = udp\nmax_side = 320\n'
          b"ffmpeg_options = probesize=32768:fflags=nobuffer+genpts:user_agent=crtd\n"
          b"format = mpegts\nhw_device = /dev/dri/renderD128\nbackoff_min_s = 0.5\n"
          b"motion_threshold = 12\n")


BVH_SMALL = b"""HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 20 0
      CHANNELS 3 Zrotation Yrotation Xrotation
      End Site
      {
        OFFSET 0 5 0
      }
    }
  }
  JOINT LeftLeg
  {
    OFFSET 2 -1 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 -17 1
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0083333
1 17.5 -2 0 0 0 0 0 0 0 0 0 0 0 0
1.5 17.4 -2 90 -45 10 5 0 -5 1 2 3 -30 0 0
"""


def seeds_bvh(opts):
    write("bvh", "small.bvh", BVH_SMALL)
    write("bvh", "small_crlf.bvh", BVH_SMALL.replace(b"\n", b"\r\n"))
    write("bvh", "positions_only.bvh",
          b"HIERARCHY\nROOT a\n{\n\tOFFSET 0 0 0\n\tCHANNELS 3 Xposition Yposition "
          b"Zposition\n\tEnd Site\n\t{\n\t\tOFFSET 0 170 0\n\t}\n}\nMOTION\nFrames: 1\n"
          b"Frame Time: 0.04\n0 90 0\n")


ASF_SMALL = b"""# hand-written for the fuzz seeds
:version 1.10
:name VICON
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
   two legs and a back
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name lfemur
     direction 0.34202 -0.939693 0
     length 7.2
     axis 0 0 20  XYZ
    dof rx ry rz
    limits (-160.0 20.0)
           (-70.0 70.0)
           (-60.0 70.0)
  end
  begin
     id 2
     name ltibia
     direction 0.34202 -0.939693 0
     length 7.5
     axis 0 0 20  XYZ
    dof rx
    limits (-10.0 170.0)
  end
  begin
     id 3
     name lowerback
     direction 0 1 0
     length 2
     axis 0 0 0  XYZ
    dof rx ry rz
    limits (-20.0 45.0)
           (-30.0 30.0)
           (-30.0 30.0)
  end
  begin
     id 4
     name head
     direction 0 1 0
     length 12
     axis 0 0 0  ZYX
  end
:hierarchy
  begin
    root lfemur lowerback
    lfemur ltibia
    lowerback head
  end
"""

AMC_SMALL = b""":FULLY-SPECIFIED
:DEGREES
1
root 0.3 17.4 21.7 -3 -170 -2
lfemur 1.3 4.3 -15.8
ltibia 34.1
lowerback 13.4 -2.5 -2.9
2
root 0.2 17.4 21.8 -3 -169 -2
lowerback 13.5 -2.5 -2.8
lfemur 1.4 4.2 -15.7
ltibia 34.0
"""


def seeds_asf_amc(opts):
    write("asf_amc", "small", ASF_SMALL + b"\f" + AMC_SMALL)
    write("asf_amc", "small_crlf", (ASF_SMALL + b"\f" + AMC_SMALL).replace(b"\n", b"\r\n"))
    write("asf_amc", "radians", ASF_SMALL.replace(b"angle deg", b"angle rad") + b"\f" +
          AMC_SMALL.replace(b":DEGREES", b":RADIANS"))
    write("asf_amc", "no_length_unit", ASF_SMALL.replace(b"  length 0.45\n", b"") + b"\f" +
          AMC_SMALL)


def seeds_archive(opts):
    vtest = os.path.join(root, "third_party", "images", "vtest.avi")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([opts["crt"], "archive", "--model", "lightning", "--max-frames", "30",
                        "--out", tmp, vtest], check=True, capture_output=True)
        name = [f for f in os.listdir(tmp) if f.endswith(".cpa")][0]
        data = open(os.path.join(tmp, name), "rb").read()
    write("archive", "vtest.cpa", data)
    write("archive", "torn.cpa", data[:len(data) - 7])
    flipped = bytearray(data)
    flipped[40] ^= 0x10
    write("archive", "flipped.cpa", bytes(flipped))
    write("archive", "header_only.cpa", data[:36])


TARGETS = {"safetensors": seeds_safetensors, "state": seeds_state, "poseseq": seeds_poseseq,
           "archive": seeds_archive,
           "tfjs": seeds_tfjs, "http": seeds_http, "config": seeds_config, "bvh": seeds_bvh,
           "asf_amc": seeds_asf_amc}


def main():
    opts = {"crt": os.path.join(root, "build", "tools", "crt"),
            "fuzz_build": os.path.join(root, "build-fuzz")}
    targets, args = [], sys.argv[1:]
    while args:
        a = args.pop(0)
        if a in ("--crt", "--fuzz-build"):
            opts[a[2:].replace("-", "_")] = args.pop(0)
        elif a in TARGETS:
            targets.append(a)
        else:
            sys.exit(f"make_corpus.py: unknown argument '{a}' (targets: {' '.join(TARGETS)})")
    for t in targets or TARGETS:
        TARGETS[t](opts)
        print(f"corpus/{t}: {len(os.listdir(out_dir(t)))} files")


if __name__ == "__main__":
    main()
