// The kernels of aelab's WebAssembly engine, in AssemblyScript (compiled by `deno task build-wasm`).
//
// Every activation and gradient is a map laid out batch-innermost: `[channel][pixel][lane]`, one row of
// `rowBytes` (the batch, padded to a multiple of 16 lanes) per pixel, each channel's plane `stride`
// bytes long. A map a convolution reads on its fine side carries one more pixel per plane that stays
// zero (the weight gradient's tap tables point taps outside the map there); the others carry none, so a
// linear layer sees its features as consecutive rows. Each kernel works on `lanes` lanes of every row
// (a multiple of 16), 128 bits at a time: the batch is the vector, so every layer vectorises the same way
// whatever its channels. Weights are PyTorch's layouts, flat, as `lib/model/architecture.ts` lists them.
//
// Fused multiply-adds are relaxed SIMD's where the build enables it (`kernels.wasm`), a multiply and an
// add otherwise (`kernels_plain.wasm`).

/** `a · b + c`, fused where relaxed SIMD is on. */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** The sum of the four lanes of `v`. */
@inline function lanesSum(v: v128): f32 {
  const pair = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(pair, i32x4.shuffle(pair, pair, 1, 0, 3, 2)), 0);
}

// What a kernel does to a result before storing it. Forward: the bias is added first, then NONE,
// RELU, SIGMOID, or RELU_MASK (ReLU times the dropout mask in `aux`, laid out as the output). Backward
// (the result is the gradient of a layer's output `aux`): NONE, RELU (zero where aux ≤ 0) or RELU_SCALE
// (that times the dropout scale, for a layer followed by dropout).
const NONE = 0;
const RELU = 1;
const SIGMOID = 2;
const RELU_MASK = 3;
const RELU_SCALE = 4;

/** Logistic sigmoid of each lane. */
@inline function sigmoid(v: v128): v128 {
  let out = v;
  out = f32x4.replace_lane(out, 0, 1 / (1 + Mathf.exp(-f32x4.extract_lane(v, 0))));
  out = f32x4.replace_lane(out, 1, 1 / (1 + Mathf.exp(-f32x4.extract_lane(v, 1))));
  out = f32x4.replace_lane(out, 2, 1 / (1 + Mathf.exp(-f32x4.extract_lane(v, 2))));
  out = f32x4.replace_lane(out, 3, 1 / (1 + Mathf.exp(-f32x4.extract_lane(v, 3))));
  return out;
}

/** Applies epilogue `mode` to `v` and stores it at `address`; `aux` is the matching address in `aux`. */
@inline function emit(address: usize, v: v128, mode: i32, aux: usize, scale: v128): void {
  const zero = f32x4.splat(0);
  let out = v;
  if (mode == RELU) {
    out = aux == 0 ? f32x4.max(v, zero) : v128.and(v, f32x4.gt(v128.load(aux), zero));
  } else if (mode == SIGMOID) {
    out = sigmoid(v);
  } else if (mode == RELU_MASK) {
    out = f32x4.mul(f32x4.max(v, zero), v128.load(aux));
  } else if (mode == RELU_SCALE) {
    out = v128.and(f32x4.mul(v, scale), f32x4.gt(v128.load(aux), zero));
  }
  v128.store(address, out);
}

/** The address in `aux` that matches `address` in `base`'s map, or 0 without aux. */
@inline function auxAt(aux: usize, base: usize, address: usize): usize {
  return aux == 0 ? 0 : aux + (address - base);
}

/**
 * One gathering pass of a 3 × 3 convolution: each output pixel sums, over input channels and its taps,
 * input pixel × weight. `taps` holds 19 i32 per output pixel: the tap count n, then n pairs (input
 * pixel, weight tap 0–8). The weight of (output channel o, input channel i, tap t) is at
 * `weights + 4 · (o · wOut + i · wIn + t)`. Forward this is a Conv2d (to the coarse map) or a
 * ConvTranspose2d (to the fine map); backward, the same with the roles swapped, gives input gradients.
 * `bias` is 0 going backward.
 */
