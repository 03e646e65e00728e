/**
 * What `deno task corrupt` leaves, from what `corrupt.ts` measured: the curves (`<kind>-curve.*`),
 * identity's files (`identity.ts`), the best and worst digits of each corruption
 * (`<kind>-{best,worst}.png`), `curves.json` and the report's section.
 *
 * @module
 */
import { join } from "node:path";
import { describeCorruption } from "../corrupt.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { publishSection, type ReportItem } from "../report.ts";
import type { CorruptResults } from "./corrupt.ts";
import { writeIdentityResults } from "./identity.ts";
import { curveTable, writeCurve } from "./robustness.ts";

/** Writes `results`' curves, identity, figures, `curves.json` and report section into `out`. */
export async function writeCorruptResults(out: string, results: CorruptResults): Promise<void> {
  const { settings, hidden, backend, curves, examples, digits } = results;
  const figures = examples.map(({ corruption }) => ({
    best: `${corruption.kind}-best.png`,
    worst: `${corruption.kind}-worst.png`,
  }));
  for (const [e, example] of examples.entries()) {
    for (const which of ["best", "worst"] as const) {
      await writeFileAtomic(join(out, figures[e][which]), encodeDigitGrid(example.rows[which]));
    }
  }
  const charts: string[] = [];
  for (const curve of curves) charts.push(await writeCurve(out, curve));
  const identityItems = await writeIdentityResults(out, results.identity);
  await writeJsonAtomic(join(out, "curves.json"), {
    model: settings.model,
    classifier: settings.classifier,
    hidden,
    backend: backend.backend,
    adapter: backend.adapter,
    inference: results.inference,
    seed: results.seed,
    testImages: results.testImages,
    cleanLoss: results.cleanLoss,
    curves,
    identity: results.identity,
    examples: examples.map(({ corruption, meanLoss, best, worst, readings }, e) => ({
      corruption,
      meanLoss,
      best,
      worst,
      figures: figures[e],
      readings,
    })),
  });
  const underEach = examples.map((e) =>
    `${e.meanLoss.toFixed(5)} under ${describeCorruption(e.corruption)}`
  );
  const items: ReportItem[] = [{
    kind: "text",
    text:
      `The trained d = ${hidden} model on ${results.testImages} test images (${results.inference}): ` +
      `loss ${results.cleanLoss.toFixed(5)} on clean images, ${underEach.join(" and ")}, each ` +
      `against the clean image.`,
  }];
  curves.forEach((curve, i) => {
    items.push({
      kind: "figure",
      file: charts[i],
      caption: `Test loss against the clean image as the ${
        curve.kind === "noise" ? "noise grows" : "occluding square grows"
      }.`,
    });
    items.push({
      kind: "table",
      caption: `The ${curve.kind} curve's values.`,
      ...curveTable(curve, 5),
    });
  });
  items.push(...identityItems);
  for (const [e, example] of examples.entries()) {
    for (const which of ["best", "worst"] as const) {
      const misread = example[which].filter((pick) => pick.reading !== pick.label).length;
      items.push({
        kind: "figure",
        file: figures[e][which],
        caption:
          `The ${digits} ${which}-reconstructed test digits under ${
            describeCorruption(example.corruption)
          }, by loss: original, corrupted, reconstructed (rows). The classifier reads the ` +
          `reconstructions (true → read) ${example.readings[which]}: ${misread} of ` +
          `${digits} came back as another digit.`,
      });
    }
  }
  await publishSection(out, { title: "Corrupted inputs", items });
}
