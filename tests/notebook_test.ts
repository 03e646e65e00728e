/**
 * `lib/notebook.ts` and `notebooks/study.ipynb`: training in one call, the one line of a cell run too
 * early, a notebook whose cells ask for the cells they need by their titles — and, where
 * `AELAB_EXECUTED_NOTEBOOK` names the notebook executed by `notebooks/check.sh`, its figures and tables.
 */
import assert from "node:assert/strict";
import { decodeGif } from "../lib/figures/gif.ts";
import { decodePng } from "../lib/figures/png.ts";
import { CellOrderError, ranFirst, trainAutoencoders } from "../lib/notebook.ts";
import { meanLoss } from "../lib/predict.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { datasetOf } from "../lib/train/trainer.ts";

/** A cell of a notebook, as nbformat 4 stores it. */
interface Cell {
  cell_type: "markdown" | "code";
  source: string[];
  execution_count?: number | null;
  outputs?: Output[];
}

/** An output of a code cell. */
interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string[];
  data?: Record<string, string | string[]>;
}

async function cellsOf(path: string): Promise<Cell[]> {
  return JSON.parse(await Deno.readTextFile(path)).cells;
}

const text = (lines: string[] | string) => Array.isArray(lines) ? lines.join("") : lines;

Deno.test("trainAutoencoders trains a population in one call and hands back each model and its losses", async () => {
  const { train, test } = await loadMnist();
  const [trainSet, testSet] = [takeDigits(train, 300), takeDigits(test, 100)].map(datasetOf);
  const trained = await trainAutoencoders(
    [2, 3].map((hidden) => ({ hidden, train: trainSet, test: testSet })),
    { epochs: 2, lr: 0.003, dropout: 0, batchSize: 64 },
  );
  assert.deepEqual(trained.map(({ model }) => model.config), [
    { hidden: 2, dropout: 0 },
    { hidden: 3, dropout: 0 },
  ]);
  for (const { model, history } of trained) {
    assert.deepEqual(history.map((record) => record.epoch), [1, 2]);
    // the model handed back is the one whose test loss the last epoch measured
    const loss = await meanLoss(model, testSet.inputs);
    assert.ok(Math.abs(loss - history[1].testLoss!) < 1e-5, `${loss} vs ${history[1].testLoss}`);
    model.dispose();
  }
});

Deno.test("a cell run before the one it needs says which to run, in one line", () => {
  assert.equal(ranFirst(4, "Train the d = 4 model"), 4);
  assert.throws(() => ranFirst(undefined, "Train the d = 4 model"), (error) => {
    assert.ok(error instanceof CellOrderError);
    assert.equal(error.message, "run the cell 'Train the d = 4 model' first");
    assert.equal(error.stack, error.message, "no stack trace under the cell");
    return true;
  });
});

Deno.test("the notebook is saved without outputs, and each cell asks for an earlier cell by its title", async () => {
  const cells = await cellsOf("notebooks/study.ipynb");
  const headings: string[] = [];
  for (const cell of cells) {
    const source = text(cell.source);
    if (cell.cell_type === "markdown") {
      headings.push(...[...source.matchAll(/^## (.+)$/gm)].map(([, title]) => title));
      continue;
    }
    assert.deepEqual(cell.outputs, [], source);
    assert.equal(cell.execution_count, null);
    for (const [, title] of source.matchAll(/ranFirst\(\w+, "([^"]+)"\)/g)) {
      assert.ok(headings.slice(0, -1).includes(title), `no cell '${title}' before:\n${source}`);
    }
    for (const [, path] of source.matchAll(/from "([^"]+)"/g)) assert.equal(path, "../mod.ts");
  }
  assert.ok(headings.includes("Train the d = 4 model"));
});

Deno.test({
  name: "the executed notebook shows each cell's figures, tables and progress, and no cell failed",
  ignore: Deno.env.get("AELAB_EXECUTED_NOTEBOOK") === undefined,
  async fn() {
    const cells = await cellsOf(Deno.env.get("AELAB_EXECUTED_NOTEBOOK")!);
    const code = cells.filter((cell) => cell.cell_type === "code");
    assert.ok(code.every((cell) => cell.execution_count !== null), "every cell ran");
    // each code cell's outputs under the title of the section it is in, so that a missing figure
    // names its cell
    const sections = new Map<string, Output[]>();
    let title = "";
    for (const cell of cells) {
      if (cell.cell_type === "markdown") {
        title = text(cell.source).match(/^## (.+)$/m)?.[1] ?? title;
      } else sections.set(title, [...(sections.get(title) ?? []), ...cell.outputs!]);
    }
    const outputs = [...sections.values()].flat();
    assert.deepEqual(outputs.filter((output) => output.output_type === "error"), []);
    const kinds = (section: string) =>
      (sections.get(section) ?? []).flatMap((output) => Object.keys(output.data ?? {}));
    const expected: Record<string, string[]> = {
      "Load MNIST": ["image/png"],
      "Its loss": ["image/svg+xml"],
      "Reconstructions": ["image/png"],
      "Sweep the latent size": ["text/markdown", "image/svg+xml"],
      "Corrupt and denoise": ["text/markdown", "image/png"],
      "Morph two digits": ["image/png", "image/gif"],
    };
    for (const [section, types] of Object.entries(expected)) {
      const shown = kinds(section);
      assert.deepEqual(shown, types, `'${section}' shows ${shown.join(", ") || "nothing"}`);
    }
    const data = (type: string) =>
      outputs.flatMap((output) =>
        output.data?.[type] === undefined ? [] : [text(output.data[type])]
      );
    const bytes = (base64: string) =>
      Uint8Array.from(atob(base64.replace(/\s/g, "")), (c) => c.charCodeAt(0));
    // digits, reconstructions, the denoised digits, the morph's frames
    const pngs = data("image/png").map((base64) => decodePng(bytes(base64)));
    assert.ok(pngs.every(({ width, height }) => width > 100 && height > 50));
    const [loss, fit] = data("image/svg+xml");
    assert.match(loss, /^<svg[^]*Loss per epoch, d = 4[^]*<\/svg>/);
    assert.match(fit, /^<svg[^]*Test loss against latent size[^]*<\/svg>/);
    assert.match(fit, /exponential fit/);
    const [morph] = data("image/gif").map((base64) => decodeGif(bytes(base64)));
    assert.equal(morph.frames.length, 12);
    const tables = data("text/markdown");
    assert.match(tables[0], /^\| d \| test loss \|\n\| --- \| --- \|\n\| 1 \| 0\.\d{5} \|/);
    assert.match(tables[1], /^\| noisy test digits \| loss against the clean \|/);
    const stderr = outputs.filter((output) => output.name === "stderr").map((o) => text(o.text!));
    assert.ok(stderr.some((lines) => /^train epoch 1\/1 █+ /m.test(lines)), "progress per epoch");
    assert.ok(stderr.some((lines) => /^sweep epoch 1\/1 █+ .* 3 models/m.test(lines)));
  },
});
