/**
 * What `deno task train` trains: its flags, and the model of `--hidden` as a training of its own in
 * `<out>/trainings` — beside the study's parameters where a search's pick trains (to judge the search by
 * the long run). `scripts/train.ts` trains it; `deno task study` may train it together with the sweep's
 * and the denoisers' ({@link trainTogether}).
 *
 * @module
 */
import { join } from "node:path";
import type { FlagSpec, FlagValues } from "../cli.ts";
import {
  commonFlags,
  engineFlags,
  type ExperimentData,
  experimentDatasets,
  trainingFlags,
  type TrainingParams,
} from "../experiment.ts";
import type { AutoencoderSpec } from "../model/spec.ts";
import type { BestParams } from "../search_space.ts";
import type { TrainingSet } from "../train/trainings.ts";
import { contenderParams } from "./train.ts";

/** The flags of `deno task train`. */
export const TRAIN_FLAGS = {
  hidden: { type: "number", default: 4, help: "latent size d" },
  ...trainingFlags(150),
  fresh: { type: "boolean", default: false, help: "start over instead of resuming a checkpoint" },
  ...engineFlags(),
  ...commonFlags("train"),
} satisfies Record<string, FlagSpec>;

/** The values of {@link TRAIN_FLAGS}. */
export type TrainFlags = FlagValues<typeof TRAIN_FLAGS>;

/** The trainings of `train`, and what its outputs are made from. */
export interface TrainPlan {
  set: TrainingSet;
  model: AutoencoderSpec;
  /** The study's parameters, where they train beside a search's pick (the second training). */
  contender?: BestParams;
}

/** The trainings `train` trains with `flags` and `params` on `data`, in `<flags.out>/trainings`. */
export function trainPlan(
  flags: TrainFlags,
  params: TrainingParams,
  data: ExperimentData,
): TrainPlan {
  const { train, validation, test, images } = experimentDatasets(data);
  const model = { kind: "autoencoder", hidden: flags.hidden, dropout: params.dropout } as const;
  const id = `d-${String(flags.hidden).padStart(3, "0")}`;
  const training = (name: string, job: { lr: number; l2: number; dropout: number }) => {
    const settings = {
      model: { ...model, dropout: job.dropout },
      lr: job.lr,
      l2: job.l2,
      seed: flags.seed,
    };
    return {
      job: { name, ...settings, train, validation, test },
      settings: { ...settings, batchSize: params.batchSize, images },
    };
  };
  // A population of one — or two, a search's pick and the study's parameters beside it (the same seed
  // and images), to judge the search by the long run.
  const contender = contenderParams(params);
  const trainings = [{ id, ...training(`d = ${flags.hidden}`, params) }];
  if (contender) {
    trainings.push({
      id: `${id}-study-params`,
      ...training(`d = ${flags.hidden}, the study's parameters`, contender),
    });
  }
  return {
    set: {
      trainings,
      folder: join(flags.out, "trainings"),
      epochs: params.epochs,
      batchSize: params.batchSize,
      label: "train",
    },
    model,
    contender,
  };
}
