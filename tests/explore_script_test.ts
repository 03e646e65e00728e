import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeDigitsFile } from "../lib/explore/digits.ts";
import type { ExplorerManifest } from "../lib/explore/manifest.ts";
import { encodeSafetensors } from "../lib/model/weights.ts";
import { startExplorer, writeModels } from "./_explore.ts";
import { filesIn, lastLine, runScript } from "./_scripts.ts";
import { testDigits } from "./_fixtures.ts";

/** Asserts that explore with `args` exits 2 with one line, `error: ` and `message`. */
async function assertRefuses(args: string[], message: RegExp): Promise<void> {
  const run = await runScript("scripts/explore.ts", ["--port=0", ...args]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(lastLine(run.stderr), /^error: /);
  assert.match(lastLine(run.stderr), message);
  assert.equal(run.stdout, "");
}

Deno.test("explore refuses a missing folder, or one without a model, in one line", async () => {
  const root = await Deno.makeTempDir();
  await assertRefuses(
    [`--results=${root}/none`],
    /no results folder at .*\/none: run `deno task study`/,
  );
  await assertRefuses([`--results=${root}`], /no models in .*: run `deno task study`/);
  await writeModels(root, { denoisers: ["noise"] });
  await assertRefuses([`--results=${root}`], /no models in /);
  assert.deepEqual(await filesIn(root), ["denoise/denoiser-noise.safetensors"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("explore refuses a file where a step's folder belongs in one line, exit 2", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(join(root, "train"), "not a folder\n");
  await assertRefuses(
    [`--results=${root}`],
    /\/train is a file, where a step's result folder belongs: move it away$/,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("explore refuses a model file that is not what its place says (an autoencoder, the classifier), naming it", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["sweep/model-d2.safetensors", new TextEncoder().encode("not weights"), /too short|header/],
    [
      "train/model.safetensors",
      encodeSafetensors({ bias: { shape: [1], data: Float32Array.of(0) } }, {
        kind: "autoencoder",
        hidden: "4",
        dropout: "0",
      }),
      /unexpected tensors bias/,
    ],
    [
      "denoise/denoiser-noise.safetensors",
      encodeSafetensors({}, { kind: "classifier" }),
      /holds a digit classifier, not an autoencoder/,
    ],
    [
      "classify/classifier.safetensors",
      encodeSafetensors({}, { kind: "autoencoder", hidden: "4", dropout: "0" }),
      /holds an autoencoder, not a digit classifier/,
    ],
  ];
  for (const [file, bytes, message] of cases) {
    const root = await Deno.makeTempDir();
    await writeModels(root, { trained: 4, sweep: [1] });
    await Deno.mkdir(join(root, file, ".."), { recursive: true });
    await Deno.writeFile(join(root, file), bytes);
    await assertRefuses([`--results=${root}`], new RegExp(`${root}/${file}:? .*${message.source}`));
    await Deno.remove(root, { recursive: true });
  }
  const root = await Deno.makeTempDir();
  await writeModels(root, { sweep: [3] });
  await Deno.rename(
    join(root, "sweep/model-d3.safetensors"),
    join(root, "sweep/model-d5.safetensors"),
  );
  await assertRefuses(
    [`--results=${root}`],
    /model-d5.safetensors: a model with d = 3, not the d = 5/,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("explore refuses a port in use and bad flags in one line", async () => {
  const root = await Deno.makeTempDir();
  await writeModels(root, { trained: 2 });
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  await assertRefuses(
    [`--results=${root}`, `--port=${port}`],
    new RegExp(`127.0.0.1:${port} is in use: stop what listens there, or pass another --port`),
  );
  await assertRefuses([`--results=${root}`, "--port=70000"], /--port must be at most 65535/);
  await assertRefuses([`--results=${root}`, "--digits=0"], /--digits must be an integer ≥ 1/);
  await assertRefuses([`--results=${root}`, "--digits=10001"], /--digits must be at most 10000/);
  await assertRefuses(
    [`--results=${root}`, "--digits=20"],
    /^error: --digits 20: the first 20 test digits hold no 8, and the page needs every class$/,
  );
  await assertRefuses([`--results=${root}`, "--open"], /Unknown option '--open'/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("explore serves the page, the manifest, the digits and the models on loopback", async () => {
  const root = await Deno.makeTempDir();
  const models = await writeModels(root, {
    trained: 4,
    sweep: [2, 1],
    denoisers: ["noise"],
    classifier: true,
  });
  await using explorer = await startExplorer([`--results=${root}`, "--port=0", "--digits=100"]);
  assert.match(explorer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const get = async (path: string) => {
    const response = await fetch(new URL(path, explorer.url));
    assert.equal(response.status, 200, path);
    return new Uint8Array(await response.arrayBuffer());
  };
  assert.match(new TextDecoder().decode(await get("")), /<script type="module" src="explore.js">/);
  assert.ok((await get("explore.js")).length > 500_000);
  const manifest: ExplorerManifest = JSON.parse(
    new TextDecoder().decode(await get("explore.json")),
  );
  assert.deepEqual(manifest.models.map(({ file, role, hidden }) => [file, role, hidden]), [
    ["train/model.safetensors", "trained", 4],
    ["sweep/model-d1.safetensors", "sweep", 1],
    ["sweep/model-d2.safetensors", "sweep", 2],
    ["denoise/denoiser-noise.safetensors", "denoiser", 4],
  ]);
  assert.equal(manifest.digits, 100);
  assert.equal(manifest.classifier, "classify/classifier.safetensors");
  assert.deepEqual(decodeDigitsFile(await get("digits.bin"), "served"), await testDigits(100));
  for (const file of models) {
    assert.deepEqual(await get(`results/${file}`), await Deno.readFile(join(root, file)));
  }
  const stopped = await explorer.stop();
  assert.match(stopped, /serving 4 models and the digit classifier of .* read-only/);
  // It keeps no progress: its stop says nothing of a rerun resuming.
  assert.match(stopped.trim().split("\n").at(-1)!, /^stopped by SIGTERM$/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("explore --build writes the same page as a static site, with the models it needs", async () => {
  const root = await Deno.makeTempDir();
  const results = join(root, "results");
  await writeModels(results, { trained: 3, denoisers: ["occlusion"], classifier: true });
  await Deno.writeTextFile(join(results, "train", "history.json"), "{}");
  const site = join(root, "site");
  const run = await runScript("scripts/explore.ts", [
    `--results=${results}`,
    `--build=${site}`,
    "--digits=100",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await filesIn(site), [
    "digits.bin",
    "explore.js",
    "explore.json",
    "index.html",
    "results/classify/classifier.safetensors",
    "results/denoise/denoiser-occlusion.safetensors",
    "results/train/model.safetensors",
    "style.css",
    "wasm/tfjs-backend-wasm-simd.wasm",
    "wasm/tfjs-backend-wasm-threaded-simd.wasm",
    "wasm/tfjs-backend-wasm.wasm",
  ]);
  for (
    const file of [
      "train/model.safetensors",
      "denoise/denoiser-occlusion.safetensors",
      "classify/classifier.safetensors",
    ]
  ) {
    assert.deepEqual(
      await Deno.readFile(join(site, "results", file)),
      await Deno.readFile(join(results, file)),
    );
  }
  assert.equal(decodeDigitsFile(await Deno.readFile(join(site, "digits.bin")), "site").count, 100);
  await Deno.remove(root, { recursive: true });
});
