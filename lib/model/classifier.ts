/**
 * The digit classifier, described once as data, as `architecture.ts` describes the autoencoder: a small
 * convolutional network of the same layer kinds (3 × 3 convolutions, linear layers), which
 * reads a 28 × 28 digit and gives one logit per digit 0–9. It scores what the autoencoders make of
 * digits: whether a reconstruction still shows the digit it came from.
 *
 * Conv2d(1→16, k3, s1, p0) ReLU → Conv2d(16→32, k3, s2, p0) ReLU → Conv2d(32→64, k3, s2, p0) ReLU →
 * Conv2d(64→128, k3, s2, p0) ReLU → flatten (128 × 2 × 2) → Linear(512→128) ReLU Dropout → Linear(128→10):
 * logits. The first convolution keeps the image's resolution (26 × 26), the others halve it (12, 5, 2).
 * Its parameters start from He's initialisation, from which it trains faster than from PyTorch's default.
 *
 * @module
 */
import { elementCount, type LayerSpec, parametersOf } from "./architecture.ts";

/** The classes a classifier tells apart: the digits 0–9. */
export const DIGIT_CLASSES = 10;

/** Width of the classifier's hidden linear layer. */
const CLASSIFIER_WIDTH = 128;

/**
 * The layers of the digit classifier, in forward order: ReLU after every layer but the last, dropout after
 * the hidden linear layer, logits out.
 *
 * @example
 * ```ts
 * import { classifierLayers } from "./classifier.ts";
 * console.log(classifierLayers().at(-1)?.outputs); // 10
 * ```
 */
export function classifierLayers(): LayerSpec[] {
  const conv = (name: string, inputs: number, outputs: number, stride: number): LayerSpec => ({
    name,
    kind: "conv",
    inputs,
    outputs,
    padding: 0,
    stride,
    activation: "relu",
    init: "he",
  });
  return [
    conv("features.0", 1, 16, 1),
    conv("features.2", 16, 32, 2),
    conv("features.4", 32, 64, 2),
    conv("features.6", 64, 128, 2),
    {
      name: "head.0",
      kind: "linear",
      inputs: 128 * 2 * 2,
      outputs: CLASSIFIER_WIDTH,
      activation: "relu",
      dropout: true,
      init: "he",
    },
    {
      name: "head.3",
      kind: "linear",
      inputs: CLASSIFIER_WIDTH,
      outputs: DIGIT_CLASSES,
      activation: "linear",
      init: "he",
    },
  ];
}

/**
 * Number of scalar parameters of the digit classifier.
 *
 * @example
 * ```ts
 * import { classifierParameterCount } from "./classifier.ts";
 * console.log(classifierParameterCount()); // 164106
 * ```
 */
export function classifierParameterCount(): number {
  return parametersOf(classifierLayers()).reduce((sum, p) => sum + elementCount(p.shape), 0);
}

/**
 * The digit each image is read as from its `logits` (10 per image, image after image): its top logit,
 * the first of equal ones.
 *
 * @example
 * ```ts
 * import { topDigits } from "./classifier.ts";
 * const logits = new Float32Array(20);
 * logits[3] = 2;
 * logits[10 + 7] = 1;
 * console.log(topDigits(logits)); // Uint8Array(2) [ 3, 7 ]
 * ```
 */
export function topDigits(logits: Float32Array): Uint8Array {
  const digits = new Uint8Array(logits.length / DIGIT_CLASSES);
  for (let i = 0; i < digits.length; i++) {
    let top = 0;
    for (let c = 1; c < DIGIT_CLASSES; c++) {
      if (logits[i * DIGIT_CLASSES + c] > logits[i * DIGIT_CLASSES + top]) top = c;
    }
    digits[i] = top;
  }
  return digits;
}
