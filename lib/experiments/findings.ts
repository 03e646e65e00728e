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
import { type BestParams, describeParams, isStudyParams } from "../search_space.ts";

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
  /**
   * The hyper-parameters it trained with, where a number of the study is comparable only at the study's
   * own (its losses were reached with them); absent where they do not matter.
   */
  params?: BestParams;
}

/**
 * Why a run cannot be compared with the study's: a budget short of it (`epochs` on its 50,000 images,
 * scored on its 10,000 test images), other hyper-parameters than its own, or both; undefined when it
 * can.
 *
 * @example
 * ```ts
 * import { whyNotComparable } from "./findings.ts";
 * console.log(whyNotComparable({ epochs: 6, trainImages: 30000 }, 150));
 * // "trained 6 of the study's 150 epochs on 30000 of its 50000 images"
 * ```
 */
export function whyNotComparable(budget: Budget, epochs: number): string | undefined {
  const testImages = budget.testImages ?? STUDY.testImages;
  const reasons: string[] = [];
  if (
    budget.epochs < epochs || budget.trainImages < STUDY.trainImages ||
    testImages < STUDY.testImages
  ) {
    const tested = testImages < STUDY.testImages ? `, scored on ${testImages} test images` : "";
    reasons.push(
      `trained ${budget.epochs} of the study's ${epochs} epochs on ${budget.trainImages} of its ` +
        `${STUDY.trainImages} images${tested}`,
    );
  }
  if (budget.params && !isStudyParams(budget.params)) {
    reasons.push(`trained with ${describeParams(budget.params)}, not the study's parameters`);
  }
  return reasons.length > 0 ? reasons.join("; ") : undefined;
}

/**
 * A number of the study judged by closeness: reproduced within {@link TOLERANCE} of the study's value, not
 * comparable where the budget falls short of the study's or the parameters are not its own.
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
  const gap = whyNotComparable(budget, studyEpochs);
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

/** How much worse than the study's parameters a search's pick may train and still count as as good. */
export const PICK_MARGIN = 0.03;

/**
 * The finding that a search did its job: its pick, trained the study's epochs, against the study's own
 * parameters trained alike. `search` states it pending, `train` settles it (the same `key`).
 */
export const SEARCH_PICK = {
  key: "search-pick",
  finding: `the search's pick against the study's parameters after ${STUDY.testLoss.epochs} epochs`,
  criterion: `the pick's test loss at most ${100 * PICK_MARGIN}% above the study's parameters'`,
} as const;

/**
 * {@link SEARCH_PICK} judged: reproduced when the pick's test loss is at most {@link PICK_MARGIN} above
 * the study's parameters' (or below), with both losses in the why; not comparable where the budget
 * falls short of the study's.
 *
 * @example
 * ```ts
 * import { searchPickFinding } from "./findings.ts";
 * const budget = { epochs: 150, trainImages: 50000 };
 * console.log(searchPickFinding(0.03063, 0.02868, budget).verdict); // "not reproduced"
 * ```
 */
export function searchPickFinding(
  pick: number | null,
  study: number | null,
  budget: Budget,
): Finding {
  const shown = (loss: number | null) => loss === null ? "diverged" : loss.toFixed(5);
  const base = {
    key: SEARCH_PICK.key,
    finding: SEARCH_PICK.finding,
    study: `the study's parameters: ${shown(study)}`,
    measured: `the search's pick: ${shown(pick)}`,
    criterion: SEARCH_PICK.criterion,
  };
  if (pick === null) {
    return { ...base, verdict: "not reproduced", why: "the search's pick diverged" };
  }
  if (study === null) {
    return {
      ...base,
      verdict: "reproduced",
      why: "the study's parameters diverged, the pick did not",
    };
  }
  const off = (pick - study) / study;
  const losses = `${shown(pick)} against ${shown(study)} (${off >= 0 ? "+" : "−"}${
    Math.abs(100 * off).toFixed(1)
  }%)`;
  const gap = whyNotComparable(budget, STUDY.testLoss.epochs);
  if (gap) return { ...base, verdict: "not comparable", why: `${gap}; ${losses}` };
  return { ...base, verdict: off <= PICK_MARGIN ? "reproduced" : "not reproduced", why: losses };
}

/**
 * {@link SEARCH_PICK} as `search` states it before `train` has trained its pick beside the study's
 * parameters: pending, saying so, until the settled one replaces it in the report.
 */
export function pendingSearchPick(study: string, pick: string): Finding {
  return {
    key: SEARCH_PICK.key,
    pending: true,
    finding: SEARCH_PICK.finding,
    study,
    measured: pick,
    criterion: SEARCH_PICK.criterion,
    verdict: "not comparable",
    why: "the contender is missing: run train again, with the search's pick (it then trains the " +
      "study's parameters beside it)",
  };
}
