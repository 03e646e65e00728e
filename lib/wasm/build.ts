/**
 * Builds the WebAssembly engine's kernels from their AssemblyScript sources (`assembly/kernels.ts`) with
 * the pinned compiler: `kernels.wasm` with relaxed SIMD's fused multiply-adds, `kernels_plain.wasm` with
 * 128-bit SIMD only, for runtimes without relaxed SIMD. `deno task build-wasm` writes them beside this
 * module, where they are committed so that aelab also runs by URL; a test rebuilds them and compares.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { ASSEMBLYSCRIPT_PACKAGE } from "../deps.ts";

/** The kernel binaries, by file name, with the features each is built for. */
export const KERNEL_BUILDS: Record<string, string> = {
  "kernels.wasm": "simd,relaxed-simd",
  "kernels_plain.wasm": "simd",
};

/** The folder of this module: the sources' root and where the committed binaries lie. */
const HERE = fileURLToPath(new URL(".", import.meta.url));

/**
 * Compiles the kernels into `folder` (a path), one binary per entry of {@link KERNEL_BUILDS}; returns
 * their paths. Needs a checkout (the sources) and, on first use, the npm registry (the compiler).
 *
 * @example
 * ```ts ignore
 * import { buildKernels } from "./build.ts";
 * console.log(await buildKernels(await Deno.makeTempDir())); // [".../kernels.wasm", ...]
 * ```
 */
export async function buildKernels(folder: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [file, features] of Object.entries(KERNEL_BUILDS)) {
    const path = `${folder}/${file}`;
    const args = ["run", "--quiet", "--no-lock", "-A", `${ASSEMBLYSCRIPT_PACKAGE}/asc`];
    const options = ["-O3", "--runtime", "stub", "--noAssert", "--importMemory"];
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [...args, "assembly/kernels.ts", ...options, "--enable", features, "-o", path],
      cwd: HERE,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
    }).output();
    if (!success) {
      throw new Error(`building ${file} failed: ${new TextDecoder().decode(stderr).trim()}`);
    }
    paths.push(path);
  }
  return paths;
}
