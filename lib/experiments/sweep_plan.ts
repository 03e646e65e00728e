/**
 * What `deno task sweep` trains: its flags, and one autoencoder per latent size of `--sizes`, each a
 * training of its own in `<out>/trainings`. `scripts/sweep.ts` trains them as one population; `deno task
 * study` may train them together with `train`'s and the denoisers' ({@link trainTogether}).
 *
 * @module
 */
import { join } from "node:path";
import { check, type FlagSpec, type FlagValues } from "../cli.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import {
  commonFlags,
  engineFlags,
  type ExperimentData,
  experimentDatasets,
  trainingFlags,
  type TrainingParams,
} from "../experiment.ts";
import { shardFlags } from "../shards.ts";
import type { TrainingSet } from "../train/trainings.ts";

/** The largest latent size a sweep takes: a code as long as the image it encodes. */
const MAX_HIDDEN = IMAGE_PIXELS;

/** The flags of `deno task sweep`. */
export const SWEEP_FLAGS = {
  sizes: {
    type: "string",
    default: "1-10",
    help: "latent sizes d: a range 1-10, a list 1,2,4,8",
  },
  ...trainingFlags(80),
  fresh: { type: "boolean", default: false, help: "start over instead of resuming sizes done" },
  ...shardFlags(),
  ...engineFlags(),
  ...commonFlags("sweep"),
} satisfies Record<string, FlagSpec>;

/** The values of {@link SWEEP_FLAGS}. */
export type SweepFlags = FlagValues<typeof SWEEP_FLAGS>;

/**
 * The trainings of a sweep of `sizes` with `flags` and `params` on `data`, in `<flags.out>/trainings`:
 * one per size, all with the same parameters and seed, each trained and scored on the same images.
 */
export function sweepSet(
  sizes: readonly number[],
  flags: SweepFlags,
  params: TrainingParams,
  data: ExperimentData,
): TrainingSet {
  const { train, validation, test, images } = experimentDatasets(data);
  const trainings = sizes.map((hidden) => {
    const model = { kind: "autoencoder", hidden, dropout: params.dropout } as const;
    const job = { model, lr: params.lr, l2: params.l2, seed: flags.seed };
    return {
      id: `d-${String(hidden).padStart(3, "0")}`,
      job: { name: `d = ${hidden}`, ...job, train, validation, test },
      settings: { ...job, batchSize: params.batchSize, images },
    };
  });
  return {
    trainings,
    folder: join(flags.out, "trainings"),
    epochs: params.epochs,
    batchSize: params.batchSize,
    label: "sweep",
  };
}

/**
 * Parses `--sizes`: comma-separated sizes and ranges (`1-10`, `1,2,4,8`, `1-4,8`) of integers ≥ 1, into
 * sorted distinct sizes; anything else is a usage error.
 *
 * @example
 * ```ts
 * import { parseSizes } from "./sweep_plan.ts";
 * console.log(parseSizes("1-3,8")); // [1, 2, 3, 8]
 * ```
 */
export function parseSizes(text: string): number[] {
  const sizes = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const [first, last] = match ? [Number(match[1]), Number(match[2] ?? match[1])] : [0, 0];
    check(
      first >= 1 && first <= last && last <= MAX_HIDDEN,
      `--sizes must list sizes in 1…${MAX_HIDDEN} and ranges low-high, like 1-10 or 1,2,4,8; ` +
        `got "${text}"`,
    );
    for (let hidden = first; hidden <= last; hidden++) sizes.add(hidden);
  }
  return [...sizes].sort((a, b) => a - b);
}