export function gather(
  input: usize, inChannels: i32, inStride: i32,
  output: usize, outChannels: i32, outStride: i32, outArea: i32,
  weights: usize, wOut: i32, wIn: i32, bias: usize, taps: usize,
  rowBytes: i32, lanes: i32, mode: i32, aux: usize, scale: f32,
): void {
  const scaleV = f32x4.splat(scale);
  const laneBytes = lanes << 2;
  const wOutB = wOut << 2;
  const wInB = wIn << 2;
  const blocked = outChannels % 4 == 0;
  // Pixel after pixel, and every output channel of a pixel before the next pixel: the input rows a
  // pixel reads stay in cache while each block of output channels reads them again.
  for (let q = 0; q < outArea; q++) {
    const record = taps + <usize>(q * 76);
    const n = load<i32>(record);
    for (let oc = 0; oc < outChannels; oc += blocked ? 4 : 1) {
      const row = output + <usize>(oc * outStride + q * rowBytes);
      if (blocked) {
        const b0 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (oc << 2));
        const b1 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (oc + 1 << 2));
        const b2 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (oc + 2 << 2));
        const b3 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (oc + 3 << 2));
        for (let l = 0; l < laneBytes; l += 32) {
          let a0 = b0, a1 = b0, a2 = b1, a3 = b1, a4 = b2, a5 = b2, a6 = b3, a7 = b3;
          for (let k = 0; k < n; k++) {
            const pixel = load<i32>(record + <usize>(4 + k * 8));
            const tap = load<i32>(record + <usize>(8 + k * 8));
            let x = input + <usize>(pixel * rowBytes + l);
            let w = weights + <usize>((oc * wOut + tap) << 2);
            for (let ic = 0; ic < inChannels; ic++) {
              const x0 = v128.load(x);
              const x1 = v128.load(x, 16);
              const w0 = v128.load32_splat(w);
              const w1 = v128.load32_splat(w + wOutB);
              const w2 = v128.load32_splat(w + 2 * wOutB);
              const w3 = v128.load32_splat(w + 3 * wOutB);
              a0 = madd(x0, w0, a0);
              a1 = madd(x1, w0, a1);
              a2 = madd(x0, w1, a2);
              a3 = madd(x1, w1, a3);
              a4 = madd(x0, w2, a4);
              a5 = madd(x1, w2, a5);
              a6 = madd(x0, w3, a6);
              a7 = madd(x1, w3, a7);
              x += inStride;
              w += wInB;
            }
          }
          const o0 = row + l;
          const o1 = o0 + outStride;
          const o2 = o1 + outStride;
          const o3 = o2 + outStride;
          emit(o0, a0, mode, auxAt(aux, output, o0), scaleV);
          emit(o0 + 16, a1, mode, auxAt(aux, output, o0 + 16), scaleV);
          emit(o1, a2, mode, auxAt(aux, output, o1), scaleV);
          emit(o1 + 16, a3, mode, auxAt(aux, output, o1 + 16), scaleV);
          emit(o2, a4, mode, auxAt(aux, output, o2), scaleV);
          emit(o2 + 16, a5, mode, auxAt(aux, output, o2 + 16), scaleV);
          emit(o3, a6, mode, auxAt(aux, output, o3), scaleV);
          emit(o3 + 16, a7, mode, auxAt(aux, output, o3 + 16), scaleV);
        }
      } else {
        const b0 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (oc << 2));
        for (let l = 0; l < laneBytes; l += 64) {
          let a0 = b0, a1 = b0, a2 = b0, a3 = b0;
          for (let k = 0; k < n; k++) {
            const pixel = load<i32>(record + <usize>(4 + k * 8));
            const tap = load<i32>(record + <usize>(8 + k * 8));
            let x = input + <usize>(pixel * rowBytes + l);
            let w = weights + <usize>((oc * wOut + tap) << 2);
            for (let ic = 0; ic < inChannels; ic++) {
              const w0 = v128.load32_splat(w);
              a0 = madd(v128.load(x), w0, a0);
              a1 = madd(v128.load(x, 16), w0, a1);
              a2 = madd(v128.load(x, 32), w0, a2);
              a3 = madd(v128.load(x, 48), w0, a3);
              x += inStride;
              w += wInB;
            }
          }
          const o0 = row + l;
          emit(o0, a0, mode, auxAt(aux, output, o0), scaleV);
          emit(o0 + 16, a1, mode, auxAt(aux, output, o0 + 16), scaleV);
          emit(o0 + 32, a2, mode, auxAt(aux, output, o0 + 32), scaleV);
          emit(o0 + 48, a3, mode, auxAt(aux, output, o0 + 48), scaleV);
        }
      }
    }
  }
}

