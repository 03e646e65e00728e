/**
 * `deno task bench`: training throughput of every engine this machine has — the tfjs backends cpu, wasm
 * and webgpu, the worker pool with 1 and 2 workers (and one per core where there are more) training a
 * population of 10, the fused WebGPU engine with one model and with populations of 10 and 30 — and of a
 * PyTorch peer of the same model (`bench/torch_peer.py`), all on the same MNIST training images at the same batch
 * size. Prints one table (samples per second per model and in total, ratios to tfjs-webgpu and to
 * PyTorch) and the speed targets as ratios measured in this run; writes it as JSON and Markdown and as a
 * section of the report.
 *
 * Each row runs in a process of its own (this script again, with a hidden `--row`), so that every engine
 * starts from a fresh state and a backend that cannot load here (wasm in a bundle) only skips its row. A
 * row first takes `--warmup-steps` untimed steps, so that shader compilation and JIT are not counted.
 * With `--profile`, the fused rows then time each of their kernels on the GPU (timestamp queries) and a
 * second table shows where a step's time goes: each kernel, their sum (the GPU busy) and the wall time.
 * A busy or shared machine moves a row by ±10% from one run to the next: `--rounds N` runs every row and
 * the peer N times, in turn, and keeps each one's median.
 *
 *     deno task bench
 *     deno task bench --only wasm,fused1 --images 2048 --no-peer
 *     deno task bench --only fused1,pop30 --profile
 *     deno task bench --only wasm,pool1,pool2 --rounds 5 --no-peer
 *     bash .gpu/run.sh .gpu/bench.js --only webgpu,fused1,pop10,pop30 --images 60000 --profile   # GPU
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain, spawnChild, UsageError } from "../lib/cli.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { checkInteger, RESULTS_ROOT } from "../lib/experiment.ts";
import { makeScratchFolder, writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";
import { holdFolder } from "../lib/files/lock.ts";
import { type GpuAdapter, requestAdapter } from "../lib/gpu/adapter.ts";
import type { KernelTime } from "../lib/gpu/population.ts";
import { markdownTable, publishSection } from "../lib/report.ts";
import { type BestParams, generateParams, STUDY_BEST_PARAMS } from "../lib/search_space.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { FusedTrainer } from "../lib/train/fused.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import type { Trainer, TrainingJob } from "../lib/train/trainer.ts";
import { WorkerPool } from "../lib/train/workers.ts";

/** The study's model: latent size 4, trained with the study's best parameters. */
const HIDDEN = 4;
/** The hidden first argument that makes this script run one row (in a child process). */
const ROW_FLAG = "--row";
/** Steps a fused row times kernel by kernel with `--profile` (1 where its steps are capped). */
const PROFILE_STEPS = 20;
/** The title of the `--profile` table. */
const PROFILE_TITLE = "Where a fused step's time goes (µs per step, from GPU timestamps)";
/** The PyTorch peer, relative to the project root (the working directory of `deno task`). */
const PEER_SCRIPT = join("bench", "torch_peer.py");
/** The peer's exit code when torch cannot be imported: the next Python is tried. */
const PEER_NO_TORCH = 3;

/** Models of the worker pool's rows: a population as a search or sweep trains. */
const POOL_MODELS = 10;

/** The cores of this machine, which the `pool` row uses all of. */
const CORES = navigator.hardwareConcurrency;

/**
 * The engines a row can measure, in the table's order: tfjs in this thread on each backend, the worker
 * pool with 1, 2 and all cores (all: only where there are more than 2), the fused engine.
 */
const ENGINES = {
  cpu: { label: "tfjs cpu", kind: "tfjs", backend: "cpu", models: 1 },
  wasm: { label: "tfjs wasm", kind: "tfjs", backend: "wasm", models: 1 },
  webgpu: { label: "tfjs webgpu", kind: "tfjs", backend: "webgpu", models: 1 },
  pool1: { label: "worker pool, 1 worker", kind: "pool", workers: 1, models: POOL_MODELS },
  pool2: { label: "worker pool, 2 workers", kind: "pool", workers: 2, models: POOL_MODELS },
  pool: {
    label: `worker pool, ${CORES} workers`,
    kind: "pool",
    workers: CORES,
    models: POOL_MODELS,
  },
  fused1: { label: "fused, 1 model", kind: "fused", models: 1 },
  pop10: { label: "fused population", kind: "fused", models: 10 },
  pop30: { label: "fused population", kind: "fused", models: 30 },
} as const;
type Engine = keyof typeof ENGINES;
const ENGINE_NAMES = (Object.keys(ENGINES) as Engine[]).filter((name) =>
  name !== "pool" || CORES > 2
);

