/**
 * What `deno task search` leaves, from its ranked trials (`search.ts`): the ranked table
 * (`trials.{json,csv}`), the validation loss against the parameters (`loss_vs_params.{svg,png}`), the best
 * parameters (`best_params.json`) and the report section.
 *
 * @module
 */
import { join } from "node:path";
import { scatterChart, writeChart } from "../figures/charts.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { csvTable, markdownTable, publishSection, type ReportItem } from "../report.ts";
import { BEST_PARAMS_FILE, describeParams, type TrialRecord } from "../search_space.ts";
import { median } from "../stats.ts";
import { lrAgainstStudy, type SearchResults, STUDY_TRIAL } from "./search.ts";

/** How the table shows each kind of number. */
const FORMATS = {
  dropout: (value: number) => value.toFixed(4),
  rate: (value: number) => value.toExponential(2),
  loss: (value: number) => value.toFixed(5),
};

/**
 * Writes `trials.{json,csv}`, `loss_vs_params.{svg,png}`, `best_params.json` and the report section into
 * `out`; returns the ranked table as Markdown. With no converged trial, no parameters are recommended
 * and it throws after writing the table.
 */
export async function writeSearchResults(out: string, results: SearchResults): Promise<string> {
  const { folds, rungs, ranked, best } = results;
  // The drawn trials that converged: what the figure shows (the study's parameters are in the table).
  const finished = ranked.filter((trial) => !trial.diverged && !trial.study);
  const foldHeaders = folds === 1 ? [] : Array.from({ length: folds }, (_, f) => `fold ${f + 1}`);
  const headers = [
    "rank",
    "trial",
    "dropout",
    "lr",
    "L2",
    "last rung",
    "epochs",
    "validation loss",
    ...foldHeaders,
  ];
  const tableRows = (show: (value: number | null, kind: keyof typeof FORMATS) => string | number) =>
    ranked.map((trial, rank) => [
      rank + 1,
      trial.study ? STUDY_TRIAL : trial.index + 1,
      show(trial.params.dropout, "dropout"),
      show(trial.params.lr, "rate"),
      show(trial.params.l2, "rate"),
      trial.rung + 1,
      trial.epochs,
      show(trial.validationLoss, "loss"),
      ...(folds === 1 ? [] : trial.foldLosses.map((loss) => show(loss, "loss"))),
    ]);
  const shownRows = tableRows((value, kind) => value === null ? "diverged" : FORMATS[kind](value));
  await writeFileAtomic(
    join(out, "trials.csv"),
    csvTable(headers, tableRows((v) => v ?? "diverged")),
  );
  await writeJsonAtomic(join(out, "trials.json"), {
    scheduler: results.scheduler,
    eta: results.eta,
    rungs,
    folds,
    seed: results.seed,
    trials: results.trials,
  });

  const figure = "loss_vs_params";
  if (finished.length > 0) await writeChart(join(out, figure), await lossChart(finished, results));
  else {
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${figure}.${extension}`)).catch(() => {});
    }
  }

  const bestPath = join(out, BEST_PARAMS_FILE.split("/").at(-1)!);
  if (best) {
    await writeJsonAtomic(bestPath, {
      ...best.params,
      validationLoss: best.validationLoss,
      trial: best.index + 1,
      trials: ranked.filter((trial) => !trial.study).length,
      epochs: best.epochs,
      scheduler: results.scheduler,
      folds,
      trainImages: results.trainImages,
      seed: results.seed,
    });
  } else await Deno.remove(bestPath).catch(() => {}); // no stale recommendation beside these trials

  await publishSection(out, {
    title: `Hyper-parameter search: d = ${results.hidden}`,
    findings: results.findings,
    items: [
      { kind: "text", text: describeSearch(results) },
      ...(finished.length > 0
        ? [
          {
            kind: "figure",
            file: `${figure}.png`,
            caption: results.scheduler === "halving"
              ? "Validation loss of each converged trial at its last rung against its learning rate " +
                "(left) and L2 weight decay (right), coloured by the epochs it had trained by then: the " +
                "trials that went on are those that trained best."
              : "Validation loss of each converged trial against its learning rate (left) and L2 " +
                "weight decay (right), coloured by dropout.",
          } satisfies ReportItem,
        ]
        : []),
      {
        kind: "table",
        caption: "All trials, best first: by last rung reached, then by validation loss there; " +
          `diverged ones last. "${STUDY_TRIAL}" is the study's parameters, scored beside the drawn ` +
          "trials at the same budget (going on to a rung where it scores as well as a drawn trial " +
          "that does, taking no place); the pick is the best of the drawn trials only.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (!best) throw new Error(`all ${ranked.length} trials diverged; narrow --lr-range`);
  return markdownTable(headers, shownRows);
}

/** The validation loss of each converged trial at its last rung against its lr and L2. */
function lossChart(finished: TrialRecord[], results: SearchResults) {
  const halving = results.scheduler === "halving";
  const drawn = results.trials.filter((trial) => !trial.study).length;
  return scatterChart({
    title: halving
      ? `Validation loss at each trial's last rung, ${finished.length} of ${drawn} trials`
      : `Validation loss after ${results.rungs[0].epochs} epochs, ${finished.length} of ` +
        `${drawn} trials`,
    x: [
      { title: "learning rate", values: finished.map((t) => t.params.lr), log: true },
      { title: "L2 weight decay", values: finished.map((t) => t.params.l2), log: true },
    ],
    y: {
      title: "validation loss (MSE per pixel)",
      values: finished.map((t) => t.validationLoss!),
      log: true,
    },
    color: halving
      ? { title: "epochs trained", values: finished.map((t) => t.epochs), categorical: true }
      : { title: "dropout", values: finished.map((t) => t.params.dropout) },
    width: 360,
  });
}

/** The search in words: how the trials were drawn, trained and scored, and what won. */
function describeSearch(results: SearchResults): string {
  const { best, ranked } = results;
  const exponent = (value: number) => String(+Math.log10(value).toFixed(2)).replace("-", "−");
  const drawn = `dropout U[0, 0.5], lr 10^U(${
    results.lrRange.map(exponent).join(", ")
  }), L2 10^U(−6, −2)`;
  const scoring = results.folds === 1
    ? `scored on ${results.validationImages} held-out training images (never the test set)`
    : `scored by ${results.folds}-fold cross-validation over the training split`;
  const training = results.scheduler === "halving"
    ? `successive halving (η = ${results.eta}): ${
      results.rungs.map((rung) => `${rung.candidates} trained to ${rung.epochs} epochs`).join(
        ", then ",
      )
    }, each rung's best going on from its own weights and optimiser state`
    : `each trained ${results.rungs[0].epochs} epochs`;
  const result = best
    ? `Best: trial ${best.index + 1}, ${describeParams(best.params)}, validation loss ` +
      `${FORMATS.loss(best.validationLoss!)} after ${best.epochs} epochs, lr ` +
      `${lrAgainstStudy(best.params.lr)} the study's; train, sweep and denoise now use it by ` +
      "default, and train trains the study's parameters beside it, to judge it in the long run. " +
      `${studyRank(ranked)} ${winnersSentence(results)}`
    : "No trial converged, so no parameters are recommended.";
  const drawnTrials = ranked.filter((trial) => !trial.study);
  return `${drawnTrials.length} combinations drawn as the study does (${drawn}), ${training}, on ` +
    `${results.trainImages} images, ${scoring}; ${
      drawnTrials.filter((trial) => trial.diverged).length
    } diverged. ${result}`;
}

/** Where the study's parameters ranked among the trials, in words (nothing where it was not scored). */
function studyRank(ranked: readonly TrialRecord[]): string {
  const rank = ranked.findIndex((trial) => trial.study);
  if (rank < 0) return "";
  const study = ranked[rank];
  const score = study.diverged
    ? "diverged"
    : `validation loss ${FORMATS.loss(study.validationLoss!)} after ${study.epochs} epochs`;
  return `The study's parameters, scored alike, ranked ${rank + 1} of ${ranked.length} (${score}).`;
}

/**
 * Lr factor above all trials' median at which the winners count as clustered at high learning rates:
 * a tenth of the study's three decades of lr.
 */
const HIGH_LR_FACTOR = 2;

/**
 * Whether the search's winners — the drawn trials of its last two rungs (the best 1/η of a one-rung
 * search) — cluster at high learning rates: their median lr against all converged drawn trials', in one
 * sentence.
 */
export function winnersSentence(
  results: Pick<SearchResults, "ranked" | "rungs" | "eta">,
): string {
  const drawn = results.ranked.filter((trial) => !trial.study && !trial.diverged);
  const winners = results.rungs.length >= 2
    ? drawn.filter((trial) => trial.rung >= results.rungs.length - 2)
    : drawn.slice(0, Math.ceil(drawn.length / results.eta));
  const [mine, all] = [winners, drawn].map((trials) => median(trials.map((t) => t.params.lr)));
  const factor = mine / all;
  const which = results.rungs.length >= 2 ? "of the last two rungs" : "of the best third";
  return `The ${winners.length} winners (${which}) have a median lr of ${
    FORMATS.rate(mine)
  } against ${FORMATS.rate(all)} for all ${drawn.length} converged trials (×${
    factor.toFixed(2)
  }): ${
    factor > HIGH_LR_FACTOR
      ? "they cluster at high learning rates."
      : "they do not cluster at high learning rates."
  }`;
}
