/**
 * The bench's PyTorch peer as the bench sees it: the Pythons tried in turn (one not found, one without
 * torch), the JSON line of the first that has it, and a peer that fails. Stand-in Pythons answer as
 * `bench/torch_peer.py` does, so that no torch is needed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runPeer } from "../bench/peer.ts";

const WORK = {
  imagesFile: "images.u8",
  batchSize: 256,
  epochs: 1,
  warmupSteps: 2,
  hidden: 4,
  dropout: 0.1508,
  lr: 3.47e-4,
  l2: 4.65e-6,
};

/** An executable that stands in for a Python: prints `stdout` and exits with `code`. */
async function standIn(folder: string, name: string, stdout: string, code: number) {
  const path = join(folder, name);
  await Deno.writeTextFile(path, `#!/bin/sh\necho '${stdout}'\necho "$@" >&2\nexit ${code}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("runPeer takes the first Python with torch and reads its JSON line", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const noTorch = await standIn(folder, "no-torch", '{"error": "torch is missing"}', 3);
    const line = JSON.stringify({ device: "cpu", samples_per_second: 1234.5, torch: "1.13" });
    const torch = await standIn(folder, "torch", line, 0);
    const run = await runPeer(
      { label: "PyTorch eager", pythons: [join(folder, "absent"), noTorch, torch] },
      WORK,
    );
    assert.deepEqual(run, { label: "PyTorch eager", ...JSON.parse(line) });

    const missing = await runPeer({ label: "PyTorch eager", pythons: [noTorch] }, WORK);
    assert.deepEqual(missing, {
      label: "PyTorch eager",
      missing: `the PyTorch eager peer is missing (${noTorch}: no torch)`,
    });

    const failing = await standIn(folder, "failing", "", 1);
    const failed = await runPeer(
      { label: "PyTorch graph", pythons: [failing], args: ["--mode=graph"] },
      WORK,
    );
    // The peer's last lines of standard error: here the arguments it was given, its own last.
    assert.ok("missing" in failed);
    assert.match(
      failed.missing,
      /^the PyTorch graph peer failed with .*failing: .*--l2=0\.00000465 --mode=graph$/,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("runPeer leaves out a mode that cannot run here, saying why in the peer's words", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const noCuda = await standIn(folder, "no-cuda", '{"error": "graph mode needs CUDA"}', 4);
    const run = await runPeer(
      { label: "PyTorch CUDA graph", pythons: [noCuda], args: ["--mode=graph"] },
      WORK,
    );
    assert.deepEqual(run, {
      label: "PyTorch CUDA graph",
      missing: "no PyTorch CUDA graph peer here: graph mode needs CUDA",
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("the torch peer's vmap mode trains a stacked population on the CPU, where torch.func is", async () => {
  // Debian's torch 1.13 has no torch.func: then the mode says so (exit 4), which is what it must say.
  const images = await Deno.makeTempFile();
  try {
    await Deno.writeFile(images, new Uint8Array(784 * 8).map((_, i) => (i * 37) % 256));
    const output = await new Deno.Command("/usr/bin/python3", {
      args: [
        "bench/torch_peer.py",
        `--images-file=${images}`,
        "--mode=vmap",
        "--device=cpu",
        "--models=3",
        "--batch-size=4",
        "--steps=2",
        "--warmup-steps=1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const line = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
    if (output.code === 4) {
      assert.match(line.error, /vmap mode needs torch\.func/);
      return;
    }
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.equal(line.models, 3);
    assert.equal(line.steps, 2);
    assert.ok(Number.isFinite(line.loss) && line.loss > 0 && line.loss < 1, JSON.stringify(line));
    assert.ok(
      Math.abs(line.samples_per_second - 3 * line.per_model) < 1e-6 * line.samples_per_second,
    );
  } finally {
    await Deno.remove(images);
  }
});
