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
# # 训练 MLP 识别手写数字
#
# 把前几页的零件拼成一次完整的训练：[权重矩阵](../../neural-network/linear/)、
# [激活函数](../../neural-network/activation/)、[偏置项](../../neural-network/bias/) 组成一个多层感知机（MLP），
# 交叉熵损失给出梯度的起点，[反向传播](../../neural-network/backprop/) 把梯度传回每个参数，Adam 更新参数。
#
# 数据是 scikit-learn 自带的 `load_digits`：1797 张 8×8 的灰度手写数字（0–9），随包安装，不需要下载。
# 训练在 CPU 上只要几秒；设置环境变量 `NNREF_BACKEND=cupy` 后同一份代码在 GPU 上运行。
#
# 这个笔记本在每次构建网站时都会重新执行，下面的曲线和准确率都来自这一次运行。

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

import nnref
from nnref.backend import RNG, asarray, asnumpy

print("backend:", nnref.get_backend())

# %% [markdown]
# ## 数据
#
# 每张图是 64 个像素，取值 0–16。除以 16 缩放到 $[0,1]$，先按 3:1 分出测试集，再从剩下的部分取 20%
# 作验证集（`random_state` 固定，`stratify` 让各部分的类别比例一致）。训练中每个 epoch 看的是验证集；
# 测试集只在最后用一次，它给出的准确率才没有被"看着它调参"抬高。

# %%
digits = load_digits()
X = digits.data.astype(np.float32) / 16.0          # (1797, 64)
y = digits.target.astype(np.int64)                 # (1797,)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0,
                                                  stratify=y_train)
print("训练集", X_train.shape, "验证集", X_val.shape, "测试集", X_test.shape)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for ax, image, label in zip(axes, X_train, y_train):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 模型
#
# $64 \to 128 \to 10$ 的两层 MLP，隐藏层用 ReLU。输出 10 个 logits，`CrossEntropyLoss` 内部先做 softmax：
#
# $$
# L = -\frac1N\sum_n \log\frac{e^{z_{n,y_n}}}{\sum_k e^{z_{n,k}}},\qquad
# \frac{\partial L}{\partial z_n} = \frac1N\bigl(\mathrm{softmax}(z_n) - \mathrm{onehot}(y_n)\bigr).
# $$

# %%
X_train, X_val, X_test = asarray(X_train), asarray(X_val), asarray(X_test)   # 移到默认后端（NumPy 或 CuPy）
y_train, y_val, y_test = asarray(y_train), asarray(y_val), asarray(y_test)

nnref.manual_seed(0)
model = nnref.Sequential(nnref.Linear(64, 128), nnref.ReLU(), nnref.Linear(128, 10))
loss_fn = nnref.CrossEntropyLoss()
optimizer = nnref.Adam(model.parameters(), lr=1e-3)
print(model)
print("参数个数:", sum(p.data.size for p in model.parameters()))

# %% [markdown]
# ## 训练
#
# 每个 epoch 把训练集打乱，按 32 个一批做"清零梯度 → 前向 → 反向 → 更新"；epoch 结束后在验证集上算
# 损失和准确率。循环是显式写出的，每一步都对应 [反向传播算法](../../neural-network/backprop/) 里的四行。

# %%
def accuracy(logits, labels):
    return float((logits.argmax(axis=1) == labels).mean())

rng = RNG(0)
batch_size, epochs = 32, 30
history = {"train_loss": [], "val_loss": [], "val_acc": []}
for epoch in range(epochs):
    order = rng.permutation(len(y_train))
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = asarray(order[start:start + batch_size])
        optimizer.zero_grad()
        loss = loss_fn(model(X_train[idx]), y_train[idx])
        model.backward(loss_fn.backward())
        optimizer.step()
        total += loss * len(idx)
    logits = model(X_val)
    history["train_loss"].append(total / len(order))
    history["val_loss"].append(loss_fn(logits, y_val))
    history["val_acc"].append(accuracy(logits, y_val))
    if epoch % 5 == 4:
        print(f"epoch {epoch + 1:2d}  train loss {history['train_loss'][-1]:.4f}  "
              f"val loss {history['val_loss'][-1]:.4f}  val acc {history['val_acc'][-1]:.4f}")

# %% [markdown]
# ## 损失曲线与准确率

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
ep = np.arange(1, epochs + 1)
ax_loss.plot(ep, history["train_loss"], label="训练集")
ax_loss.plot(ep, history["val_loss"], label="验证集")
ax_loss.set(xlabel="epoch", ylabel="交叉熵损失", yscale="log", title="损失")
ax_loss.legend()
ax_acc.plot(ep, history["val_acc"], color="tab:green")
ax_acc.set(xlabel="epoch", ylabel="准确率", ylim=(0.8, 1.0), title="验证集准确率")
for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

test_acc = accuracy(model(X_test), y_test)                # 测试集唯一的一次
print(f"测试集准确率: {test_acc:.2%}")
assert test_acc >= 0.95, "the MLP should reach 95% test accuracy on digits"

# %% [markdown]
# ## 错在哪里
#
# 混淆矩阵的第 $i$ 行第 $j$ 列是"真实为 $i$、预测为 $j$"的测试样本数，对角线以外就是错误。

# %%
pred = asnumpy(model(X_test).argmax(axis=1))
truth = asnumpy(y_test)
print(confusion_matrix(truth, pred))

wrong = np.flatnonzero(pred != truth)[:10]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(10, 1.6), squeeze=False)
for ax, i in zip(axes[0], wrong):
    ax.imshow(asnumpy(X_test[i]).reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{truth[i]}→{pred[i]}")
for ax in axes[0]:
    ax.axis("off")
plt.show()
