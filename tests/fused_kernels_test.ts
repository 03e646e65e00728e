/**
 * Each WGSL kernel of the fused engine, run on Mesa's software adapter exactly as the training step binds
 * it, against tfjs's own ops and gradients (cpu backend) on random inputs: forward, weight gradient and
 * input gradient of every layer, the loss, Adam, the end of a step, and dropout's RNG.
 */
import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { datasetBuffers, populationBuffers } from "../lib/gpu/buffers.ts";
import { GpuContext } from "../lib/gpu/device.ts";
import {
  type Dims,
  encodeDispatches,
  type Kernel,
  KernelCompiler,
  MODEL_WORDS,
} from "../lib/gpu/kernel.ts";
import {
  activationBuffer,
  BUFFERS,
  gradientBuffer,
  type Source,
} from "../lib/gpu/kernels/common.ts";
import { convGeometry } from "../lib/gpu/kernels/conv.ts";
import { ADAM } from "../lib/gpu/kernels/adam.ts";
import {
  type Activation,
  type LayerGeometry,
  layerGeometry,
  packWeights,
  parameterLayout,
} from "../lib/gpu/layout.ts";
import { gradientPartials } from "../lib/gpu/kernels/partial_sums.ts";
import { buildPlan, convWeightGradientKernel, layerInput } from "../lib/gpu/plan.ts";
import { initialWeights } from "../lib/model/architecture.ts";
import { createRng, normal } from "../lib/random.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";

await tf.setBackend("cpu");

const TOLERANCE = 1e-4;
const HIDDEN_MAX = 4;
/** Model 1 has a latent size below the layout's, so the masked latent unit is checked too. */
const HIDDENS = [4, 3];
const LAYERS = layerGeometry(HIDDEN_MAX);
const PARAMS = parameterLayout(HIDDEN_MAX).size;
/**
 * The batch sizes the layer kernels are checked at: a small one, where every reduction is one slice; an
 * odd one, where the largest convolutions' reductions split into slices; and a large one, where every
 * weight gradient's does, the last slices shorter than the others.
 */
const BATCHES = [3, 7, 64];

const context = await GpuContext.create([], "the kernel tests");

/** The blocks of coarse channels each convolution's weight gradient can also be computed in. */
function gradientBlocks(layer: LayerGeometry): number[] {
  if (layer.spec.kind === "linear") return [];
  return [1, 2, 4].filter((block) => convGeometry(layer).coarseChannels % block === 0);
}

/** Each convolution's weight-gradient kernel once for each block (the plan picks one by size). */
function blockedWeightGradients(dims: Dims): Kernel[] {
  const images: Source = { kind: "bytes", name: BUFFERS.images };
  const { slots } = gradientPartials(dims, LAYERS);
  return LAYERS.flatMap((layer) =>
    gradientBlocks(layer).map((block) =>
      convWeightGradientKernel(
        dims,
        layer,
        layerInput(LAYERS, layer.index, images),
        slots[layer.index],
        block,
      )
    )
  );
}

/** The step state the kernels read: steps taken, batch of the pass, order length, training flag. */
interface State {
  step: number;
  batch: number;
  rows: number;
  training: number;
}

