"""A PyTorch peer for tests/autoencoder_test.ts: the seed's autoencoder written in plain torch.nn, as the
seed wrote it, independent of lib/model/autoencoder.ts.

    python3 autoencoder_peer.py check DIR

reads DIR/weights.safetensors (PyTorch names and layouts, metadata hidden), DIR/batch.safetensors (inputs
and targets, [n, 1, 28, 28]) and DIR/config.json ({"lr", "l2", "steps"}), and writes DIR/out.safetensors:
"code" and "output" of the forward pass in eval mode, "loss" (MSE of that output against the targets) and,
after `steps` training steps of torch.optim.Adam(lr, weight_decay=l2) on the batch, every parameter under
its own name.
"""

import json
import os
import sys

import torch
from torch import nn

from safetensors_peer import read, write


class Encoder(nn.Module):
    def __init__(self, hidden, dropout):
        super().__init__()
        self.encoder_cnn = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(16, 32, 3, stride=2, padding=0),
            nn.ReLU(True),
        )
        self.flatten = nn.Flatten(start_dim=1)
        self.encoder_lin = nn.Sequential(
            nn.Linear(3 * 3 * 32, 64), nn.ReLU(True), nn.Dropout(dropout), nn.Linear(64, hidden)
        )

    def forward(self, x):
        return self.encoder_lin(self.flatten(self.encoder_cnn(x)))


class Decoder(nn.Module):
    def __init__(self, hidden, dropout):
        super().__init__()
        self.decoder_lin = nn.Sequential(
            nn.Linear(hidden, 64), nn.ReLU(True), nn.Dropout(dropout), nn.Linear(64, 3 * 3 * 32), nn.ReLU(True)
        )
        self.unflatten = nn.Unflatten(dim=1, unflattened_size=(32, 3, 3))
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 3, stride=2, output_padding=0),
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1),
        )

    def forward(self, x):
        return torch.sigmoid(self.decoder_conv(self.unflatten(self.decoder_lin(x))))


def check(folder):
    weights, metadata = read(os.path.join(folder, "weights.safetensors"))
    batch, _ = read(os.path.join(folder, "batch.safetensors"))
    with open(os.path.join(folder, "config.json")) as file:
        config = json.load(file)
    hidden = int(metadata["hidden"])
    encoder, decoder = Encoder(hidden, 0.0), Decoder(hidden, 0.0)
    state = {**encoder.state_dict(), **decoder.state_dict()}
    assert sorted(state) == sorted(weights), (sorted(state), sorted(weights))
    encoder.load_state_dict({k: v for k, v in weights.items() if k.startswith("encoder")})
    decoder.load_state_dict({k: v for k, v in weights.items() if k.startswith("decoder")})
    inputs, targets = batch["inputs"], batch["targets"]
    loss_fn = nn.MSELoss()

    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        code = encoder(inputs)
        output = decoder(code)
        loss = loss_fn(output, targets)

    encoder.train()
    decoder.train()
    parameters = [{"params": encoder.parameters()}, {"params": decoder.parameters()}]
    optimizer = torch.optim.Adam(parameters, lr=config["lr"], weight_decay=config["l2"])
    for _ in range(config["steps"]):
        step_loss = loss_fn(decoder(encoder(inputs)), targets)
        optimizer.zero_grad()
        step_loss.backward()
        optimizer.step()

    result = {"code": code, "output": output, "loss": loss.reshape(1)}
    result.update({k: v.detach() for k, v in {**encoder.state_dict(), **decoder.state_dict()}.items()})
    write(os.path.join(folder, "out.safetensors"), result, {"peer": "torch"})


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "check":
        sys.exit(__doc__)
    torch.set_num_threads(1)
    check(sys.argv[2])
