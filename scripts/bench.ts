/**
 * `deno task bench`: training throughput of the engines this machine has, each as `--engine` names it —
 * tfjs in this thread on the cpu, wasm and webgpu backends, aelab's wasm engine, the worker pool of 1, 2
 * and all cores training a population of 10, the fused WebGPU engine with one model and populations of 10
 * and 30 — and of a PyTorch peer of the same model (`bench/torch_peer.py`), all on the same MNIST training images at
 * the same batch size. Prints one table (samples per second per model and in total, ratios to tfjs-webgpu,
 * to tfjs-wasm and to PyTorch) and the speed targets as ratios measured in this run; writes it as JSON and
 * Markdown and as a section of the report.
 *
 * A row is written `ENGINE[-BACKEND][-WORKERS][:MODELS]` (`bench/rows.ts`) and runs in a process of its
 * own, first `--warmup-steps` untimed steps, so that shader compilation and JIT are not counted. With
 * `--profile`, a row whose engine can time its kernels (the fused engine) does so after its timed steps,
 * and a second table shows where a step's time goes. A busy or shared machine moves a row by ±10% from
 * one run to the next: `--rounds N` runs every row and the peer N times, in turn, and keeps each one's
 * median.
 *
 *     deno task bench
 *     deno task bench --only tfjs-wasm,fused --images 2048 --no-peer
 *     deno task bench --only fused,fused:30 --profile
 *     deno task bench --only tfjs-wasm,workers-1:10,workers-2:10 --rounds 5 --no-peer
 *     bash .gpu/run.sh bench --only tfjs-webgpu,fused,fused:10,fused:30 --images 60000 --profile   # GPU
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain } from "../lib/cli.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { checkInteger, RESULTS_ROOT } from "../lib/experiment.ts";
import { exists, makeScratchFolder } from "../lib/files/atomic.ts";
import { holdFolder } from "../lib/files/lock.ts";
import { requestAdapter } from "../lib/gpu/adapter.ts";
import { STUDY_BEST_PARAMS } from "../lib/search_space.ts";
import { formatRate } from "../lib/train/fit.ts";
import { benchPeers, type Peer, type PeerRun, runPeer } from "../bench/peer.ts";
import {
  DEFAULT_ROWS,
  HIDDEN,
  measureRow,
  parseRows,
  ROW_FLAG,
  ROW_SYNTAX,
  runRow,
} from "../bench/rows.ts";
import { type BenchConfig, benchText, type RowRun, summarise, writeBench } from "../bench/table.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "training throughput of every engine and backend this machine has, against a PyTorch peer of the same model";

await runMain(async () => {
  if (Deno.args[0] === ROW_FLAG) return await runRow(JSON.parse(Deno.args[1]));
  const started = performance.now();

  // Flags.
  const flags = parseFlags(Deno.args, "bench", SUMMARY, {
    only: {
      type: "string",
      default: DEFAULT_ROWS.join(","),
      help: `the rows, each ${ROW_SYNTAX} (e.g. tfjs-wasm, workers-2:10, fused:30)`,
    },
    images: { type: "number", default: 10_240, help: "training images (the first N of MNIST's)" },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    epochs: { type: "number", default: 1, help: "timed epochs of the rows not capped" },
    "warmup-steps": {
      type: "number",
      // A pool of wasm workers steps at its steady speed after 10–15 steps (each worker's V8 compiles
      // the kernels again), one thread after 5–10.
      default: 16,
      help: "untimed steps before each row's timing (at most 1 for the capped rows)",
    },
    "cpu-steps": {
      type: "number",
      default: 4,
      help: "timed steps of the rows on tfjs's cpu backend (0: no cap)",
    },
    "fused-steps": {
      type: "number",
      default: 2,
      help: "timed steps of the rows on a software GPU adapter (0: no cap)",
    },
    rounds: {
      type: "number",
      default: 1,
      help: "times every row and the peer run, in turn; each keeps its median",
    },
    "no-peer": { type: "boolean", default: false, help: "skip the PyTorch peer" },
    profile: {
      type: "boolean",
      default: false,
      help: "time each kernel of the rows that can (fused) on the GPU after their timed steps",
    },
    python: {
      type: "string",
      default: "/usr/bin/python3",
      help: "Python with torch for the peer (python3 is tried next)",
    },
    torch2: {
      type: "string",
      default: join("bench", ".torch2"),
      help:
        "folder holding PyTorch 2 for the CPU (pip --target): a peer of its own where it is there",
    },
    out: { type: "string", default: join(RESULTS_ROOT, "bench"), help: "result folder" },
  });
  for (const name of ["images", "batch-size", "epochs", "rounds"] as const) {
    checkInteger(name, flags[name], 1);
  }
  for (const name of ["warmup-steps", "cpu-steps", "fused-steps"] as const) {
    checkInteger(name, flags[name], 0);
  }
  const rows = parseRows(flags.only);
  const config: BenchConfig = {
    images: flags.images,
    batchSize: flags["batch-size"],
    epochs: flags.epochs,
    rounds: flags.rounds,
    warmupSteps: flags["warmup-steps"],
    cpuSteps: flags["cpu-steps"],
    fusedSteps: flags["fused-steps"],
    profile: flags.profile,
    rows: rows.map((row) => row.name),
  };
  const torch2 = await exists(flags.torch2) ? flags.torch2 : undefined;
  const peers: Peer[] = flags["no-peer"] ? [] : benchPeers([flags.python, "python3"], torch2);
  await holdFolder(flags.out);

  // Data: the first N training images, in one file that every row and the peer read.
  const { train } = await loadMnist();
  check(
    flags.images <= train.count,
    `--images must be at most ${train.count}, got ${flags.images}`,
  );
  const work = await makeScratchFolder("aelab-bench-");
  const imagesFile = join(work, "images.u8");
  await Deno.writeFile(imagesFile, takeDigits(train, flags.images).images);

  // Rows, each in a process of its own, then the peers; round after round.
  const gpu = await requestAdapter();
  console.error(
    `bench: ${flags.images} images, batch ${config.batchSize}; WebGPU: ${
      gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : "no adapter"
    }`,
  );
  const rounds: RowRun[][] = [];
  const peerRounds: PeerRun[][] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    const roundLabel = flags.rounds > 1 ? ` (round ${round} of ${flags.rounds})` : "";
    const runs: RowRun[] = [];
    for (const row of rows) {
      console.error(`bench: ${row.name}${roundLabel}…`);
      const outcome = await measureRow({
        row,
        imagesFile,
        resultFile: join(work, `${row.name.replace(":", "_")}.json`),
        batchSize: config.batchSize,
        epochs: config.epochs,
        warmupSteps: config.warmupSteps,
        cpuSteps: config.cpuSteps,
        softwareGpuSteps: config.fusedSteps,
        profile: config.profile,
      });
      runs.push({ name: row.name, outcome });
      console.error(
        `bench: ${row.name}: ${
          "failed" in outcome
            ? `failed: ${outcome.failed}`
            : "skipped" in outcome
            ? `skipped: ${outcome.skipped}`
            : `${formatRate(outcome.samples / outcome.seconds)} samples/s over ` +
              `${outcome.steps} timed steps${
                outcome.capped ? ` (capped by ${outcome.capped})` : ""
              }`
        }`,
      );
    }
    rounds.push(runs);

    // The peers, after the rows of each round (a peer missing or failing once runs no more).
    const missing = new Set(
      peerRounds.flat().filter((run) => "missing" in run).map((r) => r.label),
    );
    const runPeers: PeerRun[] = [];
    for (const peer of peers.filter((peer) => !missing.has(peer.label))) {
      console.error(`bench: ${peer.label} peer${roundLabel}…`);
      runPeers.push(
        await runPeer(peer, {
          imagesFile,
          batchSize: config.batchSize,
          epochs: config.epochs,
          warmupSteps: config.warmupSteps,
          hidden: HIDDEN,
          ...STUDY_BEST_PARAMS,
        }),
      );
    }
    peerRounds.push(runPeers);
  }

  // The table, the notes and the targets: printed, and written as JSON, Markdown and report section.
  const summary = summarise(rounds, peerRounds, { config, gpu });
  console.log(benchText(summary));
  const seconds = (performance.now() - started) / 1000;
  await writeBench(flags.out, summary, { config, gpu, seconds });
  console.error(`bench: wrote ${flags.out}/ in ${seconds.toFixed(0)} s`);
  if (summary.failed.length > 0) throw new Error(`${summary.failed.length} row(s) failed`);
});
