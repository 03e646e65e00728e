/**
 * Kernels for tfjs's wasm backend that make training fast there:
 *
 * - `Conv2DBackpropFilter`, which the backend lacks, and `Conv2DBackpropInput` (the forward pass of a
 *   transposed convolution, and the input gradient of a convolution), which it runs as a plain loop about
 *   ten times slower than its XNNPACK `Conv2D`: both become one matrix product on the backend's own
 *   `BatchMatMul` (XNNPACK) and a tight loop over the WebAssembly heap that lays out (im2col) or folds
 *   back (col2im) the patches. NHWC, dilation 1 and float32 only, which is all the models here use.
 * - `BatchMatMul` with a transposed operand, about ten times slower than without: the operand is
 *   transposed first (every backward pass of a linear layer asks for one).
 * - `GatherV2` along the first axis (cutting a batch out of a dataset), which the backend does element by
 *   element: whole rows are copied instead.
 * - `Identity`, and `Cast` to the same type, which the backend does by copying: they share the data, as on
 *   the cpu backend (tensors are immutable). Autodiff clones every tensor it saves for the backward pass.
 *
 * The replacements keep the original kernels for what they do not handle.
 *
 * @module
 */
import { tf, type tfWasm } from "./deps.ts";

type Backend = tfWasm.BackendWasm;
type Conv2DInfo = tf.backend_util.Conv2DInfo;
type KernelFunc = (args: {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs: tf.NamedAttrMap;
}) => tf.TensorInfo;

/** The backend's own kernels, as they were before {@link registerWasmKernels} replaced any. */
let original:
  | Record<"BatchMatMul" | "Cast" | "GatherV2" | "Transpose", KernelFunc>
  | undefined;

/**
 * Registers the kernels for the `wasm` backend, once (later calls do nothing). Call it after the backend
 * is set up.
 */
export function registerWasmKernels(): void {
  if (original) return;
  const own = (name: string) => tf.getKernel(name, "wasm")!.kernelFunc as unknown as KernelFunc;
  original = {
    BatchMatMul: own(tf.BatchMatMul),
    Cast: own(tf.Cast),
    GatherV2: own(tf.GatherV2),
    Transpose: own(tf.Transpose),
  };
  const replacements: Record<string, KernelFunc> = {
    [tf.Conv2DBackpropFilter]: conv2DBackpropFilter,
    [tf.Conv2DBackpropInput]: conv2DBackpropInput,
    [tf.BatchMatMul]: batchMatMul,
    [tf.GatherV2]: gatherV2,
    [tf.Identity]: share,
    [tf.Cast]: cast,
  };
  for (const [kernelName, kernelFunc] of Object.entries(replacements)) {
    // Keep the replaced kernel's setup (it binds the WebAssembly functions when a backend starts).
    const replaced = tf.getKernel(kernelName, "wasm");
    if (replaced) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      ...replaced,
      kernelName,
      backendName: "wasm",
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
}

/** A matrix product on the backend's own kernel, neither operand transposed (its fast path). */
function matMul(backend: Backend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return original!.BatchMatMul({
    inputs: { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false },
  });
}

/** `BatchMatMul` with any transposed operand transposed first. */
function batchMatMul({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): tf.TensorInfo {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const swapLast = (x: tf.TensorInfo) => {
    const perm = x.shape.map((_, i) => i);
    perm.push(...perm.splice(-2).reverse());
    return original!.Transpose({ inputs: { x }, backend, attrs: { perm } });
  };
  const left = transposeA ? swapLast(a) : a;
  const right = transposeB ? swapLast(b) : b;
  const product = matMul(backend, left, right);
  if (transposeA) backend.disposeData(left.dataId);
  if (transposeB) backend.disposeData(right.dataId);
  return product;
}

/** `GatherV2` along axis 0 as whole-row copies; anything else goes to the backend's own kernel. */
function gatherV2(args: Parameters<KernelFunc>[0]): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
  const first = tf.util.parseAxisParam(axis, x.shape)[0] === 0 && !batchDims;
  if (!first || x.dtype === "string" || x.dtype === "complex64" || indices.dtype !== "int32") {
    return original!.GatherV2(args);
  }
  const rows = x.shape[0];
  const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const picked = backend.typedArrayFromHeap(indices);
  for (let i = 0; i < picked.length; i++) {
    const row = picked[i];
    if (!(row >= 0 && row < rows)) {
      backend.disposeData(out.dataId);
      throw new RangeError(`GatherV2: the index value ${row} is not in [0, ${rows - 1}]`);
    }
    target.set(source.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
  }
  return out;
}

/** `Identity` sharing its input's data (another reference, counted), as the cpu backend does. */
function share({ inputs, backend }: Parameters<KernelFunc>[0]): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** `Cast` to the type the tensor already has shares its data; other casts go to the backend's kernel. */
function cast(args: Parameters<KernelFunc>[0]): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  return (args.attrs as unknown as tf.CastAttrs).dtype === x.dtype
    ? share(args)
    : original!.Cast(args);
}

/** Conv2D's gradient with respect to its filter: im2col, laid out transposed, times the output gradient. */
function conv2DBackpropFilter(
  { inputs, backend, attrs }: Parameters<KernelFunc>[0],
): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo(x.shape, filterShape, strides, pad, dataFormat, dimRoundingMode);
  const positions = info.batchSize * info.outHeight * info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  const patches = backend.makeOutput([patchSize, positions], "float32");
  im2colTransposed(
    backend.typedArrayFromHeap(x) as Float32Array,
    backend.typedArrayFromHeap(patches) as Float32Array,
    info,
  );
  const gradient = matMul(backend, patches, { ...dy, shape: [positions, info.outChannels] });
  backend.disposeData(patches.dataId);
  return { ...gradient, shape: [...filterShape] };
}

