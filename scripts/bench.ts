/**
 * `deno task bench`: training throughput of every engine this machine has — the tfjs backends cpu, wasm
 * and webgpu, the fused WebGPU engine with one model and with populations of 10 and 30 — and of a PyTorch
 * peer of the same model (`bench/torch_peer.py`), all on the same MNIST training images at the same batch
 * size. Prints one table (samples per second per model and in total, ratios to tfjs-webgpu and to
 * PyTorch) and the speed targets as ratios measured in this run; writes it as JSON and Markdown and as a
 * section of the report.
 *
 * Each row runs in a process of its own (this script again, with a hidden `--row`), so that every engine
 * starts from a fresh state and a backend that cannot load here (wasm in a bundle) only skips its row. A
 * row first takes `--warmup-steps` untimed steps, so that shader compilation and JIT are not counted.
 * With `--profile`, the fused rows then time each of their kernels on the GPU (timestamp queries) and a
 * second table shows where a step's time goes: each kernel, their sum (the GPU busy) and the wall time.
 *
 *     deno task bench
 *     deno task bench --only wasm,fused1 --images 2048 --no-peer
 *     deno task bench --only fused1,pop30 --profile
 *     bash .gpu/run.sh .gpu/bench.js --only webgpu,fused1,pop10,pop30 --images 60000 --profile   # GPU
 *
 * @module
 */
import { join } from "node:path";
import {
  check,
  parseFlags,
  runMain,
  UsageError,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/cli.ts";
import { epochOrder, takeDigits, TensorBatches } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { checkInteger, RESULTS_ROOT } from "../lib/experiment.ts";
import { type GpuAdapter, requestAdapter, setupBackend } from "../lib/gpu.ts";
import { type KernelTime, type ModelSettings, Population } from "../lib/gpu/population.ts";
import { IMAGE_PIXELS } from "../lib/model/architecture.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { markdownTable, publishSection } from "../lib/report.ts";
import { generateParams, SEED_BEST_PARAMS } from "../lib/search.ts";

/** The seed's model: latent size 4, trained with the seed's best parameters. */
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

/** The engines a row can measure, in the table's order. */
const ENGINES = {
  cpu: { label: "tfjs cpu", backend: "cpu" },
  wasm: { label: "tfjs wasm", backend: "wasm" },
  webgpu: { label: "tfjs webgpu", backend: "webgpu" },
  fused1: { label: "fused, 1 model", models: 1 },
  pop10: { label: "fused population", models: 10 },
  pop30: { label: "fused population", models: 30 },
} as const;
type Engine = keyof typeof ENGINES;
const ENGINE_NAMES = Object.keys(ENGINES) as Engine[];

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
  for (const name of ["images", "batch-size", "epochs"] as const) {
    checkInteger(name, flags[name], 1);
  }
  for (const name of ["warmup-steps", "cpu-steps", "fused-steps"] as const) {
    checkInteger(name, flags[name], 0);
  }
  const engines = selectEngines(flags.only);
  const batchSize = flags["batch-size"];

  // Data: the first N training images, in one file that every row and the peer read.
  const { train } = await loadMnist();
  check(
    flags.images <= train.count,
    `--images must be at most ${train.count}, got ${flags.images}`,
  );
  const work = await Deno.makeTempDir({ prefix: "aelab-bench-" });
  try {
    const imagesFile = join(work, "images.u8");
    await Deno.writeFile(imagesFile, takeDigits(train, flags.images).images);

    // Rows, each in a process of its own, capped where a step is slow.
    const gpu = await requestAdapter();
    const gpuName = gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : "no WebGPU adapter";
    console.error(`bench: ${flags.images} images, batch ${batchSize}; WebGPU: ${gpuName}`);
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
        profileSteps: flags.profile && !("backend" in ENGINES[engine])
          ? Math.min(cap > 0 ? 1 : PROFILE_STEPS, Math.ceil(flags.images / batchSize))
          : 0,
      };
      const timed = job.steps > 0 ? `${job.steps} timed steps (capped)` : `${job.epochs} epoch(s)`;
      console.error(`bench: ${engine}: ${job.warmupSteps} warm-up steps, ${timed}…`);
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

    // The peer.
    let peer: PeerResult | { missing: string } = { missing: "PyTorch peer not run (--no-peer)" };
    if (!flags["no-peer"]) {
      console.error(
        `bench: PyTorch peer: ${flags["warmup-steps"]} warm-up steps, ${flags.epochs} epoch(s)…`,
      );
      peer = await runPeer(flags.python, {
        imagesFile,
        batchSize,
        epochs: flags.epochs,
        warmupSteps: flags["warmup-steps"],
      });
    }

    // The table, the notes and the targets: printed, and written as JSON, Markdown and report section.
    const summary = summarise(runs, "missing" in peer ? null : peer, gpu, batchSize);
    const notes = [
      `Each row ran in its own process: ${flags["warmup-steps"]} untimed warm-up steps first (1 ` +
      "for the capped rows; shader compilation and JIT not counted), then " +
      `${flags.epochs} epoch(s) over the first ${flags.images} MNIST training images at batch ` +
      `${batchSize}, data already in device memory; d = ${HIDDEN}, dropout ` +
      `${SEED_BEST_PARAMS.dropout}, lr ${SEED_BEST_PARAMS.lr}, L2 ${SEED_BEST_PARAMS.l2} (the seed's ` +
      "best); each population member has its own seed and the search's random lr, L2 and dropout.",
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

    const out = flags.out;
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
        ...SEED_BEST_PARAMS,
        images: flags.images,
        batchSize,
        epochs: flags.epochs,
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
  } finally {
    await Deno.remove(work, { recursive: true });
  }
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
  const webgpu = runs.find((run) => run.engine === "webgpu" && "samples" in run.outcome);
  const webgpuRate = webgpu ? total(webgpu.outcome as Measurement) : null;
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
    "× PyTorch",
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
    ratio(row.ratioToPeer),
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
      ratio(1),
    ]);
  }
  const targets = speedTargets(rows, peer, gpu, skipped, batchSize);
  return { rows, skipped, failed, headers, tableRows, targets };
}

