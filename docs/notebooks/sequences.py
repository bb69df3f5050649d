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
# # 序列：加法问题与字符级模型
#
# 两个小实验把 [循环神经网络](../../rnn/rnn/)、[LSTM](../../lstm/lstm/) 和 [GRU](../../lstm/gru/) 放到真正的训练里：
#
# 1. **加法问题**：答案取决于相隔很远的两个时间步。普通 RNN 的梯度随距离指数衰减
#    （见 [梯度消失与梯度爆炸](../../rnn/vanishing-gradients/)），序列一长就学不会；LSTM 和 GRU 的门让梯度穿过去。
# 2. **字符级语言模型**：用笔记自己的文字训练一个 LSTM，再让它逐字"续写"笔记。
#
# 这个笔记本在每次构建网站时都会重新执行，下面的表格、曲线和生成的文字都来自这一次运行。

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import nnref
from nnref.backend import asarray, asnumpy

print("backend:", nnref.get_backend())

# %% [markdown]
# ## 加法问题
#
# 每个样本是 $T$ 个时间步，每步输入两个数：一个 $U(0,1)$ 的随机值，和一个标记（0 或 1）。整条序列里恰好有
# 两个标记为 1，一个在前半段、一个在后半段；目标是这两个被标记的值之和（问题出自 Hochreiter & Schmidhuber 1997，
# 标记的位置这样取是后来文献里常见的设定，两个标记平均相隔 $T/2$ 步）。模型读完整条序列，只在最后一步输出一个数，用 MSE 训练。
#
# 永远猜 1 的"模型"的 MSE 是两个独立 $U(0,1)$ 之和的方差 $2 \times \tfrac{1}{12} \approx 0.167$：
# 测试 MSE 停在这附近，就是什么也没学到。