/** What a row's child process measures. */
interface RowJob {
  engine: Engine;
  /** Raw images, 784 bytes each. */
  imagesFile: string;
  /** Where the child writes its {@link RowOutcome} as JSON. */
  resultFile: string;
  batchSize: number;
  epochs: number;
  warmupSteps: number;
  /** Timed steps of one partial epoch; 0: `epochs` whole epochs. */
  steps: number;
  /** Steps a fused row then takes with each kernel timed; 0: none. */
  profileSteps: number;
}

/** A row's measurement. */
interface Measurement {
  adapter: string;
  models: number;
  steps: number;
  /** Samples trained in the timed part, all models together. */
  samples: number;
  seconds: number;
  /** Mean batch loss of the timed steps (of the first model): a sign that it trained. */
  loss: number;
  /** A fused row's kernels with their mean GPU time per step (`--profile`), or why there are none. */
  profile?: KernelTime[] | { unavailable: string };
  /** The row's process at its largest: resident memory in MB (Linux's VmHWM), null where unknown. */
  peakMegabytes: number | null;
}

/** What a row's child reports: a measurement, or why the engine is not available here. */
type RowOutcome = Measurement | { skipped: string };

/** A row as the parent saw it: what its child reported, or why the child failed. */
interface RowRun {
  engine: Engine;
  /** Whether its timed steps were capped (cpu, or a software adapter). */
  capped: boolean;
  outcome: RowOutcome | { failed: string };
}

/** The peer's JSON line. */
interface PeerResult {
  device: string;
  samples_per_second: number;
  per_model: number;
  batch: number;
  images: number;
  steps: number;
  seconds: number;
  torch: string;
  threads: number;
  models: number;
  loss: number;
}

/** A row of the results: a measured engine with its throughput and ratios. */
interface BenchRow extends Measurement {
  engine: Engine;
  label: string;
  batch: number;
  /** Whether its timed steps were capped (cpu, or a software adapter). */
  capped: boolean;
  samplesPerSecond: number;
  perModel: number;
  ratioToWebgpu: number | null;
  /** Total samples/s against the single model of tfjs wasm in this thread (the CPU's peer row). */
  ratioToWasm: number | null;
  ratioToPeer: number | null;
}

/** A speed target and what this run measured. */
interface Target {
  target: string;
  measured: number | null;
  met: boolean | null;
  /** Why it was not measured. */
  note?: string;
}

