/**
 * What `deno task denoise` trains: its flags, and one denoiser per corruption of `--kinds`, each a
 * training of its own in `<out>/trainings` on (corrupted, clean) pairs of every split. `scripts/denoise.ts`
 * trains them as one population; `deno task study` may train them together with `train`'s and the
 * sweep's ({@link trainTogether}).
 *
 * @module
 */
import { join } from "node:path";
import type { FlagSpec, FlagValues } from "../cli.ts";
import { corrupt, digitPixels } from "../corrupt.ts";
import type { Digits } from "../data/mnist.ts";
import {
  commonFlags,
  engineFlags,
  type ExperimentData,
  trainingFlags,
  type TrainingParams,
} from "../experiment.ts";
import { shardFlags } from "../shards.ts";
import { type Dataset, datasetOf } from "../train/trainer.ts";
import type { TrainingSet } from "../train/trainings.ts";
import {
  CORRUPTION_KINDS,
  type CorruptionKind,
  robustnessFlags,
  type RobustnessSettings,
} from "./robustness.ts";

/**
 * Offsets from `--seed` of the seeds that corrupt the training and the validation images; the test images
 * are corrupted with `--seed` itself, as `deno task corrupt` corrupts them.
 */
const CORRUPTION_SEED_OFFSETS = { train: 1_000_003, validation: 2_000_003, test: 0 };

/** The flags of `deno task denoise`. */
export const DENOISE_FLAGS = {
  kinds: {
    type: "string",
    default: CORRUPTION_KINDS.join(","),
    help: "corruptions to train a denoiser on, comma-separated",
  },
  ...trainingFlags(100),
  ...robustnessFlags(),
  digits: { type: "number", default: 10, help: "test digits in each denoising figure" },
  fresh: {
    type: "boolean",
    default: false,
    help: "train again even where denoisers of the same settings exist",
  },
  ...shardFlags(),
  ...engineFlags(),
  ...commonFlags("denoise"),
} satisfies Record<string, FlagSpec>;

/** The values of {@link DENOISE_FLAGS}. */
export type DenoiseFlags = FlagValues<typeof DENOISE_FLAGS>;

/** What the denoisers are: their corruptions, their latent size (the standard model's) and parameters. */
export interface DenoiserPlan {
  kinds: readonly CorruptionKind[];
  settings: RobustnessSettings;
  hidden: number;
  params: TrainingParams;
  seed: number;
  out: string;
}

/**
 * The trainings of the denoisers of `plan` on `data`, in `<plan.out>/trainings`: one per corruption,
 * each on (corrupted, clean) pairs of every split.
 */
export function denoiserSet(plan: DenoiserPlan, data: ExperimentData): TrainingSet {
  const { params, seed } = plan;
  const trainings = plan.kinds.map((kind) => {
    const corruption = plan.settings.corruptions[kind];
    // A split's corrupted images are drawn when a training first reads them: a run whose denoisers are
    // done (as after `deno task together`) never draws them.
    const pairs = (digits: Digits, split: keyof typeof CORRUPTION_SEED_OFFSETS): Dataset => {
      let corrupted: Float32Array | undefined;
      return {
        get inputs() {
          return corrupted ??= corrupt(
            digitPixels(digits),
            corruption,
            seed + CORRUPTION_SEED_OFFSETS[split],
          );
        },
        targets: datasetOf(digits).inputs,
        count: digits.count,
      };
    };
    const model = { kind: "autoencoder", hidden: plan.hidden, dropout: params.dropout } as const;
    const job = { model, lr: params.lr, l2: params.l2, seed };
    return {
      id: kind,
      job: {
        name: `${kind} denoiser`,
        ...job,
        train: pairs(data.train, "train"),
        validation: pairs(data.validation, "validation"),
        test: pairs(data.test, "test"),
      },
      settings: {
        corruption,
        ...job,
        batchSize: params.batchSize,
        images: {
          train: data.train.count,
          validation: data.validation.count,
          test: data.test.count,
        },
      },
    };
  });
  return {
    trainings,
    folder: join(plan.out, "trainings"),
    epochs: params.epochs,
    batchSize: params.batchSize,
    label: "denoisers",
  };
}
