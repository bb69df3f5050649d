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
# # 过拟合：四种训练方式的对比
#
# [过拟合与缓解方式](../../neural-network/overfitting/) 讲了三种办法：Early Stop、L1/L2 正则、Dropout。
# 这个笔记本让同一个网络在同一份很小的训练集上用四种方式各训练一次，画出每一次的训练/验证曲线：
#
# 1. **不加约束**（图中 plain）：作为对照，看过拟合长什么样；
# 2. **L2 正则**：只惩罚权重，$\lambda\sum w^2$；
# 3. **Dropout**：每个隐藏层后 $p = 0.5$；
# 4. **Early Stop**：盯着验证 loss，`patience = 10`，停下后换回最好那一轮的权重。
#
# 数据是 scikit-learn 自带的 `load_digits`（8×8 手写数字）。为了让过拟合明显，训练集只取 **150 张**
# （每类 15 张），另取 400 张做验证集（画曲线、给 Early Stop 用），剩下的约 1250 张做测试集，只在最后评一次分。
# 训练循环是 [`nnref.train.fit`](../../neural-network/training/)。本页在每次构建网站时重新执行，曲线来自这一次运行。

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import nnref
from nnref.backend import asarray
from nnref.regularization import L2Penalty, weight_parameters
from nnref.train import EarlyStopping, evaluate, fit

# 这些矩阵都很小：一个 BLAS 线程最快，也不会在繁忙的机器上与别的进程抢核而慢上十倍
threadpool_limits(1, user_api="blas")
print("backend:", nnref.get_backend())

# %%
digits = load_digits()
X = digits.data.astype(np.float32) / 16.0
y = digits.target.astype(np.int64)
X_train, X_rest, y_train, y_rest = train_test_split(X, y, train_size=150, random_state=0, stratify=y)
X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, train_size=400, random_state=0, stratify=y_rest)
train = (asarray(X_train), asarray(y_train))      # 移到默认后端（NumPy 或 CuPy）
val = (asarray(X_val), asarray(y_val))
test = (asarray(X_test), asarray(y_test))
print("训练", X_train.shape, "验证", X_val.shape, "测试", X_test.shape)

# %% [markdown]
# ## 网络与四种训练方式
#
# $64 \to 256 \to 256 \to 10$ 的 MLP，约 8.4 万个参数，而训练样本只有 150 个：参数远多于数据，足够把训练集背下来。
# 四次训练用同一个初始化种子、同一个打乱顺序的种子、同样的 Adam（学习率 $10^{-3}$）、batch 32、最多 200 个 epoch，
# 只有正则方式不同。

# %%
EPOCHS = 200


def make_model(dropout=0.0):
    nnref.manual_seed(0)
    layers = [nnref.Linear(64, 256), nnref.ReLU()]
    if dropout:
        layers.append(nnref.Dropout(dropout))
    layers += [nnref.Linear(256, 256), nnref.ReLU()]
    if dropout:
        layers.append(nnref.Dropout(dropout))
    layers.append(nnref.Linear(256, 10))
    return nnref.Sequential(*layers)


def run(dropout=0.0, l2=None, early_stop=False):
    model = make_model(dropout)
    penalty = L2Penalty(weight_parameters(model), l2) if l2 else None
    stopper = EarlyStopping(patience=10) if early_stop else None
    history = fit(model, nnref.CrossEntropyLoss(), nnref.Adam(model.parameters(), lr=1e-3), train, val,
                  epochs=EPOCHS, batch_size=32, seed=0, penalty=penalty, early_stopping=stopper,
                  metrics=["accuracy"])
    return model, history


print("参数个数:", sum(p.data.size for p in make_model().parameters()))
# 图上的文字用英文：构建网站的机器不一定有中文字体
runs = {
    "plain": run(),
    "L2 (lambda=1e-3)": run(l2=1e-3),
    "dropout (p=0.5)": run(dropout=0.5),
    "early stop (patience=10)": run(early_stop=True),
}

# %% [markdown]
# ## 训练与验证曲线
#
# 纵轴是交叉熵。两条线之间的距离就是"背答案"的程度。

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, sharey=True)
NAMES = {"plain": "不加约束", "L2 (lambda=1e-3)": "L2（λ = 1e-3）", "dropout (p=0.5)": "Dropout（p = 0.5）",
         "early stop (patience=10)": "早停（patience = 10）"}   # the runs' names in the figures
for ax, (name, (model, h)) in zip(axes.ravel(), runs.items()):
    ep = np.arange(1, h.epochs + 1)
    ax.plot(ep, h["train_loss"], label="训练集")
    ax.plot(ep, h["val_loss"], label="验证集")
    best = int(np.argmin(h["val_loss"])) + 1
    ax.axvline(best, color="gray", ls=":", lw=1)
    ax.set(title=NAMES[name], xlim=(0, EPOCHS), ylim=(0, 1.2))
    ax.grid(alpha=0.3)
for ax in axes[1]:
    ax.set_xlabel("epoch")
for ax in axes[:, 0]:
    ax.set_ylabel("交叉熵")
axes[0, 0].legend()
fig.suptitle("虚线：验证集损失最低的那个 epoch")
fig.tight_layout()
plt.show()

# %% [markdown]
# 读图：
#
# - **不加约束**：训练 loss 一路降到接近 0，验证 loss 在二十几轮触底后一直回升：从这里开始，模型学到的是这
#   150 张图的个别细节，而不是数字的形状；
# - **L2**：权重不能随意变大。训练 loss 在图上同样贴近 0（下面的表里它比不加约束时高，但在这个纵轴上
#   分不出来），区别在验证 loss：它不再回升，直到最后都在缓慢下降；
# - **Dropout**：训练 loss 带着噪声（每一步都是一个不同的子网络），验证 loss 触底更晚、之后的回升也更小；
# - **Early Stop**：前若干轮与"不加约束"完全相同（同样的种子），在验证 loss 十轮没有创新低后停下，并换回最低点的权重。
#
# ## 在测试集上评分
#
# 测试集在训练中从未出现（验证集被 Early Stop 用来挑轮次，所以评分要用另一份数据）。

# %%
print(f"{'run':24s} {'epochs':>6s} {'train loss':>10s} {'test loss':>9s} {'test acc':>8s}")
results = {}
for name, (model, h) in runs.items():
    r = evaluate(model, nnref.CrossEntropyLoss(), test, metrics=["accuracy"])
    results[name] = r
    print(f"{name:24s} {h.epochs:6d} {h['train_loss'][-1]:10.4f} {r['loss']:9.3f} {r['accuracy']:8.3f}")

plain = results["plain"]["loss"]
assert all(r["loss"] < plain for name, r in results.items() if name != "plain"), \
    "each remedy should give a lower test loss than the unconstrained run"

# %% [markdown]
# 三种办法都让测试 loss 低于不加约束的网络；准确率的差别小得多：过拟合首先伤害的是**置信度**（错的样本被
# 以很高的概率判错，交叉熵大），其次才是对错本身。这也是笔记说的"限制模型复杂度"：
# 约束不是让网络学到更多，而是让它少记一些不该记的东西。
#
# 最后看一眼验证准确率随训练的变化：

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
for name, (model, h) in runs.items():
    ax.plot(np.arange(1, h.epochs + 1), h["val_accuracy"], label=NAMES[name], lw=1.2)
ax.set(xlabel="epoch", ylabel="验证集准确率", ylim=(0.8, 0.95), xlim=(0, EPOCHS))
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
