/**
 * The bench's PyTorch peer as the bench sees it: the Pythons tried in turn (one not found, one without
 * torch), the JSON line of the first that has it, and a peer that fails. Stand-in Pythons answer as
 * `bench/torch_peer.py` does, so that no torch is needed; the real peer, where Debian's Python has
 * torch, ends with its parent.
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

/** Whether Debian's Python has torch, which the real peer needs to run on. */
const HAS_TORCH = await new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import torch"],
  stdout: "null",
  stderr: "null",
}).output().then((output) => output.success, () => false);

/** The state of process `pid` (`R`, `S`, `Z`, …), undefined once it is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** Waits until `condition` holds, looking every 50 ms; fails saying `what` after a minute without. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    assert.ok(waited < 60_000, `still not ${what} after a minute`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name: "the torch peer ends when the process that started it is killed with SIGKILL",
  ignore: !HAS_TORCH,
  fn: async () => {
    const images = await Deno.makeTempFile();
    await Deno.writeFile(images, new Uint8Array(784 * 8).map((_, i) => (i * 37) % 256));
    // Its parent a shell that waits for it, as the bench does; it would train for days.
    const peer = `/usr/bin/python3 bench/torch_peer.py --images-file=${images} --device=cpu ` +
      "--batch-size=4 --epochs=100000000";
    const parent = new Deno.Command("bash", {
      args: ["-c", `${peer} & echo $!; wait`],
      stdout: "piped",
    })
      .spawn();
    const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const pid = Number((await reader.read()).value);
    reader.releaseLock();
    try {
      // Its watch of the parent is a thread of its own, started before anything else.
      await until(() => Array.from(Deno.readDirSync(`/proc/${pid}/task`)).length >= 2, "watching");
      parent.kill("SIGKILL");
      await parent.status;
      // Gone, or a zombie where the adopting process reaps no children.
      await until(() => [undefined, "Z"].includes(processState(pid)), "ended");
    } finally {
      if (processState(pid) !== undefined) Deno.kill(pid, "SIGKILL");
      await parent.stdout.cancel().catch(() => {});
      await Deno.remove(images);
    }
  },
});
