// `npm run bench:alt-text`: what alt text costs per image, as far as this machine can tell
// without a model. Measured here: the JPEG the model is shown (size, dimensions) and the time
// to make it, for the test fixtures. Computed from published formulas: image input tokens for
// Amazon Nova (its resolution table) and Claude (width x height / 750 after its own downscale),
// the prompt's text tokens (~4 characters per token), and the price at published rates.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareAltTextImage } from '../dist/core/alt-text-image.js';
import { altTextPrompt } from '../dist/core/alt-text-prompt.js';
import { DEFAULT_LIMITS } from '../dist/core/limits.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = path.resolve(ROOT, 'test/fixtures/images');
const files = [
  'photo/flower-2268x1512.jpg',
  'photo/ladybird.jpg',
  'photo/dune.jpg',
  'photo/branches.jpg',
  'formats/flower.heic',
  'colour/p3-color-bars.png',
];

/** Amazon Nova (v1) resolution table: 900x450 ~800, 900x900 ~1300, 1400x900 ~1800, 1800x900 ~2400, 1300x1300 ~2600. */
function novaTokens(width, height) {
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (Math.max(width, height) <= 900) return ratio >= 1.75 ? 800 : 1300;
  if (ratio >= 1.75) return 2400;
  if (ratio >= 1.3) return 1800;
  return 2600;
}

/** Claude: images over ~1.15 MP are scaled down first; tokens = width x height / 750. */
function claudeTokens(width, height) {
  const scale = Math.min(1, Math.sqrt(1_150_000 / (width * height)));
  return Math.round((width * scale * (height * scale)) / 750);
}

const prompt = altTextPrompt();
const promptTokens = Math.round((prompt.system.length + prompt.user.length) / 4);
const OUTPUT_TOKENS = 80; // {"alt": ~20 words, "description": ~40 words}: an estimate, not a measurement
const PRICES = {
  'Amazon Nova Lite': { input: 0.06, output: 0.24, tokens: novaTokens },
  'Claude 3 Haiku': { input: 0.25, output: 1.25, tokens: claudeTokens },
};

console.log(`prompt text: ${prompt.system.length + prompt.user.length} characters ≈ ${promptTokens} tokens`);
console.log(
  'file | original | sent to the model | JPEG bytes | prepare ms (median of 5) | Nova tokens | Claude tokens',
);
for (const file of files) {
  const bytes = await readFile(path.join(FIXTURES, file));
  const times = [];
  let image;
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    image = await prepareAltTextImage(bytes, { limits: DEFAULT_LIMITS, allowSvg: false });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const sharp = (await import('sharp')).default;
  const original = await sharp(bytes)
    .metadata()
    .catch(() => ({}));
  console.log(
    [
      file,
      original.width ? `${original.width}x${original.height}` : '(HEIC)',
      `${image.width}x${image.height}`,
      image.jpeg.length,
      times[2].toFixed(0),
      novaTokens(image.width, image.height),
      claudeTokens(image.width, image.height),
    ].join(' | '),
  );
}
for (const [model, price] of Object.entries(PRICES)) {
  const input = price.tokens(1568, 1045) + promptTokens;
  const dollars = (input * price.input + OUTPUT_TOKENS * price.output) / 1e6;
  console.log(
    `${model}, a 3:2 photo: ~${input} input + ~${OUTPUT_TOKENS} output tokens ≈ $${dollars.toFixed(6)} per image, $${(dollars * 1000).toFixed(2)} per 1000`,
  );
}
