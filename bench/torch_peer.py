"""The benchmark's peer: the seed's autoencoder in PyTorch, timed as `deno task bench` times its engines.

    python3 bench/torch_peer.py --images-file FILE [--mode eager|graph|vmap] [--batch-size 256] [--epochs 1]
        [--warmup-steps 2] [--steps 0] [--models 1] [--dropout 0.1508] [--lr 3.47e-4] [--l2 4.65e-6]
        [--seed 0] [--device auto|cpu]

`--mode` says how PyTorch runs the step:
- `eager` (the default): the modules step by step, as a user writes it; `--models` models one after another.
- `graph` (CUDA only): the whole step — the gather of the batch, forward, backward and a capturable Adam — as
  one CUDA graph replayed per step, its batch indices copied into a static tensor first; one model.
- `vmap` (CUDA, or the CPU where `--device cpu` says so): `--models` models stacked with `torch.func`, each
  with its own lr, L2 and dropout (spread around the given ones), their gradients by `vmap(grad(...))` and Adam
  on the stacked tensors, the whole step one CUDA graph on CUDA. Every model sees the same batches.
A mode that cannot run here (no CUDA, no `torch.func`) exits with code 4 and an `error` line.

FILE holds the training images as raw bytes, 784 per image (28 × 28, row-major, 0–255); they go to the
device once as a float tensor in [0, 1]. Each model (seed, seed + 1, …, trained one after another) takes
`--warmup-steps` untimed steps first (CUDA context, cuDNN and the allocator warm up there), then `--epochs`
shuffled epochs — or only the first `--steps` steps of one epoch, when `--steps` is above 0 — timed from
the first step to the last, synchronised. Runs on CUDA when available, else on the CPU with as many threads
as there are cores. Prints one JSON line: device, samples_per_second (of all models together), per_model,
batch, images, steps, seconds, torch, threads, models, loss (the last model's mean timed batch loss). Exits
with code 3 and an `error` line when torch cannot be imported, and with code 143 (as by SIGTERM) within a
quarter of a second once the process that started it (the bench) is gone, even killed by SIGKILL.
"""

import argparse
import json
import os
import sys
import threading
import time

PARENT_POLL_SECONDS = 0.25


def exit_with_parent():
    """Exits (code 143) once the parent process is gone, looked at every 0.25 s by a daemon thread: an
    orphan is adopted by pid 1 or by a subreaper, so its parent pid changes."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(143)

    threading.Thread(target=watch, daemon=True).start()


# Before torch is imported, which takes seconds: from the start, the peer ends with the bench.
exit_with_parent()

try:
    import torch
    from torch import nn
except ImportError as error:
    print(json.dumps({"error": f"torch is missing: {error}"}))
    sys.exit(3)

UNSUPPORTED = 4

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


def unsupported(message):
    """Says why this mode cannot run here, and exits with code 4."""
    print(json.dumps({"error": message}))
    sys.exit(UNSUPPORTED)


def full_batches(count, batch_size, device, limit):
    """The index tensors of one shuffled epoch's full batches (a CUDA graph replays one shape), at most `limit`."""
    return [indices for indices in batches(count, batch_size, device)
            if len(indices) == batch_size][:limit or None]


def graph_step(model, optimizer, images, batch_size):
    """Captures one whole training step as a CUDA graph, as PyTorch's documentation captures a whole network;
    returns its static indices, its loss and the graph."""
    indices = torch.zeros(batch_size, dtype=torch.long, device=images.device)
    def step():
        batch = images[indices]
        loss = nn.functional.mse_loss(model(batch), batch)
        loss.backward()
        optimizer.step()
        return loss
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up steps on a side stream, as CUDA graph capture needs
            optimizer.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)  # the captured backward then writes the gradients afresh each replay
    with torch.cuda.graph(graph):
        loss = step()
    return indices, loss, graph


