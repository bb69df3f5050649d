# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 从零训练一个字符级 GPT
#
# 这个笔记本把 [注意力与 Transformer](../../attention/attention/) 一章的零件拼成一个很小的 **GPT**：
# 给定前面的字符，预测下一个字符，和 [序列](../sequences/) 笔记本里的字符级 LSTM 是同一个任务，只是把 LSTM 换成了
# 带**因果掩码**的 Transformer。训练文本是本站各页「笔记原文」框里引用的笔记段落。
#
# 全部用 nnref 的层：`Embedding`（字符和位置各一个）、`TransformerEncoder`（pre-norm，每层一个 `MultiheadAttention`
# 和一个前馈网络）、`LayerNorm`、`Linear`、`CrossEntropyLoss`、`Adam`。"GPT" 只是一个只有编码器结构、
# 用因果掩码训练的语言模型：第 $t$ 个位置只能看位置 $0..t$，于是每个位置都在预测自己的下一个字符。
#
# 这个笔记本在每次构建网站时都会重新执行：损失曲线、生成的文字和注意力图都来自这一次运行（固定的随机种子）。

# %%
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import nnref
from nnref.backend import asarray, asnumpy
from nnref.layers.attention import causal_mask

print("backend:", nnref.get_backend())

# %% [markdown]
# ## 数据
#
# 从当前目录和 `nnref` 包所在的目录逐级往上找 `docs/index.md`，收集每页「笔记原文」框里的文字
# （与序列笔记本的做法相同），连续的空行合成一个。

# %%
def quoted_notes(page):
    """The indented lines of every `!!! quote "笔记原文"` box on a page."""
    lines, inside = [], False
    for line in page.splitlines():
        if line.startswith('!!! quote "笔记原文"'):
            inside = True
        elif inside and (line.startswith("    ") or not line.strip()):
            lines.append(line[4:])
        else:
            inside = False
    return "\n".join(lines)


starts = [Path.cwd().resolve(), Path(nnref.__file__).resolve().parent]
docs = next(p / "docs" for s in starts for p in [s, *s.parents] if (p / "docs" / "index.md").exists())
text = "\n".join(quoted_notes(page.read_text(encoding="utf-8")) for page in sorted(docs.rglob("*.md")))
text = re.sub(r"\n\n\n+", "\n\n", text).strip()
chars = sorted(set(text))
V = len(chars)
index = {c: i for i, c in enumerate(chars)}
data = np.array([index[c] for c in text])
print(f"{len(text)} 个字符，{V} 种")

# %% [markdown]
# ## 模型
#
# 输入是 $T$ 个字符的编号。字符嵌入 `tok` 和位置嵌入 `pos`（[可学习的位置编码](../../attention/positional/#learned)）相加，
# 经过 `N_LAYERS` 个 pre-norm 的 [编码器层](../../attention/transformer/)（每层 4 个头，因果掩码），最后一个 LayerNorm，
# 再由 `Linear` 给出下一个字符的 logits：
#
# $$
# h_0 = W^\text{tok}_{x_t} + W^\text{pos}_t,\qquad h_\ell = \mathrm{Block}_\ell(h_{\ell-1}),\qquad
# \text{logits}_t = W^\text{out}\,\mathrm{LN}(h_N) + b .
# $$
#
# `TransformerEncoder` 像 PyTorch 一样把传进去的层**深拷贝** `N_LAYERS` 次，各层起点相同；这里再给每层换上各自随机初始化的参数。
# 反向传播按相反的顺序调用每个模块的 `backward`：位置嵌入的梯度是各条序列在同一位置的梯度之和。

# %%
D, HEADS, N_LAYERS, T = 64, 4, 2, 32


