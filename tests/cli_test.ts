import assert from "node:assert/strict";
import { helpText, parseFlags, UsageError } from "../lib/cli.ts";
import { SCRIPTS } from "./_faults.ts";
import { runScript } from "./_scripts.ts";

const SPECS = {
  epochs: { type: "number", default: 150, help: "passes over the training images" },
  model: { type: "string", help: "a model to start from" },
  fresh: { type: "boolean", default: false, help: "start over" },
} as const;

Deno.test("help: the usage line, the task's summary, then every flag with its default", () => {
  assert.deepEqual(helpText("train", "trains one autoencoder", SPECS).split("\n"), [
    "usage: deno task train [flags]",
    "",
    "trains one autoencoder",
    "",
    "  --epochs         passes over the training images (default 150)",
    "  --model          a model to start from",
    "  --fresh          start over (default false)",
  ]);
});

Deno.test("flags: the declared defaults, values given, and one usage error naming the task", () => {
  assert.deepEqual({ ...parseFlags([], "train", "", SPECS) }, {
    epochs: 150,
    model: undefined,
    fresh: false,
  });
  assert.deepEqual({ ...parseFlags(["--epochs", "-3", "--fresh"], "train", "", SPECS) }, {
    epochs: -3,
    model: undefined,
    fresh: true,
  });
  assert.throws(
    () => parseFlags(["--epochs", "many"], "train", "", SPECS),
    new UsageError('train: --epochs must be a number, got "many"'),
  );
  assert.throws(() => parseFlags(["--epoch", "3"], "train", "", SPECS), UsageError);
});

Deno.test("every task's --help says what it does in one line, then lists its flags", async () => {
  const tasks = [...SCRIPTS, "explore"];
  const runs = await Promise.all(
    tasks.map((task) => runScript(`scripts/${task}.ts`, ["--help"])),
  );
  for (const [i, { code, stdout }] of runs.entries()) {
    const [usage, gap, summary, gap2, ...flags] = stdout.trimEnd().split("\n");
    assert.equal(code, 0, tasks[i]);
    assert.equal(usage, `usage: deno task ${tasks[i]} [flags]`);
    assert.deepEqual([gap, gap2], ["", ""], tasks[i]);
    assert.match(summary, /^[a-z'].{40,}[a-z)ρ]$/, tasks[i]);
    assert.ok(flags.length >= 3, tasks[i]);
    for (const flag of flags) assert.match(flag, /^ {2}--[a-z0-9-]+ +\S/, tasks[i]);
  }
  const train = runs[tasks.indexOf("train")].stdout;
  assert.match(train, /^ {2}--epochs +passes over the training images \(default 150\)$/m);
});
