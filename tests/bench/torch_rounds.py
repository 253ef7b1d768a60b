#!/usr/bin/python3
"""Byz-EF21-SGDM rounds in PyTorch (CPU), the peer that tests/bench/bench_rounds is compared with.

Written for this comparison in the style of the reference code [S] (docs/references.md): one Python loop over the
workers per round, each doing a minibatch forward + backward with autograd, the momentum update, and the EF21
compressed difference with Top-k (per tensor for the CNN, as [S] compresses each parameter); then the IPM attack on
the server-side vectors, NNM, the coordinate-wise median and the server step. The maths is that of
docs/reference.md (byz-ef21-sgdm, nnm, cm, ipm); the random draws are PyTorch's, so the numbers differ from
byzgrid's, but every round does the same work: same d, batch, n, f, k, aggregator, and the same evaluations.
Left out on purpose: [S]'s per-worker DataLoader, RNG save/restore and state_dict deep copies (overheads of that
code, not of the method), so this is a lower bound on the reference code's cost.

  /usr/bin/python3 tests/bench/torch_rounds.py a9a            # scenarios/paper-a9a.ini: 10,000 rounds, evaluations
  /usr/bin/python3 tests/bench/torch_rounds.py cnn --rounds 30 # scenarios/fmnist-cnn.ini: ms per round, no evaluation

Each task runs --reps times (3) at every thread count of --threads (1 and all cores) and prints one table line per
thread count with the median: rounds/s (a9a, whole run with its evaluations, data loading excluded) or ms per round
(cnn, the round loop only). Needs Debian's python3-torch and numpy; data: data/a9a.gz, data/a9a.t.gz and
/usr/share/datasets/fashion-mnist (dataset-fashion-mnist)."""
import argparse
import gzip
import math
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"torch_rounds.py: {e.name} is not installed (Debian: apt-get install python3-torch)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FMNIST = "/usr/share/datasets/fashion-mnist"

# The two scenarios' settings (scenarios/paper-a9a.ini, scenarios/fmnist-cnn.ini).
A9A_CFG = dict(n=20, f=9, eps=0.1, lr=0.05, cosine=False, eta=0.01, batch=1, k=1, ratio=None, lam=0.00056,
           rounds=10000, eval_every=1000, eval_train=True)
CNN_CFG = dict(n=20, f=9, eps=0.1, lr=0.5, cosine=True, eta=0.03, batch=64, k=None, ratio=0.1, lam=0.0,
           rounds=4000, eval_every=0, eval_train=False)


def read_libsvm(path, d):
    rows, labels = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            labels.append(1.0 if float(parts[0]) > 0 else 0.0)
            rows.append([(int(k) - 1, float(v)) for k, v in (p.split(":") for p in parts[1:])])
    X = np.zeros((len(rows), d), dtype=np.float32)
    for i, r in enumerate(rows):
        for j, v in r:
            X[i, j] = v
    return torch.from_numpy(X), torch.tensor(labels, dtype=torch.float32)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class LogReg(nn.Module):  # logistic regression without bias, BCE-with-logits + (lambda/2)|w|^2
    def __init__(self, d, lam):
        super().__init__()
        self.fc = nn.Linear(d, 1, bias=False)
        self.lam = lam

    def forward(self, x):
        return self.fc(x).squeeze(1)

    def loss(self, out, y):
        return F.binary_cross_entropy_with_logits(out, y) + 0.5 * self.lam * self.fc.weight.pow(2).sum()


class CNN(nn.Module):  # [S]'s CNNMNIST without dropout, as byzgrid's `cnn`; lambda = 0
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))

    def loss(self, out, y):
        return F.cross_entropy(out, y)


class Sampler:  # minibatches without replacement, reshuffled every pass over the shard (a DataLoader's order)
    def __init__(self, m, gen):
        self.m, self.gen, self.pos = m, gen, m
        self.perm = None

    def next(self, b):
        if self.pos + b > self.m:
            self.perm, self.pos = torch.randperm(self.m, generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + b]
        self.pos += b
        return idx


def load(task):
    if task == "a9a":
        Xtr, ytr = read_libsvm(os.path.join(ROOT, "data", "a9a.gz"), 123)
        Xte, yte = read_libsvm(os.path.join(ROOT, "data", "a9a.t.gz"), 123)
        return Xtr, ytr, Xte, yte, (lambda: LogReg(123, A9A_CFG["lam"]))
    if not os.path.isdir(FMNIST):
        sys.exit(f"torch_rounds.py: {FMNIST} not found (Debian: apt-get install dataset-fashion-mnist)")

    def imgs(name):
        return torch.from_numpy(read_idx(os.path.join(FMNIST, name)).astype(np.float32) / 255.0).unsqueeze(1)

    def labs(name):
        return torch.from_numpy(read_idx(os.path.join(FMNIST, name)).astype(np.int64))

    return (imgs("train-images-idx3-ubyte.gz"), labs("train-labels-idx1-ubyte.gz"), imgs("t10k-images-idx3-ubyte.gz"),
            labs("t10k-labels-idx1-ubyte.gz"), CNN)


def evaluate(model, X, y, block=4096):
    with torch.no_grad():
        loss, correct = 0.0, 0
        for a in range(0, len(y), block):
            out = model(X[a:a + block])
            loss += float(model.loss(out, y[a:a + block])) * len(out)
            pred = (out > 0).float() if out.dim() == 1 else out.argmax(1)
            correct += int((pred == y[a:a + block]).sum())
    return loss / len(y), correct / len(y)


