/** Results folders of models for the explorer's tests, and `deno task explore` run as a server. */
import { join } from "node:path";
import { initialWeights } from "../lib/model/architecture.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { Classifier } from "../lib/model/classifier_model.ts";
import { createRng } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";

/**
 * The models of a results folder: the trained model's d, the sweep's sizes, the denoisers' kinds, and
 * whether there is a digit classifier.
 */
export interface ResultsModels {
  trained?: number;
  sweep?: number[];
  denoisers?: string[];
  classifier?: boolean;
}

/**
 * Writes untrained models where the study's steps leave them in the results folder `root`, and returns
 * their paths relative to it. Each is seeded, with weights 3 times PyTorch's initialisation: its pixels
 * then span [0, 1] and move with the code, where those of a freshly initialised model stay near 0.5. The
 * classifier, untrained too, reads digits by chance, but as the same function wherever it runs.
 */
export async function writeModels(root: string, models: ResultsModels): Promise<string[]> {
  await setupBackend("wasm", { quiet: true });
  const files: [string, number][] = [
    ...(models.trained ? [["train/model.safetensors", models.trained] as [string, number]] : []),
    ...(models.sweep ?? []).map((d): [string, number] => [`sweep/model-d${d}.safetensors`, d]),
    ...(models.denoisers ?? []).map((kind): [string, number] => [
      `denoise/denoiser-${kind}.safetensors`,
      models.trained ?? 4,
    ]),
  ];
  for (const [i, [file, hidden]] of files.entries()) {
    const weights = initialWeights(hidden, createRng(100 + i));
    for (const name in weights) weights[name] = weights[name].map((value) => 3 * value);
    const model = Autoencoder.fromWeights({ hidden, dropout: 0 }, weights);
    await model.save(join(root, file));
    model.dispose();
  }
  if (!models.classifier) return files.map(([file]) => file);
  const classifier = Classifier.create({ dropout: 0.25 }, 7);
  await classifier.save(join(root, CLASSIFIER_FILE));
  classifier.dispose();
  return [...files.map(([file]) => file), CLASSIFIER_FILE];
}

/** Where `deno task classify` leaves the digit classifier in a results folder. */
export const CLASSIFIER_FILE = "classify/classifier.safetensors";

/** `deno task explore` serving: the page's address, and what it printed once stopped. */
export interface RunningExplorer extends AsyncDisposable {
  url: string;
  /** Stops the server (SIGTERM) and returns what it wrote to standard error. */
  stop(): Promise<string>;
}

/** Starts `scripts/explore.ts` with `args` and waits until it says where it serves. */
export async function startExplorer(args: string[]): Promise<RunningExplorer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/explore.ts", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await lines.read();
    if (done) {
      await child.status;
      throw new Error(`explore ended before serving:\n${printed}${await stderr}`);
    }
    printed += value;
    url = /explorer: (http:\/\/\S+)/.exec(printed)?.[1];
  }
  let stopped: Promise<string> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      child.kill("SIGTERM");
      await child.status;
      await lines.cancel();
      return await stderr;
    })();
  return { url, stop, [Symbol.asyncDispose]: async () => void await stop() };
}