/**
 * The weight gradient of a 3 × 3 convolution, written to `grads` as `[coarse][fine][9]` (PyTorch's
 * layout for either kind): for each coarse pixel c, `taps` holds 9 i32, the fine pixel tap t reads (the
 * zero pixel where it falls outside the map); the gradient of tap t sums coarse[c] · fine[tap t of c]
 * over pixels and lanes.
 */
export function convWeightGradient(
  fine: usize, fineChannels: i32, fineStride: i32,
  coarse: usize, coarseChannels: i32, coarseStride: i32, coarseArea: i32,
  taps: usize, grads: usize, rowBytes: i32, lanes: i32,
): void {
  const laneBytes = lanes << 2;
  for (let cc = 0; cc < coarseChannels; cc++) {
    for (let fc = 0; fc < fineChannels; fc++) {
      const plane = fine + <usize>(fc * fineStride);
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0;
      for (let c = 0; c < coarseArea; c++) {
        const record = taps + <usize>(c * 36);
        const f0 = plane + <usize>(load<i32>(record) * rowBytes);
        const f1 = plane + <usize>(load<i32>(record, 4) * rowBytes);
        const f2 = plane + <usize>(load<i32>(record, 8) * rowBytes);
        const f3 = plane + <usize>(load<i32>(record, 12) * rowBytes);
        const f4 = plane + <usize>(load<i32>(record, 16) * rowBytes);
        const f5 = plane + <usize>(load<i32>(record, 20) * rowBytes);
        const f6 = plane + <usize>(load<i32>(record, 24) * rowBytes);
        const f7 = plane + <usize>(load<i32>(record, 28) * rowBytes);
        const f8 = plane + <usize>(load<i32>(record, 32) * rowBytes);
        const g = coarse + <usize>(cc * coarseStride + c * rowBytes);
        for (let l: usize = 0; l < <usize>laneBytes; l += 16) {
          const x = v128.load(g + l);
          s0 = madd(x, v128.load(f0 + l), s0);
          s1 = madd(x, v128.load(f1 + l), s1);
          s2 = madd(x, v128.load(f2 + l), s2);
          s3 = madd(x, v128.load(f3 + l), s3);
          s4 = madd(x, v128.load(f4 + l), s4);
          s5 = madd(x, v128.load(f5 + l), s5);
          s6 = madd(x, v128.load(f6 + l), s6);
          s7 = madd(x, v128.load(f7 + l), s7);
          s8 = madd(x, v128.load(f8 + l), s8);
        }
      }
      const out = grads + <usize>((cc * fineChannels + fc) * 36);
      store<f32>(out, lanesSum(s0));
      store<f32>(out, lanesSum(s1), 4);
      store<f32>(out, lanesSum(s2), 8);
      store<f32>(out, lanesSum(s3), 12);
      store<f32>(out, lanesSum(s4), 16);
      store<f32>(out, lanesSum(s5), 20);
      store<f32>(out, lanesSum(s6), 24);
      store<f32>(out, lanesSum(s7), 28);
      store<f32>(out, lanesSum(s8), 32);
    }
  }
}

/** `sums[c]` = the sum of channel c of a map over its `area` pixels and `lanes` lanes (a bias gradient). */
export function channelSums(
  map: usize, channels: i32, stride: i32, area: i32, rowBytes: i32, lanes: i32, sums: usize,
): void {
  const laneBytes = lanes << 2;
  for (let c = 0; c < channels; c++) {
    let s = f32x4.splat(0);
    for (let p = 0; p < area; p++) {
      const row = map + <usize>(c * stride + p * rowBytes);
      for (let l = 0; l < laneBytes; l += 16) s = f32x4.add(s, v128.load(row + l));
    }
    store<f32>(sums + (c << 2), lanesSum(s));
  }
}

/**
 * A linear layer forward: output feature o = bias[o] + Σ_i weights[o][i] · input feature i, through
 * the epilogue. Input and output hold their features one row each (a flattened convolution map in
 * PyTorch's channel-major order is one: its planes carry no zero pixel).
 */
