/**
 * The benchmark's rows: what each one trains — an engine as `--engine` names it, on a tfjs backend and
 * with workers as `--backend` and `--workers` name them, training a population of models together — and
 * how it is timed, in a process of its own (the bench script again, with a hidden first argument), so that
 * every engine starts from a fresh state and one that cannot be had here only skips its row.
 *
 * A row is written `ENGINE[-BACKEND][-WORKERS][:MODELS]`: `tfjs-wasm`, `workers-2:10`, `fused:30`. The
 * backend defaults to `auto`, the workers to one per core, the models to 1. The engine is built through
 * `createTrainer`, as every script builds it: the bench asks no engine what it is.
 *
 * @module
 */
import { describeError, spawnChild, UsageError } from "../lib/cli.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import { writeJsonAtomic } from "../lib/files/atomic.ts";
import { requestAdapter } from "../lib/gpu/adapter.ts";
import type { KernelTime } from "../lib/gpu/timing.ts";
import { STUDY_BEST_PARAMS } from "../lib/search_space.ts";
import { BACKEND_CHOICES, type BackendChoice, setupBackend } from "../lib/tfjs.ts";
import {
  chooseEngine,
  createTrainer,
  ENGINE_CHOICES,
  type EngineChoice,
  trainsOnGpu,
} from "../lib/train/engine.ts";
import { stepsPerEpoch, type TrainingJob } from "../lib/train/trainer.ts";

/** The hidden first argument that makes the bench script run one row (in a child process). */
export const ROW_FLAG = "--row";

/** How a row is written, for `--only` and its errors. */
export const ROW_SYNTAX = "ENGINE[-BACKEND][-WORKERS][:MODELS]";

/**
 * The rows `--only` takes by default, in the table's order: tfjs in this thread on each backend; aelab's
 * wasm engine with one model in this thread and data-parallel on 2 workers, and a population of 10 on 1
 * and on 2 workers; the tfjs worker pool of 1, 2 and (where there are more than 2) all cores training a
 * population of 10; the fused engine with one model and populations of 10 and 30.
 */
export const DEFAULT_ROWS = [
  "tfjs-cpu",
  "tfjs-wasm",
  "tfjs-webgpu",
  "wasm",
  "wasm-2",
  "wasm-1:10",
  "wasm-2:10",
  "workers-1:10",
  "workers-2:10",
  ...(navigator.hardwareConcurrency > 2 ? ["workers:10"] : []),
  "fused",
  "fused:10",
  "fused:30",
];

/** The study's model that every row trains: latent size 4. */
export const HIDDEN = 4;

/** Steps a row times kernel by kernel with `--profile` (1 where its steps are capped). */
const PROFILE_STEPS = 20;

/** A row: what it trains, and its name as `--only` and the table write it. */
export interface Row {
  /** `ENGINE[-BACKEND][-WORKERS]:MODELS`, e.g. `workers-2:10`. */
  name: string;
  engine: EngineChoice;
  backend: BackendChoice;
  /** Workers of the pool; default one per core. */
  workers?: number;
  /** Models trained together: seeds 0, 1, … of the study's model. */
  models: number;
}

/**
 * The rows of `--only` (comma-separated, in its order, each once); anything else is a usage error.
 *
 * @example
 * ```ts
 * import { parseRows } from "./rows.ts";
 * console.log(parseRows("tfjs-wasm,workers-2:10").map((row) => row.name)); // ["tfjs-wasm:1", "workers-2:10"]
 * ```
 */
export function parseRows(only: string): Row[] {
  const texts = only.split(",").map((text) => text.trim()).filter(Boolean);
  const rows = texts.map(parseRow);
  const wrong = texts.find((_, i) => rows[i] === undefined);
  if (texts.length === 0 || wrong !== undefined) {
    throw new UsageError(
      `--only takes rows of the form ${ROW_SYNTAX} (engines ${ENGINE_CHOICES.join(", ")}; ` +
        `backends ${BACKEND_CHOICES.join(", ")}), got "${wrong ?? only}"`,
    );
  }
  return [...new Map(rows.map((row) => [row!.name, row!])).values()];
}

function parseRow(text: string): Row | undefined {
  const match = /^([a-z]+)((?:-[a-z0-9]+)*)(?::(\d+))?$/.exec(text);
  const engine = match?.[1] as EngineChoice;
  if (!match || !ENGINE_CHOICES.includes(engine)) return undefined;
  let backend: BackendChoice = "auto";
  let workers: number | undefined;
  for (const setting of match[2].split("-").slice(1)) {
    if (/^[1-9]\d*$/.test(setting) && workers === undefined) workers = Number(setting);
    else if (BACKEND_CHOICES.includes(setting as BackendChoice) && backend === "auto") {
      backend = setting as BackendChoice;
    } else return undefined;
  }
  const models = Number(match[3] ?? 1);
  if (models < 1) return undefined;
  const settings = [
    engine,
    ...(backend === "auto" ? [] : [backend]),
    ...(workers ? [workers] : []),
  ];
  return { name: `${settings.join("-")}:${models}`, engine, backend, workers, models };
}

