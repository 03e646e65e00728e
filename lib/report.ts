/**
 * The study's report: each experiment leaves its section — figures and tables, each with one sentence on
 * what it shows — as `report.json` in its result folder, and `results/REPORT.md` is regenerated from all
 * the sections present, in the study's order.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "./files/atomic.ts";

/** The experiments in the order the report shows them. */
export const EXPERIMENT_ORDER = [
  "train",
  "search",
  "sweep",
  "classify",
  "corrupt",
  "denoise",
  "morph",
  "bench",
];

/** One item of a section: a figure (a file beside `report.json`), a table, or a paragraph. */
export type ReportItem =
  | { kind: "figure"; file: string; caption: string }
  | { kind: "table"; caption: string; headers: string[]; rows: (string | number)[][] }
  | { kind: "text"; text: string };

/**
 * A number or finding of the study judged by a run: the study's value, this run's, the criterion and the
 * verdict (reproduced, not reproduced, or not comparable at this run's budget), with why.
 */
export interface Finding {
  finding: string;
  study: string;
  measured: string;
  criterion: string;
  verdict: "reproduced" | "not reproduced" | "not comparable";
  why: string;
  /** Names a finding that one step may state pending and another settle. */
  key?: string;
  /** Stated before the step that judges it has: the report shows it only until a settled one is there. */
  pending?: boolean;
}

/** What one experiment contributes to the report: its items, and the study's findings it judges. */
export interface ReportSection {
  title: string;
  items: ReportItem[];
  findings?: Finding[];
}

/** The file a section is kept in, inside an experiment's result folder. */
export const SECTION_FILE = "report.json";

/**
 * Saves `section` as `report.json` in `outDir` and regenerates `REPORT.md`: in the folder above `outDir`
 * where `outDir` is named after an experiment (`<results root>/train`: the results root's report, from
 * every experiment folder there that holds a section), else inside `outDir` (its own section alone), so
 * that a run writes nothing outside the folder it was given. Returns the report's path.
 */
export async function publishSection(outDir: string, section: ReportSection): Promise<string> {
  await writeJsonAtomic(join(outDir, SECTION_FILE), section);
  if (EXPERIMENT_ORDER.includes(basename(outDir))) return await writeReport(dirname(outDir));
  return await writeReportFile(outDir, [[".", section]]);
}

/** Regenerates `REPORT.md` in `resultsRoot` from the sections found there; returns its path. */
export async function writeReport(resultsRoot: string): Promise<string> {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(resultsRoot)) {
    if (entry.isDirectory) folders.push(entry.name);
  }
  const rank = (name: string) => {
    const index = EXPERIMENT_ORDER.indexOf(name);
    return index < 0 ? EXPERIMENT_ORDER.length : index;
  };
  folders.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const sections: [string, ReportSection][] = [];
  for (const folder of folders) {
    const path = join(resultsRoot, folder, SECTION_FILE);
    const section = await readSection(path).catch((error: Error) => {
      // One step's broken section does not stop the others' report: it says so in its place.
      const problem = `${path}: unreadable report section (${error.message}); run the ${folder} ` +
        "step again to write it";
      console.error(`report: ${problem}`);
      return { title: folder, items: [{ kind: "text", text: problem }] } satisfies ReportSection;
    });
    if (section) sections.push([folder, section]);
  }
  return await writeReportFile(resultsRoot, sections);
}

/** Writes `REPORT.md` in `folder` from `sections`, each with the folder its figures are in; its path. */
async function writeReportFile(
  folder: string,
  sections: [string, ReportSection][],
): Promise<string> {
  const parts = ["# aelab — results", "", `Generated ${new Date().toISOString()} by aelab.`, ""];
  const findings = settleFindings(sections.flatMap(([, section]) => section.findings ?? []));
  if (findings.length > 0) parts.push(renderFindings(findings));
  for (const [sectionFolder, section] of sections) {
    parts.push(renderSection(section, sectionFolder));
  }
  const report = join(folder, "REPORT.md");
  await writeFileAtomic(report, parts.join("\n"));
  return report;
}

/** The section kept at `path`; undefined where there is none, an error where it is not a section. */
async function readSection(path: string): Promise<ReportSection | undefined> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const section = JSON.parse(text);
  if (typeof section?.title !== "string" || !Array.isArray(section.items)) {
    throw new Error("not a section: no title or items");
  }
  return section;
}

/**
 * The findings the report shows: a pending one is left out where a settled one of its key is there.
 *
 * @example
 * ```ts
 * import { settleFindings } from "./report.ts";
 * const row = { finding: "f", study: "1", measured: "2", criterion: "c", why: "w", key: "k" };
 * const pending = { ...row, verdict: "not comparable", pending: true } as const;
 * const settled = { ...row, verdict: "reproduced" } as const;
 * console.log(settleFindings([pending, settled]).length); // 1
 * ```
 */
export function settleFindings(findings: readonly Finding[]): Finding[] {
  const settled = new Set(findings.filter((f) => !f.pending && f.key).map((f) => f.key));
  return findings.filter((f) => !(f.pending && settled.has(f.key)));
}

/** The findings as the reproduction table the report opens with. */
function renderFindings(findings: Finding[]): string {
  const headers = ["finding", "the study", "this run", "criterion", "verdict"];
  const rows = findings.map((f) => [
    f.finding,
    f.study,
    f.measured,
    f.criterion,
    `**${f.verdict}**: ${f.why}`,
  ]);
  const counts = ["reproduced", "not reproduced", "not comparable"].map((verdict) =>
    `${findings.filter((f) => f.verdict === verdict).length} ${verdict}`
  );
  return [
    "## Reproduction of the study",
    "",
    `Each number and finding of the study, judged from this run's files: ${counts.join(", ")}.`,
    "",
    markdownTable(headers, rows),
    "",
  ].join("\n");
}

/** A section as Markdown, its figure paths relative to the report's folder. */
function renderSection(section: ReportSection, folder: string): string {
  const lines = [`## ${section.title}`, ""];
  for (const item of section.items) {
    if (item.kind === "text") lines.push(item.text, "");
    else if (item.kind === "figure") {
      const path = `${folder}/${item.file}`;
      lines.push(`![${basename(item.file)}](${path})`, "", item.caption, "");
    } else {
      lines.push(item.caption, "", markdownTable(item.headers, item.rows), "");
    }
  }
  return lines.join("\n");
}

/** A Markdown table. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const cell = (value: string | number) => String(value).replaceAll("|", "\\|");
  return [
    `| ${headers.map(cell).join(" | ")} |`,
    `| ${headers.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

/** A table as CSV (values quoted where they need it). */
export function csvTable(headers: string[], rows: (string | number)[][]): string {
  const cell = (value: string | number) => {
    const text = String(value);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [headers, ...rows].map((row) => row.map(cell).join(",")).join("\n") + "\n";
}
