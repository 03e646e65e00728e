/**
 * The tests' own third-party imports, once, pinned (the library's are in `lib/deps.ts`): a YAML parser
 * and Kubernetes' Job with its JSON schema, for the Kubernetes example.
 *
 * @module
 */
export { parse as parseYaml } from "npm:yaml@2.9.1";
export { Job as KubernetesJob } from "npm:kubernetes-models@5.1.0/batch/v1/Job";