/** Buffers for `images` images and every kernel of a population's passes, bound once, run one at a time by label. */
async function harness(dims: Dims, images: number) {
  const plan = buildPlan(dims, LAYERS);
  const kernels = [...plan.train, ...blockedWeightGradients(dims)];
  const compiler = new KernelCompiler(context.device);
  await compiler.compile(kernels);
  const buffers = new Map<string, GPUBuffer>();
  for (
    const spec of [
      ...populationBuffers(dims, LAYERS),
      ...datasetBuffers(dims.models, images, false),
    ]
  ) {
    buffers.set(spec.name, await context.createBuffer(spec.name, spec.bytes));
  }
  buffers.set(BUFFERS.targets, buffers.get(BUFFERS.images)!);
  const dispatches = await compiler.bind(kernels, buffers);
  return {
    dims,
    /** Runs the kernels labelled `labels`, in turn. */
    async run(...labels: string[]) {
      const encoder = context.device.createCommandEncoder();
      encodeDispatches(
        encoder,
        labels.map((label) => {
          const dispatch = dispatches.find((d) => d.label === label);
          assert.ok(dispatch, `no kernel ${label}`);
          return dispatch;
        }),
      );
      context.device.queue.submit([encoder.finish()]);
      await context.device.queue.onSubmittedWorkDone();
      context.check();
    },
    write(name: string, data: Float32Array | Uint32Array | Uint8Array, offset = 0) {
      const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      context.device.queue.writeBuffer(buffers.get(name)!, offset, bytes);
    },
    async read(name: string): Promise<Float32Array> {
      const buffer = buffers.get(name)!;
      return new Float32Array(await context.read(buffer, 0, buffer.size));
    },
    writeState(state: State) {
      this.write(
        BUFFERS.state,
        new Uint32Array([state.step, state.batch, state.rows, state.training]),
      );
    },
    writeModels(
      models: { lr: number; wd: number; dropout: number; seed: number; hidden: number }[],
    ) {
      const words = new ArrayBuffer(models.length * MODEL_WORDS * 4);
      models.forEach((model, i) => {
        const floats = new Float32Array(words, i * MODEL_WORDS * 4, MODEL_WORDS);
        const ints = new Uint32Array(words, i * MODEL_WORDS * 4, MODEL_WORDS);
        [floats[0], floats[1], floats[2]] = [model.lr, model.wd, model.dropout];
        [ints[3], ints[4]] = [model.seed, model.hidden];
      });
      this.write(BUFFERS.models, new Uint32Array(words));
    },
  };
}

const rng = createRng(2024);
const randomNormal = (n: number, scale = 1) =>
  Float32Array.from({ length: n }, () => scale * normal(rng));

/**
 * A harness at batch `batch` with random weights, images and sample orders written, in batch 1 of a
 * pass whose orders hold 2 · batch − 1 rows: every row of the batch but the last holds a sample.
 */
async function fixture(batch: number) {
  const dims = { models: HIDDENS.length, batch, params: PARAMS };
  const state: State = { step: 6, batch: 1, rows: 2 * batch - 1, training: 1 };
  const images = state.rows + 1;
  const gpu = await harness(dims, images);
  // Weights at the full latent size for every model: the masked latent unit of model 1 holds non-zero
  // weights, which the kernels' masks must ignore.
  const params = new Float32Array(dims.models * PARAMS);
  HIDDENS.forEach((_, m) => {
    params.set(packWeights(initialWeights(HIDDEN_MAX, rng), HIDDEN_MAX, HIDDEN_MAX), m * PARAMS);
  });
  gpu.write(BUFFERS.params, params);
  gpu.writeModels(
    HIDDENS.map((hidden, m) => ({ lr: 1e-3, wd: 0, dropout: 0, seed: 7 + m, hidden })),
  );
  gpu.writeState(state);
  const imageBytes = Uint8Array.from(
    { length: images * IMAGE_PIXELS },
    () => Math.floor(rng() * 256),
  );
  gpu.write(BUFFERS.images, imageBytes);
  // Model 0 takes the images in order, model 1 from the last.
  const orders = HIDDENS.map((_, m) =>
    Array.from({ length: state.rows }, (_, i) => (m === 0 ? i : images - 1 - i))
  );
  gpu.write(BUFFERS.order, Uint32Array.from(orders.flat()));
  return {
    dims,
    gpu,
    state,
    params,
    /** Rows of the batch that hold samples. */
    valid: Math.min(batch, state.rows - state.batch * batch),
    /** Model `m`'s input images of the batch as the kernels gather them: zeros past the valid rows. */
    gatheredImages(m: number): Float32Array {
      const pixels = new Float32Array(batch * IMAGE_PIXELS);
      for (let b = 0; b < this.valid; b++) {
        const sample = orders[m][state.batch * batch + b];
        for (let p = 0; p < IMAGE_PIXELS; p++) {
          pixels[b * IMAGE_PIXELS + p] = imageBytes[sample * IMAGE_PIXELS + p] / 255;
        }
      }
      return pixels;
    },
    /** Model `m`'s slice of a `[models][batch][size]` buffer. */
    slice(values: Float32Array, m: number, size: number): Float32Array {
      return values.subarray(m * batch * size, (m + 1) * batch * size);
    },
    /** A tensor of model `m`'s parameter slot, in PyTorch shape. */
    parameter(m: number, slot: LayerGeometry["weight"]): tf.Tensor {
      const start = m * PARAMS + slot.offset;
      return tf.tensor(params.slice(start, start + slot.size), slot.spec.shape);
    },
  };
}

