/**
 * The benchmark's results: each row's and each peer's median over the rounds, their samples per second
 * per model and in total, ratios to tfjs on webgpu and on wasm and to the fastest PyTorch peer, the speed
 * targets as ratios measured in this run, the notes that say how it ran, and the per-kernel profile; as
 * one table printed and written as JSON, Markdown and a section of the report.
 *
 * @module
 */
import { join } from "node:path";
import { counted } from "../lib/cli.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";
import type { GpuAdapter } from "../lib/gpu/adapter.ts";
import type { KernelTime } from "../lib/gpu/timing.ts";
import { markdownTable, publishSection } from "../lib/report.ts";
import { STUDY_BEST_PARAMS } from "../lib/search_space.ts";
import { formatRate } from "../lib/train/fit.ts";
import type { PeerResult, PeerRun } from "./peer.ts";
import { HIDDEN, type Measurement, type RowOutcome } from "./rows.ts";

/** The rows the ratio columns and the targets compare with. */
const WEBGPU_ROW = "tfjs-webgpu:1";
const WASM_ROW = "tfjs-wasm:1";
/** The title of the `--profile` table. */
const PROFILE_TITLE = "Where a fused step's time goes (µs per step, from GPU timestamps)";

/** How the bench ran, as `bench.json` records it. */
export interface BenchConfig {
  images: number;
  batchSize: number;
  epochs: number;
  rounds: number;
  warmupSteps: number;
  cpuSteps: number;
  fusedSteps: number;
  profile: boolean;
  /** The rows, by name. */
  rows: string[];
}

/** A row's run in one round: its child's outcome, or why the child failed. */
export interface RowRun {
  name: string;
  outcome: RowOutcome | { failed: string };
}

/** A measured row with its throughput and ratios. */
export interface BenchRow extends Measurement {
  name: string;
  batch: number;
  samplesPerSecond: number;
  perModel: number;
  ratioToWebgpu: number | null;
  /** Total samples/s against the single model of tfjs wasm in this thread (the CPU's peer row). */
  ratioToWasm: number | null;
  /** Total samples/s against the fastest PyTorch peer. */
  ratioToPeer: number | null;
}

/** A speed target and what this run measured. */
export interface Target {
  target: string;
  measured: number | null;
  met: boolean | null;
  /** Why it was not measured. */
  note?: string;
}

/** A peer that ran. */
type PeerMeasured = PeerResult & { label: string };

/** The bench's results, ready to print and write. */
export interface BenchSummary {
  rows: BenchRow[];
  skipped: { name: string; reason: string }[];
  failed: { name: string; reason: string }[];
  /** The peers that ran (each its median round), fastest first; why the others did not. */
  peers: PeerMeasured[];
  missingPeers: string[];
  targets: Target[];
  /** The table, the notes, the targets and the profile as Markdown paragraphs. */
  paragraphs: { table: string; notes: string[]; targets: string[]; profile?: string };
  table: { headers: string[]; rows: (string | number)[][] };
  profile?: { headers: string[]; rows: (string | number)[][] };
}

/**
 * The rounds' rows and peers summed up: each one's median round, the table (each peer as a row of its own
 * after the engines'), the targets and the notes.
 */