def replay(indices, loss, graph, steps):
    """Replays the captured step over `steps` (index tensors); returns the loss sum, still on the device."""
    total = torch.zeros((), device=indices.device)
    for batch in steps:
        indices.copy_(batch, non_blocking=True)
        graph.replay()
        total += loss
    return total


def functional_autoencoder(params, dropout, images):
    """The autoencoder of `autoencoder()` as a function of its parameters (by name) and a dropout rate tensor."""
    f = nn.functional
    def drop(x):
        keep = (torch.rand_like(x) >= dropout).to(x.dtype)
        return x * keep / (1 - dropout)
    x = f.relu(f.conv2d(images, params["0.0.weight"], params["0.0.bias"], stride=2, padding=1))
    x = f.relu(f.conv2d(x, params["0.2.weight"], params["0.2.bias"], stride=2, padding=1))
    x = f.relu(f.conv2d(x, params["0.4.weight"], params["0.4.bias"], stride=2))
    x = drop(f.relu(f.linear(x.flatten(1), params["0.7.weight"], params["0.7.bias"])))
    x = f.linear(x, params["0.10.weight"], params["0.10.bias"])
    x = drop(f.relu(f.linear(x, params["1.0.weight"], params["1.0.bias"])))
    x = f.relu(f.linear(x, params["1.3.weight"], params["1.3.bias"])).reshape(-1, 32, 3, 3)
    x = f.relu(f.conv_transpose2d(x, params["1.6.weight"], params["1.6.bias"], stride=2))
    x = f.relu(f.conv_transpose2d(x, params["1.8.weight"], params["1.8.bias"], stride=2, padding=1,
                                  output_padding=1))
    x = f.conv_transpose2d(x, params["1.10.weight"], params["1.10.bias"], stride=2, padding=1, output_padding=1)
    return torch.sigmoid(x)


def stacked_population(args, device):
    """`--models` models' parameters stacked on a first axis, and each model's lr, L2 and dropout around the given."""
    try:
        from torch.func import functional_call, grad, vmap  # noqa: F401 (only checks that torch.func is there)
    except ImportError:
        unsupported(f"vmap mode needs torch.func (PyTorch 2), not torch {torch.__version__}")
    models = []
    for index in range(args.models):
        torch.manual_seed(args.seed + index)
        models.append(autoencoder(args.hidden, args.dropout).to(device))
    params = {name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
              for name, _ in models[0].named_parameters()}
    spread = torch.linspace(0.5, 2.0, args.models, device=device)  # each model its own hyper-parameters
    return params, args.lr * spread, args.l2 * spread, (args.dropout * spread).clamp(max=0.5)


