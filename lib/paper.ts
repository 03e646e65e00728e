/**
 * What the study reported, as its paper states it: the numbers a run of aelab is judged against
 * (`experiments/findings.ts`) and the best parameters of its search, which later steps train with until a
 * search of this toolkit has written its own (`search_space.ts`).
 *
 * @example
 * ```ts
 * import { STUDY } from "./paper.ts";
 * console.log(STUDY.testLoss.value); // 0.02995
 * ```
 *
 * @module
 */

/** What the study reported, as its paper states it. */
export const STUDY = {
  /** Test loss of the d = 4 model after 150 epochs. */
  testLoss: { value: 0.02995, epochs: 150 },
  /** Test loss of the noise denoiser (std 0.2) after 100 epochs, on noisy digits against clean ones. */
  denoiserLoss: { value: 0.030541, epochs: 100 },
  /** Epochs of each size of the hidden-layer sweep. */
  sweepEpochs: 80,
  /** The training images of every step: MNIST's 60,000 less 10,000 held out for validation. */
  trainImages: 50_000,
  /** The test images every loss is measured on. */
  testImages: 10_000,
  /** The best parameters of its random search, and how many combinations it drew. */
  bestParams: { dropout: 0.1508, lr: 3.47e-4, l2: 4.65e-6 },
  searchTrials: 30,
} as const;
