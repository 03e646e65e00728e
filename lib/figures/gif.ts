/**
 * Animated GIFs of digits: a morph between two digits, a reconstruction improving epoch by epoch. Frames
 * are grayscale, so a palette of the 256 gray levels holds them exactly.
 *
 * @module
 */
import { GIFEncoder, GifReader } from "../deps.ts";
import { type Digit, digitGrid, type GrayImage } from "./png.ts";

/** Timing of an animation. */
export interface GifOptions {
  /** How long each frame shows, in milliseconds (default 100; GIF keeps hundredths of a second). */
  delayMs?: number;
  /** Whether the animation repeats forever (default) or plays once. */
  loop?: boolean;
}

const GRAY_PALETTE = Array.from({ length: 256 }, (_, level) => [level, level, level]);

/**
 * Encodes grayscale frames, all of one size, as an animated GIF.
 *
 * @example
 * ```ts
 * import { encodeGrayGif } from "./gif.ts";
 * const frame = (level: number) => ({ width: 4, height: 4, pixels: new Uint8Array(16).fill(level) });
 * const gif = encodeGrayGif([frame(0), frame(128), frame(255)], { delayMs: 200 });
 * ```
 */
export function encodeGrayGif(frames: GrayImage[], options: GifOptions = {}): Uint8Array {
  const { delayMs = 100, loop = true } = options;
  if (frames.length === 0) throw new RangeError("a GIF needs at least one frame");
  const { width, height } = frames[0];
  const encoder = GIFEncoder();
  frames.forEach((frame, index) => {
    if (frame.width !== width || frame.height !== height) {
      throw new RangeError(
        `frame ${index} is ${frame.width}×${frame.height}, the first is ${width}×${height}`,
      );
    }
    encoder.writeFrame(frame.pixels, width, height, {
      palette: index === 0 ? GRAY_PALETTE : undefined,
      delay: delayMs,
      repeat: loop ? 0 : -1,
    });
  });
  encoder.finish();
  return encoder.bytes();
}

/**
 * Encodes one digit per frame as an animated GIF, each digit scaled up by `scale` (default 3).
 *
 * @example
 * ```ts
 * import { encodeDigitGif } from "./gif.ts";
 * const frames = [0, 0.25, 0.5, 0.75, 1].map((t) => new Float32Array(784).fill(t));
 * const gif = encodeDigitGif(frames, { scale: 4, delayMs: 80 });
 * ```
 */
export function encodeDigitGif(
  digits: Digit[],
  options: GifOptions & { scale?: number } = {},
): Uint8Array {
  const frames = digits.map((digit) => digitGrid([[digit]], { scale: options.scale, gap: 0 }));
  return encodeGrayGif(frames, options);
}

/** A decoded GIF: its size, each frame as RGBA bytes, the frame delays and the loop count. */
export interface DecodedGif {
  width: number;
  height: number;
  frames: Uint8Array[];
  delaysMs: number[];
  /** Times the animation repeats: 0 forever, `null` when it plays once (no loop extension). */
  loopCount: number | null;
}

/**
 * Decodes a GIF to full-size RGBA frames (each frame drawn over the one before), to check what was
 * written.
 *
 * @example
 * ```ts
 * import { decodeGif, encodeDigitGif } from "./gif.ts";
 * const gif = encodeDigitGif([new Float32Array(784), new Float32Array(784).fill(1)]);
 * console.log(decodeGif(gif).frames.length); // 2
 * ```
 */
export function decodeGif(bytes: Uint8Array): DecodedGif {
  const reader = new GifReader(bytes);
  const canvas = new Uint8Array(reader.width * reader.height * 4);
  const frames: Uint8Array[] = [];
  const delaysMs: number[] = [];
  for (let i = 0; i < reader.numFrames(); i++) {
    reader.decodeAndBlitFrameRGBA(i, canvas);
    frames.push(canvas.slice());
    delaysMs.push(reader.frameInfo(i).delay * 10);
  }
  return {
    width: reader.width,
    height: reader.height,
    frames,
    delaysMs,
    loopCount: reader.loopCount(),
  };
}
