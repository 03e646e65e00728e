/** Real MNIST subsets shared by the tests, loaded once per test process from the embedded npm data. */
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist, type Mnist } from "../lib/data/mnist.ts";

let mnist: Promise<Mnist> | undefined;

/** The full MNIST dataset, loaded (quietly) on first use. */
export function testMnist(): Promise<Mnist> {
  mnist ??= loadMnist({ quiet: true });
  return mnist;
}

/** The first `limit` digits of the MNIST test set. */
export async function testDigits(limit: number) {
  return takeDigits((await testMnist()).test, limit);
}

/** The first `limit` digits of the MNIST training set. */
export async function trainDigits(limit: number) {
  return takeDigits((await testMnist()).train, limit);
}
