/**
 * How long each kernel of a pass runs on the GPU, from timestamp queries: each dispatch in a compute pass
 * of its own whose start and end the GPU stamps. The sum over a step's kernels is the time the GPU was
 * busy; what a step takes beyond it is submission and scheduling.
 *
 * @module
 */
import { type GpuContext, TIMESTAMPS } from "./device.ts";
import { type Dispatch, recordDispatch } from "./kernel.ts";

/** One kernel's mean GPU time per run. */
export interface KernelTime {
  label: string;
  microseconds: number;
}

/**
 * Runs `dispatches` `runs` times, one command buffer and submit each, and returns each kernel's mean GPU
 * time over the runs, in dispatch order. Throws when the device cannot time kernels.
 */
export async function timeDispatches(
  context: GpuContext,
  dispatches: readonly Dispatch[],
  runs: number,
): Promise<KernelTime[]> {
  const { device } = context;
  if (!device.features.has(TIMESTAMPS)) {
    throw new Error(`the adapter ${context.adapterName} cannot time kernels (no ${TIMESTAMPS})`);
  }
  context.check();
  const count = 2 * dispatches.length;
  const querySet = device.createQuerySet({ type: "timestamp", count });
  const stamps = device.createBuffer({
    label: "timestamps",
    size: 8 * count,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const totals = new Float64Array(dispatches.length);
  try {
    for (let run = 0; run < runs; run++) {
      const encoder = device.createCommandEncoder();
      dispatches.forEach((dispatch, i) => {
        const pass = encoder.beginComputePass({
          timestampWrites: {
            querySet,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          },
        });
        recordDispatch(pass, dispatch);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, count, stamps, 0);
      device.queue.submit([encoder.finish()]);
      const nanoseconds = new BigUint64Array(await context.read(stamps, 0, 8 * count));
      for (let i = 0; i < dispatches.length; i++) {
        totals[i] += Number(nanoseconds[2 * i + 1] - nanoseconds[2 * i]) / 1000;
      }
    }
  } finally {
    querySet.destroy();
    stamps.destroy();
  }
  return dispatches.map(({ label }, i) => ({ label, microseconds: totals[i] / runs }));
}
