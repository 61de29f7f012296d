// ONNX Runtime (onnxruntime-node, its CPU kernels) as a peer of crtd, on the
// ONNX files tests/ref/onnx_export.py writes.
//
//   node ort_peer.js run   NPM_DIR MODEL.onnx IN.i32 OUT_PREFIX [--size=HxW]
//   node ort_peer.js bench NPM_DIR MODEL.onnx FRAMES [IN.i32] [--size=HxW]
//   node ort_peer.js segment-run   NPM_DIR MODEL.onnx IN.f32 OUT.f32
//   node ort_peer.js segment-bench NPM_DIR MODEL.onnx ITERS
//
// run: as tfjs_pose.js run — IN.i32 holds int32 [1,H,W,3] tensors back to
// back; for input k it writes OUT_PREFIX<k>_0.f32 (the model's output, raw
// float32) and prints "k 0 shape".
//
// bench: the model FRAMES times on one input after warm-up; prints
// {"ms_per_frame":..,"cpu_ms_per_frame":..} (best of 3 repetitions; CPU time
// of the whole node process).
//
// segment-run: IN.f32 holds S segments of [1,L,F] features; runs them in
// order from the memory of zero segments (the model's mem.init, given as the
// first memory input's initial value by the caller: IN.f32 starts with it,
// [1,d]) and writes each segment's probabilities and new memory, back to back.
//
// segment-bench: one stream's step (features in, probabilities and memory
// out, the memory fed back) ITERS times, best of 9 runs; prints
// {"us_per_step":..,"us_per_call_empty":..}: the second is what one call
// costs the node binding on a graph that does nothing with inputs of the same
// sizes, so that the runtime's own time can be told from the binding's.
//
// Sessions: CPU execution provider, intra_op_num_threads=1,
// inter_op_num_threads=1, sequential execution, all graph optimisations.
'use strict';
const fs = require('fs');
const path = require('path');

function usage() {
  process.stderr.write(
    'usage: ort_peer.js run NPM_DIR MODEL.onnx IN.i32 OUT_PREFIX [--size=HxW]\n' +
    '       ort_peer.js bench NPM_DIR MODEL.onnx FRAMES [IN.i32] [--size=HxW]\n' +
    '       ort_peer.js segment-run NPM_DIR MODEL.onnx IN.f32 OUT.f32\n' +
    '       ort_peer.js segment-bench NPM_DIR MODEL.onnx ITERS\n');
  process.exit(2);
}

function die(msg) {
  process.stderr.write(`ort_peer.js: ${msg}\n`);
  process.exit(1);
}

const SESSION_OPTIONS = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

// --size=HxW taken out of argv, else the model's fixed input size.
function inputSize(session, argv) {
  const at = argv.findIndex((a) => /^--size=\d+x\d+$/.test(a));
  if (at >= 0) {
    const [h, w] = argv[at].slice(7).split('x').map((x) => parseInt(x, 10));
    argv.splice(at, 1);
    return [h, w];
  }
  const meta = session.inputMetadata && session.inputMetadata[0];
  const dims = meta && meta.shape;
  if (!dims || !(dims[1] > 0 && dims[2] > 0)) die('the model takes any size: give --size=HxW');
  return [dims[1], dims[2]];
}