await runMain(async () => {
  if (Deno.args[0] === ROW_FLAG) return await runRow(JSON.parse(Deno.args[1]));
  const started = performance.now();

  // Flags.
  const flags = parseFlags(Deno.args, {
    images: { type: "number", default: 10_240, help: "training images (the first N of MNIST's)" },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    epochs: { type: "number", default: 1, help: "timed epochs of the rows not capped" },
    "warmup-steps": {
      type: "number",
      default: 2,
      help: "untimed steps before each row's timing (at most 1 for the capped rows)",
    },
    "cpu-steps": {
      type: "number",
      default: 4,
      help: "timed steps of the tfjs cpu row (0: no cap)",
    },
    "fused-steps": {
      type: "number",
      default: 2,
      help: "timed steps of the webgpu and fused rows on a software adapter (0: no cap)",
    },
    only: { type: "string", default: ENGINE_NAMES.join(","), help: "the rows to run" },
    rounds: {
      type: "number",
      default: 1,
      help: "times every row and the peer run, in turn; each keeps its median",
    },
    "no-peer": { type: "boolean", default: false, help: "skip the PyTorch peer" },
    profile: {
      type: "boolean",
      default: false,
      help: "time each kernel of the fused rows on the GPU after their timed steps",
    },
    python: {
      type: "string",
      default: "/usr/bin/python3",
      help: "Python with torch for the peer (python3 is tried next)",
    },
    out: { type: "string", default: join(RESULTS_ROOT, "bench"), help: "result folder" },
  }, "bench");
  for (const name of ["images", "batch-size", "epochs", "rounds"] as const) {
    checkInteger(name, flags[name], 1);
  }
  for (const name of ["warmup-steps", "cpu-steps", "fused-steps"] as const) {
    checkInteger(name, flags[name], 0);
  }
  const engines = selectEngines(flags.only);
  const batchSize = flags["batch-size"];
  const out = flags.out;
  await holdFolder(out);

  // Data: the first N training images, in one file that every row and the peer read.
  const { train } = await loadMnist();
  check(
    flags.images <= train.count,
    `--images must be at most ${train.count}, got ${flags.images}`,
  );
  const work = await makeScratchFolder("aelab-bench-");
  const imagesFile = join(work, "images.u8");
  await Deno.writeFile(imagesFile, takeDigits(train, flags.images).images);

  // Rows, each in a process of its own, capped where a step is slow.
  const gpu = await requestAdapter();
  const gpuName = gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : "no WebGPU adapter";
  console.error(`bench: ${flags.images} images, batch ${batchSize}; WebGPU: ${gpuName}`);
  const rounds: RowRun[][] = [];
  const peerRounds: (PeerResult | { missing: string })[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    const roundLabel = flags.rounds > 1 ? ` (round ${round} of ${flags.rounds})` : "";
    const runs: RowRun[] = [];
    for (const engine of engines) {
      const cap = engine === "cpu"
        ? flags["cpu-steps"]
        : usesGpu(engine) && gpu?.software
        ? flags["fused-steps"]
        : 0;
      // A capped row's steps are slow enough that one warm-up step is all compilation needs.
      const job: RowJob = {
        engine,
        imagesFile,
        resultFile: join(work, `${engine}.json`),
        batchSize,
        epochs: flags.epochs,
        warmupSteps: cap > 0 ? Math.min(flags["warmup-steps"], 1) : flags["warmup-steps"],
        steps: cap > 0 ? Math.min(cap, Math.ceil(flags.images / batchSize)) : 0,
        profileSteps: flags.profile && ENGINES[engine].kind === "fused"
          ? Math.min(cap > 0 ? 1 : PROFILE_STEPS, Math.ceil(flags.images / batchSize))
          : 0,
      };
      const timed = job.steps > 0 ? `${job.steps} timed steps (capped)` : `${job.epochs} epoch(s)`;
      console.error(`bench: ${engine}${roundLabel}: ${job.warmupSteps} warm-up steps, ${timed}…`);
      const outcome = usesGpu(engine) && !gpu
        ? { skipped: "no WebGPU adapter" }
        : await runChild(job);
      runs.push({ engine, capped: job.steps > 0, outcome });
      console.error(
        `bench: ${engine}: ${
          "failed" in outcome
            ? `failed: ${outcome.failed}`
            : "skipped" in outcome
            ? `skipped: ${outcome.skipped}`
            : `${rate(outcome.samples / outcome.seconds)} samples/s`
        }`,
      );
    }
    rounds.push(runs);

    // The peer, after the rows of each round (none once a round found it missing or failing).
    if (!flags["no-peer"] && !peerRounds.some((run) => "missing" in run)) {
      console.error(
        `bench: PyTorch peer${roundLabel}: ${flags["warmup-steps"]} warm-up steps, ` +
          `${flags.epochs} epoch(s)…`,
      );
      peerRounds.push(
        await runPeer(flags.python, {
          imagesFile,
          batchSize,
          epochs: flags.epochs,
          warmupSteps: flags["warmup-steps"],
        }),
      );
    }
  }
  const runs = engines.map((_, i) => medianRun(rounds.map((runs) => runs[i])));
  const peer = peerRounds.length === 0
    ? { missing: "PyTorch peer not run (--no-peer)" }
    : medianPeer(peerRounds);

  // The table, the notes and the targets: printed, and written as JSON, Markdown and report section.
  const summary = summarise(runs, "missing" in peer ? null : peer, gpu, batchSize);
  const notes = [
    `Each row ran in its own process: ${flags["warmup-steps"]} untimed warm-up steps first (1 ` +
    "for the capped rows; shader compilation and JIT not counted), then " +
    `${flags.epochs} epoch(s) over the first ${flags.images} MNIST training images at batch ` +
    `${batchSize}, data already in device memory; d = ${HIDDEN}, dropout ` +
    `${STUDY_BEST_PARAMS.dropout}, lr ${STUDY_BEST_PARAMS.lr}, L2 ${STUDY_BEST_PARAMS.l2} (the study's ` +
    "best); each population member has its own seed and the search's random lr, L2 and dropout.",
    ...(flags.rounds > 1 ? [roundsNote(engines, rounds, peerRounds)] : []),
    ...summary.rows.filter((row) => row.capped).map((row) =>
      `${row.engine}: only ${row.steps} step(s) timed (${
        row.engine === "cpu" ? "--cpu-steps" : "--fused-steps, on a software adapter"
      }).`
    ),
    ...summary.skipped.map(({ engine, reason }) => `${engine}: skipped (${reason}).`),
    ...summary.failed.map(({ engine, reason }) => `${engine}: failed (${reason}).`),
    ...summary.rows.flatMap(({ engine, profile }) =>
      profile && "unavailable" in profile
        ? [`${engine}: not profiled (${profile.unavailable}).`]
        : []
    ),
    ...("missing" in peer ? [`${peer.missing}; the ratio columns to PyTorch are empty.`] : []),
    ...(gpu?.software === false ? [] : [
      "The GPU targets (fused single model ≥ 2× and population of 30 ≥ 20× PyTorch) apply on a " +
      `hardware GPU adapter; this machine has ${gpuName}.`,
    ]),
  ];
  const targetLines = summary.targets.map(({ target, measured, met, note }) =>
    `target ${target}: ${
      measured === null
        ? `not measured (${note})`
        : `measured ${ratio(measured)} (${met ? "met" : "not met"})`
    }`
  );
  const table = markdownTable(summary.headers, summary.tableRows);
  const profile = profileTable(summary.rows);
  const profileText = profile ? ["", `${PROFILE_TITLE}:`, "", profile.markdown] : [];
  console.log([table, "", ...notes, "", ...targetLines, ...profileText].join("\n"));

  await writeJsonAtomic(join(out, "bench.json"), {
    date: new Date().toISOString(),
    machine: {
      os: `${Deno.build.os} ${Deno.build.arch}`,
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      // Other processes on the machine slow every row (torch's threads most): the load at the end.
      loadavg: Deno.loadavg(),
      webgpu: gpu ? { adapter: gpu.name, software: gpu.software } : null,
    },
    config: {
      hidden: HIDDEN,
      ...STUDY_BEST_PARAMS,
      images: flags.images,
      batchSize,
      epochs: flags.epochs,
      rounds: flags.rounds,
      warmupSteps: flags["warmup-steps"],
      cpuSteps: flags["cpu-steps"],
      fusedSteps: flags["fused-steps"],
      profile: flags.profile,
    },
    rows: summary.rows,
    skipped: summary.skipped,
    failed: summary.failed,
    peer: "missing" in peer ? null : peer,
    peerNote: "missing" in peer ? peer.missing : null,
    targets: summary.targets,
    seconds: (performance.now() - started) / 1000,
  });
  const markdown = [
    "# Training throughput",
    table,
    ...notes,
    ...targetLines,
    ...(profile ? [`## ${PROFILE_TITLE}`, profile.markdown] : []),
  ].join("\n\n");
  await writeFileAtomic(join(out, "bench.md"), `${markdown}\n`);
  await publishSection(out, {
    title: "Benchmark: training throughput",
    items: [
      {
        kind: "table",
        caption: `Samples per second training d = ${HIDDEN} at batch ${batchSize}, by engine.`,
        headers: summary.headers,
        rows: summary.tableRows,
      },
      ...[...notes, ...targetLines].map((text) => ({ kind: "text" as const, text })),
      ...(profile
        ? [{
          kind: "table" as const,
          caption: `${PROFILE_TITLE}.`,
          headers: profile.headers,
          rows: profile.rows,
        }]
        : []),
    ],
  });
  console.error(`bench: wrote ${out}/ in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (summary.failed.length > 0) throw new Error(`${summary.failed.length} row(s) failed`);
});

/**
 * The measured rows with their ratios (to tfjs-webgpu where it ran, to the peer where it ran), the rows
 * that were skipped or failed, the table (the peer as its last row) and the targets.
 */
function summarise(
  runs: RowRun[],
  peer: PeerResult | null,
  gpu: GpuAdapter | null,
  batchSize: number,
) {
  const total = (m: Measurement) => m.samples / m.seconds;
  const rateOf = (engine: Engine) => {
    const run = runs.find((run) => run.engine === engine && "samples" in run.outcome);
    return run ? total(run.outcome as Measurement) : null;
  };
  const webgpuRate = rateOf("webgpu");
  const wasmRate = rateOf("wasm");
  const rows: BenchRow[] = [];
  const skipped: { engine: Engine; reason: string }[] = [];
  const failed: { engine: Engine; reason: string }[] = [];
  for (const { engine, capped, outcome } of runs) {
    if ("failed" in outcome) failed.push({ engine, reason: outcome.failed });
    else if ("skipped" in outcome) skipped.push({ engine, reason: outcome.skipped });
    else {
      rows.push({
        engine,
        label: ENGINES[engine].label,
        batch: batchSize,
        capped,
        ...outcome,
        adapter: usesGpu(engine) && gpu?.software
          ? `${outcome.adapter} (software)`
          : outcome.adapter,
        samplesPerSecond: total(outcome),
        perModel: total(outcome) / outcome.models,
        ratioToWebgpu: webgpuRate ? total(outcome) / webgpuRate : null,
        ratioToWasm: wasmRate ? total(outcome) / wasmRate : null,
        ratioToPeer: peer ? total(outcome) / peer.samples_per_second : null,
      });
    }
  }
  const headers = [
    "engine",
    "adapter",
    "batch",
    "models",
    "timed steps",
    "samples/s per model",
    "samples/s total",
    "× tfjs-webgpu",
    "× tfjs wasm",
    "× PyTorch",
    "peak memory (MB)",
  ];
  const tableRows = rows.map((row) => [
    row.label,
    row.adapter,
    row.batch,
    row.models,
    row.steps,
    rate(row.perModel),
    rate(row.samplesPerSecond),
    ratio(row.ratioToWebgpu),
    ratio(row.ratioToWasm),
    ratio(row.ratioToPeer),
    row.peakMegabytes === null ? "" : row.peakMegabytes.toFixed(0),
  ]);
  if (peer) {
    tableRows.push([
      "PyTorch eager (peer)",
      `${peer.device}, ${peer.threads} thread(s), torch ${peer.torch}`,
      peer.batch,
      peer.models,
      peer.steps,
      rate(peer.per_model),
      rate(peer.samples_per_second),
      ratio(webgpuRate ? peer.samples_per_second / webgpuRate : null),
      ratio(wasmRate ? peer.samples_per_second / wasmRate : null),
      ratio(1),
      "",
    ]);
  }
  const targets = speedTargets(rows, peer, gpu, skipped, batchSize);
  return { rows, skipped, failed, headers, tableRows, targets };
}

/**
 * What the rounds measured: each row's and the peer's samples/s in every round, of which the table
 * keeps the median.
 */
function roundsNote(
  engines: Engine[],
  rounds: RowRun[][],
  peerRounds: (PeerResult | { missing: string })[],
): string {
  const rates = (values: (number | null)[]) =>
    values.map((value) => value === null ? "–" : rate(value)).join(", ");
  const rows = engines.map((engine, i) =>
    `${engine} ${rates(rounds.map((runs) => runRate(runs[i])))}`
  );
  const peer = peerRounds.length > 0
    ? [`peer ${rates(peerRounds.map((run) => "missing" in run ? null : run.samples_per_second))}`]
    : [];
  return `Every row ran ${rounds.length} times, in turn, and the table keeps each one's median; ` +
    `samples/s in each round: ${[...rows, ...peer].join("; ")}.`;
}

/** Samples per second of a row's run, or null where it measured nothing. */
function runRate({ outcome }: RowRun): number | null {
  return "samples" in outcome ? outcome.samples / outcome.seconds : null;
}

/** The median of `values` (the lower of the middle two for an even count), by `key`. */
function median<T>(values: T[], key: (value: T) => number): T {
  return [...values].sort((a, b) => key(a) - key(b))[Math.floor((values.length - 1) / 2)];
}

/**
 * One row's runs over the rounds, as one: a failure where any round failed, else the run of median
 * samples/s (a row skipped is skipped in every round).
 */
function medianRun(runs: RowRun[]): RowRun {
  const failed = runs.find(({ outcome }) => "failed" in outcome);
  if (failed || runRate(runs[0]) === null) return failed ?? runs[0];
  return median(runs, (run) => runRate(run)!);
}

/** The peer's runs over the rounds, as one: the run of median samples/s, or why there is none. */
function medianPeer(runs: (PeerResult | { missing: string })[]): PeerResult | { missing: string } {
  const missing = runs.find((run) => "missing" in run);
  return missing ?? median(runs as PeerResult[], (run) => run.samples_per_second);
}

/** Whether `engine` runs on the WebGPU adapter. */
function usesGpu(engine: Engine): boolean {
  return engine === "webgpu" || ENGINES[engine].kind === "fused";
}

/** The engines `--only` names, in the table's order. */
function selectEngines(only: string): Engine[] {
  const names = only.split(",").map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(ENGINE_NAMES as string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(
      `--only takes rows of ${ENGINE_NAMES.join(", ")}, got "${only}"`,
    );
  }
  return ENGINE_NAMES.filter((name) => names.includes(name));
}

/** Runs one row in a child process: its outcome, or why it failed. */
async function runChild(job: RowJob): Promise<RowOutcome | { failed: string }> {
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

/** In the child: measures the row `job` and writes its outcome to `job.resultFile`. */
async function runRow(job: RowJob): Promise<void> {
  const images = await Deno.readFile(job.imagesFile);
  const jobs = benchJobs(ENGINES[job.engine], images);
  const made = await rowTrainer(ENGINES[job.engine], jobs, job.batchSize);
  const outcome = "skipped" in made ? made : await measure(made.trainer, made.adapter, job);
  await writeJsonAtomic(job.resultFile, outcome);
}

/**
 * The models a row trains: one with the study's best parameters, or a population — for the worker pool
 * the same model with seeds 0, 1, …, so that each costs what the single model costs; for the fused engine
 * drawn as the search draws its trials, each with its own seed.
 */
function benchJobs(engine: typeof ENGINES[Engine], images: Uint8Array): TrainingJob[] {
  const train = { inputs: images, count: images.length / IMAGE_PIXELS };
  const job = (seed: number, params: BestParams = STUDY_BEST_PARAMS): TrainingJob => ({
    name: `model ${seed + 1}`,
    model: { kind: "autoencoder", hidden: HIDDEN, dropout: params.dropout },
    lr: params.lr,
    l2: params.l2,
    seed,
    train,
  });
  if (engine.models === 1) return [job(0)];
  if (engine.kind === "pool") return Array.from({ length: engine.models }, (_, seed) => job(seed));
  return generateParams(engine.models, 0, HIDDEN).map((params, seed) => job(seed, params));
}

/** The trainer of a row's engine and what it runs on, or why it cannot be had here. */
async function rowTrainer(
  engine: typeof ENGINES[Engine],
  jobs: TrainingJob[],
  batchSize: number,
): Promise<{ trainer: Trainer; adapter: string } | { skipped: string }> {
  if (engine.kind === "fused") {
    const gpu = await requestAdapter();
    if (!gpu) return { skipped: "no WebGPU adapter" };
    return { trainer: await FusedTrainer.create(jobs, { batchSize }), adapter: gpu.name };
  }
  const backend = engine.kind === "pool" ? "wasm" : engine.backend;
  let adapter;
  try {
    ({ adapter } = await setupBackend(backend, { quiet: true }));
  } catch (error) {
    const hint = backend === "wasm" ? "; a bundled script carries no .wasm files" : "";
    return {
      skipped: `the ${backend} backend cannot be set up here: ${(error as Error).message}${hint}`,
    };
  }
  if (engine.kind === "tfjs") {
    return { trainer: new TfjsTrainer(jobs, { batchSize, backend }), adapter };
  }
  const pool = await WorkerPool.create(jobs, {
    batchSize,
    backend: "wasm",
    workers: engine.workers,
  });
  return { trainer: pool, adapter: `${adapter}, in each of ${engine.workers} worker(s)` };
}

/**
 * Times `trainer`: `warmupSteps` untimed steps, then `epochs` epochs (or `steps` steps of one), all models
 * together; with `profileSteps`, the fused engine's kernels after that.
 */
async function measure(trainer: Trainer, adapter: string, job: RowJob): Promise<Measurement> {
  try {
    if (job.warmupSteps > 0) await trainer.trainEpoch({ steps: job.warmupSteps });
    const epochs = job.steps > 0 ? 1 : job.epochs;
    const limit = job.steps > 0 ? job.steps : undefined;
    const startedAt = performance.now();
    let loss = NaN;
    for (let epoch = 0; epoch < epochs; epoch++) {
      [loss] = await trainer.trainEpoch({ steps: limit });
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const count = trainer.jobs[0].train.count;
    const rows = Math.min(count, (limit ?? Infinity) * job.batchSize);
    let profile: Measurement["profile"];
    if (job.profileSteps > 0 && trainer instanceof FusedTrainer) {
      profile = await trainer.profileTraining(job.profileSteps).catch((error) => ({
        unavailable: (error as Error).message,
      }));
    }
    return {
      adapter,
      models: trainer.jobs.length,
      steps: Math.ceil(rows / job.batchSize) * epochs,
      samples: rows * epochs * trainer.jobs.length,
      seconds,
      loss,
      profile,
      peakMegabytes: peakResidentMegabytes(),
    };
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

/**
 * Runs the PyTorch peer with `python`, else with `python3`: its result, or why there is none (no Python
 * with torch, or the peer failed).
 */
async function runPeer(
  python: string,
  run: { imagesFile: string; batchSize: number; epochs: number; warmupSteps: number },
): Promise<PeerResult | { missing: string }> {
  try {
    await Deno.stat(PEER_SCRIPT);
  } catch {
    return {
      missing: `no PyTorch peer: ${PEER_SCRIPT} is not in ${Deno.cwd()} (run from the root)`,
    };
  }
  const args = [
    PEER_SCRIPT,
    `--images-file=${run.imagesFile}`,
    `--batch-size=${run.batchSize}`,
    `--epochs=${run.epochs}`,
    `--warmup-steps=${run.warmupSteps}`,
    `--hidden=${HIDDEN}`,
    `--dropout=${STUDY_BEST_PARAMS.dropout}`,
    `--lr=${STUDY_BEST_PARAMS.lr}`,
    `--l2=${STUDY_BEST_PARAMS.l2}`,
  ];
  const tried: string[] = [];
  for (const candidate of new Set([python, "python3"])) {
    let output;
    try {
      output = await spawnChild(
        new Deno.Command(candidate, { args, stdin: "null", stdout: "piped", stderr: "piped" }),
      ).output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      tried.push(`${candidate}: not found`);
      continue;
    }
    const stdout = new TextDecoder().decode(output.stdout).trim();
    if (output.code === PEER_NO_TORCH) {
      tried.push(`${candidate}: no torch`);
      continue;
    }
    if (output.code !== 0) {
      const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
      return {
        missing: `the PyTorch peer failed with ${candidate}: ${stderr.slice(-2).join(" | ")}`,
      };
    }
    return JSON.parse(stdout.split("\n").at(-1)!);
  }
  return { missing: `the PyTorch peer is missing (${tried.join("; ")})` };
}

/**
 * The speed targets that apply here, as ratios of this run: on a hardware GPU adapter, the fused single
 * model ≥ 2× PyTorch eager and the population of 30 ≥ 20× PyTorch's single model in total; without one,
 * the default engine (the backend `setupBackend("auto")` takes: wasm, else cpu) ≥ 1× PyTorch on the CPU.
 * Wherever the pool's rows ran: a pool of 2 workers ≥ 1.8× the single model of tfjs wasm in total, and a
 * pool of 1 within 5% of it (a worker costs nothing).
 */
function speedTargets(
  rows: BenchRow[],
  peer: PeerResult | null,
  gpu: GpuAdapter | null,
  skipped: { engine: Engine; reason: string }[],
  batchSize: number,
): Target[] {
  const hardware = gpu !== null && !gpu.software;
  const fallback: Engine = skipped.some(({ engine }) => engine === "wasm") ? "cpu" : "wasm";
  const ofPeer = (engine: Engine) => rows.find((row) => row.engine === engine)?.ratioToPeer ?? null;
  const ofWasm = (engine: Engine) => rows.find((row) => row.engine === engine)?.ratioToWasm ?? null;
  const target = (
    name: string,
    measured: number | null,
    met: (value: number) => boolean,
    missing: string,
  ): Target =>
    measured === null
      ? { target: name, measured, met: null, note: missing }
      : { target: name, measured, met: met(measured) };
  const noPeer = (engine: Engine) => peer ? `no ${engine} row` : "no PyTorch peer";
  const speed = hardware
    ? [
      target(
        `fused single model ≥ 2× PyTorch eager at batch ${batchSize}`,
        ofPeer("fused1"),
        (r) => r >= 2,
        noPeer("fused1"),
      ),
      target(
        "population of 30 ≥ 20× PyTorch's single-model samples/s, in total",
        ofPeer("pop30"),
        (r) => r >= 20,
        noPeer("pop30"),
      ),
    ]
    : [
      target(
        `default engine (tfjs ${fallback}) ≥ 1× PyTorch on the CPU`,
        ofPeer(fallback),
        (r) => r >= 1,
        noPeer(fallback),
      ),
    ];
  const pool = [
    target(
      `worker pool of 2, population of ${POOL_MODELS}, ≥ 1.8× the single-model tfjs wasm row in total`,
      ofWasm("pool2"),
      (r) => r >= 1.8,
      "no pool2 or wasm row",
    ),
    target(
      "worker pool of 1 within 5% of the single-model tfjs wasm row",
      ofWasm("pool1"),
      (r) => Math.abs(r - 1) <= 0.05,
      "no pool1 or wasm row",
    ),
  ].filter(({ measured }) => measured !== null);
  return [...speed, ...pool];
}

/**
 * The fused rows' kernel times side by side: a row per kernel, then their sum (the GPU busy), the wall
 * time of a timed step and the share of it the GPU was busy; `undefined` when no row was profiled.
 */
function profileTable(rows: BenchRow[]) {
  const profiled = rows.filter((row) => Array.isArray(row.profile));
  if (profiled.length === 0) return undefined;
  const kernels = profiled.map((row) => row.profile as KernelTime[]);
  const micro = (value: number) => value.toFixed(1);
  const busy = kernels.map((times) =>
    times.reduce((sum, { microseconds }) => sum + microseconds, 0)
  );
  const wall = profiled.map((row) => (row.seconds / row.steps) * 1e6);
  const headers = ["kernel", ...profiled.map((row) => row.engine)];
  const table = [
    ...kernels[0].map((
      { label },
      k,
    ) => [label, ...kernels.map((times) => micro(times[k].microseconds))]),
    ["GPU busy (sum)", ...busy.map(micro)],
    ["wall time per timed step", ...wall.map(micro)],
    ["GPU busy / wall", ...busy.map((value, i) => `${((100 * value) / wall[i]).toFixed(0)}%`)],
  ];
  return { headers, rows: table, markdown: markdownTable(headers, table) };
}

/** Samples per second as the table shows them. */
function rate(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** A ratio as the table shows it; empty when not measured. */
function ratio(value: number | null): string {
  return value === null ? "" : `${value.toFixed(2)}×`;
}
