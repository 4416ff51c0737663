"""Independent oracle for the text preference losses: the prefbench GPT in PyTorch autograd (float64),
per-token log-probabilities of responses read straight off the logits, and each loss written out from
its paper's formula.

Reads {config, shapes, params, ref_params, context, pairs: {prompts, chosen, rejected}, variants} as
JSON on stdin. Prints {tokens: {chosen, rejected, ref_chosen, ref_rejected} (per-token log-probs),
sums: {...}, miscounted: {with_prompt_token, with_padding_token}, variants: {name: {loss, grads}}}.

Which tokens count: the response tokens only, each y_t scored by the logits at the position before it
(the last prompt token for y_1), up to and including EOS; never a prompt token, never padding.
"""
import json
import sys

import torch
import torch.nn.functional as F

from gpt_block import logits as gpt_logits


def per_position_logp(c, p, rows, context):
    """log_softmax of the logits of each row packed as prompt + response, right-padded with 0: [B, T, V]."""
    tokens = torch.zeros(len(rows), context, dtype=torch.long)
    for b, (x, y) in enumerate(rows):
        seq = x + y
        tokens[b, : len(seq)] = torch.tensor(seq)
    return F.log_softmax(gpt_logits(c, p, tokens), dim=-1), tokens


def response_logps(c, p, rows, context):
    """log π(y_t | x, y_<t) of every response token: a list of [len(y)] tensors."""
    lp, _ = per_position_logp(c, p, rows, context)
    out = []
    for b, (x, y) in enumerate(rows):
        pos = torch.arange(len(x) - 1, len(x) - 1 + len(y))
        out.append(lp[b, pos, torch.tensor(y, dtype=torch.long)])
    return out


def miscounted(c, p, rows, context):
    """The sums a harness would get counting one token too many: the last prompt token, or the first pad."""
    lp, tokens = per_position_logp(c, p, rows, context)
    with_prompt, with_pad = [], []
    for b, (x, y) in enumerate(rows):
        exact = sum(lp[b, len(x) - 1 + t, y[t]].item() for t in range(len(y)))
        prompt_tok = lp[b, len(x) - 2, x[-1]].item() if len(x) >= 2 else lp[b, 0, x[0]].item()
        end = len(x) + len(y) - 1
        pad_tok = lp[b, end, 0].item() if end < context else 0.0
        with_prompt.append(exact + prompt_tok)
        with_pad.append(exact + pad_tok)
    return {"with_prompt_token": with_prompt, "with_padding_token": with_pad}


def log_sigmoid(z):
    return F.logsigmoid(z)


def dpo_family(v, hw, hl, lw, ll):
    """DPO (Rafailov et al. 2023, eq. 7) and the variants that change the function of h."""
    beta, eps = v["beta"], v.get("label_smoothing", 0.0)
    if v.get("length_normalize"):
        h = hw / lw - hl / ll
    else:
        h = hw - hl
    z = beta * h
    kind = v["loss"]
    if kind == "sigmoid":  # cDPO (Mitchell 2023) with ε > 0
        per = -(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z)
    elif kind == "robust":  # Chowdhury et al. 2024, §3: unbiased under flip rate ε
        per = ((1 - eps) * -log_sigmoid(z) - eps * -log_sigmoid(-z)) / (1 - 2 * eps)
    elif kind == "hinge":  # SLiC / RSO: max(0, 1 − β·h)
        per = torch.clamp(1 - z, min=0)
    else:
        raise ValueError(kind)
    return per.mean()


def main():
    doc = json.load(sys.stdin)
    c, shapes, context = doc["config"], doc["shapes"], doc["context"]
    dt = torch.float64
    pairs = doc["pairs"]
    prompts, chosen, rejected = pairs["prompts"], pairs["chosen"], pairs["rejected"]
    n = len(prompts)
    rows_w = list(zip(prompts, chosen))
    rows_l = list(zip(prompts, rejected))
    ref = {k: torch.tensor(v, dtype=dt).reshape(shapes[k]) for k, v in doc["ref_params"].items()}

    def fresh():
        return {k: torch.tensor(v, dtype=dt).reshape(shapes[k]).requires_grad_(True) for k, v in doc["params"].items()}

    with torch.no_grad():
        ref_w = response_logps(c, ref, rows_w, context)
        ref_l = response_logps(c, ref, rows_l, context)
        p0 = fresh()
        tok_w = response_logps(c, p0, rows_w, context)
        tok_l = response_logps(c, p0, rows_l, context)
        wrong = miscounted(c, p0, rows_w + rows_l, context)
    out = {
        "tokens": {
            "chosen": [t.tolist() for t in tok_w],
            "rejected": [t.tolist() for t in tok_l],
            "ref_chosen": [t.tolist() for t in ref_w],
            "ref_rejected": [t.tolist() for t in ref_l],
        },
        "sums": {
            "chosen": [t.sum().item() for t in tok_w],
            "rejected": [t.sum().item() for t in tok_l],
        },
        "miscounted": wrong,
        "variants": {},
    }
    ref_sw = torch.stack([t.sum() for t in ref_w])
    ref_sl = torch.stack([t.sum() for t in ref_l])
    lw = torch.tensor([len(y) for y in chosen], dtype=dt)
    ll = torch.tensor([len(y) for y in rejected], dtype=dt)
    for name, v in doc["variants"].items():
        p = fresh()
        sw = torch.stack([t.sum() for t in response_logps(c, p, rows_w, context)])
        sl = torch.stack([t.sum() for t in response_logps(c, p, rows_l, context)])
        alg = v["algorithm"]
        if alg == "dpo":
            loss = dpo_family(v, sw - ref_sw, sl - ref_sl, lw, ll)
        elif alg == "ipo":  # Azar et al. 2023, eq. 17: (h − 1/(2τ))²
            h = (sw - ref_sw) - (sl - ref_sl)
            loss = ((h - 1 / (2 * v["tau"])) ** 2).mean()
        elif alg == "simpo":  # Meng et al. 2024, eq. 6: −log σ(β/|y_w| log π(y_w) − β/|y_l| log π(y_l) − γ)
            loss = -log_sigmoid(v["beta"] * (sw / lw - sl / ll) - v["gamma"]).mean()
        elif alg == "kto":  # Ethayarajh et al. 2024, eq. 8 with §4.2's reference point
            beta, wd, wu = v["beta"], v["desirable_weight"], v["undesirable_weight"]
            # Mismatched (x_i, y'): pair i+1's chosen and rejected under pair i's prompt, cut to fit.
            mis = []
            for side in (chosen, rejected):
                for i in range(n):
                    y = side[(i + 1) % n][: context - len(prompts[i])]
                    mis.append((prompts[i], y))
            with torch.no_grad():
                ref_mis = torch.stack([t.sum() for t in response_logps(c, ref, mis, context)])
            r_mis = torch.stack([t.sum() for t in response_logps(c, p, mis, context)]) - ref_mis
            z0 = torch.clamp(r_mis.mean(), min=0).detach()
            d = wd * (1 - torch.sigmoid(beta * ((sw - ref_sw) - z0)))
            u = wu * (1 - torch.sigmoid(beta * (z0 - (sl - ref_sl))))
            loss = torch.cat([d, u]).mean()
        else:
            raise ValueError(alg)
        loss.backward()
        out["variants"][name] = {"loss": loss.item(), "grads": {k: t.grad.reshape(-1).tolist() for k, t in p.items()}}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
