// Sanity check / reference post-processing for the converted nanodet model:
// decode a JPEG, run nanodet.onnx with ONNX Runtime, decode the NanoDet (GFL) heads, NMS, print.
//
// usage: node nanodet_sanity.mjs IMAGE.jpg [--onnx FILE] [--norm human|nanodet] [--work DIR]
//   --norm human   : RGB / 255 (what @vladmandic/human does, default)
//   --norm nanodet : BGR, (x - [103.53,116.28,123.675]) / [57.375,57.12,58.395] (upstream NanoDet)
// needs npm packages onnxruntime-node and jpeg-js in --work (default /tmp/tfjs-work)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); if (i < 0) return d; const v = args[i + 1]; args.splice(i, 2); return v; };
const onnxPath = opt('--onnx', '/tmp/tfjs-work/onnx/nanodet.onnx');
const norm = opt('--norm', 'human');
const req = createRequire(path.join(opt('--work', process.env.TFJS_WORK || '/tmp/tfjs-work'), 'noop.js'));
const ort = req('onnxruntime-node');
const jpeg = req('jpeg-js');

const COCO = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant',
  'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
  'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
  'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
  'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
  'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush'];
const SIZE = 416;
const HEADS = [ // [scores output, box-distribution output, stride]
  ['Identity', 'Identity_3', 8], ['Identity_1', 'Identity_4', 16], ['Identity_2', 'Identity_5', 32]];

function preprocess(img) { // stretch-resize to 416x416 (bilinear, half-pixel centres), NCHW float32
  const x = new Float32Array(3 * SIZE * SIZE);
  const mean = norm === 'nanodet' ? [103.53, 116.28, 123.675] : [0, 0, 0];
  const std = norm === 'nanodet' ? [57.375, 57.12, 58.395] : [255, 255, 255];
  const sy = img.height / SIZE, sx = img.width / SIZE;
  const px = (yy, xx, c) => img.data[(yy * img.width + xx) * 4 + c];
  for (let y = 0; y < SIZE; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5), y0 = Math.floor(fy), y1 = Math.min(y0 + 1, img.height - 1), wy = fy - y0;
    for (let x0i = 0; x0i < SIZE; x0i++) {
      const fx = Math.max(0, (x0i + 0.5) * sx - 0.5), x0 = Math.floor(fx), x1 = Math.min(x0 + 1, img.width - 1), wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const src = norm === 'nanodet' ? 2 - c : c; // BGR for upstream NanoDet
        const v = (1 - wy) * ((1 - wx) * px(y0, x0, src) + wx * px(y0, x1, src)) + wy * ((1 - wx) * px(y1, x0, src) + wx * px(y1, x1, src));
        x[c * SIZE * SIZE + y * SIZE + x0i] = (v - mean[c]) / std[c];
      }
    }
  }
  return x;
}

const iou = (a, b) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
};

async function main() {
  const img = jpeg.decode(fs.readFileSync(args[0]), { useTArray: true });
  const session = await ort.InferenceSession.create(onnxPath);
  const out = await session.run({ input_1: new ort.Tensor('float32', preprocess(img), [1, 3, SIZE, SIZE]) });
  const thr = 0.35, cands = [];
  for (const [scoreName, boxName, stride] of HEADS) {
    const scores = out[scoreName].data, dist = out[boxName].data, grid = SIZE / stride, bins = 11;
    for (let i = 0; i < grid * grid; i++) {
      let best = 0, cls = -1;
      for (let c = 0; c < 80; c++) if (scores[i * 80 + c] > best) { best = scores[i * 80 + c]; cls = c; }
      if (best < thr) continue;
      const d = [0, 1, 2, 3].map((side) => { // softmax over 11 bins, expectation, times stride
        const o = i * 44 + side * bins;
        let m = -Infinity, s = 0, e = 0;
        for (let k = 0; k < bins; k++) m = Math.max(m, dist[o + k]);
        for (let k = 0; k < bins; k++) { const p = Math.exp(dist[o + k] - m); s += p; e += p * k; }
        return (e / s) * stride;
      });
      const cx = ((i % grid) + 0.5) * stride, cy = (Math.floor(i / grid) + 0.5) * stride; // legacy NanoDet GFL head: cell centre
      cands.push({ cls, score: best, stride, box: [cx - d[0], cy - d[1], cx + d[2], cy + d[3]] });
    }
  }
  cands.sort((a, b) => b.score - a.score);
  const keep = [];
  for (const c of cands) if (!keep.some((k) => k.cls === c.cls && iou(k.box, c.box) > 0.6)) keep.push(c);
  const kx = img.width / SIZE, ky = img.height / SIZE;
  console.log(`${args[0]} ${img.width}x${img.height}, norm=${norm}: ${cands.length} candidates >= ${thr}, ${keep.length} after NMS`);
  for (const k of keep) {
    const b = [k.box[0] * kx, k.box[1] * ky, k.box[2] * kx, k.box[3] * ky].map((v) => Math.round(v));
    console.log(`  ${COCO[k.cls].padEnd(12)} ${k.score.toFixed(3)} stride ${k.stride} box x1,y1,x2,y2 = ${b.join(',')}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
