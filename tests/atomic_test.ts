import assert from "node:assert/strict";
import { join } from "node:path";
import {
  exists,
  makeScratchFolder,
  readJsonIfExists,
  removeStaleTemporaries,
  removeTemporaryFiles,
  temporaryName,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/files/atomic.ts";

/** The pid of a process of this machine that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** The names in `folder`, sorted. */
function namesIn(folder: string): string[] {
  return [...Deno.readDirSync(folder)].map((entry) => entry.name).sort();
}

Deno.test("a write lands whole under its name, its folders made, no temporary file beside it", async () => {
  const dir = await Deno.makeTempDir();
  await writeFileAtomic(join(dir, "a", "b.bin"), Uint8Array.of(1, 2, 3));
  await writeJsonAtomic(join(dir, "a", "c.json"), { loss: 0.03 });
  assert.deepEqual(await Deno.readFile(join(dir, "a", "b.bin")), Uint8Array.of(1, 2, 3));
  assert.equal(await Deno.readTextFile(join(dir, "a", "c.json")), '{\n  "loss": 0.03\n}\n');
  assert.deepEqual(namesIn(join(dir, "a")), ["b.bin", "c.json"]);
  // A folder that is a file: one line naming the path, and nothing left beside it.
  await assert.rejects(
    writeFileAtomic(join(dir, "a", "b.bin", "d.txt"), "x"),
    new RegExp(`^Error: cannot write ${join(dir, "a", "b.bin", "d.txt")}: `),
  );
  assert.deepEqual(namesIn(join(dir, "a")), ["b.bin", "c.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing file reads as undefined, a broken one as an error naming it", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "best.json");
  assert.equal(await readJsonIfExists(file), undefined);
  await Deno.writeTextFile(file, '{"lr": 0.001}');
  assert.deepEqual(await readJsonIfExists(file), { lr: 0.001 });
  assert.equal(
    await readJsonIfExists(join(file, "inside.json")),
    undefined,
    "a path through a file",
  );
  await Deno.writeTextFile(file, '{"lr": ');
  await assert.rejects(readJsonIfExists(file), new RegExp(`^Error: ${file}: not valid JSON`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a dead process's temporary files are removed; a live one's and another machine's stay", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "trainings"));
  const own = temporaryName(join(dir, "trainings", "live.json"));
  const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  const dead = join(dir, "trainings", `dead.json.${await deadPid()}@${host}.0123abcd.tmp`);
  const elsewhere = join(dir, `report.md.${await deadPid()}@node-b.0123abcd.tmp`);
  const tooDeep = join(dir, "trainings", "d-001");
  await Deno.mkdir(tooDeep);
  const deep = join(tooDeep, `w.bin.${await deadPid()}@${host}.0123abcd.tmp`);
  for (const file of [own, dead, elsewhere, deep]) await Deno.writeTextFile(file, "");
  await removeStaleTemporaries(dir, 1);
  for (const file of [own, elsewhere, deep]) assert.ok(await exists(file), file);
  assert.equal(await exists(dead), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a scratch folder goes, with what it holds, when the run's files are cleaned up", async () => {
  const scratch = await makeScratchFolder("aelab-atomic-test-");
  await Deno.writeTextFile(join(scratch, "note.txt"), "gone at exit");
  removeTemporaryFiles();
  assert.equal(await exists(scratch), false);
});
