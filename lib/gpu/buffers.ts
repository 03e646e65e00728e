/**
 * The GPU buffers of a population and of a dataset, each named for what it holds (the names the kernels
 * bind, see {@link BUFFERS}), with their sizes; and what those sizes ask of the device.
 *
 * Per layer there is an activation buffer (its output, `[models][batch][size]`) and a gradient buffer (the
 * loss gradient with respect to its pre-activation output, same shape).
 *
 * @module
 */
import type { DeviceNeed } from "./device.ts";
import { type Dims, type Kernel, MODEL_WORDS, STATE_WORDS } from "./kernel.ts";
import type { LayerGeometry } from "./layout.ts";
import { activationBuffer, BUFFERS, gradientBuffer } from "./kernels/common.ts";
import { gradientPartials } from "./kernels/partial_sums.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";

/** A buffer to create: its name and size in bytes. */
export interface BufferSpec {
  name: string;
  bytes: number;
  /** What it holds, for error messages. */
  holds: string;
}

/**
 * The buffers of a population of `dims.models` models at batch `dims.batch` with these `layers`.
 *
 * @example
 * ```ts
 * import { populationBuffers } from "./buffers.ts";
 * import { layerGeometry, parameterLayout } from "./layout.ts";
 * const specs = populationBuffers({ models: 30, batch: 256, params: parameterLayout(4).size }, layerGeometry(4));
 * console.log(specs.find((spec) => spec.name === "encoder_cnn.0.out")?.bytes); // 48168960
 * ```
 */
export function populationBuffers(dims: Dims, layers: readonly LayerGeometry[]): BufferSpec[] {
  const { models, batch, params } = dims;
  const perModel = `${models} models`;
  const perSample = `${models} models × ${batch} samples`;
  return [
    { name: BUFFERS.params, bytes: models * params * 4, holds: `the parameters of ${perModel}` },
    { name: BUFFERS.grads, bytes: models * params * 4, holds: `the gradients of ${perModel}` },
    {
      name: BUFFERS.moment1,
      bytes: models * params * 4,
      holds: `Adam's first moments (${perModel})`,
    },
    {
      name: BUFFERS.moment2,
      bytes: models * params * 4,
      holds: `Adam's second moments (${perModel})`,
    },
    { name: BUFFERS.models, bytes: models * MODEL_WORDS * 4, holds: "the models' settings" },
    { name: BUFFERS.state, bytes: STATE_WORDS * 4, holds: "the step state" },
    { name: BUFFERS.rowLoss, bytes: models * batch * 4, holds: `the row losses of ${perSample}` },
    { name: BUFFERS.lossSum, bytes: models * 4, holds: "the loss sums" },
    {
      name: BUFFERS.partials,
      bytes: gradientPartials(dims, layers).size * 4,
      holds: `the partial sums of the gradients of ${perModel}`,
    },
    ...layers.flatMap((layer) => {
      const bytes = models * batch * layer.outputSize * 4;
      const name = layer.spec.name;
      return [
        { name: activationBuffer(name), bytes, holds: `the outputs of ${name} (${perSample})` },
        {
          name: gradientBuffer(name),
          bytes,
          holds: `the output gradients of ${name} (${perSample})`,
        },
      ];
    }),
  ];
}

/**
 * The buffers of a dataset of `count` images for `models` models: the images, the targets (only when
 * denoising: else the images serve as targets) and each model's sample order.
 */
export function datasetBuffers(models: number, count: number, denoising: boolean): BufferSpec[] {
  const images = { bytes: count * IMAGE_PIXELS, holds: `${count} images` };
  return [
    { name: BUFFERS.images, ...images },
    ...(denoising ? [{ name: BUFFERS.targets, ...images, holds: `${count} target images` }] : []),
    {
      name: BUFFERS.order,
      bytes: models * count * 4,
      holds: `the sample orders of ${models} models`,
    },
  ];
}

/** What the `buffers` and `kernels` ask of the device's limits. */
export function deviceNeeds(
  buffers: readonly BufferSpec[],
  kernels: readonly Kernel[],
): DeviceNeed[] {
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const most = <T>(items: readonly T[], value: (item: T) => number) =>
    items.reduce((best, item) => (value(item) > value(best) ? item : best));
  const widest = most(kernels, (kernel) => Math.max(...kernel.grid));
  const deepest = most(kernels, (kernel) => kernel.workgroupBytes);
  const largestGroup = most(kernels, (kernel) => kernel.workgroupSize);
  const busiest = most(kernels, (kernel) => kernel.bindings.length);
  const bufferReason = `the buffer of ${largest.holds}`;
  return [
    { limit: "maxStorageBufferBindingSize", value: largest.bytes, reason: bufferReason },
    { limit: "maxBufferSize", value: largest.bytes, reason: bufferReason },
    {
      limit: "maxComputeWorkgroupsPerDimension",
      value: Math.max(...widest.grid),
      reason: `kernel "${widest.label}" (grid ${widest.grid.join(" × ")})`,
    },
    {
      limit: "maxComputeWorkgroupStorageSize",
      value: deepest.workgroupBytes,
      reason: `kernel "${deepest.label}"`,
    },
    {
      limit: "maxComputeInvocationsPerWorkgroup",
      value: largestGroup.workgroupSize,
      reason: `kernel "${largestGroup.label}"`,
    },
    {
      limit: "maxComputeWorkgroupSizeX",
      value: largestGroup.workgroupSize,
      reason: `kernel "${largestGroup.label}"`,
    },
    {
      limit: "maxStorageBuffersPerShaderStage",
      value: busiest.bindings.length,
      reason: `kernel "${busiest.label}"`,
    },
  ];
}