/** Samples of a layer's input or output in PyTorch shape: `[batch, C, side, side]`, or `[batch, F]`. */
function sampleShape(layer: LayerGeometry, which: "input" | "output", batch: number): number[] {
  const side = which === "input" ? layer.inputSide : layer.outputSide;
  const channels = which === "input" ? layer.spec.inputs : layer.spec.outputs;
  return layer.spec.kind === "linear" ? [batch, channels] : [batch, channels, side, side];
}

/** A layer's pre-activation in tfjs, with PyTorch's semantics (NCHW, explicit padding, output padding). */
function preActivation(layer: LayerGeometry, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { spec } = layer;
  if (spec.kind === "linear") {
    return tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true).add(b);
  }
  const batch = x.shape[0];
  const nhwc = x.transpose([0, 2, 3, 1]) as tf.Tensor4D;
  const filter = w.transpose([2, 3, 1, 0]) as tf.Tensor4D;
  const p = spec.padding ?? 0;
  let y: tf.Tensor4D;
  if (spec.kind === "conv") {
    y = tf.conv2d(nhwc, filter, 2, [[0, 0], [p, p], [p, p], [0, 0]]);
  } else {
    // tfjs's "same" is not PyTorch's p1/op1: transpose with "valid" (full size), then crop.
    const full = (layer.inputSide - 1) * 2 + 3;
    y = tf.conv2dTranspose(nhwc, filter, [batch, full, full, spec.outputs], 2, "valid");
    y = y.slice([0, p, p, 0], [batch, layer.outputSide, layer.outputSide, spec.outputs]);
  }
  return y.add(b).transpose([0, 3, 1, 2]);
}

/** A layer's activation in tfjs; `code` keeps model `m`'s latent units only; dropout is off. */
function activate(activation: Activation, pre: tf.Tensor, m: number): tf.Tensor {
  switch (activation) {
    case "relu":
    case "reluDropout":
      return pre.relu();
    case "sigmoid":
      return pre.sigmoid();
    case "linear":
      return pre;
    case "code": {
      const units = pre.shape[1]!;
      const keep = tf.tensor1d(Array.from({ length: units }, (_, j) => (j < HIDDENS[m] ? 1 : 0)));
      return pre.mul(keep);
    }
  }
}

/**
 * Max abs error ≤ 1e-4, and ≤ 1e-3 of the largest expected magnitude, so that a wrong scale of a small
 * tensor (a loss gradient is ~1e-4) cannot pass.
 */
function assertClose(actual: Float32Array, expected: Float32Array | number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  let worst = 0;
  let largest = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    largest = Math.max(largest, Math.abs(expected[i]));
  }
  const bound = Math.min(TOLERANCE, 1e-3 * largest);
  assert.ok(worst <= bound, `${what}: max abs error ${worst} > ${bound}`);
}

const fixtures = new Map<number, Awaited<ReturnType<typeof fixture>>>();
for (const batch of BATCHES) fixtures.set(batch, await fixture(batch));

