"""PyTorch peer of `deno task bench:perf`: the workloads beyond a plain training step.

- `dpo`: one DPO step on P pairs (2P rows of prompt + response): forward, per-token log-probs of the
  response tokens summed per row, the DPO loss on the log-ratio margins against fixed π_ref margins,
  backward, AdamW.
- `ppo`: a PPO update phase on a rollout of B completions: `epochs` passes over `minibatches`
  minibatches, each forward (token log-probs and a value head on the last hidden state), the clipped
  surrogate and the clipped value loss averaged over response tokens, backward, gradient-norm clipping
  at 1 and AdamW.
- `generate`: sampling N new tokens for B prompts at temperature 1 with a key/value cache (the way
  generation is written in PyTorch when it is written for speed), under torch.no_grad().

The GPT is the engine's (tests/oracle/gpt_block.py: its logits for the DPO step; the cached decoder
below uses the same parameters and layout). Parameters are initialized as models/gpt.ts does
(perf/torch_gpt_bench.py's param_specs). Serves `steps N` commands on stdin (one JSON line each with the
wall time of every run in ms), after one `ready` line, so the engine side can interleave rounds; the
command is `steps N`, as perf/torch_gpt_bench.py's, so one peer class drives both.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_block import hidden, logits  # noqa: E402
from torch_gpt_bench import param_specs  # noqa: E402


def init_params(c, seed):
    torch.manual_seed(seed)
    params = {}
    for name, shape, (kind, v) in param_specs(c):
        t = torch.empty(shape, dtype=torch.float32)
        if kind == "normal":
            t.normal_(0.0, v)
        else:
            t.fill_(v)
        params[name] = t.requires_grad_(True)
    return params


def dpo_workload(c, a):
    """One DPO step on a.pairs pairs: rows 0..P-1 chosen, P..2P-1 rejected, responses in the last half."""
    p = init_params(c, a.seed)
    opt = torch.optim.AdamW(p.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    rows, t = 2 * a.pairs, a.seq
    tokens = torch.randint(0, c["vocab"], (rows, t))
    targets = torch.randint(0, c["vocab"], (rows, t))
    mask = torch.zeros(rows, t)
    mask[:, t // 2:] = 1.0  # the response: the second half of each row
    ref_margin = torch.randn(a.pairs) * 0.1
    beta = 0.1

    def step():
        opt.zero_grad(set_to_none=True)
        logp = torch.log_softmax(logits(c, p, tokens), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        seq = (logp * mask).sum(-1)
        h = seq[:a.pairs] - seq[a.pairs:] - ref_margin
        loss = -F.logsigmoid(beta * h).mean()
        loss.backward()
        opt.step()

    return step


def ppo_workload(c, a):
    """One PPO update phase: a.epochs passes over a.minibatches minibatches of a.batch rows."""
    p = init_params(c, a.seed)
    p["vhead.w"] = torch.zeros(c["dModel"], 1, requires_grad=True)
    p["vhead.b"] = torch.zeros(1, requires_grad=True)
    opt = torch.optim.AdamW(p.values(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    rows, t, mb = a.batch, a.seq, a.batch // a.minibatches
    tokens = torch.randint(0, c["vocab"], (rows, t))
    targets = torch.randint(0, c["vocab"], (rows, t))
    mask = torch.zeros(rows, t)
    mask[:, t // 2:] = 1.0  # the response: the second half of each row
    old_logp = -torch.rand(rows, t) * 6
    adv, ret, old_v = torch.randn(rows, t), torch.randn(rows, t), torch.randn(rows, t) * 0.1
    eps, vf_coef = 0.2, 0.5

    def step(ids):
        opt.zero_grad(set_to_none=True)
        f = hidden(c, p, tokens[ids])
        logp = torch.log_softmax(f @ p["wte"].T, dim=-1).gather(-1, targets[ids].unsqueeze(-1)).squeeze(-1)
        v = (f @ p["vhead.w"] + p["vhead.b"]).squeeze(-1)
        m = mask[ids]
        n = m.sum().clamp(min=1)
        ratio = torch.exp(logp - old_logp[ids])
        pg = torch.max(-adv[ids] * ratio, -adv[ids] * ratio.clamp(1 - eps, 1 + eps))
        v_clip = old_v[ids] + (v - old_v[ids]).clamp(-eps, eps)
        vl = 0.5 * torch.max((v - ret[ids]) ** 2, (v_clip - ret[ids]) ** 2)
        loss = (pg * m).sum() / n + vf_coef * (vl * m).sum() / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(p.values(), 1.0)
        opt.step()

    order = [list(range(rows))[i::a.minibatches] for i in range(a.minibatches)]

    def run():
        for _ in range(a.epochs):
            for ids in order:
                step(ids)

    return run


def generate_workload(c, a):
    """B prompts of 3 tokens, a.new tokens each, sampled at temperature 1 with a key/value cache."""
    p = {k: v.detach() for k, v in init_params(c, a.seed).items()}
    d, h = c["dModel"], c["heads"]
    dh = d // h
    prompts = torch.tensor([[1, 4 + (b % 50), 5] for b in range(a.batch)])

    def block_step(x, pos, cache):
        """x [B, 1, D] at position pos; cache[l] = (k [B, H, pos, dh], v ...) grows by one."""
        for l in range(c["layers"]):
            q = f"h{l}."
            z = F.layer_norm(x, (d,), p[q + "ln1.g"], p[q + "ln1.b"], eps=1e-5)
            qkv = z @ p[q + "attn.w"] + p[q + "attn.b"]
            qh, kh, vh = [qkv[..., i * d:(i + 1) * d].reshape(-1, 1, h, dh).transpose(1, 2) for i in range(3)]
            if cache[l] is not None:
                kh = torch.cat([cache[l][0], kh], dim=2)
                vh = torch.cat([cache[l][1], vh], dim=2)
            cache[l] = (kh, vh)
            att = torch.softmax((qh @ kh.transpose(-1, -2)) / math.sqrt(dh), dim=-1)
            y = (att @ vh).transpose(1, 2).reshape(-1, 1, d)
            x = x + y @ p[q + "proj.w"] + p[q + "proj.b"]
            m = F.layer_norm(x, (d,), p[q + "ln2.g"], p[q + "ln2.b"], eps=1e-5)
            x = x + F.gelu(m @ p[q + "mlp.w1"] + p[q + "mlp.b1"], approximate="tanh") @ p[q + "mlp.w2"] + p[q + "mlp.b2"]
        f = F.layer_norm(x, (d,), p["lnf.g"], p["lnf.b"], eps=1e-5)
        return (f @ p["wte"].T)[:, -1, :]

    def run():
        with torch.no_grad():
            cache = [None] * c["layers"]
            out = None
            seq = prompts
            # Feed the prompt token by token (as the engine's decode step does), then sample.
            for pos in range(seq.shape[1]):
                x = p["wte"][seq[:, pos:pos + 1]] + p["wpe"][pos:pos + 1]
                out = block_step(x, pos, cache)
            for i in range(a.new):
                tok = torch.multinomial(torch.softmax(out, dim=-1), 1)
                pos = seq.shape[1] + i
                if i + 1 < a.new:
                    out = block_step(p["wte"][tok] + p["wpe"][pos:pos + 1], pos, cache)

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["dpo", "ppo", "generate"], required=True)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--d-model", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--context", type=int, required=True)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--minibatches", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = {"vocab": a.vocab, "dModel": a.d_model, "layers": a.layers, "heads": a.heads, "context": a.context}
    fn = {"dpo": dpo_workload, "ppo": ppo_workload, "generate": generate_workload}[a.workload](c, a)
    for _ in range(a.warmup):
        fn()
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "steps" or not cmd[1].isdigit():
            reply({"error": f"unknown command {line.strip()!r} (known: steps N)"})
            continue
        ms = []
        for _ in range(int(cmd[1])):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1e3)
        reply({"ms": ms})


def reply(doc):
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