/** Whether `engine` runs on the WebGPU adapter. */
function usesGpu(engine: Engine): boolean {
  return engine === "webgpu" || !("backend" in ENGINES[engine]);
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
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", Deno.mainModule, ROW_FLAG, JSON.stringify(job)],
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    return { failed: `exit code ${code}: ${lines.slice(-3).join(" | ")}` };
  }
  return JSON.parse(await Deno.readTextFile(job.resultFile));
}

/** In the child: measures the row `job` and writes its outcome to `job.resultFile`. */
async function runRow(job: RowJob): Promise<void> {
  const engine = ENGINES[job.engine];
  const images = await Deno.readFile(job.imagesFile);
  const outcome = "backend" in engine
    ? await measureTfjs(engine.backend, images, job)
    : await measureFused(engine.models, images, job);
  await writeJsonAtomic(job.resultFile, outcome);
}

/** The seed's model on tfjs `backend`, trained as `deno task train` trains it. */
async function measureTfjs(
  backend: "cpu" | "wasm" | "webgpu",
  images: Uint8Array,
  job: RowJob,
): Promise<RowOutcome> {
  let adapter;
  try {
    ({ adapter } = await setupBackend(backend, { quiet: true }));
  } catch (error) {
    const hint = backend === "wasm" ? "; a bundled script carries no .wasm files" : "";
    return {
      skipped: `the ${backend} backend cannot be set up here: ${(error as Error).message}${hint}`,
    };
  }
  const { batchSize, warmupSteps, steps } = job;
  const model = Autoencoder.create({ hidden: HIDDEN, seed: 0, ...SEED_BEST_PARAMS });
  if (warmupSteps > 0) {
    const warmup = new TensorBatches(images.subarray(0, warmupSteps * batchSize * IMAGE_PIXELS), {
      batchSize,
    });
    await model.trainEpoch(warmup);
    warmup.dispose();
  }
  const data = new TensorBatches(
    steps > 0 ? images.subarray(0, steps * batchSize * IMAGE_PIXELS) : images,
    { batchSize },
  );
  const epochs = steps > 0 ? 1 : job.epochs;
  const startedAt = performance.now();
  let loss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) loss = await model.trainEpoch(data);
  const seconds = (performance.now() - startedAt) / 1000;
  const measurement = {
    adapter,
    models: 1,
    steps: data.batchCount * epochs,
    samples: data.count * epochs,
    seconds,
    loss,
  };
  data.dispose();
  model.dispose();
  return measurement;
}