for (const [batch, f] of fixtures) {
  const { dims, gpu, slice } = f;
  for (const layer of LAYERS) {
    const name = layer.spec.name;
    Deno.test(`kernels of ${name} agree with tfjs at batch ${batch}: forward, weight gradient, input gradient`, async () => {
      const previous = LAYERS[layer.index - 1];
      // The layer's input: gathered images, or the previous activation of random pre-activations.
      const before = randomNormal(dims.models * batch * layer.inputSize);
      if (previous) {
        const stored = new Float32Array(before.length);
        for (let m = 0; m < dims.models; m++) {
          const activated = tf.tidy(() =>
            activate(
              previous.activation,
              tf.tensor(slice(before, m, layer.inputSize), [batch, layer.inputSize]),
              m,
            )
              .dataSync()
          );
          stored.set(activated, m * batch * layer.inputSize);
        }
        gpu.write(activationBuffer(previous.spec.name), stored);
      }
      const outputGradient = randomNormal(dims.models * batch * layer.outputSize);
      gpu.write(gradientBuffer(name), outputGradient);
      await gpu.run(`forward ${name}`);
      await gpu.run(`weight gradient ${name}`, "gradient sums");
      if (previous) await gpu.run(`input gradient ${name}`);
      const output = await gpu.read(activationBuffer(name));
      // the plan's weight gradient, then the same with each block of coarse channels
      const gradients = [await gpu.read(BUFFERS.grads)];
      for (const block of gradientBlocks(layer)) {
        await gpu.run(`weight gradient ${name} (block ${block})`, "gradient sums");
        gradients.push(await gpu.read(BUFFERS.grads));
      }
      const inputGradient = previous ? await gpu.read(gradientBuffer(previous.spec.name)) : null;

      for (let m = 0; m < dims.models; m++) {
        tf.tidy(() => {
          const w = f.parameter(m, layer.weight);
          const b = f.parameter(m, layer.bias);
          const g = tf.tensor(
            slice(outputGradient, m, layer.outputSize),
            sampleShape(layer, "output", batch),
          );
          const inputShape = sampleShape(layer, "input", batch);
          const u = previous
            ? tf.tensor(slice(before, m, layer.inputSize), inputShape)
            : tf.tensor(f.gatheredImages(m), inputShape);
          const input = (u: tf.Tensor) =>
            previous
              ? activate(previous.activation, u.reshape([batch, -1]), m).reshape(inputShape)
              : u;
          const expected = activate(layer.activation, preActivation(layer, input(u), w, b), m);
          assertClose(
            slice(output, m, layer.outputSize),
            expected.flatten().arraySync() as number[],
            `${name} forward, model ${m}`,
          );

          // The kernels take the gradient with respect to the pre-activation: differentiate Σ pre · g.
          const [du, dw, db] = tf.grads((u: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
            preActivation(layer, input(u), w, b).mul(g).sum()
          )([u, w, b]);
          for (const [variant, grads] of gradients.entries()) {
            const at = (slot: LayerGeometry["weight"]) =>
              grads.subarray(m * PARAMS + slot.offset, m * PARAMS + slot.offset + slot.size);
            const what = variant === 0 ? "" : ` (block ${gradientBlocks(layer)[variant - 1]})`;
            assertClose(
              at(layer.weight),
              dw.flatten().arraySync() as number[],
              `${name} weight gradient${what}, model ${m}`,
            );
            assertClose(
              at(layer.bias),
              db.flatten().arraySync() as number[],
              `${name} bias gradient${what}, model ${m}`,
            );
          }
          if (inputGradient) {
            assertClose(
              slice(inputGradient, m, layer.inputSize),
              du.flatten().arraySync() as number[],
              `${name} input gradient, model ${m}`,
            );
          }
        });
      }
    });
  }
}

/** The fixture the loss, Adam, finish and dropout tests use. */
const small = fixtures.get(BATCHES[0])!;
const { dims, gpu, params, slice, state: STATE, valid: VALID } = small;

Deno.test("the loss kernel gives the batch MSE's gradient through the sigmoid and each row's share", async () => {
  const last = LAYERS.at(-1)!;
  const size = last.outputSize;
  const pre = randomNormal(dims.models * dims.batch * size, 2);
  gpu.write(activationBuffer(last.spec.name), pre.map((v) => 1 / (1 + Math.exp(-v))));
  for (const training of [1, 0]) {
    gpu.writeState({ ...STATE, training });
    gpu.write(gradientBuffer(last.spec.name), new Float32Array(pre.length).fill(Number.NaN));
    await gpu.run("loss");
    const gradient = await gpu.read(gradientBuffer(last.spec.name));
    const rowLoss = await gpu.read(BUFFERS.rowLoss);
    for (let m = 0; m < dims.models; m++) {
      tf.tidy(() => {
        const u = tf.tensor(slice(pre, m, size), [dims.batch, size]).slice([0, 0], [VALID, size]);
        const t = tf.tensor(small.gatheredImages(m), [dims.batch, size]).slice([0, 0], [
          VALID,
          size,
        ]);
        const loss = (u: tf.Tensor) => u.sigmoid().sub(t).square().mean();
        const expected = tf.grad(loss)(u).pad([[0, dims.batch - VALID], [0, 0]]);
        assertClose(
          slice(gradient, m, size),
          expected.flatten().arraySync() as number[],
          `loss gradient, model ${m}`,
        );
        // Training: each row's share of the batch loss; evaluating: each row's own loss.
        const rows = u.sigmoid().sub(t).square().mean(1).div(training ? VALID : 1);
        assertClose(
          rowLoss.subarray(m * dims.batch, (m + 1) * dims.batch),
          rows.pad([[0, dims.batch - VALID]]).arraySync() as number[],
          `row losses, model ${m}, training ${training}`,
        );
      });
    }
  }
  gpu.writeState(STATE);
});

Deno.test("the Adam kernel steps like torch.optim.Adam with coupled L2, per model", async () => {
  const settings = [{ lr: 1e-2, wd: 1e-2 }, { lr: 3e-4, wd: 0 }];
  gpu.writeModels(settings.map((s, m) => ({ ...s, dropout: 0, seed: m, hidden: HIDDENS[m] })));
  const n = dims.models * PARAMS;
  const p = randomNormal(n, 0.1);
  const g = randomNormal(n, 0.01);
  const m1 = randomNormal(n, 0.001);
  const m2 = Float32Array.from(randomNormal(n, 1e-4), Math.abs);
  gpu.write(BUFFERS.params, p);
  gpu.write(BUFFERS.grads, g);
  gpu.write(BUFFERS.moment1, m1);
  gpu.write(BUFFERS.moment2, m2);
  await gpu.run("adam");
  const after = await gpu.read(BUFFERS.params);
  const moment1 = await gpu.read(BUFFERS.moment1);
  const moment2 = await gpu.read(BUFFERS.moment2);
  const t = STATE.step + 1;
  for (let m = 0; m < dims.models; m++) {
    tf.tidy(() => {
      const part = (values: Float32Array) =>
        tf.tensor1d(values.subarray(m * PARAMS, (m + 1) * PARAMS));
      const { lr, wd } = settings[m];
      const grad = part(g).add(part(p).mul(wd));
      const mNew = part(m1).mul(ADAM.beta1).add(grad.mul(1 - ADAM.beta1));
      const vNew = part(m2).mul(ADAM.beta2).add(grad.square().mul(1 - ADAM.beta2));
      const denominator = vNew.sqrt().div(Math.sqrt(1 - ADAM.beta2 ** t)).add(ADAM.epsilon);
      const expected = part(p).sub(mNew.div(denominator).mul(lr / (1 - ADAM.beta1 ** t)));
      const at = (values: Float32Array) => values.subarray(m * PARAMS, (m + 1) * PARAMS);
      assertClose(at(moment1), mNew.arraySync() as number[], `first moment, model ${m}`);
      assertClose(at(moment2), vNew.arraySync() as number[], `second moment, model ${m}`);
      assertClose(at(after), expected.arraySync() as number[], `parameters, model ${m}`);
    });
  }
  gpu.write(BUFFERS.params, params);
  gpu.writeModels(
    HIDDENS.map((hidden, m) => ({ lr: 1e-3, wd: 0, dropout: 0, seed: 7 + m, hidden })),
  );
});

Deno.test("the finish kernel adds each model's row losses to its sum and advances the state", async () => {
  const rowLoss = randomNormal(dims.models * dims.batch);
  const lossSum = Float32Array.from([0.5, -2]);
  gpu.write(BUFFERS.rowLoss, rowLoss);
  gpu.write(BUFFERS.lossSum, lossSum);
  for (const training of [1, 0]) {
    gpu.writeState({ ...STATE, training });
    await gpu.run("finish step");
    const state = new Uint32Array((await gpu.read(BUFFERS.state)).buffer);
    assert.deepEqual([...state], [STATE.step + training, STATE.batch + 1, STATE.rows, training]);
  }
  const sums = await gpu.read(BUFFERS.lossSum);
  for (let m = 0; m < dims.models; m++) {
    const rows = rowLoss.subarray(m * dims.batch, (m + 1) * dims.batch).reduce((a, b) => a + b);
    assertClose(sums.subarray(m, m + 1), [lossSum[m] + 2 * rows], `loss sum, model ${m}`);
  }
  gpu.writeState(STATE);
});

Deno.test("dropout is reproducible for a seed and step, drops about p of the units, scales the rest", async () => {
  const wide = await harness({ models: 2, batch: 64, params: PARAMS }, 1);
  const layer = LAYERS.find((l) => l.activation === "reluDropout")!;
  const previous = LAYERS[layer.index - 1];
  const p = [0.5, 0.2];
  const wideParams = new Float32Array(2 * PARAMS);
  for (let m = 0; m < 2; m++) {
    wideParams.set(params.subarray(0, PARAMS), m * PARAMS);
    // A large bias makes every unit positive before dropout, so each zero is a dropped unit.
    wideParams.fill(
      10,
      m * PARAMS + layer.bias.offset,
      m * PARAMS + layer.bias.offset + layer.bias.size,
    );
  }
  wide.write(BUFFERS.params, wideParams);
  wide.write(
    activationBuffer(previous.spec.name),
    Float32Array.from(randomNormal(2 * 64 * layer.inputSize), Math.abs),
  );
  const masks = async (seeds: number[], step: number, training = 1) => {
    wide.writeModels(
      seeds.map((seed, m) => ({ lr: 1e-3, wd: 0, dropout: p[m], seed, hidden: HIDDEN_MAX })),
    );
    wide.writeState({ step, batch: 0, rows: 64, training });
    await wide.run(`forward ${layer.spec.name}`);
    return await wide.read(activationBuffer(layer.spec.name));
  };
  const kept = await masks([1, 1], 0, 0);
  const first = await masks([1, 1], 0);
  assert.deepEqual(await masks([1, 1], 0), first, "same seed and step, other masks");
  const units = 64 * layer.outputSize;
  for (let m = 0; m < 2; m++) {
    const values = first.subarray(m * units, (m + 1) * units);
    const dropped = values.filter((v) => v === 0).length / units;
    assert.ok(Math.abs(dropped - p[m]) < 0.03, `model ${m} dropped ${dropped}, p = ${p[m]}`);
    const reference = kept.subarray(m * units, (m + 1) * units);
    const survivors = values.map((v, i) => (v === 0 ? 0 : reference[i] / (1 - p[m])));
    assertClose(values, survivors, `kept units of model ${m} scaled by 1/(1 − p)`);
  }
  const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => (v === 0) === (b[i] === 0));
  const firstModel = (values: Float32Array) => values.subarray(0, units);
  assert.ok(
    !same(firstModel(await masks([2, 1], 0)), firstModel(first)),
    "another seed, same masks",
  );
  assert.ok(
    !same(firstModel(await masks([1, 1], 1)), firstModel(first)),
    "another step, same masks",
  );
  // Going back through the dropout: the input gradient of the next layer carries the same 1/(1 − p).
  const next = LAYERS[layer.index + 1];
  await masks([1, 1], 0);
  const g = randomNormal(2 * 64 * next.outputSize);
  wide.write(gradientBuffer(next.spec.name), g);
  await wide.run(`input gradient ${next.spec.name}`);
  const gradient = await wide.read(gradientBuffer(layer.spec.name));
  tf.tidy(() => {
    const w = tf.tensor(
      wideParams.slice(next.weight.offset, next.weight.offset + next.weight.size),
      next.weight.spec.shape,
    );
    const upstream = tf.tensor(g.subarray(0, 64 * next.outputSize), [64, next.outputSize]).matMul(
      w,
    );
    const mask = tf.tensor(firstModel(first), [64, layer.outputSize]).greater(0).cast("float32")
      .mul(1 / (1 - p[0]));
    assertClose(
      gradient.subarray(0, units),
      upstream.mul(mask).flatten().arraySync() as number[],
      "gradient through dropout",
    );
  });
});
