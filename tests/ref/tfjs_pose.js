// TensorFlow.js reference for crtd's pose runner (tests and `crt bench pose`).
//
//   node tfjs_pose.js run   NPM_DIR MODEL.json IN.i32 OUT_PREFIX [--size=HxW] [NODE ...]
//   node tfjs_pose.js bench NPM_DIR MODEL.json cpu|wasm FRAMES [IN.i32] [--size=HxW]
//
// run: IN.i32 holds one or more int32 [1,H,W,3] input tensors back to back
// (H and W read from the model's signature, or given by --size for a model
// that takes any size, such as MoveNet MultiPose). For input k it writes
// OUT_PREFIX<k>_<j>.f32 for j = 0 (the model's output) and j = 1.. (the named
// intermediate nodes, in the order given), as raw little-endian float32 (int32
// tensors are converted), and prints one line per tensor: "k j shape".
// Backend: @tensorflow/tfjs-backend-cpu.
//
// bench: runs the model FRAMES times on one input (IN.i32's first tensor, or
// a fixed pseudo-random one) after warm-up, on one thread, and prints
// {"backend":..,"ms_per_frame":..,"cpu_ms_per_frame":..} on stdout (best of
// 3 repetitions; CPU time of the whole node process, for busy machines).
'use strict';
const fs = require('fs');
const path = require('path');

function usage() {
  process.stderr.write('usage: tfjs_pose.js run NPM_DIR MODEL.json IN.i32 OUT_PREFIX [NODE ...]\n' +
                       '       tfjs_pose.js bench NPM_DIR MODEL.json cpu|wasm FRAMES [IN.i32]\n');
  process.exit(2);
}

function ioHandler(tf, modelPath) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
      const dir = path.dirname(modelPath);
      const weightSpecs = [];
      const buffers = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs,
        weightData,
      };
    },
  };
}

// --size=HxW, taken out of argv; else the model's own input size.
function inputSize(model, argv) {
  const at = argv.findIndex((a) => /^--size=\d+x\d+$/.test(a));
  if (at >= 0) {
    const [h, w] = argv[at].slice(7).split('x').map((x) => parseInt(x, 10));
    argv.splice(at, 1);
    return [h, w];
  }
  const dims = model.inputs[0].shape;
  if (!(dims[1] > 0 && dims[2] > 0)) {
    process.stderr.write('tfjs_pose.js: the model takes any size: give --size=HxW\n');
    process.exit(2);
  }
  return [dims[1], dims[2]];
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 5) usage();
  const [mode, npm, modelPath] = argv;
  const tf = require(path.join(npm, '@tensorflow/tfjs-core'));
  const tfc = require(path.join(npm, '@tensorflow/tfjs-converter'));

  if (mode === 'run') {
    require(path.join(npm, '@tensorflow/tfjs-backend-cpu'));
    await tf.setBackend('cpu');
    const model = await tfc.loadGraphModel(ioHandler(tf, modelPath));
    const [h, w] = inputSize(model, argv);
    const raw = fs.readFileSync(argv[3]);
    const per = h * w * 3;
    const all = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    if (all.length === 0 || all.length % per !== 0) {
      process.stderr.write(`tfjs_pose.js: ${argv[3]}: size is not a multiple of 1x${h}x${w}x3 int32\n`);
      process.exit(1);
    }
    const names = [model.outputs[0].name.replace(/:0$/, ''), ...argv.slice(5)];
    for (let k = 0; k < all.length / per; k++) {
      const input = tf.tensor(all.slice(k * per, (k + 1) * per), [1, h, w, 3], 'int32');
      const outs = model.execute({[model.inputs[0].name]: input}, names);
      const list = Array.isArray(outs) ? outs : [outs];
      for (let j = 0; j < list.length; j++) {
        const values = Float32Array.from(list[j].dataSync());
        fs.writeFileSync(`${argv[4]}${k}_${j}.f32`, Buffer.from(values.buffer));
        process.stdout.write(`${k} ${j} ${list[j].shape.join('x')}\n`);
        list[j].dispose();
      }
      input.dispose();
    }
    return;
  }
  if (mode === 'bench') {
    const backend = argv[3];
    const frames = parseInt(argv[4], 10);
    if (backend === 'wasm') {
      const wasm = require(path.join(npm, '@tensorflow/tfjs-backend-wasm'));
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasm.setWasmPaths(path.join(npm, '@tensorflow/tfjs-backend-wasm/dist') + '/');
      wasm.setThreadsCount(1);
    } else if (backend === 'cpu') {
      require(path.join(npm, '@tensorflow/tfjs-backend-cpu'));
    } else {
      usage();
    }
    if (!(await tf.setBackend(backend))) {
      process.stderr.write(`tfjs_pose.js: backend ${backend} did not initialise\n`);
      process.exit(1);
    }
    const model = await tfc.loadGraphModel(ioHandler(tf, modelPath));
    const [h, w] = inputSize(model, argv);
    let data = new Int32Array(h * w * 3);
    if (argv[5]) {
      const raw = fs.readFileSync(argv[5]);
      if (raw.byteLength < data.byteLength) {
        process.stderr.write(`tfjs_pose.js: ${argv[5]}: shorter than one 1x${h}x${w}x3 int32 tensor\n`);
        process.exit(1);
      }
      data = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + data.byteLength));
    } else {
      let seed = 12345;
      for (let i = 0; i < data.length; i++) {
        seed = (seed * 69069 + 1) % 4294967296;
        data[i] = seed >>> 24;
      }
    }
    const input = tf.tensor(data, [1, h, w, 3], 'int32');
    const once = () => {
      const out = model.execute(input);
      out.dataSync();
      out.dispose();
    };
    for (let i = 0; i < 3; i++) once();
    let ns = Infinity, cpuUs = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (let i = 0; i < frames; i++) once();
      const c = process.cpuUsage(c0);
      ns = Math.min(ns, Number(process.hrtime.bigint() - t0));
      cpuUs = Math.min(cpuUs, c.user + c.system);
    }
    const simd = backend === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : false;
    process.stdout.write(JSON.stringify({backend, simd, frames, ms_per_frame: ns / 1e6 / frames,
                                         cpu_ms_per_frame: cpuUs / 1e3 / frames}) + '\n');
    return;
  }
  usage();
}

main().catch((e) => {
  process.stderr.write(`tfjs_pose.js: ${e.stack || e}\n`);
  process.exit(1);
});
