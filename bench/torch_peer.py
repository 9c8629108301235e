"""PyTorch CPU peer for `deno task bench encode`: OpenAI's CLIP encoders (model.py's
VisionTransformer and text transformer: nn.MultiheadAttention, QuickGELU, pre-LN blocks, causal
mask, pooling at text.argmax(dim=-1)) with random weights of the given architecture, run at the
bench's batches under torch.no_grad().

    python3 bench/torch_peer.py ARCH_JSON --image-batch 4 --text-batch 16 --threads 2

It prints one JSON line about itself (torch version, threads, the BLAS it mapped), then serves
the bench: for each line read (`image`, `prompt` or `full`) it runs that batch once and prints
the seconds it took and the CPU seconds of all its threads (OpenBLAS's spinning included), so the
bench can interleave it with the other engines rep by rep.
"""
import argparse
import json
import sys
import time

import torch
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_width), QuickGELU(), nn.Linear(mlp_width, width)
        )
        self.ln_2 = nn.LayerNorm(width)
        self.attn_mask = attn_mask

    def forward(self, x):  # [tokens, batch, width], as OpenAI's model.py
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


def transformer(width, layers, heads, mlp_width, attn_mask=None):
    return nn.Sequential(
        *[ResidualAttentionBlock(width, heads, mlp_width, attn_mask) for _ in range(layers)]
    )


class VisionTower(nn.Module):
    def __init__(self, arch, embed):
        super().__init__()
        width, patch = arch["width"], arch["patchSize"]
        grid = arch["imageSize"] // patch
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * width**-0.5)
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, width) * 0.02)
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = transformer(width, arch["layers"], arch["heads"], arch["mlpWidth"])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, embed) * width**-0.5)

    def forward(self, x):
        x = self.conv1(x)  # [b, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class TextTower(nn.Module):
    def __init__(self, arch, embed):
        super().__init__()
        width, context = arch["width"], arch["contextLength"]
        mask = torch.empty(context, context).fill_(float("-inf")).triu_(1)
        self.token_embedding = nn.Embedding(arch["vocabSize"], width)
        self.positional_embedding = nn.Parameter(torch.randn(context, width) * 0.01)
        self.transformer = transformer(width, arch["layers"], arch["heads"], arch["mlpWidth"], mask)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed) * width**-0.5)

    def forward(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection


def token_rows(count, context, vocab, end):
    """The bench's rows: start id, word ids up to `end`, the end id (the highest) at `end`."""
    rows = torch.zeros(count, context, dtype=torch.long)
    for row in range(count):
        rows[row, 0] = vocab - 2
        for i in range(1, end):
            rows[row, i] = 1 + ((row * 31 + i * 17) % (vocab - 3))
        rows[row, end] = vocab - 1
    return rows


def loaded_blas():
    """The BLAS library this process mapped (Debian picks it through alternatives)."""
    with open("/proc/self/maps") as maps:
        names = {line.split("/")[-1].strip() for line in maps if "blas" in line.lower()}
    return sorted(names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("arch")
    parser.add_argument("--image-batch", type=int, required=True)
    parser.add_argument("--text-batch", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    arch = json.loads(args.arch)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    vision = VisionTower(arch["vision"], arch["embedDim"]).eval()
    text = TextTower(arch["text"], arch["embedDim"]).eval()
    size = arch["vision"]["imageSize"]
    context, vocab = arch["text"]["contextLength"], arch["text"]["vocabSize"]
    pixels = torch.randn(args.image_batch, 3, size, size)
    prompts = token_rows(args.text_batch, context, vocab, min(11, context - 1))
    full = token_rows(args.text_batch, context, vocab, context - 1)
    batches = {
        "image": lambda: vision(pixels),
        "prompt": lambda: text(prompts),
        "full": lambda: text(full),
    }
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": loaded_blas()}
    print(json.dumps(info), flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            start, cpu_start = time.perf_counter(), time.process_time()
            batches[line.strip()]()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            print(seconds, cpu, flush=True)


if __name__ == "__main__":
    main()