export function linearForward(
  input: usize, inFeatures: i32, weights: usize, bias: usize, output: usize, outFeatures: i32,
  rowBytes: i32, lanes: i32, mode: i32, aux: usize,
): void {
  const laneBytes = lanes << 2;
  const rowB = inFeatures << 2;
  const scaleV = f32x4.splat(1);
  let o = 0;
  for (; o + 4 <= outFeatures; o += 4) {
    const b0 = v128.load32_splat(bias + (o << 2));
    const b1 = v128.load32_splat(bias + (o + 1 << 2));
    const b2 = v128.load32_splat(bias + (o + 2 << 2));
    const b3 = v128.load32_splat(bias + (o + 3 << 2));
    const o0 = output + <usize>(o * rowBytes);
    const o1 = o0 + rowBytes;
    const o2 = o1 + rowBytes;
    const o3 = o2 + rowBytes;
    for (let l = 0; l < laneBytes; l += 32) {
      let a0 = b0, a1 = b0, a2 = b1, a3 = b1, a4 = b2, a5 = b2, a6 = b3, a7 = b3;
      let w = weights + <usize>(o * rowB);
      let x = input + <usize>l;
      for (let i = 0; i < inFeatures; i++) {
        const x0 = v128.load(x);
        const x1 = v128.load(x, 16);
        const w0 = v128.load32_splat(w);
        const w1 = v128.load32_splat(w + rowB);
        const w2 = v128.load32_splat(w + 2 * rowB);
        const w3 = v128.load32_splat(w + 3 * rowB);
        a0 = madd(x0, w0, a0);
        a1 = madd(x1, w0, a1);
        a2 = madd(x0, w1, a2);
        a3 = madd(x1, w1, a3);
        a4 = madd(x0, w2, a4);
        a5 = madd(x1, w2, a5);
        a6 = madd(x0, w3, a6);
        a7 = madd(x1, w3, a7);
        x += rowBytes;
        w += 4;
      }
      emit(o0 + l, a0, mode, auxAt(aux, output, o0 + l), scaleV);
      emit(o0 + l + 16, a1, mode, auxAt(aux, output, o0 + l + 16), scaleV);
      emit(o1 + l, a2, mode, auxAt(aux, output, o1 + l), scaleV);
      emit(o1 + l + 16, a3, mode, auxAt(aux, output, o1 + l + 16), scaleV);
      emit(o2 + l, a4, mode, auxAt(aux, output, o2 + l), scaleV);
      emit(o2 + l + 16, a5, mode, auxAt(aux, output, o2 + l + 16), scaleV);
      emit(o3 + l, a6, mode, auxAt(aux, output, o3 + l), scaleV);
      emit(o3 + l + 16, a7, mode, auxAt(aux, output, o3 + l + 16), scaleV);
    }
  }
  for (; o < outFeatures; o++) {
    const b0 = v128.load32_splat(bias + (o << 2));
    const o0 = output + <usize>(o * rowBytes);
    for (let l = 0; l < laneBytes; l += 64) {
      let a0 = b0, a1 = b0, a2 = b0, a3 = b0;
      let w = weights + <usize>(o * rowB);
      let x = input + <usize>l;
      for (let i = 0; i < inFeatures; i++) {
        const w0 = v128.load32_splat(w);
        a0 = madd(v128.load(x), w0, a0);
        a1 = madd(v128.load(x, 16), w0, a1);
        a2 = madd(v128.load(x, 32), w0, a2);
        a3 = madd(v128.load(x, 48), w0, a3);
        x += rowBytes;
        w += 4;
      }
      emit(o0 + l, a0, mode, auxAt(aux, output, o0 + l), scaleV);
      emit(o0 + l + 16, a1, mode, auxAt(aux, output, o0 + l + 16), scaleV);
      emit(o0 + l + 32, a2, mode, auxAt(aux, output, o0 + l + 32), scaleV);
      emit(o0 + l + 48, a3, mode, auxAt(aux, output, o0 + l + 48), scaleV);
    }
  }
}

/**
 * A linear layer's input gradient: input feature i = Σ_o weights[o][i] · output gradient o, through the
 * backward epilogue (`aux`: the input's activation, laid out as the input).
 */