export function summarise(
  rounds: RowRun[][],
  peerRounds: PeerRun[][],
  context: { config: BenchConfig; gpu: GpuAdapter | null },
): BenchSummary {
  const { config, gpu } = context;
  const runs = rounds[0].map((_, i) => medianRun(rounds.map((runs) => runs[i])));
  const labels = [...new Set(peerRounds.flat().map((run) => run.label))];
  const peerRuns = labels.map((label) =>
    medianPeer(peerRounds.flat().filter((run) => run.label === label))
  );
  const peers = peerRuns.filter((run): run is PeerMeasured => !("missing" in run))
    .sort((a, b) => b.samples_per_second - a.samples_per_second);
  // A row is compared with the fastest peer that trains as many models; else with the fastest single model.
  const peerRate = (models: number) =>
    (peers.find((peer) => peer.models === models) ?? peers.find((peer) => peer.models === 1) ??
      peers[0])?.samples_per_second;
  const rateOf = (name: string) => {
    const run = runs.find((run) => run.name === name && "samples" in run.outcome);
    return run ? total(run.outcome as Measurement) : undefined;
  };
  const webgpuRate = rateOf(WEBGPU_ROW);
  const wasmRate = rateOf(WASM_ROW);
  const versus = (value: number, reference: number | undefined) =>
    reference ? value / reference : null;
  const rows: BenchRow[] = [];
  const skipped: BenchSummary["skipped"] = [];
  const failed: BenchSummary["failed"] = [];
  for (const { name, outcome } of runs) {
    if ("failed" in outcome) failed.push({ name, reason: outcome.failed });
    else if ("skipped" in outcome) skipped.push({ name, reason: outcome.skipped });
    else {
      rows.push({
        name,
        batch: config.batchSize,
        ...outcome,
        samplesPerSecond: total(outcome),
        perModel: total(outcome) / outcome.models,
        ratioToWebgpu: versus(total(outcome), webgpuRate),
        ratioToWasm: versus(total(outcome), wasmRate),
        ratioToPeer: versus(total(outcome), peerRate(outcome.models)),
      });
    }
  }
  const ratios = (value: number, models: number) =>
    [webgpuRate, wasmRate, peerRate(models)].map((reference) => ratio(versus(value, reference)));
  const table = {
    headers: [
      "row",
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
    ],
    rows: [
      ...rows.map((row) => [
        row.name,
        row.engine,
        row.adapter,
        row.batch,
        row.models,
        row.steps,
        formatRate(row.perModel),
        formatRate(row.samplesPerSecond),
        ...ratios(row.samplesPerSecond, row.models),
        row.peakMegabytes === null ? "" : row.peakMegabytes.toFixed(0),
      ]),
      ...peers.map((peer) => [
        `${peer.label} (peer)`,
        `torch ${peer.torch}`,
        `${peer.device}, ${peer.threads} thread(s)`,
        peer.batch,
        peer.models,
        peer.steps,
        formatRate(peer.per_model),
        formatRate(peer.samples_per_second),
        ...ratios(peer.samples_per_second, peer.models),
        "",
      ]),
    ],
  };
  const missingPeers = peerRuns.flatMap((run) => "missing" in run ? [run.missing] : []);
  const targets = speedTargets(rows, peers, gpu, config.batchSize);
  const profile = profileTable(rows);
  const gpuName = gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : "no WebGPU adapter";
  const notes = [
    `Each row ran in its own process: ${config.warmupSteps} untimed warm-up steps first (1 for ` +
    "the capped rows; shader compilation and JIT not counted), then " +
    `${config.epochs} epoch(s) over the first ${config.images} MNIST training images at batch ` +
    `${config.batchSize}, data already in device memory; d = ${HIDDEN}, dropout ` +
    `${STUDY_BEST_PARAMS.dropout}, lr ${STUDY_BEST_PARAMS.lr}, L2 ${STUDY_BEST_PARAMS.l2} (the study's ` +
    "best); the models of a population are that model with seeds 0, 1, …, so each costs what one does.",
    ...(config.rounds > 1 ? [roundsNote(rounds, peerRounds)] : []),
    ...rows.filter((row) => row.capped).map((row) =>
      `${row.name}: only ${row.steps} step(s) timed (${row.capped}).`
    ),
    ...skipped.map(({ name, reason }) => `${name}: skipped (${reason}).`),
    ...failed.map(({ name, reason }) => `${name}: failed (${reason}).`),
    ...rows.flatMap(({ name, profile }) =>
      profile && "unavailable" in profile ? [`${name}: not profiled (${profile.unavailable}).`] : []
    ),
    ...missingPeers.map((missing) => `${missing}.`),
    ...(peers.length > 0 ? [] : ["No PyTorch peer ran: the ratio columns to PyTorch are empty."]),
    ...(gpu?.software === false ? [] : [
      "The GPU targets (fused single model ≥ 1.5× PyTorch's CUDA-graph step, population of 30 ≥ 3× " +
      "PyTorch's vmap population) apply on a " +
      `hardware GPU adapter; this machine has ${gpuName}.`,
    ]),
  ];
  const targetLines = targets.map(({ target, measured, met, note }) =>
    `target ${target}: ${
      measured === null
        ? `not measured (${note})`
        : `measured ${ratio(measured)} (${met ? "met" : "not met"})`
    }`
  );
  return {
    rows,
    skipped,
    failed,
    peers,
    missingPeers,
    targets,
    table,
    profile,
    paragraphs: {
      table: markdownTable(table.headers, table.rows),
      notes,
      targets: targetLines,
      profile: profile && markdownTable(profile.headers, profile.rows),
    },
  };
}