function readInt32(file, per) {
  const raw = fs.readFileSync(file);
  if (raw.byteLength === 0 || raw.byteLength % (per * 4) !== 0) {
    die(`${file}: size is not a multiple of ${per} int32 values`);
  }
  return new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

function bestOf(reps, count, fn) {
  let ns = Infinity, cpuUs = Infinity;
  for (let rep = 0; rep < reps; rep++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    ns = Math.min(ns, Number(process.hrtime.bigint() - t0));
    cpuUs = Math.min(cpuUs, c.user + c.system);
  }
  return {wallUs: ns / 1e3 / count, cpuUs: cpuUs / count};
}

// The node binding runs a session synchronously; the promise around it only
// adds a turn of the event loop. Timing awaits each run, as a user would.
async function timeRuns(session, feeds, count, reps) {
  let ns = Infinity, cpuUs = Infinity;
  for (let rep = 0; rep < reps; rep++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) await feeds.step();
    const c = process.cpuUsage(c0);
    ns = Math.min(ns, Number(process.hrtime.bigint() - t0));
    cpuUs = Math.min(cpuUs, c.user + c.system);
  }
  return {wallUs: ns / 1e3 / count, cpuUs: cpuUs / count};
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 4) usage();
  const [mode, npm, modelPath] = argv;
  const ort = require(path.join(npm, 'onnxruntime-node'));
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, SESSION_OPTIONS);
  } catch (e) {
    die(`${modelPath}: ${e.message || e}`);
  }
  const input = session.inputNames[0];
  const output = session.outputNames[0];

  if (mode === 'run' || mode === 'bench') {
    const [h, w] = inputSize(session, argv);
    const per = h * w * 3;
    if (mode === 'run') {
      if (argv.length < 5) usage();
      const all = readInt32(argv[3], per);
      for (let k = 0; k < all.length / per; k++) {
        const t = new ort.Tensor('int32', all.slice(k * per, (k + 1) * per), [1, h, w, 3]);
        const out = (await session.run({[input]: t}))[output];
        fs.writeFileSync(`${argv[4]}${k}_0.f32`, Buffer.from(Float32Array.from(out.data).buffer));
        process.stdout.write(`${k} 0 ${out.dims.join('x')}\n`);
      }
      return;
    }
    const frames = parseInt(argv[3], 10);
    if (!(frames > 0)) usage();
    let data = new Int32Array(per);
    if (argv[4]) {
      data = readInt32(argv[4], per).slice(0, per);
    } else {
      let seed = 12345;
      for (let i = 0; i < per; i++) {
        seed = (seed * 69069 + 1) % 4294967296;
        data[i] = seed >>> 24;
      }
    }
    const t = new ort.Tensor('int32', data, [1, h, w, 3]);
    const feeds = {step: () => session.run({[input]: t})};
    for (let i = 0; i < 3; i++) await feeds.step();
    const r = await timeRuns(session, feeds, frames, 3);
    process.stdout.write(JSON.stringify({
      runtime: `onnxruntime-node ${ort.env.versions.node}`, frames, threads: 1,
      ms_per_frame: r.wallUs / 1e3, cpu_ms_per_frame: r.cpuUs / 1e3,
    }) + '\n');
    return;
  }

  if (mode === 'segment-run' || mode === 'segment-bench') {
    const [fIn, mIn] = session.inputNames;
    const [pOut, mOut] = session.outputNames;
    const dims = session.inputMetadata[0].shape, d = session.inputMetadata[1].shape[1];
    const per = dims[1] * dims[2];
    if (mode === 'segment-run') {
      if (argv.length < 5) usage();
      const raw = fs.readFileSync(argv[3]);
      const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      if (all.length < d || (all.length - d) % per !== 0) die(`${argv[3]}: not [1,${d}] + S x [1,${dims[1]},${dims[2]}]`);
      let mem = new ort.Tensor('float32', all.slice(0, d), [1, d]);
      const parts = [];
      for (let s = 0; s < (all.length - d) / per; s++) {
        const f = new ort.Tensor('float32', all.slice(d + s * per, d + (s + 1) * per), dims);
        const out = await session.run({[fIn]: f, [mIn]: mem});
        parts.push(Buffer.from(Float32Array.from(out[pOut].data).buffer));
        parts.push(Buffer.from(Float32Array.from(out[mOut].data).buffer));
        mem = out[mOut];
      }
      fs.writeFileSync(argv[4], Buffer.concat(parts));
      return;
    }
    const iters = parseInt(argv[3], 10);
    if (!(iters > 0)) usage();
    const feats = new Float32Array(per);
    let seed = 7;
    for (let i = 0; i < per; i++) {
      seed = (seed * 1664525 + 1013904223) % 4294967296;
      feats[i] = (seed >>> 8) / 8388608 - 1;
    }
    const f = new ort.Tensor('float32', feats, dims);
    const state = {mem: new ort.Tensor('float32', new Float32Array(d), [1, d])};
    const feeds = {step: async () => {
      state.mem = (await session.run({[fIn]: f, [mIn]: state.mem}))[mOut];
    }};
    for (let i = 0; i < 200; i++) await feeds.step();
    let best = Infinity;
    for (let run = 0; run < 9; run++) best = Math.min(best, (await timeRuns(session, feeds, iters, 1)).cpuUs);
    // The binding's own cost: the same call on a graph of two Identity nodes.
    const empty = await ort.InferenceSession.create(emptyGraph(dims, d), SESSION_OPTIONS);
    const estate = {mem: state.mem};
    const efeeds = {step: async () => {
      estate.mem = (await empty.run({features: f, memory: estate.mem})).new_memory;
    }};
    for (let i = 0; i < 200; i++) await efeeds.step();
    let bestEmpty = Infinity;
    for (let run = 0; run < 9; run++) bestEmpty = Math.min(bestEmpty, (await timeRuns(empty, efeeds, iters, 1)).cpuUs);
    process.stdout.write(JSON.stringify({
      runtime: `onnxruntime-node ${ort.env.versions.node}`, threads: 1,
      us_per_step: best, us_per_call_empty: bestEmpty,
    }) + '\n');
    return;
  }
  usage();
}

// A minimal ONNX model, encoded by hand: inputs features [1,L,F] and memory
// [1,d], outputs probabilities = Identity(features) and new_memory =
// Identity(memory). Protobuf wire format, opset 17.
function emptyGraph(fdims, d) {
  const varint = (n) => { const b = []; do { let x = n & 0x7f; n = Math.floor(n / 128); if (n) x |= 0x80; b.push(x); } while (n); return Buffer.from(b); };
  const field = (no, payload) => Buffer.concat([varint(no * 8 + 2), varint(payload.length), payload]);
  const str = (no, s) => field(no, Buffer.from(s));
  const int = (no, n) => Buffer.concat([varint(no * 8), varint(n)]);
  const dim = (n) => field(1, int(1, n));
  const valueInfo = (name, dims) => Buffer.concat([
    str(1, name), field(2, field(1, Buffer.concat([int(1, 1), field(2, Buffer.concat(dims.map(dim)))]))),
  ]);
  const node = (i, o) => Buffer.concat([str(1, i), str(2, o), str(4, 'Identity')]);
  const graph = Buffer.concat([
    field(1, node('features', 'probabilities')), field(1, node('memory', 'new_memory')),
    str(2, 'empty'),
    field(11, valueInfo('features', fdims)), field(11, valueInfo('memory', [1, d])),
    field(12, valueInfo('probabilities', fdims)), field(12, valueInfo('new_memory', [1, d])),
  ]);
  return Buffer.concat([int(1, 8), field(7, graph), field(8, int(2, 17))]);
}

main().catch((e) => die(e.stack || e));