export function linearInputGradient(
  gradOut: usize, outFeatures: i32, weights: usize, gradIn: usize, inFeatures: i32,
  rowBytes: i32, lanes: i32, mode: i32, aux: usize, scale: f32,
): void {
  const laneBytes = lanes << 2;
  const rowB = inFeatures << 2;
  const scaleV = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= inFeatures; i += 4) {
    const d0 = gradIn + <usize>(i * rowBytes);
    const d1 = d0 + rowBytes;
    const d2 = d1 + rowBytes;
    const d3 = d2 + rowBytes;
    for (let l = 0; l < laneBytes; l += 32) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      let w = weights + <usize>(i << 2);
      let y = gradOut + <usize>l;
      for (let o = 0; o < outFeatures; o++) {
        const y0 = v128.load(y);
        const y1 = v128.load(y, 16);
        const w0 = v128.load32_splat(w);
        const w1 = v128.load32_splat(w, 4);
        const w2 = v128.load32_splat(w, 8);
        const w3 = v128.load32_splat(w, 12);
        a0 = madd(y0, w0, a0);
        a1 = madd(y1, w0, a1);
        a2 = madd(y0, w1, a2);
        a3 = madd(y1, w1, a3);
        a4 = madd(y0, w2, a4);
        a5 = madd(y1, w2, a5);
        a6 = madd(y0, w3, a6);
        a7 = madd(y1, w3, a7);
        y += rowBytes;
        w += rowB;
      }
      emit(d0 + l, a0, mode, auxAt(aux, gradIn, d0 + l), scaleV);
      emit(d0 + l + 16, a1, mode, auxAt(aux, gradIn, d0 + l + 16), scaleV);
      emit(d1 + l, a2, mode, auxAt(aux, gradIn, d1 + l), scaleV);
      emit(d1 + l + 16, a3, mode, auxAt(aux, gradIn, d1 + l + 16), scaleV);
      emit(d2 + l, a4, mode, auxAt(aux, gradIn, d2 + l), scaleV);
      emit(d2 + l + 16, a5, mode, auxAt(aux, gradIn, d2 + l + 16), scaleV);
      emit(d3 + l, a6, mode, auxAt(aux, gradIn, d3 + l), scaleV);
      emit(d3 + l + 16, a7, mode, auxAt(aux, gradIn, d3 + l + 16), scaleV);
    }
  }
  for (; i < inFeatures; i++) {
    const d0 = gradIn + <usize>(i * rowBytes);
    for (let l = 0; l < laneBytes; l += 64) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let w = weights + <usize>(i << 2);
      let y = gradOut + <usize>l;
      for (let o = 0; o < outFeatures; o++) {
        const w0 = v128.load32_splat(w);
        a0 = madd(v128.load(y), w0, a0);
        a1 = madd(v128.load(y, 16), w0, a1);
        a2 = madd(v128.load(y, 32), w0, a2);
        a3 = madd(v128.load(y, 48), w0, a3);
        y += rowBytes;
        w += rowB;
      }
      emit(d0 + l, a0, mode, auxAt(aux, gradIn, d0 + l), scaleV);
      emit(d0 + l + 16, a1, mode, auxAt(aux, gradIn, d0 + l + 16), scaleV);
      emit(d0 + l + 32, a2, mode, auxAt(aux, gradIn, d0 + l + 32), scaleV);
      emit(d0 + l + 48, a3, mode, auxAt(aux, gradIn, d0 + l + 48), scaleV);
    }
  }
}

/**
 * A linear layer's weight and bias gradients: grads[o][i] = Σ_lanes gradOut o · input i, biasGrads[o]
 * = Σ_lanes gradOut o.
 */
export function linearWeightGradient(
  gradOut: usize, outFeatures: i32, input: usize, inFeatures: i32,
  grads: usize, biasGrads: usize, rowBytes: i32, lanes: i32,
): void {
  const laneBytes = <usize>(lanes << 2);
  for (let o = 0; o < outFeatures; o++) {
    const y = gradOut + <usize>(o * rowBytes);
    let s = f32x4.splat(0);
    for (let l: usize = 0; l < laneBytes; l += 16) s = f32x4.add(s, v128.load(y + l));
    store<f32>(biasGrads + (o << 2), lanesSum(s));
    const row = grads + <usize>(o * inFeatures << 2);
    let i = 0;
    for (; i + 4 <= inFeatures; i += 4) {
      const x0 = input + <usize>(i * rowBytes);
      const x1 = x0 + rowBytes;
      const x2 = x1 + rowBytes;
      const x3 = x2 + rowBytes;
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
      for (let l: usize = 0; l < laneBytes; l += 16) {
        const g = v128.load(y + l);
        s0 = madd(g, v128.load(x0 + l), s0);
        s1 = madd(g, v128.load(x1 + l), s1);
        s2 = madd(g, v128.load(x2 + l), s2);
        s3 = madd(g, v128.load(x3 + l), s3);
      }
      store<f32>(row + (i << 2), lanesSum(s0));
      store<f32>(row + (i << 2), lanesSum(s1), 4);
      store<f32>(row + (i << 2), lanesSum(s2), 8);
      store<f32>(row + (i << 2), lanesSum(s3), 12);
    }
    for (; i < inFeatures; i++) {
      const x0 = input + <usize>(i * rowBytes);
      let s0 = f32x4.splat(0);
      for (let l: usize = 0; l < laneBytes; l += 16) {
        s0 = madd(v128.load(y + l), v128.load(x0 + l), s0);
      }
      store<f32>(row + (i << 2), lanesSum(s0));
    }
  }
}

