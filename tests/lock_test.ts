import assert from "node:assert/strict";
import { join } from "node:path";
import {
  holdFolder,
  type LockHolder,
  releaseFoldersAndLocks,
  releaseLock,
  STALE_LOCK_MS,
  takeLock,
} from "../lib/files/lock.ts";

/** A lock file as another process would have left it: its holder, touched `age` ms ago. */
async function writeLock(path: string, holder: Omit<LockHolder, "since">, age = 0) {
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
  const claim = join(dir, "d-001.takeover.lock");
  const host = Deno.hostname();
  // This process as its locks name it: its pid, this machine's boot and when it started.
  assert.equal(await takeLock(join(dir, "self.lock")), undefined);
  const self = JSON.parse(await Deno.readTextFile(join(dir, "self.lock")));
  await releaseLock(join(dir, "self.lock"));
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    // a live process of this machine named by its pid alone (an older aelab's lock), and a lock of
    // another machine touched a minute ago: held
    for (const holder of [{ pid: sleeper.pid, host }, { pid: 1, host: "node-b" }]) {
      await writeLock(lock, holder, 60_000);
      const before = await Deno.readTextFile(lock);
      assert.deepEqual(await takeLock(lock), { ...holder, since: "2025-01-01T00:00:00Z" });
      assert.equal(await Deno.readTextFile(lock), before);
    }
    // a dead holder's lock whose take-over a live process has claimed: held by the claimant
    await writeLock(lock, { pid: await deadPid(), host });
    const before = await Deno.readTextFile(lock);
    await writeLock(claim, { pid: sleeper.pid, host });
    assert.equal((await takeLock(lock))?.pid, sleeper.pid);
    assert.equal(await Deno.readTextFile(lock), before);
    await Deno.remove(claim);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
  // A thread of this process: a pid that runs, but no process of its own.
  const thread = [...Deno.readDirSync("/proc/self/task")].map((entry) => Number(entry.name))
    .find((tid) => tid !== Deno.pid)!;
  // Taken over: a dead process of this machine; an earlier process of this pid (a restarted container),
  // by its pid alone; live pids that started at another time than their lock's holder (pid 1, a
  // thread); this process's pid and start in an earlier boot; a lock of this machine, and of another,
  // untouched for longer than the stale limit; a file that is no lock.
  for (
    const [holder, age] of [
      [{ pid: await deadPid(), host }, 0],
      [{ pid: Deno.pid, host }, 0],
      [{ pid: 1, host, boot: self.boot, start: self.start }, 0],
      [{ pid: thread, host, boot: self.boot, start: self.start - 1 }, 0],
      [{ pid: Deno.pid, host, boot: "an earlier boot", start: self.start }, 0],
      [{ pid: 1, host }, STALE_LOCK_MS + 1000],
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
  // A dead holder's lock whose claimant died while taking it over: taken over, the claim too.
  await writeLock(lock, { pid: await deadPid(), host });
  await writeLock(claim, { pid: await deadPid(), host });
  assert.equal(await takeLock(lock), undefined);
  assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["d-001.lock"]);
  await releaseLock(lock);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("of processes taking one lock at once, one gets it, also from a dead holder", async () => {
  // Round after round, under load (two busy loops beside them), processes take one lock at the same
  // moment: free, or left by a dead process of this machine, or by another machine untouched for
  // longer than the stale limit.
  const [rounds, processes] = [48, 6];
  const dir = await Deno.makeTempDir();
  const host = Deno.hostname();
  const holders = [
    undefined,
    async () => [{ pid: await deadPid(), host }, 0] as const,
    () => [{ pid: 1, host: "node-b" }, STALE_LOCK_MS + 1000] as const,
  ];
  for (let round = 0; round < rounds; round++) {
    await Deno.mkdir(join(dir, `${round}`));
    const left = await holders[round % holders.length]?.();
    if (left) await writeLock(join(dir, `${round}`, "trial.lock"), left[0], left[1]);
  }
  const busy = Array.from(
    { length: 2 },
    () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "const end = Date.now() + 120_000; while (Date.now() < end);"],
        stdin: "null",
      }).spawn(),
  );
  // Each says it is ready, waits for all to be, tries, says what it got, and keeps it until all
  // have tried: a barrier of files, so that none tries after another has let go.
  const code = `import { takeLock } from "${new URL("../lib/files/lock.ts", import.meta.url).href}";
    const all = async (folder, prefix) => {
      while ([...Deno.readDirSync(folder)].filter((e) => e.name.startsWith(prefix)).length < ${processes}) {
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    for (let round = 0; round < ${rounds}; round++) {
      const folder = \`${dir}/\${round}\`;
      await Deno.writeTextFile(\`\${folder}/ready-\${Deno.pid}\`, "");
      await all(folder, "ready-");
      const holder = await takeLock(\`\${folder}/trial.lock\`);
      await Deno.writeTextFile(\`\${folder}/tried-\${Deno.pid}\`, "");
      console.log(round, holder ? "held" : "taken");
      await all(folder, "tried-");
    }`;
  try {
    const outputs = await Promise.all(
      Array.from(
        { length: processes },
        () => new Deno.Command(Deno.execPath(), { args: ["eval", code], stdin: "null" }).output(),
      ),
    );
    const said = Array.from({ length: rounds }, () => [] as string[]);
    for (const output of outputs) {
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      for (const line of new TextDecoder().decode(output.stdout).trim().split("\n")) {
        const [round, got] = line.split(" ");
        said[Number(round)].push(got);
      }
    }
    const once = [...Array(processes - 1).fill("held"), "taken"];
    said.forEach((got, round) => assert.deepEqual(got.sort(), once, `round ${round}: ${got}`));
  } finally {
    for (const child of busy) {
      child.kill();
      await child.status;
    }
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
