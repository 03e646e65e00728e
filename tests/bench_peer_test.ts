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
