import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeGif } from "../lib/figures/gif.ts";
import { decodePng } from "../lib/figures/png.ts";
import { assertRefuses, runScript } from "./_scripts.ts";

Deno.test("the study runs every step, its report shows figures that all decode, and a rerun keeps them", async () => {
  const out = await Deno.makeTempDir();
  const run = await runScript("scripts/study.ts", ["--profile=tiny", `--out=${out}`]);
  assert.equal(run.code, 0, run.stderr);
  // After the search, train's, the sweep's and the denoisers' models train as one population, before
  // the train step; each of those steps then finds its trainings done and trains no epoch itself.
  assert.match(
    run.stderr,
    /^study 2\/7: train \(together\) --train=\[.*\] --sweep=\[.*\] --denoise=\[/m,
  );
  assert.match(run.stderr, /^train \+ sweep \+ denoisers epoch 1\/1 .* 6 models/m);
  assert.doesNotMatch(run.stderr, /^(train d = 4|sweep|denoisers) .*epoch/m);
  const report = await Deno.readTextFile(join(out, "REPORT.md"));
  const headings = report.match(/^## .*/gm) ?? [];
  // The reproduction table first, then one section per step.
  assert.equal(headings.length, 8, headings.join("\n"));
  assert.equal(headings[0], "## Reproduction of the study");
  // At the tiny budget every number of the study is out of reach, and says so.
  const table = report.slice(report.indexOf(headings[0]), report.indexOf(headings[1]));
  assert.match(
    table,
    /\| test loss of the d = 4 model with the study's parameters after 150 epochs \| 0\.02995 \|.*\*\*not comparable\*\*/,
  );
  assert.match(table, /\| test loss falls with the hidden size \(d = 1…2\) \|/);
  const figures = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]);
  for (const folder of ["train", "search", "sweep", "classify", "corrupt", "denoise", "morph"]) {
    assert.ok(figures.some((figure) => figure.startsWith(`${folder}/`)), `no ${folder} figure`);
  }
  for (const figure of figures) {
    const bytes = await Deno.readFile(join(out, figure));
    if (figure.endsWith(".gif")) {
      const gif = decodeGif(bytes);
      assert.equal(gif.frames.length, 4, figure);
      // a morph's frames, or several random paths' side by side
      assert.ok(gif.width % 84 === 0 && gif.height === 84, `${figure}: ${gif.width}×${gif.height}`);
    } else {
      const png = decodePng(bytes);
      assert.ok(png.width >= 84 && png.height >= 84, `${figure}: ${png.width}×${png.height}`);
    }
  }
  // identity: its curves and heat maps beside the losses, the figures captioned with the readings
  for (const folder of ["corrupt", "denoise"]) {
    for (
      const file of [
        "noise-identity",
        "occlusion-identity",
        "noise-confusion",
        "occlusion-confusion",
      ]
    ) {
      assert.ok(figures.includes(`${folder}/${file}.png`), `${folder}/${file}.png`);
    }
  }
  assert.match(report, /The classifier reads the reconstructions \(true → read\) \d → \d/);
  assert.match(report, /of 10 \(\d+\.\d%\) are read as their own class/);
  assert.match(report, /Is the encoded space regular\?/);
  // every step's caption sentence follows its figure
  assert.doesNotMatch(report, /\]\([^)]+\)\n\n(!|##|$)/);

  const again = await runScript("scripts/study.ts", ["--profile=tiny", `--out=${out}`]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr.match(/done earlier with the same flags, kept/g)?.length, 7);
  await Deno.remove(out, { recursive: true });
});

for (
  const [flags, message] of [
    [["--profile=huge"], /--profile must be one of quick, tiny, full/],
    [["--engine=turbo"], /--engine must be one of auto, workers, fused, wasm, tfjs/],
    [["--workers=0"], /--workers must be an integer ≥ 1, got 0/],
    [["--seed=-1"], /--seed must be an integer in 0…4294967295/],
    [["--seed=4294967296"], /--seed must be an integer in 0…4294967295 .*, got 4294967296$/],
  ] as const
) {
  Deno.test(`study refuses ${flags.join(" ")} with one line and exit code 2`, () =>
    assertRefuses("scripts/study.ts", [...flags], message));
}