def run(task, cfg, data, rounds, seed):
    """One run; returns (seconds in the rounds incl. evaluations, seconds in evaluations, final test accuracy)."""
    Xtr, ytr, Xte, yte, make = data
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n, f = cfg["n"], cfg["f"]
    nh = n - f
    model = make()
    params = list(model.parameters())
    sizes = [p.numel() for p in params]
    d = sum(sizes)
    x = torch.cat([p.detach().reshape(-1) for p in params])   # the model as one flat vector; params are views of it
    off = 0
    for p, s in zip(params, sizes):
        p.data = x[off:off + s].view_as(p)
        off += s
    ks = [cfg["k"]] if cfg["k"] else [max(1, int(cfg["ratio"] * s)) for s in sizes]
    segs = [(0, d)] if cfg["k"] else [(sum(sizes[:i]), sum(sizes[:i + 1])) for i in range(len(sizes))]
    shards = torch.randperm(len(ytr), generator=gen).tensor_split(nh)   # IID over the honest workers
    samplers = [Sampler(len(s), gen) for s in shards]
    v = torch.zeros(nh, d)        # worker momentum
    gw = torch.zeros(nh, d)       # worker's EF21 state g
    G = torch.zeros(n, d)         # server's g_i, Byzantine rows included
    keep = n - f
    t_eval = 0.0

    def do_eval():
        t0 = time.perf_counter()
        evaluate(model, Xte, yte)
        if cfg["eval_train"]:
            evaluate(model, Xtr, ytr)
        return time.perf_counter() - t0

    t_start = time.perf_counter()
    if cfg["eval_every"]:
        t_eval += do_eval()
    for t in range(rounds):
        for i in range(nh):   # honest workers
            idx = shards[i][samplers[i].next(cfg["batch"])]
            model.zero_grad(set_to_none=True)
            model.loss(model(Xtr[idx]), ytr[idx]).backward()
            s = torch.cat([p.grad.reshape(-1) for p in params])
            if t == 0:
                v[i].copy_(s)
            else:
                v[i].mul_(1.0 - cfg["eta"]).add_(s, alpha=cfg["eta"])
            diff = v[i] - gw[i]
            c = torch.zeros(d)
            for (a, b), k in zip(segs, ks):   # Top-k of every tensor (a9a: of the whole vector)
                top = diff[a:b].abs().topk(k, sorted=False).indices + a
                c[top] = diff[top]
            gw[i].add_(c)
            G[i].add_(c)      # the server applies the message
        target = G[:nh].mean(0).mul_(-cfg["eps"])   # IPM: the Byzantine server-side vectors go to -eps * honest mean
        for j in range(nh, n):
            G[j].add_(target - G[j])   # the dense message target - g_j
        # NNM: each row replaced by the mean of its n - f nearest rows (itself included); distances from the Gram
        Gd = G.double()
        sq = (Gd * Gd).sum(1)
        D = sq[:, None] + sq[None, :] - 2.0 * (Gd @ Gd.T)
        near = D.topk(keep, dim=1, largest=False).indices
        Y = G[near].mean(1)
        # CM: coordinate-wise median, the mean of the two middle values for even n
        srt = Y.sort(0).values
        agg = srt[n // 2] if n % 2 else 0.5 * (srt[n // 2 - 1] + srt[n // 2])
        lr = cfg["lr"]
        if cfg["cosine"]:
            lr = 0.5 * cfg["lr"] * (1.0 + math.cos(math.pi * t / (cfg["rounds"] - 1)))
        x.sub_(agg, alpha=lr)
        r = t + 1
        if cfg["eval_every"] and (r % cfg["eval_every"] == 0 or r == rounds):
            t_eval += do_eval()
    wall = time.perf_counter() - t_start
    acc = evaluate(model, Xte, yte)[1]
    return wall, t_eval, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task", choices=["a9a", "cnn"])
    ap.add_argument("--rounds", type=int, help="rounds per run (a9a: 10000, cnn: 30)")
    ap.add_argument("--reps", type=int, default=3, help="runs per thread count; the median is printed (3)")
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}",
                    help="comma-separated torch.set_num_threads values (1 and all cores)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    cfg = A9A_CFG if a.task == "a9a" else CNN_CFG
    rounds = a.rounds or (cfg["rounds"] if a.task == "a9a" else 30)
    threads = sorted({int(s) for s in a.threads.split(",") if s})
    data = load(a.task)
    print(f"# torch {torch.__version__}, {a.task}: n = {cfg['n']}, f = {cfg['f']}, batch {cfg['batch']}, "
          f"{'Top-%d' % cfg['k'] if cfg['k'] else 'Top-%g%% per tensor' % (100 * cfg['ratio'])}, NNM + CM, IPM; "
          f"{rounds} rounds; median of {a.reps}")
    if a.task == "a9a":
        print(f"{'runner':<22} {'threads':>7} {'wall [s]':>10} {'rounds/s':>10} {'eval [s]':>9} {'test_acc':>9}")
    else:
        print(f"{'runner':<22} {'threads':>7} {'ms/round':>10} {'test_acc':>9}")
    for th in threads:
        torch.set_num_threads(th)
        res = [run(a.task, cfg, data, rounds, a.seed) for _ in range(a.reps)]
        wall = statistics.median(r[0] for r in res)
        ev = statistics.median(r[1] for r in res)
        if a.task == "a9a":
            print(f"{'pytorch (loop)':<22} {th:>7} {wall:>10.3f} {rounds / wall:>10.0f} {ev:>9.3f} {res[0][2]:>9.4f}",
                  flush=True)
        else:
            print(f"{'pytorch (loop)':<22} {th:>7} {1e3 * wall / rounds:>10.2f} {res[0][2]:>9.4f}", flush=True)


if __name__ == "__main__":
    main()
