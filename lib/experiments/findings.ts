/**
 * The study's findings (its numbers are in `paper.ts`), and how a run is judged against each: a
 * criterion, this run's value, and a verdict — reproduced, not reproduced, or not comparable at this
 * budget (saying why) — computed from the run's own results. Each experiment states the findings it can
 * judge in its report section; the report gathers them into one table at its top.
 *
 * @module
 */
import { STUDY } from "../paper.ts";
import type { Finding } from "../report.ts";

/** How close a number must come to the study's to count as reproduced: within 10%. */
export const TOLERANCE = 0.1;

/** Spearman's ρ of test loss with d at or below which the loss counts as falling with d. */
export const FALLING_RHO = -0.9;

/** R² at or above which the loss counts as exponential in d (ln(loss) linear in d). */
export const EXPONENTIAL_R2 = 0.8;

/** The budget a run trained with, to tell whether a number is comparable with the study's. */
export interface Budget {
  epochs: number;
  trainImages: number;
  /** The test images its loss is measured on (the study's: all 10,000). */
  testImages?: number;
}

/**
 * Why a budget cannot be compared with the study's (`epochs` on its 50,000 images), or undefined when it
 * can.
 *
 * @example
 * ```ts
 * import { budgetGap } from "./findings.ts";
 * console.log(budgetGap({ epochs: 6, trainImages: 30000 }, 150));
 * // "trained 6 of the study's 150 epochs on 30000 of its 50000 images"
 * ```
 */
export function budgetGap(budget: Budget, epochs: number): string | undefined {
  const testImages = budget.testImages ?? STUDY.testImages;
  if (
    budget.epochs >= epochs && budget.trainImages >= STUDY.trainImages &&
    testImages >= STUDY.testImages
  ) return undefined;
  const tested = testImages < STUDY.testImages ? `, scored on ${testImages} test images` : "";
  return `trained ${budget.epochs} of the study's ${epochs} epochs on ${budget.trainImages} of its ` +
    `${STUDY.trainImages} images${tested}`;
}

/**
 * A number of the study judged by closeness: reproduced within {@link TOLERANCE} of the study's value, not
 * comparable where the budget falls short of the study's.
 *
 * @example
 * ```ts
 * import { closeTo } from "./findings.ts";
 * const row = closeTo("d = 4 test loss", 0.02995, 0.0310, { epochs: 150, trainImages: 50000 }, 150);
 * console.log(row.verdict); // "reproduced"
 * ```
 */
export function closeTo(
  finding: string,
  study: number,
  measured: number | null,
  budget: Budget,
  studyEpochs: number,
): Finding {
  const criterion = `within ${TOLERANCE * 100}% of ${study}`;
  const base = { finding, study: String(study), criterion };
  if (measured === null || !Number.isFinite(measured)) {
    return { ...base, measured: "diverged", verdict: "not reproduced", why: "training diverged" };
  }
  const shown = measured.toFixed(5);
  const gap = budgetGap(budget, studyEpochs);
  const off = (measured - study) / study;
  const distance = `${off >= 0 ? "+" : "−"}${Math.abs(100 * off).toFixed(1)}%`;
  if (gap) {
    return { ...base, measured: shown, verdict: "not comparable", why: `${gap} (${distance})` };
  }
  return Math.abs(off) <= TOLERANCE
    ? { ...base, measured: shown, verdict: "reproduced", why: `${distance} from the study's` }
    : { ...base, measured: shown, verdict: "not reproduced", why: `${distance} from the study's` };
}

/**
 * A finding judged by a condition that holds at any budget: reproduced when `holds`, else not reproduced,
 * with `why` saying what was measured.
 */
export function holdsWhen(
  finding: string,
  study: string,
  criterion: string,
  measured: string,
  holds: boolean,
  why: string,
): Finding {
  return {
    finding,
    study,
    measured,
    criterion,
    verdict: holds ? "reproduced" : "not reproduced",
    why,
  };
}
