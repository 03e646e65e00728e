/**
 * The one rule for which files of a folder the explorer hands out: a path of plain names inside it —
 * no empty, `.`, `..` or hidden name, no separator or NUL inside a name once decoded — that is a regular
 * file whose real path (links followed) lies inside the folder's real path. Anything else is not there.
 *
 * @module
 */
import { join, sep } from "node:path";

/**
 * The real path of the file that `path` (relative, `/`-separated, each name percent-encoded as in a URL)
 * names inside `root`, or `undefined` where it names nothing the rule allows.
 *
 * @example
 * ```ts
 * import { fileInside } from "./paths.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a b.txt`, "hi");
 * console.log(await fileInside(root, "a%20b.txt") !== undefined); // true
 * console.log(await fileInside(root, "..%2Fetc%2Fpasswd")); // undefined
 * ```
 */
export async function fileInside(root: string, path: string): Promise<string | undefined> {
  const names: string[] = [];
  for (const encoded of path.split("/")) {
    let name: string;
    try {
      name = decodeURIComponent(encoded);
    } catch {
      return undefined;
    }
    if (name === "" || name.startsWith(".") || /[/\\\0]/.test(name)) return undefined;
    names.push(name);
  }
  try {
    const [realRoot, real] = await Promise.all([
      Deno.realPath(root),
      Deno.realPath(join(root, ...names)),
    ]);
    if (!real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return undefined;
    return (await Deno.stat(real)).isFile ? real : undefined;
  } catch {
    return undefined;
  }
}