class TinyGPT:
    def __init__(self, seed=0):
        nnref.manual_seed(seed)
        self.tok, self.pos = nnref.Embedding(V, D), nnref.Embedding(T, D)
        layer = nnref.TransformerEncoderLayer(D, HEADS, 4 * D, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nnref.TransformerEncoder(layer, N_LAYERS, norm=nnref.LayerNorm(D))
        for block in self.blocks.layers:               # 每层各自初始化（深拷贝的各层起点相同）
            block.load_state_dict(nnref.TransformerEncoderLayer(D, HEADS, 4 * D, batch_first=True,
                                                                norm_first=True).state_dict())
        self.head = nnref.Linear(D, V)
        self.modules = [self.tok, self.pos, self.blocks, self.head]

    def parameters(self):
        return [p for m in self.modules for p in m.parameters()]

    def __call__(self, ids):
        """ids (B, L) -> logits (B, L, V)."""
        B, L = ids.shape
        h = self.tok(ids) + self.pos(asarray(np.arange(L)))
        h = self.blocks(h, mask=asarray(causal_mask(L)))
        return self.head(h.reshape(B * L, D)).reshape(B, L, V)

    def backward(self, d_logits):
        B, L, _ = d_logits.shape
        d = self.head.backward(d_logits.reshape(B * L, V)).reshape(B, L, D)
        d = self.blocks.backward(d)
        self.tok.backward(d)
        self.pos.backward(d.sum(axis=0))                # 位置嵌入：对批求和


model = TinyGPT()
print("参数个数:", sum(p.data.size for p in model.parameters()))

# %% [markdown]
# 生成时一次加一个字符：把最后（至多）$T$ 个字符喂进模型，取最后一个位置的 logits，除以温度 0.8 后 softmax，
# 按概率抽下一个字符。先看看**训练之前**的模型写出什么：

# %%
def generate(prefix, n, temperature=0.8, seed=0):
    rng = np.random.default_rng(seed)
    ids = [index[c] for c in prefix]
    for _ in range(n):
        window = asarray(np.array([ids[-T:]]))
        logits = asnumpy(model(window)[0, -1]).astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        ids.append(rng.choice(V, p=p / p.sum()))
    return "".join(chars[i] for i in ids)


candidates = ["卷积", "梯度", "神经网络", "残差"]
prefixes = [p for p in candidates if set(p) <= set(index)][:2]
for seed, prefix in enumerate(prefixes):
    print(generate(prefix, 60, seed=seed))
    print("-" * 40)

# %% [markdown]
# ## 训练
#
# 每一步从全文随机取 16 段、每段 $T + 1 = 33$ 个字符：前 32 个是输入，后 32 个是目标（错开一位）。
# 因果掩码让每个位置只看得到自己和前面的字符，所以一段文字一次给出 32 个"预测下一个字符"的样本。
# 交叉熵对所有位置取平均，Adam（学习率 6e-3），梯度裁剪到范数 1。

# %%
BATCH, STEPS = 16, 300
params = model.parameters()
opt, loss_fn = nnref.Adam(params, lr=6e-3), nnref.CrossEntropyLoss()
rng = np.random.default_rng(0)
losses = []
start = time.perf_counter()
for step in range(STEPS):
    offsets = rng.integers(0, len(data) - T - 1, BATCH)
    window = np.stack([data[o:o + T + 1] for o in offsets])            # (B, T+1)
    x, target = asarray(window[:, :-1]), asarray(window[:, 1:])
    logits = model(x)
    losses.append(loss_fn(logits.reshape(-1, V), target.reshape(-1)))
    opt.zero_grad()
    model.backward(loss_fn.backward().reshape(BATCH, T, V))
    nnref.clip_grad_norm(params, 1.0)
    opt.step()
print(f"训练用时 {time.perf_counter() - start:.0f} 秒；交叉熵 {np.mean(losses[:10]):.2f} -> {np.mean(losses[-10:]):.2f}"
      f"（均匀猜测是 ln {V} = {np.log(V):.2f}）")

plt.figure(figsize=(6, 3.2))
plt.plot(losses, color="0.75", lw=1, label="每一步")
plt.plot(np.arange(9, STEPS), np.convolve(losses, np.ones(10) / 10, mode="valid"), lw=2, label="10 步平均")
plt.axhline(np.log(V), color="0.4", ls="--", lw=1, label=f"均匀猜测 ln {V}")
plt.xlabel("训练步数")
plt.ylabel("交叉熵")
plt.title("训练损失")
plt.legend()
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# 训练之后，用同样的开头和随机种子再生成一次。全文只有几千个字符，模型会背下大段原文：这里要看的是它学会了
# 笔记的字词搭配、标点和 Markdown 的格式，而不是泛化能力。

# %%
for seed, prefix in enumerate(prefixes):
    print(generate(prefix, 60, seed=seed))
    print("-" * 40)

# %% [markdown]
# ## 每个头在看哪里
#
# 取笔记里的一句话，逐层算出每个头的注意力权重（`need_weights=True, average_attn_weights=False`）：
# 第 $i$ 行是第 $i$ 个字符作为查询时分给前面各字符的权重，因果掩码让右上三角全为 0。
# 不同的头常常分工不同：有的几乎只看前一个字符，有的看得更远。

# %%
sentence = next(line for line in text.splitlines()
                if len(line) >= 20 and re.match(r"[\u4e00-\u9fff]", line))[:20]
ids = asarray(np.array([[index[c] for c in sentence]]))
L = len(sentence)
mask = asarray(causal_mask(L))
h = model.tok(ids) + model.pos(asarray(np.arange(L)))
weights = []
for block in model.blocks.layers:
    z = block.norm1(h)                                  # pre-norm：注意力看的是归一化后的输入
    _, w = block.self_attn(z, z, z, attn_mask=mask, average_attn_weights=False)
    weights.append(asnumpy(w[0]))                       # (头, 查询, 键)
    h = block(h, src_mask=mask)
print("句子:", sentence)

for layer in range(N_LAYERS):                          # 每层一张图，每个头一格
    fig, axes = plt.subplots(2, HEADS // 2, figsize=(7, 7.4))
    for head, ax in enumerate(axes.flat):
        ax.imshow(weights[layer][head], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(L), list(sentence), fontsize=8)
        ax.set_yticks(range(L), list(sentence), fontsize=8)
        ax.set_title(f"头 {head + 1}", fontsize=10)
    fig.suptitle(f"第 {layer + 1} 层的注意力权重（行：查询；列：键）")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# 由程序读出每个头"最常看的相对位置"：对每个查询取权重最大的键，统计它比查询早几个字符（0 是看自己）。

# %%
for layer in range(N_LAYERS):
    for head in range(HEADS):
        offsets = [i - int(np.argmax(weights[layer][head][i])) for i in range(1, L)]
        common = max(set(offsets), key=offsets.count)
        print(f"第 {layer + 1} 层 头 {head + 1}：最常看 {common} 个字符之前（{offsets.count(common)}/{L - 1} 个查询）")