# %%
def adding_batch(rng, n, T):
    """x: (T, n, 2) 的 (值, 标记)；y: (n, 1) 被标记的两个值之和。"""
    u = rng.random((T, n))
    marks = np.zeros((T, n))
    marks[rng.integers(0, T // 2, n), np.arange(n)] = 1       # 一个在前半段
    marks[rng.integers(T // 2, T, n), np.arange(n)] = 1       # 一个在后半段
    x = np.stack([u, marks], axis=2).astype(np.float32)
    return asarray(x), asarray((u * marks).sum(axis=0)[:, None].astype(np.float32))


x, y = adding_batch(np.random.default_rng(0), 1, 8)
print(np.round(asnumpy(x[:, 0]), 2).T)
print("目标:", float(y[0, 0]))

# %% [markdown]
# 三个模型用完全相同的设置：32 个隐藏单元、批大小 64、Adam（学习率 0.02）、
# [梯度裁剪](../../rnn/vanishing-gradients/#clipping) 到范数 1，每个长度训练 `ITERS` 步，然后在 1000 条新序列上测 MSE。
# 只有一处按常见做法改了初始化：LSTM 遗忘门的偏置加 1（Jozefowicz 等 2015 的建议），
# 让 $f_t$ 一开始就偏向"记住"，原因见 [LSTM：为什么梯度能穿过细胞状态](../../lstm/lstm/#cell-gradient)。
#
# 输出层只接最后一步的 $h_T$，所以传给 `backward` 的 `d_out` 除最后一步外都是 0：梯度只能沿时间一路传回去。

# %%
H, BATCH, ITERS, LR = 32, 64, 600, 0.02
LENGTHS = [5, 20, 40]
KINDS = ["RNN", "LSTM", "GRU"]


def train_adding(kind, T, seed=0):
    nnref.manual_seed(seed)
    rnn, head = getattr(nnref, kind)(2, H), nnref.Linear(H, 1)
    if kind == "LSTM":
        rnn.bias_ih_l0.data[H:2 * H] += 1.0               # 遗忘门 f 的偏置（门的顺序 i, f, g, o）
    params = rnn.parameters() + head.parameters()
    opt, loss_fn = nnref.Adam(params, lr=LR), nnref.MSELoss()
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(ITERS):
        x, y = adding_batch(rng, BATCH, T)
        out, h_n = rnn(x)
        losses.append(loss_fn(head(out[-1]), y))
        opt.zero_grad()
        d_out = nnref.backend.zeros(out.shape, dtype=out.dtype, like=out)
        d_out[-1] = head.backward(loss_fn.backward())     # 只有最后一步有损失
        rnn.backward(d_out)
        nnref.clip_grad_norm(params, 1.0)
        opt.step()
    x, y = adding_batch(np.random.default_rng(1000 + T), 1000, T)
    out, _ = rnn(x)
    test_mse = float(((head(out[-1]) - y) ** 2).mean())
    return test_mse, np.array(losses)


results, curves = {}, {}
start = time.perf_counter()
for kind in KINDS:
    for T in LENGTHS:
        results[kind, T], curves[kind, T] = train_adding(kind, T)
print(f"训练用时 {time.perf_counter() - start:.0f} 秒\n")
print("测试 MSE".ljust(8), "".join(f"T={T:<8}" for T in LENGTHS))
for kind in KINDS:
    print(kind.ljust(10), "".join(f"{results[kind, T]:<10.4f}" for T in LENGTHS))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for kind, marker in zip(KINDS, "osD"):
    axes[0].semilogy(LENGTHS, [results[kind, T] for T in LENGTHS], marker=marker, lw=2, label=kind)
axes[0].axhline(1 / 6, color="0.5", ls="--", label="总是预测 1（MSE 1/6）")
axes[0].set(xlabel="序列长度 T", ylabel="测试集 MSE", xticks=LENGTHS, title="训练后的加法问题")
T_long = LENGTHS[-1]
for kind in KINDS:
    smooth = np.convolve(curves[kind, T_long], np.ones(20) / 20, mode="valid")
    axes[1].semilogy(smooth, lw=2, label=kind)
axes[1].axhline(1 / 6, color="0.5", ls="--")
axes[1].set(xlabel="训练步数", ylabel="训练 MSE（20 步平均）", title=f"训练曲线，T = {T_long}")
for ax in axes:
    ax.grid(alpha=0.3, which="both")
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# 把 MSE 低于 0.01（基线的 6%）算作"学会"，下面由程序读出这次运行的结论：

# %%
for kind in KINDS:
    solved = [T for T in LENGTHS if results[kind, T] < 0.01]
    failed = [T for T in LENGTHS if results[kind, T] > 0.1]
    print(f"{kind:5s} 学会的长度: {solved or '无'}；没学会（MSE > 0.1）的长度: {failed or '无'}")

# %% [markdown]
# 普通 RNN 只在短序列上学得会：两个标记相距越远，从 $h_T$ 传回第一个标记处的梯度就越小
# （每往回一步乘一次 $\operatorname{diag}(\tanh'(z_t))\,W_{hh}$），参数几乎收不到"前面那个数很重要"的信号，
# 只能学到输出平均值。LSTM 的细胞状态 $c_t = f_t \odot c_{t-1} + \dots$ 和 GRU 的
# $h_t = z_t \odot h_{t-1} + \dots$ 都留了一条只乘门值的通路，门接近 1 时梯度几乎不衰减。
# 右图在最长的序列上看得更清楚：门控模型先在基线附近停留一段（还没找到那两个标记），然后突然下降。
#
# ## 字符级语言模型
#
# 第二个实验用《神经网络学习笔记》的原文训练一个字符级 LSTM：输入一个字符，预测下一个字符，
# 也就是笔记在 [循环神经网络](../../rnn/rnn/) 的「输出」一节举的例子。
#
# 训练文本是本站各页「笔记原文」框里引用的笔记段落，从仓库的 `docs/` 里收集：
# 从当前目录和 `nnref` 包所在的目录逐级往上找 `docs/index.md`，
# 所以无论从仓库根目录还是从 `docs/notebooks/` 执行都能找到。

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
chars = sorted(set(text))
V = len(chars)
index = {c: i for i, c in enumerate(chars)}
data = np.array([index[c] for c in text])
print(f"{len(text)} 个字符，{V} 种")

# %% [markdown]
# 模型：`Embedding(V, 32)` 把每个字符的编号换成一个 32 维向量（词嵌入：查表取出 $V \times 32$ 矩阵的一行，
# 和 one-hot 向量乘这个矩阵结果相同，只是不用真的做乘法），
# 接 128 个隐藏单元的 LSTM，再接一个 `Linear(128, V)` 输出下一个字符的 logits。
#
# 训练用**截断 BPTT**：每次从全文随机取 32 段、每段 32 个字符，只在这 32 步内反向传播。
# 整篇笔记只有几千个字符，模型会很快背下大段原文：这里要看的是它学会了 Markdown 的格式、
# LaTeX 的写法和中文的字词搭配，而不是泛化能力。

# %%
E, HC, TC, BC, CHAR_ITERS = 32, 128, 32, 32, 300
nnref.manual_seed(0)
embed, lstm, head = nnref.Embedding(V, E), nnref.LSTM(E, HC), nnref.Linear(HC, V)
params = embed.parameters() + lstm.parameters() + head.parameters()
opt, loss_fn = nnref.Adam(params, lr=5e-3), nnref.CrossEntropyLoss()
rng = np.random.default_rng(0)
char_losses = []
start = time.perf_counter()
for step in range(CHAR_ITERS):
    starts = rng.integers(0, len(data) - TC - 1, BC)
    window = np.stack([data[s:s + TC + 1] for s in starts], axis=1)    # (TC+1, BC)
    x, target = asarray(window[:-1]), asarray(window[1:])              # 字符编号 (TC, BC)
    out, _ = lstm(embed(x))
    char_losses.append(loss_fn(head(out).reshape(-1, V), target.reshape(-1)))
    opt.zero_grad()
    d_out = head.backward(loss_fn.backward().reshape(TC, BC, V))
    embed.backward(lstm.backward(d_out))                               # 只累计查表矩阵的梯度
    nnref.clip_grad_norm(params, 1.0)
    opt.step()
print(f"训练用时 {time.perf_counter() - start:.0f} 秒；"
      f"交叉熵 {np.mean(char_losses[:20]):.2f} -> {np.mean(char_losses[-20:]):.2f}"
      f"（均匀猜测是 ln {V} = {np.log(V):.2f}）")

plt.figure(figsize=(6, 3.2))
plt.plot(np.convolve(char_losses, np.ones(10) / 10, mode="valid"))
plt.xlabel("training step")
plt.ylabel("cross-entropy (10-step mean)")
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# 生成时一次喂一个字符。这里用的是**不带批维度**的输入：嵌入后的 `x` 形状是 `(1, E)`（1 个时间步），
# 状态 `(h, c)` 各是 `(1, 128)`，和 `torch.nn.LSTM` 一样。每一步把 logits 除以温度 0.8 后做 softmax，
# 按概率抽下一个字符，再把它喂回去。

# %%
def generate(prefix, n, temperature=0.8, seed=0):
    r = np.random.default_rng(seed)
    state, out = None, None
    for c in prefix:                                           # 先读入开头
        out, state = lstm(embed(asarray(np.array([index[c]]))), state)
    result = list(prefix)
    for _ in range(n):
        logits = asnumpy(head(out[-1])).astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        c = chars[r.choice(V, p=p / p.sum())]
        result.append(c)
        out, state = lstm(embed(asarray(np.array([index[c]]))), state)
    return "".join(result)


candidates = ["## 循环神经网络\n", "梯度", "### 池化层", "卷积", "神经网络"]
prefixes = [p for p in candidates if set(p) <= set(index)][:3]   # only characters the model has seen
for seed, prefix in enumerate(prefixes):
    print(generate(prefix, 120, seed=seed))
    print("-" * 40)