/** The summary as the bench prints it. */
export function benchText({ paragraphs }: BenchSummary): string {
  const { table, notes, targets, profile } = paragraphs;
  const profileText = profile ? ["", `${PROFILE_TITLE}:`, "", profile] : [];
  return [table, "", ...notes, "", ...targets, ...profileText].join("\n");
}

/**
 * Writes the summary into `out` as `bench.json` (with the machine, `config` and `seconds`), `bench.md`
 * and a section of the report.
 */
export async function writeBench(
  out: string,
  summary: BenchSummary,
  context: { config: BenchConfig; gpu: GpuAdapter | null; seconds: number },
): Promise<void> {
  const { config, gpu } = context;
  const { paragraphs, profile } = summary;
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
    config: { hidden: HIDDEN, ...STUDY_BEST_PARAMS, ...config },
    rows: summary.rows,
    skipped: summary.skipped,
    failed: summary.failed,
    peer: summary.peers[0] ?? null,
    peers: summary.peers,
    peerNotes: summary.missingPeers,
    targets: summary.targets,
    seconds: context.seconds,
  });
  const markdown = [
    "# Training throughput",
    paragraphs.table,
    ...paragraphs.notes,
    ...paragraphs.targets,
    ...(paragraphs.profile ? [`## ${PROFILE_TITLE}`, paragraphs.profile] : []),
  ].join("\n\n");
  await writeFileAtomic(join(out, "bench.md"), `${markdown}\n`);
  await publishSection(out, {
    title: "Benchmark: training throughput",
    items: [
      {
        kind: "table",
        caption: `Samples per second training d = ${HIDDEN} at batch ${config.batchSize}, by row.`,
        ...summary.table,
      },
      ...[...paragraphs.notes, ...paragraphs.targets].map((text) => ({
        kind: "text" as const,
        text,
      })),
      ...(profile ? [{ kind: "table" as const, caption: `${PROFILE_TITLE}.`, ...profile }] : []),
    ],
  });
}

/** Samples per second, all models together. */
function total(measurement: Measurement): number {
  return measurement.samples / measurement.seconds;
}

/**
 * The speed targets that apply here, as ratios of this run: on a hardware GPU adapter, the fused single
 * model ≥ 1.5× the fastest single-model PyTorch peer (the whole step in a CUDA graph, on CUDA) and the
 * population of 30 ≥ 3× PyTorch's population of 30 (stacked by vmap in a CUDA graph), in total; without
 * one, aelab's wasm engine on 2 cores (one model data-parallel) ≥ 1.5× the fastest PyTorch on the CPU.
 * Wherever their rows ran: aelab's wasm on one core ≥ 2.5× tfjs wasm; one model data-parallel on 2 wasm
 * workers ≥ 1.7× it on one; a population of 10 on 2 wasm workers ≥ 1.8× it on one; tfjs's pool of 2
 * workers ≥ 1.8× the single model of tfjs wasm in total, and its pool of 1 ≥ 0.95× it (a worker costs
 * at most 5%; a pool of 1 that runs faster, as a population of 10 can, is no cost).
 */
