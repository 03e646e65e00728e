/**
 * The digit classifier, described once as data, as `architecture.ts` describes the autoencoder: a small
 * convolutional network of the same layer kinds (3 × 3 convolutions of stride 2, linear layers), which
 * reads a 28 × 28 digit and gives one logit per digit 0–9. It scores what the autoencoders make of
 * digits: whether a reconstruction still shows the digit it came from.
 *
 * Conv2d(1→32, k3, s2, p1) ReLU → Conv2d(32→64, k3, s2, p1) ReLU → Conv2d(64→128, k3, s2, p0) ReLU →
 * flatten (1152) → Linear(1152→128) ReLU Dropout → Linear(128→10): logits.
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
  return [
    { name: "features.0", kind: "conv", inputs: 1, outputs: 32, padding: 1, activation: "relu" },
    { name: "features.2", kind: "conv", inputs: 32, outputs: 64, padding: 1, activation: "relu" },
    { name: "features.4", kind: "conv", inputs: 64, outputs: 128, padding: 0, activation: "relu" },
    {
      name: "head.0",
      kind: "linear",
      inputs: 128 * 3 * 3,
      outputs: CLASSIFIER_WIDTH,
      activation: "relu",
      dropout: true,
    },
    {
      name: "head.3",
      kind: "linear",
      inputs: CLASSIFIER_WIDTH,
      outputs: DIGIT_CLASSES,
      activation: "linear",
    },
  ];
}

/**
 * Number of scalar parameters of the digit classifier.
 *
 * @example
 * ```ts
 * import { classifierParameterCount } from "./classifier.ts";
 * console.log(classifierParameterCount()); // 241546
 * ```
 */
export function classifierParameterCount(): number {
  return parametersOf(classifierLayers()).reduce((sum, p) => sum + elementCount(p.shape), 0);
}
