/**
 * The tests' own third-party imports, once, pinned (the library's are in `lib/deps.ts`): a YAML parser,
 * for the Kubernetes example.
 *
 * @module
 */
export { parse as parseYaml } from "npm:yaml@2.9.1";