/**
 * `models` autoencoders trained together by the fused engine: one model with the seed's parameters, or a
 * population drawn as the search draws its trials, each model with its own seed.
 */
async function measureFused(
  models: number,
  images: Uint8Array,
  job: RowJob,
): Promise<RowOutcome> {
  if (!(await requestAdapter())) return { skipped: "no WebGPU adapter" };
  const { batchSize, warmupSteps, steps } = job;
  const settings: ModelSettings[] = models === 1
    ? [{
      hidden: HIDDEN,
      learningRate: SEED_BEST_PARAMS.lr,
      weightDecay: SEED_BEST_PARAMS.l2,
      dropout: SEED_BEST_PARAMS.dropout,
      seed: 0,
    }]
    : generateParams(models, 0, HIDDEN).map((params, seed) => ({
      hidden: HIDDEN,
      learningRate: params.lr,
      weightDecay: params.l2,
      dropout: params.dropout,
      seed,
    }));
  const population = await Population.create({ models: settings, batchSize });
  try {
    const data = await population.upload(images);
    // Each model takes its own shuffle of the images, as `trainEpoch(data)` draws it; capped, its start.
    const orders = (epoch: number, rows: number) =>
      settings.map(({ seed }) => epochOrder(data.count, seed, epoch).subarray(0, rows));
    if (warmupSteps > 0) {
      await population.trainEpoch(data, orders(0, Math.min(warmupSteps * batchSize, data.count)));
    }
    const rows = steps > 0 ? Math.min(steps * batchSize, data.count) : data.count;
    const epochs = steps > 0 ? 1 : job.epochs;
    const startedAt = performance.now();
    let loss = NaN;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      [loss] = await population.trainEpoch(data, orders(epoch, rows));
    }
    const seconds = (performance.now() - startedAt) / 1000;
    let profile: Measurement["profile"];
    if (job.profileSteps > 0) {
      profile = await population.profileTraining(data, job.profileSteps).catch((error) => ({
        unavailable: (error as Error).message,
      }));
    }
    return {
      adapter: population.adapterName,
      models,
      steps: Math.ceil(rows / batchSize) * epochs,
      samples: rows * epochs * models,
      seconds,
      loss,
      profile,
    };
  } finally {
    population.destroy();
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
    `--dropout=${SEED_BEST_PARAMS.dropout}`,
    `--lr=${SEED_BEST_PARAMS.lr}`,
    `--l2=${SEED_BEST_PARAMS.l2}`,
  ];
  const tried: string[] = [];
  for (const candidate of new Set([python, "python3"])) {
    let output;
    try {
      output = await new Deno.Command(candidate, { args, stdin: "null" }).output();
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
  const wanted: [string, Engine, number][] = hardware
    ? [
      [`fused single model ≥ 2× PyTorch eager at batch ${batchSize}`, "fused1", 2],
      ["population of 30 ≥ 20× PyTorch's single-model samples/s, in total", "pop30", 20],
    ]
    : [[`default engine (tfjs ${fallback}) ≥ 1× PyTorch on the CPU`, fallback, 1]];
  return wanted.map(([target, engine, need]) => {
    const measured = rows.find((row) => row.engine === engine)?.ratioToPeer ?? null;
    if (measured !== null) return { target, measured, met: measured >= need };
    return { target, measured, met: null, note: peer ? `no ${engine} row` : "no PyTorch peer" };
  });
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
