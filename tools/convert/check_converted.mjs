// Check ONNX models produced by tfjs_to_onnx.py against the TF.js reference outputs
// written by make_reference.mjs (tests/data/converter/NAME.json). Runs the ONNX model with
// ONNX Runtime (npm package onnxruntime-node) on the same deterministic input.
//
// usage: node check_converted.mjs [--onnx-dir DIR] [--ref-dir DIR] [--full-dir DIR] [--work DIR] [name ...]
//   --onnx-dir  directory with NAME.onnx (default /tmp/tfjs-work/onnx)
//   --ref-dir   directory with NAME.json references (default tests/data/converter of this repo)
//   --full-dir  optional raw float32 dumps from make_reference.mjs --full-dir: compare every element
//   --work      npm project dir with node_modules/onnxruntime-node (default /tmp/tfjs-work)
// Tolerance per element: |onnx - ref| <= 1e-4 * max(1, |ref|). Exit status 1 on any mismatch.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); if (i < 0) return d; const v = args[i + 1]; args.splice(i, 2); return v; };
const onnxDir = opt('--onnx-dir', '/tmp/tfjs-work/onnx');
const refDir = opt('--ref-dir', path.resolve(here, '../../tests/data/converter'));
const fullDir = opt('--full-dir', null);
const work = opt('--work', process.env.TFJS_WORK || '/tmp/tfjs-work');
const names = args.length ? args : fs.readdirSync(refDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const ort = createRequire(path.join(work, 'noop.js'))('onnxruntime-node');

const TOL = 1e-4;
const inputValue = (i) => ((i * 7919) % 256) / 255; // must match make_reference.mjs

async function main() {
  let failed = 0;
  for (const name of names) {
    const ref = JSON.parse(fs.readFileSync(path.join(refDir, `${name}.json`), 'utf8'));
    const session = await ort.InferenceSession.create(path.join(onnxDir, `${name}.onnx`));
    const n = ref.input.shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = inputValue(i);
    const res = await session.run({ [ref.input.name]: new ort.Tensor('float32', x, ref.input.shape) });
    for (const o of ref.outputs) {
      const t = res[o.name];
      const problems = [];
      if (!t) { console.log(`FAIL ${name}/${o.name}: missing output`); failed++; continue; }
      if (JSON.stringify(Array.from(t.dims)) !== JSON.stringify(o.shape)) problems.push(`shape ${t.dims} != ${o.shape}`);
      const d = t.data;
      let maxErr = 0, maxRel = 0, checked = 0;
      const cmp = (i, r) => {
        const e = Math.abs(d[i] - r);
        maxErr = Math.max(maxErr, e);
        maxRel = Math.max(maxRel, e / Math.max(1, Math.abs(r)));
        checked++;
      };
      o.sample.forEach((r, k) => cmp(o.sample_offset + k * o.sample_stride, r));
      const full = fullDir && path.join(fullDir, `${name}.${o.tfjs_name.replace(/[:/]/g, '_')}.bin`);
      if (full && fs.existsSync(full)) {
        const b = fs.readFileSync(full);
        const r = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        for (let i = 0; i < r.length; i++) cmp(i, r[i]);
      }
      let sum = 0, sq = 0;
      for (const v of d) { sum += v; sq += v * v; }
      const meanErr = Math.abs(sum / d.length - o.mean);
      const l2Rel = Math.abs(Math.sqrt(sq) - o.l2) / Math.max(1, o.l2);
      if (maxRel > TOL) problems.push(`max err ${maxErr.toExponential(2)} (rel ${maxRel.toExponential(2)})`);
      if (meanErr > TOL * Math.max(1, Math.abs(o.mean))) problems.push(`mean ${sum / d.length} vs ${o.mean}`);
      if (l2Rel > TOL) problems.push(`l2 ${Math.sqrt(sq)} vs ${o.l2}`);
      console.log(`${problems.length ? 'FAIL' : 'ok  '} ${name}/${o.name} [${o.shape}] checked ${checked} values: ` +
        `max abs err ${maxErr.toExponential(2)}, max rel err ${maxRel.toExponential(2)}, mean err ${meanErr.toExponential(2)}, ` +
        `l2 rel err ${l2Rel.toExponential(2)}${problems.length ? ` -- ${problems.join('; ')}` : ''}`);
      if (problems.length) failed++;
    }
  }
  if (failed) { console.log(`${failed} output(s) mismatched`); process.exit(1); }
  console.log('all outputs match');
}

main().catch((e) => { console.error(e); process.exit(2); });
