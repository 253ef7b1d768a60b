#!/usr/bin/python3
"""PyTorch baseline for tests/bench/bench_cnn.c: forward + backward of the same networks (cnn = CNNMNIST without
dropout, lenet5, mlp 784-256-128-10) at one batch size on --threads threads (1: torch.set_num_threads(a.threads); Debian's
torch also defaults to 1). Prints one line per model: `torch <model> <median ms> <reps>`; bench_cnn parses these
lines. Exits 1 with one line on stderr when torch is not installed."""
import argparse
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"bench_cnn_torch.py: {e.name} is not installed (Debian: apt-get install python3-torch)")


class CNN(nn.Module):  # the reference CNNMNIST, Dropout2d/dropout left out as in byzgrid
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, classes)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class LeNet5(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def bench(net, batch, reps, warmup):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    times = []
    for r in range(warmup + reps):
        t0 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        t = time.perf_counter() - t0
        if r >= warmup:
            times.append(t)
    times.sort()
    return 1e3 * times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("models", nargs="*", default=["cnn", "lenet5", "mlp"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    make = {"cnn": CNN, "lenet5": LeNet5, "mlp": mlp}
    for name in a.models:
        ms = bench(make[name](), a.batch, a.reps, a.warmup)
        print(f"torch {name} {ms:.4f} {a.reps}", flush=True)


if __name__ == "__main__":
    main()