def vmap_step(params, lrs, l2s, dropouts, images, batch_size):
    """One step of the stacked population (gradients by vmap(grad), Adam with each model's lr and L2) as a
    function of static tensors; returns the step and its static indices, loss and Adam state."""
    from torch.func import grad_and_value, vmap
    indices = torch.zeros(batch_size, dtype=torch.long, device=images.device)
    moments = {name: torch.zeros_like(p) for name, p in params.items()}
    squares = {name: torch.zeros_like(p) for name, p in params.items()}
    count = torch.zeros((), device=images.device)
    losses = torch.zeros(len(lrs), device=images.device)

    def loss_of(model_params, dropout, batch):
        return nn.functional.mse_loss(functional_autoencoder(model_params, dropout, batch), batch)

    gradients = vmap(grad_and_value(loss_of), in_dims=(0, 0, None), randomness="different")

    def step():
        batch = images[indices]
        grads, loss = gradients(params, dropouts, batch)
        count.add_(1)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for name, p in params.items():
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = grads[name] + l2s.reshape(shape) * p
            moments[name].mul_(beta1).add_(g, alpha=1 - beta1)
            squares[name].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m_hat = moments[name] / (1 - beta1 ** count)
            v_hat = squares[name] / (1 - beta2 ** count)
            p.sub_(lrs.reshape(shape) * m_hat / (v_hat.sqrt() + eps))
        losses.copy_(loss)
        return losses

    return step, indices, losses


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_models(args, images, device):
    """Trains `--models` models one after another, eagerly or as a CUDA graph; returns seconds, samples, steps and
    the last model's mean timed batch loss."""
    count = len(images)
    seconds = 0.0
    samples = 0
    steps = 0
    for index in range(args.models):
        torch.manual_seed(args.seed + index)
        model = autoencoder(args.hidden, args.dropout).to(device).train()
        graphed = args.mode == "graph"
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.l2,
                                     **({"capturable": True} if graphed else {}))
        if graphed:
            captured = graph_step(model, optimizer, images, args.batch_size)
            replay(*captured, full_batches(count, args.batch_size, device, args.warmup_steps))
            run = lambda epoch: replay(*captured, epoch)
            epoch_of = lambda: full_batches(count, args.batch_size, device, args.steps)
        else:
            train(model, optimizer, images, batches(count, args.batch_size, device)[:args.warmup_steps])
            run = lambda epoch: train(model, optimizer, images, epoch)
            epoch_of = lambda: batches(count, args.batch_size, device)[:args.steps or None]
        timed = [epoch_of() for _ in range(1 if args.steps > 0 else args.epochs)]
        synchronize(device)
        started = time.perf_counter()
        total = sum(run(epoch) for epoch in timed)
        synchronize(device)
        seconds += time.perf_counter() - started
        model_steps = sum(len(epoch) for epoch in timed)
        steps += model_steps
        samples += sum(len(indices) for epoch in timed for indices in epoch)
        loss = float(total) / model_steps
    return seconds, samples, steps, loss


def run_vmap(args, images, device):
    """Trains the stacked population, as a CUDA graph on CUDA; returns seconds, samples (of all models), steps and
    the models' mean timed batch loss."""
    count = len(images)
    params, lrs, l2s, dropouts = stacked_population(args, device)
    step, indices, losses = vmap_step(params, lrs, l2s, dropouts, images, args.batch_size)
    if device.type == "cuda":
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        run_step = graph.replay
    else:
        run_step = step
    def run(epoch):
        total = torch.zeros((), device=device)
        for batch in epoch:
            indices.copy_(batch, non_blocking=True)
            run_step()
            total += losses.mean()
        return total
    run(full_batches(count, args.batch_size, device, args.warmup_steps))
    timed = [full_batches(count, args.batch_size, device, args.steps)
             for _ in range(1 if args.steps > 0 else args.epochs)]
    synchronize(device)
    started = time.perf_counter()
    total = sum(run(epoch) for epoch in timed)
    synchronize(device)
    seconds = time.perf_counter() - started
    steps = sum(len(epoch) for epoch in timed)
    samples = steps * args.batch_size * args.models
    return seconds, samples, steps, float(total) / steps


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
    parser.add_argument("--mode", choices=["eager", "graph", "vmap"], default="eager")
    parser.add_argument("--device", choices=["auto", "cpu"], default="auto")
    args = parser.parse_args()

    if torch.cuda.is_available() and args.device == "auto":
        device = torch.device("cuda")
        name = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        device = torch.device("cpu")
        torch.set_num_threads(os.cpu_count() or 1)
        name = "cpu"
        if args.mode == "graph" or (args.mode == "vmap" and args.device != "cpu"):
            unsupported(f"{args.mode} mode needs CUDA (vmap runs on the CPU with --device cpu)")
    if args.mode == "graph" and args.models != 1:
        parser.error("graph mode trains one model")
    with open(args.images_file, "rb") as file:
        raw = bytearray(file.read())
    count = len(raw) // PIXELS
    if count == 0 or len(raw) % PIXELS != 0:
        parser.error(f"{args.images_file} does not hold whole images of {PIXELS} bytes")
    images = torch.frombuffer(raw, dtype=torch.uint8).to(device).float().div_(255)
    images = images.reshape(count, 1, 28, 28)

    if args.mode == "vmap":
        seconds, samples, steps, loss = run_vmap(args, images, device)
    else:
        seconds, samples, steps, loss = run_models(args, images, device)

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