/** Conv2D's gradient with respect to its input: the output gradient times the filter, then col2im. */
function conv2DBackpropInput({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo(inputShape, filter.shape, strides, pad, dataFormat, dimRoundingMode);
  const positions = info.batchSize * info.outHeight * info.outWidth;
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  // The filter [kh, kw, in, out] as a [out, kh·kw·in] matrix, so the product needs no transposition.
  const filterT = original!.Transpose({
    inputs: { x: { ...filter, shape: [patchSize, info.outChannels] } },
    backend,
    attrs: { perm: [1, 0] },
  });
  const columns = matMul(backend, { ...dy, shape: [positions, info.outChannels] }, filterT);
  backend.disposeData(filterT.dataId);
  const dx = backend.makeOutput([...inputShape], "float32");
  col2im(
    backend.typedArrayFromHeap(columns) as Float32Array,
    backend.typedArrayFromHeap(dx) as Float32Array,
    info,
  );
  backend.disposeData(columns.dataId);
  return dx;
}

function convInfo(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: [number, number] | number,
  pad: Parameters<typeof tf.backend_util.computeConv2DInfo>[4],
  dataFormat: "NHWC" | "NCHW",
  dimRoundingMode?: "floor" | "round" | "ceil",
): Conv2DInfo {
  if (dataFormat !== "NHWC") {
    throw new Error(`wasm convolution gradients: ${dataFormat} unsupported`);
  }
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/**
 * Writes the patches of `x` as a [kh·kw·in, positions] matrix: row (ky, kx, c) holds, for every output
 * position (n, oy, ox), the input pixel x[n, oy·s + ky − top, ox·s + kx − left, c], or 0 in the padding.
 */
function im2colTransposed(x: Float32Array, patches: Float32Array, info: Conv2DInfo) {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const rowStride = inWidth * inChannels;
  const imageStride = inHeight * rowStride;
  const step = strideWidth * inChannels;
  let out = 0;
  for (let ky = 0; ky < filterHeight; ky++) {
    for (let kx = 0; kx < filterWidth; kx++) {
      // Output columns [first, end) read inside the image; the rest read padding.
      const first = Math.max(0, Math.ceil((left - kx) / strideWidth));
      const end = Math.min(outWidth, Math.floor((inWidth - 1 + left - kx) / strideWidth) + 1);
      for (let c = 0; c < inChannels; c++) {
        for (let n = 0; n < batchSize; n++) {
          const image = n * imageStride + (first * strideWidth + kx - left) * inChannels + c;
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * strideHeight + ky - top;
            if (iy < 0 || iy >= inHeight) {
              for (let ox = 0; ox < outWidth; ox++) patches[out++] = 0;
              continue;
            }
            let source = image + iy * rowStride;
            for (let ox = 0; ox < first; ox++) patches[out++] = 0;
            for (let ox = first; ox < end; ox++, source += step) patches[out++] = x[source];
            for (let ox = end; ox < outWidth; ox++) patches[out++] = 0;
          }
        }
      }
    }
  }
}

/**
 * Adds the [positions, kh·kw·in] `columns` back into the image they were taken from (the adjoint of
 * im2col): dx[n, oy·s + ky − top, ox·s + kx − left, c] += columns[(n, oy, ox), (ky, kx, c)].
 */
function col2im(columns: Float32Array, dx: Float32Array, info: Conv2DInfo) {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const rowStride = inWidth * inChannels;
  const imageStride = inHeight * rowStride;
  const tapRow = filterWidth * inChannels;
  const patchSize = filterHeight * tapRow;
  dx.fill(0);
  let column = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, column += patchSize) {
        // The taps kx in [first, end) land inside the image; along them, and along the channels, both
        // the column and the image row are contiguous: one run of (end − first)·in numbers per ky.
        const x0 = ox * strideWidth - left;
        const first = Math.max(0, -x0);
        const run = (Math.min(filterWidth, inWidth - x0) - first) * inChannels;
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - top;
          if (iy < 0 || iy >= inHeight) continue;
          const target = n * imageStride + iy * rowStride + (x0 + first) * inChannels;
          const source = column + ky * tapRow + first * inChannels;
          for (let j = 0; j < run; j++) dx[target + j] += columns[source + j];
        }
      }
    }
  }
}
