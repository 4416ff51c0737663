"""A tiny GPT-style causal LM in plain PyTorch, its ONNX export, and its loss and gradients (the oracle).

The model: token + learned position embeddings, pre-LayerNorm blocks with causal multi-head attention
and an erf-GELU MLP, a final LayerNorm and an untied LM head. Every weight is an `nn.Parameter` used
as `x @ W` (no nn.Linear), so the ONNX export keeps each one as an initializer under its own name
(nn.Linear's weight would be exported transposed, under a generated name).

Reads JSON on stdin:
  {config: {vocab, dModel, layers, heads, context}, seed, batch, seq, tokens, targets, out, opset}
and
  1. builds the model with `torch.manual_seed(seed)` (weights drawn larger than a usual init, so every
     path carries signal),
  2. exports it to `out` with `torch.onnx.export` (opset `opset`, do_constant_folding=True, dynamic
     batch and sequence axes: the importer folds the shape arithmetic at a fixed [batch, seq]),
  3. prints {params: {name: shape}, float32: {loss, grads}, float64: {loss, grads}, logits}: the mean
     next-token cross-entropy of `targets` given `tokens` ([batch, seq] row-major) and its gradient
     with respect to every parameter, in float32 and in float64 on the same weights, and the float64
     logits, all flattened row-major.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn


class TinyLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        v, d, t = c["vocab"], c["dModel"], c["context"]
        self.heads = c["heads"]
        self.wte = nn.Parameter(torch.randn(v, d) * 0.3)
        self.wpe = nn.Parameter(torch.randn(t, d) * 0.3)
        self.d = d
        self.blocks = nn.ModuleList([Block(d) for _ in range(c["layers"])])
        self.lnf_g = nn.Parameter(1 + torch.randn(d) * 0.1)
        self.lnf_b = nn.Parameter(torch.randn(d) * 0.1)
        self.head = nn.Parameter(torch.randn(d, v) * 0.3)

    def forward(self, input_ids):
        b, t = input_ids.shape
        x = self.wte[input_ids] + self.wpe[:t]
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool, device=input_ids.device))
        for blk in self.blocks:
            x = blk(x, mask, self.heads)
        x = F.layer_norm(x, (self.d,), self.lnf_g, self.lnf_b, eps=1e-5)
        return x @ self.head


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        r = lambda *s: nn.Parameter(torch.randn(*s) * 0.3)
        self.d = d
        self.ln1_g, self.ln1_b = nn.Parameter(1 + torch.randn(d) * 0.1), r(d)
        self.attn_w, self.attn_b = r(d, 3 * d), r(3 * d)
        self.proj_w, self.proj_b = r(d, d), r(d)
        self.ln2_g, self.ln2_b = nn.Parameter(1 + torch.randn(d) * 0.1), r(d)
        self.mlp_w1, self.mlp_b1 = r(d, 4 * d), r(4 * d)
        self.mlp_w2, self.mlp_b2 = r(4 * d, d), r(d)

    def forward(self, x, mask, heads):
        b, t, d = x.shape[0], x.shape[1], self.d  # d a Python int: layer_norm and split need it static
        dh = d // heads
        a = F.layer_norm(x, (d,), self.ln1_g, self.ln1_b, eps=1e-5)
        q, k, v = (a @ self.attn_w + self.attn_b).split(d, dim=-1)
        q, k, v = [z.reshape(b, t, heads, dh).transpose(1, 2) for z in (q, k, v)]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        att = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + y @ self.proj_w + self.proj_b
        m = F.layer_norm(x, (d,), self.ln2_g, self.ln2_b, eps=1e-5)
        return x + F.gelu(m @ self.mlp_w1 + self.mlp_b1) @ self.mlp_w2 + self.mlp_b2


def loss_and_grads(model, tokens, targets, dtype):
    """Mean next-token cross-entropy and its gradient w.r.t. every parameter, the weights cast to dtype."""
    from torch.nn.utils.stateless import functional_call

    params = {k: v.detach().to(dtype).clone().requires_grad_(True) for k, v in model.named_parameters()}
    logits = functional_call(model, params, (tokens,))
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    grads = {k: p.grad.reshape(-1).tolist() for k, p in params.items()}
    return {"loss": loss.item(), "grads": grads}, logits.detach().reshape(-1).tolist()


def main():
    doc = json.load(sys.stdin)
    c = doc["config"]
    b, t = doc["batch"], doc["seq"]
    torch.manual_seed(doc["seed"])
    model = TinyLM(c).eval()
    example = torch.zeros(b, t, dtype=torch.long)
    torch.onnx.export(
        model,
        (example,),
        doc["out"],
        input_names=["input_ids"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
        opset_version=doc["opset"],
        do_constant_folding=True,
    )
    tokens = torch.tensor(doc["tokens"], dtype=torch.long).reshape(b, t)
    targets = torch.tensor(doc["targets"], dtype=torch.long).reshape(b, t)
    result = {"params": {k: list(p.shape) for k, p in model.named_parameters()}}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        result[name], logits = loss_and_grads(model, tokens, targets, dtype)
        if name == "float64":
            result["logits"] = logits
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
