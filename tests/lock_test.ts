import assert from "node:assert/strict";
import { join } from "node:path";
import {
  holdFolder,
  releaseFoldersAndLocks,
  releaseLock,
  STALE_LOCK_MS,
  takeLock,
} from "../lib/files/lock.ts";

/** A lock file as another process would have left it: its holder, touched `age` ms ago. */
async function writeLock(path: string, holder: { pid: number; host: string }, age = 0) {
  await Deno.writeTextFile(
    path,
    JSON.stringify({ ...holder, since: "2025-01-01T00:00:00Z" }) + "\n",
  );
  const touched = new Date(Date.now() - age);
  await Deno.utime(path, touched, touched);
}

/** The pid of a process of this machine that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("a lock is taken once, by one process, and released", async () => {
  const dir = await Deno.makeTempDir();
  const lock = join(dir, "trainings", "trial-001.lock");
  assert.equal(await takeLock(lock), undefined);
  const holder = JSON.parse(await Deno.readTextFile(lock));
  assert.deepEqual([holder.pid, holder.host], [Deno.pid, Deno.hostname()]);
  assert.equal(await takeLock(lock), undefined, "already this process's");
  await releaseLock(lock);
  assert.deepEqual([...Deno.readDirSync(join(dir, "trainings"))], []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a live holder keeps its lock; a dead one's is taken over", async () => {
  const dir = await Deno.makeTempDir();
  const lock = join(dir, "d-001.lock");
  const host = Deno.hostname();
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    // a live process of this machine, and a lock of another machine touched a minute ago: held
    for (const holder of [{ pid: sleeper.pid, host }, { pid: 1, host: "node-b" }]) {
      await writeLock(lock, holder, 60_000);
      const before = await Deno.readTextFile(lock);
      assert.deepEqual(await takeLock(lock), { ...holder, since: "2025-01-01T00:00:00Z" });
      assert.equal(await Deno.readTextFile(lock), before);
    }
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
  // a dead process of this machine, an earlier process of this pid (a restarted container), another
  // machine's lock untouched for longer than a heartbeat keeps it, and a file that is no lock: taken over
  for (
    const [holder, age] of [
      [{ pid: await deadPid(), host }, 0],
      [{ pid: Deno.pid, host }, 0],
      [{ pid: 1, host: "node-b" }, STALE_LOCK_MS + 1000],
    ] as const
  ) {
    await writeLock(lock, holder, age);
    assert.equal(await takeLock(lock), undefined, JSON.stringify(holder));
    assert.equal(JSON.parse(await Deno.readTextFile(lock)).pid, Deno.pid);
    await releaseLock(lock);
  }
  await Deno.writeTextFile(lock, "");
  assert.equal(await takeLock(lock), undefined);
  await releaseLock(lock);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("of processes taking one lock at once, one gets it, also from a dead holder", async () => {
  const locks = new URL("../lib/files/lock.ts", import.meta.url).href;
  for (const dead of [false, true]) {
    const dir = await Deno.makeTempDir();
    const lock = join(dir, "trial-001.lock");
    if (dead) await writeLock(lock, { pid: await deadPid(), host: Deno.hostname() });
    // Each says it is ready, waits for all to be, tries, says what it got, and keeps it until all
    // have tried: a barrier of files, so that none tries after another has let go.
    const code = `import { takeLock } from "${locks}";
      const dir = ${JSON.stringify(dir)};
      const count = async (prefix) => [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(prefix)).length;
      const until = async (prefix) => { while (await count(prefix) < 6) await new Promise((r) => setTimeout(r, 10)); };
      await Deno.writeTextFile(\`\${dir}/ready-\${Deno.pid}\`, "");
      await until("ready-");
      const holder = await takeLock(\`\${dir}/trial-001.lock\`);
      await Deno.writeTextFile(\`\${dir}/tried-\${Deno.pid}\`, "");
      console.log(holder ? "held" : "taken");
      await until("tried-");`;
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        () => new Deno.Command(Deno.execPath(), { args: ["eval", code], stdin: "null" }).output(),
      ),
    );
    const said = outputs.map((output) => new TextDecoder().decode(output.stdout).trim()).sort();
    assert.deepEqual(
      said,
      ["held", "held", "held", "held", "held", "taken"],
      `dead holder: ${dead}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder held by a live run is refused in one line naming it", async () => {
  const folder = join(await Deno.makeTempDir(), "results");
  const code = `import { holdFolder } from "${
    new URL("../lib/files/lock.ts", import.meta.url).href
  }";
    await holdFolder(${JSON.stringify(folder)}); console.log("held"); await new Promise(() => {});`;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await reader.read()).value?.trim(), "held");
  await assert.rejects(
    () => holdFolder(folder),
    new RegExp(
      `^FolderError: ${folder} is in use by process ${child.pid} on ${Deno.hostname()} since `,
    ),
  );
  child.kill();
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  await holdFolder(folder); // its holder gone: taken over
  releaseFoldersAndLocks();
  await Deno.remove(folder, { recursive: true });
});
