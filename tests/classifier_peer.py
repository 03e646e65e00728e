"""A PyTorch peer for tests/classifier_test.ts: the digit classifier written in plain torch.nn, independent of
lib/model/classifier.ts.

    python3 classifier_peer.py check DIR

reads DIR/weights.safetensors (PyTorch names and layouts), DIR/batch.safetensors (inputs [n, 1, 28, 28] and
labels [n], as floats) and DIR/config.json ({"lr", "lr_decay", "l2", "steps"}), and writes
DIR/out.safetensors: "logits" of the forward pass in eval mode, "loss" (cross-entropy of those logits
against the labels) and, after `steps` epochs of one training step each of torch.optim.Adam(lr,
weight_decay=l2) on the batch, with ExponentialLR(lr_decay) stepped after each, every parameter under its
own name.
"""

import json
import os
import sys

import torch
from torch import nn

from safetensors_peer import read, write


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=1),
            nn.ReLU(True),
            nn.Conv2d(16, 32, 3, stride=2),
            nn.ReLU(True),
            nn.Conv2d(32, 64, 3, stride=2),
            nn.ReLU(True),
            nn.Conv2d(64, 128, 3, stride=2),
            nn.ReLU(True),
        )
        self.flatten = nn.Flatten(start_dim=1)
        self.head = nn.Sequential(nn.Linear(2 * 2 * 128, 128), nn.ReLU(True), nn.Dropout(0.0), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.flatten(self.features(x)))


def check(folder):
    weights, _ = read(os.path.join(folder, "weights.safetensors"))
    batch, _ = read(os.path.join(folder, "batch.safetensors"))
    with open(os.path.join(folder, "config.json")) as file:
        config = json.load(file)
    model = Classifier()
    assert sorted(model.state_dict()) == sorted(weights), (sorted(model.state_dict()), sorted(weights))
    model.load_state_dict(weights)
    inputs, labels = batch["inputs"], batch["labels"].long()
    loss_fn = nn.CrossEntropyLoss()

    model.eval()
    with torch.no_grad():
        logits = model(inputs)
        loss = loss_fn(logits, labels)

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["l2"])
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config["lr_decay"])
    for _ in range(config["steps"]):
        step_loss = loss_fn(model(inputs), labels)
        optimizer.zero_grad()
        step_loss.backward()
        optimizer.step()
        scheduler.step()

    result = {"logits": logits, "loss": loss.reshape(1)}
    result.update({k: v.detach() for k, v in model.state_dict().items()})
    write(os.path.join(folder, "out.safetensors"), result, {"peer": "torch"})


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "check":
        sys.exit(__doc__)
    torch.set_num_threads(1)
    check(sys.argv[2])
