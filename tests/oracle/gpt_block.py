"""Independent oracle: the prefbench GPT (same parameter names and layout) in PyTorch autograd.

Reads {config, params: {name: flat list}, tokens, targets, batch, seq} as JSON on stdin and prints
{dtype: {loss, grads: {name: flat list}}} for float32 and float64.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F


def forward(c, p, tokens, targets):
    b, t = tokens.shape
    return F.cross_entropy(logits(c, p, tokens).reshape(b * t, -1), targets.reshape(-1))


def logits(c, p, tokens):
    """Next-token logits [B, T, V] of the prefbench GPT."""
    return hidden(c, p, tokens) @ p["wte"].T


def hidden(c, p, tokens):
    """The final hidden state [B, T, D] (after the last LayerNorm) of the prefbench GPT."""
    b, t = tokens.shape
    d, h = c["dModel"], c["heads"]
    dh = d // h
    x = p["wte"][tokens] + p["wpe"][:t]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for l in range(c["layers"]):
        q = f"h{l}."
        a = F.layer_norm(x, (d,), p[q + "ln1.g"], p[q + "ln1.b"], eps=1e-5)
        qkv = a @ p[q + "attn.w"] + p[q + "attn.b"]
        qh, kh, vh = [qkv[..., i * d:(i + 1) * d].reshape(b, t, h, dh).transpose(1, 2) for i in range(3)]
        scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(dh)
        att = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)
        y = (att @ vh).transpose(1, 2).reshape(b, t, d)
        x = x + y @ p[q + "proj.w"] + p[q + "proj.b"]
        m = F.layer_norm(x, (d,), p[q + "ln2.g"], p[q + "ln2.b"], eps=1e-5)
        hid = F.gelu(m @ p[q + "mlp.w1"] + p[q + "mlp.b1"], approximate="tanh")
        x = x + hid @ p[q + "mlp.w2"] + p[q + "mlp.b2"]
    return F.layer_norm(x, (d,), p["lnf.g"], p["lnf.b"], eps=1e-5)


def main():
    doc = json.load(sys.stdin)
    c, shapes = doc["config"], doc["shapes"]
    b, t = doc["batch"], doc["seq"]
    tokens = torch.tensor(doc["tokens"], dtype=torch.long).reshape(b, t)
    targets = torch.tensor(doc["targets"], dtype=torch.long).reshape(b, t)
    result = {}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        p = {k: torch.tensor(v, dtype=dtype).reshape(shapes[k]).requires_grad_(True) for k, v in doc["params"].items()}
        loss = forward(c, p, tokens, targets)
        loss.backward()
        result[name] = {"loss": loss.item(), "grads": {k: v.grad.reshape(-1).tolist() for k, v in p.items()}}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