function speedTargets(
  rows: BenchRow[],
  peers: readonly PeerMeasured[],
  gpu: GpuAdapter | null,
  batchSize: number,
): Target[] {
  const find = (name: string) => rows.find((row) => row.name === name);
  const target = (
    text: string,
    measured: number | null | undefined,
    met: (value: number) => boolean,
    note: string,
  ): Target =>
    measured === null || measured === undefined
      ? { target: text, measured: null, met: null, note }
      : { target: text, measured, met: met(measured) };
  const ofPeer = (text: string, name: string, met: (value: number) => boolean) => {
    const models = find(name)?.models ?? 1;
    const peer = peers.some((peer) => peer.models === models);
    return target(
      text,
      peer ? find(name)?.ratioToPeer : null,
      met,
      peer
        ? `no ${name} row`
        : peers.length === 0
        ? "no PyTorch peer"
        : `no PyTorch peer of ${counted(models, "model")}`,
    );
  };
  const ratio = (numerator: string, denominator: string) => {
    const [over, under] = [find(numerator), find(denominator)];
    return over && under && over.samplesPerSecond / under.samplesPerSecond;
  };
  const speed = gpu !== null && !gpu.software
    ? [
      ofPeer(
        `fused single model ≥ 1.5× the fastest single-model PyTorch step at batch ${batchSize}`,
        "fused:1",
        (r) => r >= 1.5,
      ),
      ofPeer(
        "fused population of 30 ≥ 3× PyTorch's population of 30 (vmap), in total",
        "fused:30",
        (r) => r >= 3,
      ),
    ]
    : [
      ofPeer(
        "aelab wasm on 2 cores, one model (wasm-2:1) ≥ 1.5× the fastest PyTorch on the same cores",
        "wasm-2:1",
        (r) => r >= 1.5,
      ),
    ];
  const pool = [
    target(
      `aelab wasm on one core ≥ 2.5× tfjs wasm (${WASM_ROW})`,
      find("wasm:1")?.ratioToWasm,
      (r) => r >= 2.5,
      "",
    ),
    target(
      "one model data-parallel on 2 wasm workers ≥ 1.7× the same model on one",
      ratio("wasm-2:1", "wasm:1"),
      (r) => r >= 1.7,
      "",
    ),
    target(
      "population of 10 on 2 wasm workers ≥ 1.8× the same population on one",
      ratio("wasm-2:10", "wasm-1:10"),
      (r) => r >= 1.8,
      "",
    ),
    target(
      "tfjs worker pool of 2, population of 10, ≥ 1.8× the single-model tfjs wasm row in total",
      find("workers-2:10")?.ratioToWasm,
      (r) => r >= 1.8,
      "",
    ),
    target(
      "tfjs worker pool of 1 ≥ 0.95× the single-model tfjs wasm row (a worker costs at most 5%)",
      find("workers-1:10")?.ratioToWasm,
      (r) => r >= 0.95,
      "",
    ),
  ].filter(({ measured }) => measured !== null && measured !== undefined);
  return [...speed, ...pool];
}

/**
 * The profiled rows' kernel times side by side: a row per kernel, then their sum (the GPU busy), the wall
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
  return {
    headers: ["kernel", ...profiled.map((row) => row.name)],
    rows: [
      ...kernels[0].map(({ label }, k) => [
        label,
        ...kernels.map((times) => micro(times[k].microseconds)),
      ]),
      ["GPU busy (sum)", ...busy.map(micro)],
      ["wall time per timed step", ...wall.map(micro)],
      ["GPU busy / wall", ...busy.map((value, i) => `${((100 * value) / wall[i]).toFixed(0)}%`)],
    ],
  };
}

/**
 * What the rounds measured: each row's and each peer's samples/s in every round, of which the table
 * keeps the median.
 */
function roundsNote(rounds: RowRun[][], peerRounds: PeerRun[][]): string {
  const rates = (values: (number | null)[]) =>
    values.map((value) => value === null ? "–" : formatRate(value)).join(", ");
  const rows = rounds[0].map(({ name }, i) =>
    `${name} ${rates(rounds.map((runs) => runRate(runs[i])))}`
  );
  const labels = [...new Set(peerRounds.flat().map((run) => run.label))];
  const peers = labels.map((label) =>
    `${label} ${
      rates(
        peerRounds.flat().filter((run) => run.label === label).map((run) =>
          "missing" in run ? null : run.samples_per_second
        ),
      )
    }`
  );
  return `Every row ran ${rounds.length} times, in turn, and the table keeps each one's median; ` +
    `samples/s in each round: ${[...rows, ...peers].join("; ")}.`;
}

/** Samples per second of a row's run, or null where it measured nothing. */
function runRate({ outcome }: RowRun): number | null {
  return "samples" in outcome ? total(outcome) : null;
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

/** A peer's runs over the rounds, as one: the run of median samples/s, or why there is none. */
function medianPeer(runs: PeerRun[]): PeerRun {
  const missing = runs.find((run) => "missing" in run);
  return missing ?? median(runs as PeerMeasured[], (run) => run.samples_per_second);
}

/** A ratio as the table shows it; empty when not measured. */
function ratio(value: number | null): string {
  return value === null ? "" : `${value.toFixed(2)}×`;
}