/** What a row's child process measures, and how. */
export interface RowJob {
  row: Row;
  /** Raw images, 784 bytes each. */
  imagesFile: string;
  /** Where the child writes its {@link RowOutcome} as JSON. */
  resultFile: string;
  batchSize: number;
  /** Timed epochs of a row not capped. */
  epochs: number;
  warmupSteps: number;
  /** Timed steps of a row on tfjs's cpu backend (0: no cap). */
  cpuSteps: number;
  /** Timed steps of a row on a software GPU adapter (0: no cap). */
  softwareGpuSteps: number;
  /** Whether to time each kernel after the timed steps, where the engine can. */
  profile: boolean;
}

/** A row's measurement. */
export interface Measurement {
  /** What trained, as the trainer describes itself. */
  engine: string;
  /** What computed: the GPU adapter, or what runs tfjs's kernels. */
  adapter: string;
  models: number;
  warmupSteps: number;
  steps: number;
  /** Why only `steps` steps were timed (the flag that capped them); null where not capped. */
  capped: string | null;
  /** Samples trained in the timed part, all models together. */
  samples: number;
  seconds: number;
  /** Mean batch loss of the timed steps (of the first model): a sign that it trained. */
  loss: number;
  /** Each kernel's mean time per step (`--profile`, where the engine can time them), or why none. */
  profile?: KernelTime[] | { unavailable: string };
  /** The row's process at its largest: resident memory in MB (Linux's VmHWM), null where unknown. */
  peakMegabytes: number | null;
}

/** What a row's child reports: a measurement, or why the row cannot run here. */
export type RowOutcome = Measurement | { skipped: string };

/** Runs one row in a child process of the bench script: its outcome, or why the child failed. */
export async function measureRow(job: RowJob): Promise<RowOutcome | { failed: string }> {
  const { code, stderr } = await spawnChild(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", Deno.mainModule, ROW_FLAG, JSON.stringify(job)],
      stdin: "null",
      stdout: "inherit",
      stderr: "piped",
    }),
  ).output();
  if (code !== 0) {
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    return { failed: `exit code ${code}: ${lines.slice(-3).join(" | ")}` };
  }
  return JSON.parse(await Deno.readTextFile(job.resultFile));
}

/**
 * In the child: sets up the row's backend and engine (a row that cannot be had here is skipped), times
 * it and writes its outcome to `job.resultFile`.
 */
export async function runRow(job: RowJob): Promise<void> {
  const { row } = job;
  let plan;
  try {
    const backend = await setupBackend(row.backend, { quiet: true });
    plan = await chooseEngine(row.engine, { backend, workers: row.workers, quiet: true });
  } catch (error) {
    return await writeJsonAtomic(job.resultFile, { skipped: describeError(error) });
  }
  const gpu = trainsOnGpu(plan) ? await requestAdapter() : null;
  const adapter = gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : plan.backend.adapter;
  const capped = gpu?.software && job.softwareGpuSteps > 0
    ? { steps: job.softwareGpuSteps, flag: "--fused-steps, on a software adapter" }
    : !gpu && plan.backend.backend === "cpu" && job.cpuSteps > 0
    ? { steps: job.cpuSteps, flag: "--cpu-steps" }
    : undefined;
  const images = await Deno.readFile(job.imagesFile);
  const train = { inputs: images, count: images.length / IMAGE_PIXELS };
  const jobs = Array.from({ length: row.models }, (_, seed): TrainingJob => ({
    name: `model ${seed + 1}`,
    model: { kind: "autoencoder", hidden: HIDDEN, dropout: STUDY_BEST_PARAMS.dropout },
    lr: STUDY_BEST_PARAMS.lr,
    l2: STUDY_BEST_PARAMS.l2,
    seed,
    train,
  }));
  // As `train` does: a population smaller than a wasm pool trains data-parallel on all of it.
  const trainer = await createTrainer(plan, jobs, { batchSize: job.batchSize, dataParallel: true });
  try {
    // A capped row's steps are slow enough that one warm-up step is all compilation needs.
    const warmupSteps = capped ? Math.min(job.warmupSteps, 1) : job.warmupSteps;
    if (warmupSteps > 0) await trainer.trainEpoch({ steps: warmupSteps });
    const epochs = capped ? 1 : job.epochs;
    const steps = stepsPerEpoch(train.count, job.batchSize, capped?.steps);
    const startedAt = performance.now();
    let loss = NaN;
    for (let epoch = 0; epoch < epochs; epoch++) {
      [loss] = await trainer.trainEpoch({ steps: capped?.steps });
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const samples = Math.min(train.count, steps * job.batchSize) * epochs * row.models;
    const profileSteps = Math.min(capped ? 1 : PROFILE_STEPS, steps);
    const profile = job.profile && trainer.profileTraining
      ? await trainer.profileTraining(profileSteps).catch((error) => ({
        unavailable: describeError(error),
      }))
      : undefined;
    const measurement: Measurement = {
      engine: trainer.description,
      adapter,
      models: row.models,
      warmupSteps,
      steps: steps * epochs,
      capped: capped?.flag ?? null,
      samples,
      seconds,
      loss,
      profile,
      peakMegabytes: peakResidentMegabytes(),
    };
    await writeJsonAtomic(job.resultFile, measurement);
  } finally {
    await trainer.dispose();
  }
}

/** The largest resident memory of this process so far, in MB (Linux), else null. */
function peakResidentMegabytes(): number | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kilobytes = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return Number.isFinite(kilobytes) ? kilobytes / 1024 : null;
  } catch {
    return null;
  }
}
