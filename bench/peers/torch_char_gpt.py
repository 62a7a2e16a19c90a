#!/usr/bin/env python3
"""char-gpt on PyTorch: the peer of duet's `char_gpt`, for scripts/bench.sh and bench/report.py.

    .venv/bin/python bench/peers/torch_char_gpt.py --mode eager|compile [--steps 2000]
        [--batch 12] [--lr 1e-3] [--seed 0] [--threads 2] [--eval-every 250]
        [--eval-batches 200] [--limit N] [--json PATH]
    .venv/bin/python bench/peers/torch_char_gpt.py --sample [--tokens 500] [--temperature 0.8]
        [--top-k 40] [--seed 0] [--threads 2] [--json PATH]

The recipe of shared/WORKLOADS.md, written as nanoGPT writes it: the fortune files of
Debian's fortunes package (dpkg's list, files without an extension, sorted by name)
concatenated, a byte vocabulary, 90/10 split, batches of 12 random blocks of 64 (drawn with
torch's generator: the data differ from duet's draws, so compare means over seeds); a GPT of
4 layers, 4 heads, width 128 (pre-LayerNorm, F.scaled_dot_product_attention with
is_causal, 4x GELU MLP, learned positions, tied head, biases, init N(0, 0.02) with the
residual projections scaled by 1/sqrt(2 x 4)); AdamW (0.9, 0.99), weight decay 0.1 on the
Linear matrices only (not on biases, layer norms or embeddings, as duet's recipe), nanoGPT's
warmup (100) + cosine to lr/10 per iteration, clipping at global norm 1.0; every 250
iterations the mean loss over 200 batches of each split, in eval mode without autograd.
- eager:   the plain training step;
- compile: the same step under torch.compile (inductor, dynamic=False), the learning rate a
           tensor in the optimizer so changing it does not recompile.
--sample: the generation loop with a key/value cache of 64 slots, the way duet's
CachedDecoder does it (one position per step, attention over the cache with a mask; when
full, the last 32 tokens are decoded into it again from position 0), from the model as
initialised (speed does not depend on the weights), eager with no autograd.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FORTUNES_LIST = "/var/lib/dpkg/info/fortunes.list"
FORTUNES_DIR = "/usr/share/games/fortunes/"
BLOCK, LAYERS, HEADS, WIDTH = 64, 4, 4, 128
WARMUP, MIN_LR_FRACTION, WEIGHT_DECAY, CLIP = 100, 0.1, 0.1, 1.0


def parse_args():
    p = argparse.ArgumentParser(description="char-gpt on pytorch")
    p.add_argument("--mode", default="eager", choices=["eager", "compile"])
    p.add_argument("--steps", type=int, default=2000, help="training iterations (the recipe's 2000)")
    p.add_argument("--epochs", type=int, default=1, choices=[1], help="accepted as duet's programs do; one pass")
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=200)
    p.add_argument("--limit", type=int, default=-1, help="use only the first N bytes of the text")
    p.add_argument("--sample", action="store_true", help="measure generation instead of training")
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--json", default="")
    args = p.parse_args()
    args.workload = "char-gpt"
    if args.steps < 1 or args.batch < 1 or args.lr <= 0 or args.threads < 1:
        p.error("--steps, --batch, --threads must be >= 1 and --lr > 0")
    return args


def fortune_text(limit):
    files = []
    with open(FORTUNES_LIST) as f:
        for line in f:
            path = line.rstrip("\n")
            name = path[len(FORTUNES_DIR):] if path.startswith(FORTUNES_DIR) else ""
            if name and "/" not in name and "." not in name and os.path.isfile(path):
                files.append(path)
    data = b"".join(open(p, "rb").read() for p in sorted(files))
    return data[:limit] if limit >= 0 else data


def make_model(torch, vocab):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
            self.c_attn, self.c_proj = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)
            self.c_fc, self.mlp_proj = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)

        def heads(self, x):
            B, T, _ = x.shape
            q, k, v = self.c_attn(x).split(WIDTH, dim=2)
            return [t.view(B, T, HEADS, WIDTH // HEADS).transpose(1, 2) for t in (q, k, v)]

        def mlp(self, x):
            return self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

        def forward(self, x):
            B, T, _ = x.shape
            q, k, v = self.heads(self.ln_1(x))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, WIDTH))
            return x + self.mlp(x)

        def decode(self, x, pos, k_cache, v_cache, slots):
            B = x.shape[0]
            q, k, v = self.heads(self.ln_1(x))
            k_cache[:, :, pos] = k[:, :, 0]
            v_cache[:, :, pos] = v[:, :, 0]
            y = F.scaled_dot_product_attention(q, k_cache, v_cache, attn_mask=(slots <= pos).view(1, 1, 1, -1))
            x = x + self.c_proj(y.transpose(1, 2).reshape(B, 1, WIDTH))
            return x + self.mlp(x)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, WIDTH), nn.Embedding(BLOCK, WIDTH)
            self.h = nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f = nn.LayerNorm(WIDTH)
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
            for b in self.h:
                for proj in (b.c_proj, b.mlp_proj):
                    nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * LAYERS))

        def forward(self, idx):
            pos = torch.arange(idx.shape[1])
            x = self.wte(idx) + self.wpe(pos)
            for b in self.h:
                x = b(x)
            return self.ln_f(x) @ self.wte.weight.t()

        def decode(self, token, pos, cache, slots):
            x = self.wte(token) + self.wpe.weight[pos]
            for b, (k_cache, v_cache) in zip(self.h, cache):
                x = b.decode(x, pos, k_cache, v_cache, slots)
            return (self.ln_f(x) @ self.wte.weight.t())[:, 0]

    return GPT()


def sample_next(torch, logits, temperature, top_k):
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, -1), 1)


def generate_cached(torch, model, prompt, new_tokens, temperature, top_k):
    """duet's CachedDecoder.generate, step for step."""
    head_dim = WIDTH // HEADS
    cache = [(torch.zeros(1, HEADS, BLOCK, head_dim), torch.zeros(1, HEADS, BLOCK, head_dim)) for _ in range(LAYERS)]
    slots = torch.arange(BLOCK)
    state = {"pos": 0}

    def step(token):
        out = sample_next(torch, model.decode(token, state["pos"], cache, slots), temperature, top_k)
        state["pos"] += 1
        return out

    tokens = [prompt[:, t:t + 1] for t in range(prompt.shape[1])]
    nxt = None
    for t in tokens[max(0, len(tokens) - BLOCK):]:
        nxt = step(t)
    for i in range(new_tokens):
        tokens.append(nxt)
        if i + 1 == new_tokens:
            break
        if state["pos"] == BLOCK:
            state["pos"] = 0
            for t in tokens[len(tokens) - BLOCK // 2:-1]:
                step(t)
        nxt = step(tokens[-1])
    return torch.cat(tokens, 1)


def main():
    args = parse_args()
    common.pin_threads(args.threads)
    common.fresh_inductor_cache()
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)

    text = fortune_text(args.limit)
    vocab = sorted(set(text))
    index = {b: i for i, b in enumerate(vocab)}
    ids = torch.tensor([index[b] for b in text], dtype=torch.int64)
    n_train = len(ids) * 9 // 10
    splits = {"train": ids[:n_train], "val": ids[n_train:]}
    model = make_model(torch, len(vocab))

    if args.sample:
        model.eval()
        prompt = torch.tensor([[index[ord("\n")]]])
        with torch.no_grad():
            t0 = time.perf_counter()
            out = generate_cached(torch, model, prompt, args.tokens, args.temperature, args.top_k)
            seconds = time.perf_counter() - t0
        rec = {"workload": "char-gpt", "task": "sample", "framework": "pytorch", "mode": "eager", "device": "cpu",
               "threads": args.threads, "seed": args.seed, "cache": True, "temperature": args.temperature,
               "top_k": args.top_k, "tokens": args.tokens, "sample_seconds": seconds,
               "tokens_per_second": args.tokens / seconds, "framework_version": torch.__version__,
               "text": bytes(vocab[i] for i in out[0].tolist()).decode("utf-8", "replace")}
        print(f"pytorch sample: {args.tokens} tokens in {seconds:.3f} s: {rec['tokens_per_second']:.0f} tokens/s")
        write(rec, args.json)
        return

    def batch(split, size):
        data = splits[split]
        starts = torch.randint(len(data) - BLOCK, (size,))
        x = torch.stack([data[s:s + BLOCK] for s in starts.tolist()])
        y = torch.stack([data[s + 1:s + 1 + BLOCK] for s in starts.tolist()])
        return x, y

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith(("wte.", "wpe."))]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith(("wte.", "wpe.")))]
    lr = torch.tensor(args.lr) if args.mode == "compile" else args.lr
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
    min_lr, warmup = args.lr * MIN_LR_FRACTION, min(WARMUP, args.steps // 2)

    def lr_at(it):  # nanoGPT's get_lr
        if it < warmup:
            return args.lr * (it + 1) / (warmup + 1)
        if it > args.steps:
            return min_lr
        r = (it - warmup) / max(1, args.steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (args.lr - min_lr)

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        return loss.detach()

    step_fn = torch.compile(train_step, dynamic=False) if args.mode == "compile" else train_step

    @torch.no_grad()
    def mean_loss(split):
        model.eval()
        total = 0.0
        for _ in range(args.eval_batches):
            x, y = batch(split, args.batch)
            logits = model(x)
            total += torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1)).item()
        model.train()
        return total / args.eval_batches

    print(f"char-gpt: pytorch {torch.__version__}, mode {args.mode}, {args.steps} steps, batch {args.batch}, "
          f"lr {args.lr:g}, seed {args.seed}, threads {torch.get_num_threads()}", flush=True)
    timer = common.StepTimer()
    evaluations, train_ms = [], 0.0
    timer.start()
    for it in range(args.steps):
        for g in opt.param_groups:
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(lr_at(it))
            else:
                g["lr"] = lr_at(it)
        x, y = batch("train", args.batch)
        t0 = time.perf_counter()
        loss = step_fn(x, y).item()
        ms = (time.perf_counter() - t0) * 1e3
        train_ms += ms
        timer.step(ms, loss, args.batch)
        common.progress(0, 1, it + 1, args.steps, loss)
        if (it + 1) % args.eval_every == 0 or it + 1 == args.steps:
            train_loss, val_loss = mean_loss("train"), mean_loss("val")
            evaluations.append([it + 1, train_loss, val_loss])
            print(f"step {it + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}", flush=True)
    timer.end_epoch()
    rec = timer.record("pytorch", args.mode, args, compiled=args.mode == "compile")
    rec["samples_per_second"] = args.steps * args.batch / (train_ms / 1e3)  # training time only, as duet
    rec["tokens_per_second"] = rec["samples_per_second"] * BLOCK
    rec["final_train_loss"] = evaluations[-1][1]
    rec["val_loss"] = evaluations[-1][2]
    rec["evaluations"] = evaluations
    rec["framework_version"] = torch.__version__
    rec["peak_rss_bytes"] = common.peak_rss_bytes()
    print(f"pytorch {args.mode}: step {rec['step_ms_median']:.2f} ms median | {rec['tokens_per_second']:.0f} tokens/s "
          f"| val loss {rec['val_loss']:.4f}", flush=True)
    write(rec, args.json)


def write(rec, path):
    if path:
        with open(path, "w") as f:
            json.dump(rec, f)
            f.write("\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
