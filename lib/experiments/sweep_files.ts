/**
 * What `deno task sweep` leaves, from what `sweep.ts` summed up: each size's weights
 * (`model-d<d>.safetensors`), the final losses per size with the fitted test loss (`sweep.{json,csv}`),
 * the loss-against-d chart (`loss_vs_hidden.{svg,png}`), the same test digits reconstructed by every size
 * (`reconstructions_by_hidden.png`) and the report's section.
 *
 * @module
 */
import { join } from "node:path";
import { scatterChart, writeChart } from "../figures/charts.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { csvTable, markdownTable, publishSection } from "../report.ts";
import { describeParams } from "../search_space.ts";
import { signed, type SweepResults, type SweepTrend } from "./sweep.ts";

/**
 * Writes every size's weights, `sweep.{json,csv}`, `loss_vs_hidden.{svg,png}`,
 * `reconstructions_by_hidden.png` and the report section into `out`; returns the table as Markdown.
 * Where every size diverged, it throws after writing them.
 */
export async function writeSweepResults(out: string, sweep: SweepResults): Promise<string> {
  const { sizes, params, results, trend } = sweep;
  const converged = results.filter((r) => r.finalTestLoss !== null);

  // Weights of each size that converged, and the same test digits reconstructed by each.
  for (const [i, hidden] of sizes.entries()) {
    const weightsPath = join(out, `model-d${hidden}.safetensors`);
    const model = sweep.models[i];
    if (model) await model.save(weightsPath);
    else await Deno.remove(weightsPath).catch(() => {}); // none of an earlier run beside these results
  }
  await writeFileAtomic(
    join(out, "reconstructions_by_hidden.png"),
    encodeDigitGrid(sweep.preview, { separateAfter: [0] }),
  );

  // The chart of loss against d with the fit.
  const lossFigure = "loss_vs_hidden";
  if (converged.length > 0) {
    await writeChart(
      join(out, lossFigure),
      await scatterChart({
        title: trend.fit
          ? `Final test loss against hidden size (×${
            trend.fit.factorPerUnit.toFixed(3)
          } per unit of d)`
          : "Final test loss against hidden size",
        x: { title: "hidden size d", values: converged.map((r) => r.hidden), whole: true },
        y: {
          title: "final test loss (MSE per pixel)",
          values: converged.map((r) => r.finalTestLoss!),
          log: true,
        },
        trend: trend.fit ? "exponential" : undefined,
      }),
    );
  } else {
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${lossFigure}.${extension}`)).catch(() => {});
    }
  }

  // The table (JSON, CSV, report), with the fitted loss beside each measured one.
  const fitted = (hidden: number) =>
    trend.fit ? trend.fit.scale * Math.exp(trend.fit.rate * hidden) : null;
  const headers = [
    "d",
    "final train loss",
    "final validation loss",
    "final test loss",
    "fitted test loss",
  ];
  const tableRows = (show: (value: number | null) => string | number) =>
    results.map((r) => [
      r.hidden,
      ...[r.finalTrainLoss, r.finalValidationLoss, r.finalTestLoss, fitted(r.hidden)].map(show),
    ]);
  await writeJsonAtomic(join(out, "sweep.json"), {
    params,
    epochs: params.epochs,
    batchSize: params.batchSize,
    seed: sweep.seed,
    trainImages: sweep.trainImages,
    testImages: sweep.testImages,
    fit: trend.fit,
    spearman: trend.spearman,
    sizes: results,
  });
  await writeFileAtomic(
    join(out, "sweep.csv"),
    csvTable(headers, tableRows((value) => value ?? "diverged")),
  );
  const shownRows = tableRows((value) => value === null ? "diverged" : value.toFixed(5));
  const diverged = results.filter((r) => r.diverged).map((r) => `d = ${r.hidden}`);
  const trained = `One model per latent size d = ${sizes.join(", ")}, each trained ` +
    `${params.epochs} epochs on ${sweep.trainImages} images with ${describeParams(params)} ` +
    `(${params.source}); losses on ${sweep.testImages} test images.`;
  await publishSection(out, {
    title: "Hidden-layer size",
    findings: sweep.findings,
    items: [
      {
        kind: "text",
        text: trained + (diverged.length > 0 ? ` Diverged: ${diverged.join(", ")}.` : "") +
          describeTrend(trend),
      },
      ...(converged.length > 0
        ? [{
          kind: "figure" as const,
          file: `${lossFigure}.png`,
          caption:
            "Final test loss of each size on a log scale, with an exponential fitted to it " +
            "(drawn by Vega-Lite's regression; the table's fit is least squares on ln(loss)): a " +
            "straight line means each unit of d cuts the loss by the same factor.",
        }]
        : []),
      {
        kind: "figure",
        file: "reconstructions_by_hidden.png",
        caption:
          `The first ${sweep.preview[0].length} test digits (top, set apart by a white line) and ` +
          `their reconstructions by d = ${
            sizes.filter((_, i) => !results[i].diverged).join(", ")
          }, one row each, top to bottom.`,
      },
      {
        kind: "table",
        caption: "Final losses per size, and the fitted test loss.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (converged.length === 0) throw new Error(`every size diverged; wrote ${out}/`);
  return markdownTable(headers, shownRows);
}

/** The trend in words, as the report states it. */
function describeTrend({ fit, spearman }: SweepTrend): string {
  if (!fit || spearman === null) return "";
  return ` The final test loss changes by a factor of ${
    fit.factorPerUnit.toFixed(3)
  } per unit of ` +
    `d: ln(loss) = ${signed(Math.log(fit.scale), 3)} ${fit.rate < 0 ? "−" : "+"} ` +
    `${Math.abs(fit.rate).toFixed(4)}·d (least squares, R² = ${fit.r2.toFixed(3)}); Spearman's ` +
    `ρ of loss with d is ${signed(spearman, 3)}.`;
}
