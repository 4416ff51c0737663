"""PyTorch peer of `deno task bench:engine`: one GPT training step (forward, cross-entropy, backward, AdamW).

The forward is imported from tests/oracle/gpt_block.py, the oracle the engine's gradients are checked
against, so both sides time the same architecture: pre-LN GPT-2, causal attention, GELU (tanh), learned
positions, LM head tied to the token embedding. float32, AdamW with PyTorch's defaults and no weight
decay (the engine's defaults). Parameters are initialized as models/gpt.ts gptParams does.

Prints one JSON object on stdout: median step time, tokens/s and every sample; progress on stderr.
With --serve it instead takes `steps N` commands on stdin, so the engine benchmark can interleave its own
steps with PyTorch's and both see the same background load (see serve()).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from gpt_block import forward  # noqa: E402  (the oracle's forward, so the architecture cannot drift)


def param_specs(c):
    """(name, shape, init) in models/gpt.ts gptParams order; init is ("normal", std) or ("value", v)."""
    d, std = c["dModel"], 0.02
    resid = std / math.sqrt(2 * c["layers"])
    specs = [("wte", (c["vocab"], d), ("normal", std)), ("wpe", (c["context"], d), ("normal", std / 2))]
    for layer in range(c["layers"]):
        p = f"h{layer}."
        specs += [
            (p + "ln1.g", (d,), ("value", 1.0)), (p + "ln1.b", (d,), ("value", 0.0)),
            (p + "attn.w", (d, 3 * d), ("normal", std)), (p + "attn.b", (3 * d,), ("value", 0.0)),
            (p + "proj.w", (d, d), ("normal", resid)), (p + "proj.b", (d,), ("value", 0.0)),
            (p + "ln2.g", (d,), ("value", 1.0)), (p + "ln2.b", (d,), ("value", 0.0)),
            (p + "mlp.w1", (d, 4 * d), ("normal", std)), (p + "mlp.b1", (4 * d,), ("value", 0.0)),
            (p + "mlp.w2", (4 * d, d), ("normal", resid)), (p + "mlp.b2", (d,), ("value", 0.0)),
        ]
    specs += [("lnf.g", (d,), ("value", 1.0)), ("lnf.b", (d,), ("value", 0.0))]
    return specs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--d-model", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help="take `steps N` commands on stdin (see serve())")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = {"vocab": a.vocab, "dModel": a.d_model, "layers": a.layers, "heads": a.heads, "context": a.seq}
    params = {}
    for name, shape, (kind, v) in param_specs(c):
        t = torch.empty(shape, dtype=torch.float32)
        if kind == "normal":
            t.normal_(0.0, v)
        else:
            t.fill_(v)
        params[name] = t.requires_grad_(True)
    opt = torch.optim.AdamW(params.values(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    # A few fixed batches, cycled, so drawing data is never timed (as on the engine side).
    batches = [
        (torch.randint(0, a.vocab, (a.batch, a.seq)), torch.randint(0, a.vocab, (a.batch, a.seq)))
        for _ in range(4)
    ]

    def step(i):
        tokens, targets = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = forward(c, params, tokens, targets)
        loss.backward()
        opt.step()
        return loss.item()

    if a.serve:
        serve(a, step)
        return
    losses, ms = [], []
    for i in range(a.warmup):
        losses.append(step(i))
    for i in range(a.steps):
        t0 = time.perf_counter()
        losses.append(step(a.warmup + i))
        ms.append((time.perf_counter() - t0) * 1e3)
        print(f"torch: step {i + 1}/{a.steps} {ms[-1]:.1f} ms", file=sys.stderr)
    med = median(ms)
    json.dump({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "stepMs": {"median": med, "min": min(ms), "max": max(ms), "samples": ms},
        "tokensPerS": a.batch * a.seq / (med / 1e3),
        "lossFirst": losses[0],
        "lossLast": losses[-1],
    }, sys.stdout)
    print()


def serve(a, step):
    """Line protocol for interleaved timing: after the warm-up, print one `ready` line; then each
    `steps N` line on stdin runs N timed steps and answers one JSON line; EOF ends the process."""
    i = 0
    for _ in range(a.warmup):
        step(i)
        i += 1
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "steps" or not cmd[1].isdigit():
            reply({"error": f"unknown command {line.strip()!r} (known: steps N)"})
            continue
        ms, loss = [], None
        for _ in range(int(cmd[1])):
            t0 = time.perf_counter()
            loss = step(i)
            ms.append((time.perf_counter() - t0) * 1e3)
            i += 1
        reply({"ms": ms, "loss": loss})


def reply(doc):
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def median(xs):
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


if __name__ == "__main__":
    main()
