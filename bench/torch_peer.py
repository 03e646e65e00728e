"""The benchmark's peer: the seed's autoencoder in plain PyTorch, trained eagerly, timed as `deno task bench`
times its engines.

    python3 bench/torch_peer.py --images-file FILE [--batch-size 256] [--epochs 1] [--warmup-steps 2]
        [--steps 0] [--models 1] [--dropout 0.1508] [--lr 3.47e-4] [--l2 4.65e-6] [--seed 0]

FILE holds the training images as raw bytes, 784 per image (28 × 28, row-major, 0–255); they go to the
device once as a float tensor in [0, 1]. Each model (seed, seed + 1, …, trained one after another) takes
`--warmup-steps` untimed steps first (CUDA context, cuDNN and the allocator warm up there), then `--epochs`
shuffled epochs — or only the first `--steps` steps of one epoch, when `--steps` is above 0 — timed from
the first step to the last, synchronised. Runs on CUDA when available, else on the CPU with as many threads
as there are cores. Prints one JSON line: device, samples_per_second (of all models together), per_model,
batch, images, steps, seconds, torch, threads, models, loss (the last model's mean timed batch loss). Exits
with code 3 and an `error` line when torch cannot be imported.
"""

import argparse
import json
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as error:
    print(json.dumps({"error": f"torch is missing: {error}"}))
    sys.exit(3)

PIXELS = 28 * 28


def autoencoder(hidden, dropout):
    """The seed's encoder and decoder as one module, with the seed's layer names."""
    encoder = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(True),
        nn.Conv2d(16, 32, 3, stride=2, padding=0), nn.ReLU(True),
        nn.Flatten(start_dim=1),
        nn.Linear(3 * 3 * 32, 64), nn.ReLU(True), nn.Dropout(dropout),
        nn.Linear(64, hidden),
    )
    decoder = nn.Sequential(
        nn.Linear(hidden, 64), nn.ReLU(True), nn.Dropout(dropout),
        nn.Linear(64, 3 * 3 * 32), nn.ReLU(True),
        nn.Unflatten(dim=1, unflattened_size=(32, 3, 3)),
        nn.ConvTranspose2d(32, 16, 3, stride=2, output_padding=0), nn.ReLU(True),
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(True),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1),
        nn.Sigmoid(),
    )
    return nn.Sequential(encoder, decoder)


def batches(count, batch_size, device):
    """Index tensors of one shuffled epoch."""
    order = torch.randperm(count, device=device)
    return [order[start:start + batch_size] for start in range(0, count, batch_size)]


def train(model, optimizer, images, steps):
    """Runs the Adam steps over `steps` (index tensors); returns the loss sum, still on the device."""
    total = torch.zeros((), device=images.device)
    for indices in steps:
        batch = images[indices]
        loss = nn.functional.mse_loss(model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return total


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images-file", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--models", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1508)
    parser.add_argument("--lr", type=float, default=3.47e-4)
    parser.add_argument("--l2", type=float, default=4.65e-6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if torch.cuda.is_available():
        device = torch.device("cuda")
        name = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        device = torch.device("cpu")
        torch.set_num_threads(os.cpu_count() or 1)
        name = "cpu"
    with open(args.images_file, "rb") as file:
        raw = bytearray(file.read())
    count = len(raw) // PIXELS
    if count == 0 or len(raw) % PIXELS != 0:
        parser.error(f"{args.images_file} does not hold whole images of {PIXELS} bytes")
    images = torch.frombuffer(raw, dtype=torch.uint8).to(device).float().div_(255)
    images = images.reshape(count, 1, 28, 28)

    seconds = 0.0
    samples = 0
    steps = 0
    for index in range(args.models):
        torch.manual_seed(args.seed + index)
        model = autoencoder(args.hidden, args.dropout).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.l2)
        warmup = batches(count, args.batch_size, device)[:args.warmup_steps]
        train(model, optimizer, images, warmup)
        if args.steps > 0:
            timed = [batches(count, args.batch_size, device)[:args.steps]]
        else:
            timed = [batches(count, args.batch_size, device) for _ in range(args.epochs)]
        synchronize(device)
        started = time.perf_counter()
        total = sum(train(model, optimizer, images, epoch) for epoch in timed)
        synchronize(device)
        seconds += time.perf_counter() - started
        model_steps = sum(len(epoch) for epoch in timed)
        steps += model_steps
        samples += sum(len(indices) for epoch in timed for indices in epoch)
        loss = float(total) / model_steps

    print(json.dumps({
        "device": name,
        "samples_per_second": samples / seconds,
        "per_model": samples / seconds / args.models,
        "batch": args.batch_size,
        "images": count,
        "steps": steps,
        "seconds": seconds,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "models": args.models,
        "loss": loss,
    }))


if __name__ == "__main__":
    main()
