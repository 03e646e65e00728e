/**
 * The benchmark's PyTorch peers: `torch_peer.py` (the study's model in plain PyTorch) run in a process of
 * its own by a Python with torch, on the images the bench's rows train, timed as they are timed. A peer
 * names the Pythons to try in turn and any arguments of its own, so that several peers (other modes, other
 * torch versions) run side by side and the bench compares with the fastest.
 *
 * @module
 */
import { join } from "node:path";
import { spawnChild } from "../lib/cli.ts";

/** The peer script, relative to the project root (the working directory of `deno task`). */
const PEER_SCRIPT = join("bench", "torch_peer.py");
/** The peer script's exit code when torch cannot be imported: the next Python is tried. */
const PEER_NO_TORCH = 3;
/** The peer script's exit code when its mode cannot run here (no CUDA, no `torch.func`): it is left out. */
const PEER_UNSUPPORTED = 4;

/** How many models the population peer stacks (`--mode vmap`), as many as the bench's largest population. */
export const PEER_POPULATION = 30;

/**
 * A peer to run: what the table calls it, the Pythons to try in turn, arguments of its own, and
 * environment variables beside this process's (e.g. a `PYTHONPATH` that holds another torch).
 */
export interface Peer {
  label: string;
  pythons: readonly string[];
  args?: readonly string[];
  env?: Record<string, string>;
}

/**
 * The peers the bench runs with the Pythons to try: PyTorch eager (one model, as a user writes it), the whole
 * step as one CUDA graph, and a population of {@link PEER_POPULATION} stacked by `torch.func.vmap` in one CUDA
 * graph — the last two need CUDA and PyTorch 2, and are left out with a note elsewhere — and, where `torch2`
 * names a folder that holds PyTorch 2 for the CPU (pip's `--target`), PyTorch 2 eager beside the system's.
 *
 * @example
 * ```ts
 * import { benchPeers } from "./peer.ts";
 * console.log(benchPeers(["/usr/bin/python3"]).map((peer) => peer.label));
 * // ["PyTorch eager", "PyTorch CUDA graph", "PyTorch vmap ×30, CUDA graph"]
 * ```
 */
export function benchPeers(pythons: readonly string[], torch2?: string): Peer[] {
  return [
    { label: "PyTorch eager", pythons },
    { label: "PyTorch CUDA graph", pythons, args: ["--mode=graph"] },
    {
      label: `PyTorch vmap ×${PEER_POPULATION}, CUDA graph`,
      pythons,
      args: ["--mode=vmap", `--models=${PEER_POPULATION}`],
    },
    ...(torch2 ? [{ label: "PyTorch 2 eager (pip)", pythons, env: { PYTHONPATH: torch2 } }] : []),
  ];
}

/** What every peer trains, as the bench's rows train it. */
export interface PeerWork {
  /** Raw images, 784 bytes each. */
  imagesFile: string;
  batchSize: number;
  epochs: number;
  warmupSteps: number;
  hidden: number;
  dropout: number;
  lr: number;
  l2: number;
}

/** The peer script's JSON line. */
export interface PeerResult {
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

/** A peer's run: its result, or why there is none (no Python with torch, or the peer failed). */
export type PeerRun = { label: string } & (PeerResult | { missing: string });

/**
 * Runs `peer` on `work` with the first of its Pythons that has torch: its result, or why there is none.
 *
 * @example
 * ```ts
 * import { runPeer } from "./peer.ts";
 * const run = await runPeer({ label: "PyTorch eager", pythons: ["no-such-python"] }, {
 *   imagesFile: "images.u8", batchSize: 256, epochs: 1, warmupSteps: 2,
 *   hidden: 4, dropout: 0.1508, lr: 3.47e-4, l2: 4.65e-6,
 * });
 * console.log("missing" in run); // true
 * ```
 */
export async function runPeer(peer: Peer, work: PeerWork): Promise<PeerRun> {
  const { label } = peer;
  try {
    await Deno.stat(PEER_SCRIPT);
  } catch {
    return {
      label,
      missing: `no ${label} peer: ${PEER_SCRIPT} is not in ${Deno.cwd()} (run from the root)`,
    };
  }
  const args = [
    PEER_SCRIPT,
    `--images-file=${work.imagesFile}`,
    `--batch-size=${work.batchSize}`,
    `--epochs=${work.epochs}`,
    `--warmup-steps=${work.warmupSteps}`,
    `--hidden=${work.hidden}`,
    `--dropout=${work.dropout}`,
    `--lr=${work.lr}`,
    `--l2=${work.l2}`,
    ...peer.args ?? [],
  ];
  const tried: string[] = [];
  for (const python of new Set(peer.pythons)) {
    let output;
    try {
      output = await spawnChild(
        new Deno.Command(python, {
          args,
          env: peer.env,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }),
      ).output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      tried.push(`${python}: not found`);
      continue;
    }
    if (output.code === PEER_NO_TORCH) {
      tried.push(`${python}: no torch`);
      continue;
    }
    if (output.code === PEER_UNSUPPORTED) {
      const why = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
      return { label, missing: `no ${label} peer here: ${why.error}` };
    }
    if (output.code !== 0) {
      const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
      return {
        label,
        missing: `the ${label} peer failed with ${python}: ${stderr.slice(-2).join(" | ")}`,
      };
    }
    const stdout = new TextDecoder().decode(output.stdout).trim();
    return { label, ...JSON.parse(stdout.split("\n").at(-1)!) };
  }
  return { label, missing: `the ${label} peer is missing (${tried.join("; ")})` };
}