/**
 * The squared error of the reconstruction `output` (sigmoid outputs, one channel of `area` pixels)
 * against `target`, summed over the first `rows` lanes (a double). Unless `grad` is 0, also writes the
 * gradient of the mean over `meanRows` images (`rows`, or the whole batch where these rows are a slice of
 * it) with respect to the sigmoid's input: 2 (y − t) y (1 − y) / (meanRows · area), zero in the lanes
 * past `rows`.
 */
export function squaredError(
  output: usize, target: usize, grad: usize, area: i32, rowBytes: i32, lanes: i32, rows: i32,
  meanRows: i32,
): f64 {
  const laneBytes = lanes << 2;
  const scale = f32x4.splat(<f32>(2.0 / (<f64>meanRows * <f64>area)));
  const one = f32x4.splat(1);
  const limit = i32x4.splat(rows);
  let total: f64 = 0;
  for (let p = 0; p < area; p++) {
    const at = <usize>(p * rowBytes);
    let s = f32x4.splat(0);
    let index = i32x4(0, 1, 2, 3);
    for (let l = 0; l < laneBytes; l += 16) {
      const y = v128.load(output + at + l);
      const d = v128.and(f32x4.sub(y, v128.load(target + at + l)), i32x4.lt_s(index, limit));
      s = madd(d, d, s);
      if (grad != 0) {
        v128.store(grad + at + l, f32x4.mul(f32x4.mul(f32x4.mul(d, scale), y), f32x4.sub(one, y)));
      }
      index = i32x4.add(index, i32x4.splat(4));
    }
    total += <f64>lanesSum(s);
  }
  return total;
}

/**
 * torch.optim.Adam with coupled L2 over `count` parameters (a multiple of 4): g ← g + λw;
 * m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; w ← w − stepSize · m / (√v · correction + ε), where the caller
 * gives stepSize = lr / (1 − β₁ᵗ) and correction = 1 / √(1 − β₂ᵗ).
 */
export function adam(
  weights: usize, grads: usize, first: usize, second: usize, count: i32,
  l2: f32, stepSize: f32, correction: f32,
): void {
  const beta1 = f32x4.splat(0.9);
  const beta2 = f32x4.splat(0.999);
  const rest1 = f32x4.splat(<f32>(1 - 0.9));
  const rest2 = f32x4.splat(<f32>(1 - 0.999));
  const epsilon = f32x4.splat(1e-8);
  const decay = f32x4.splat(l2);
  const step = f32x4.splat(stepSize);
  const corr = f32x4.splat(correction);
  const bytes = <usize>(count << 2);
  for (let i: usize = 0; i < bytes; i += 16) {
    const w = v128.load(weights + i);
    const g = f32x4.add(v128.load(grads + i), f32x4.mul(w, decay));
    const m = f32x4.add(f32x4.mul(v128.load(first + i), beta1), f32x4.mul(g, rest1));
    const v = f32x4.add(f32x4.mul(v128.load(second + i), beta2), f32x4.mul(f32x4.mul(g, g), rest2));
    v128.store(first + i, m);
    v128.store(second + i, v);
    const denominator = f32x4.add(f32x4.mul(f32x4.sqrt(v), corr), epsilon);
    v128.store(weights + i, f32x4.sub(w, f32x4.div(f32x4.mul(m, step), denominator)));
  }
}

/** The first byte past the module's own data, where a population's buffers may start. */
export function heapBase(): usize {
  return __heap_base;
}
