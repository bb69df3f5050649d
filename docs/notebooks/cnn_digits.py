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
# # 训练 CNN 识别手写数字
#
# 把卷积神经网络一章的零件拼起来：[卷积层](../../cnn/conv/) 提取局部特征，[池化层](../../cnn/pool/) 缩小特征图，
# [全连接层](../../cnn/fully-connected/) 整合特征输出类别分数，即 [一般使用方式](../../cnn/usage/#usage)
# 里"卷积 → ReLU → 池化"重复两次再接分类头的结构。
#
# 数据与 [训练 MLP 识别手写数字](../mlp_digits/) 相同：scikit-learn 自带的 `load_digits`，1797 张 8×8 的灰度
# 手写数字，随包安装，不需要下载。不同的是这里把每张图当作 $1\times8\times8$ 的图像，而不是 64 维向量。
# 训练在 CPU 上只要几秒；设置环境变量 `NNREF_BACKEND=cupy` 后同一份代码在 GPU 上运行。
#
# 这个笔记本在每次构建网站时都会重新执行，下面的曲线、卷积核、特征图和准确率都来自这一次运行。

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import nnref
from nnref.backend import asarray, asnumpy
from nnref.train import accuracy, fit

# 矩阵都很小：一个 BLAS 线程最快，也不会在繁忙的机器上与别的进程抢核
threadpool_limits(1, user_api="blas")
print("backend:", nnref.get_backend())

# %% [markdown]
# ## 数据
#
# 像素取值 0–16，除以 16 缩放到 $[0,1]$；形状排成卷积层要的 $(N, C, H, W) = (N, 1, 8, 8)$。按 3:1 分成训练集
# 和测试集（与 MLP 笔记本的划分相同，`random_state` 固定，`stratify` 让两边类别比例一致）。

# %%
digits = load_digits()
images = (digits.images.astype(np.float32) / 16.0)[:, None]   # (1797, 1, 8, 8)
labels = digits.target.astype(np.int64)
X_train, X_test, y_train, y_test = train_test_split(images, labels, test_size=0.25, random_state=0,
                                                    stratify=labels)
train = (asarray(X_train), asarray(y_train))      # 移到默认后端（NumPy 或 CuPy）
test = (asarray(X_test), asarray(y_test))
print("训练集", X_train.shape, "测试集", X_test.shape)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for ax, image, label in zip(axes, X_train, y_train):
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 模型
#
# 两个阶段，每个阶段是 $3\times3$ 卷积（填充 1，尺寸不变）、ReLU、$2\times2$ 最大池化（尺寸减半）：
# $1\times8\times8 \to 16\times4\times4 \to 32\times2\times2$，拉平成 128 维，`Linear(128, 10)` 输出 10 个 logits。
# 一共约 6 千个参数，比 MLP 笔记本的 $64\to128\to10$（约 9.6 千个）还少。

# %%
nnref.manual_seed(0)
model = nnref.Sequential(
    nnref.Conv2d(1, 16, 3, padding=1), nnref.ReLU(), nnref.MaxPool2d(2),
    nnref.Conv2d(16, 32, 3, padding=1), nnref.ReLU(), nnref.MaxPool2d(2),
    nnref.Flatten(), nnref.Linear(32 * 2 * 2, 10))
print(model)
print("参数个数:", sum(p.data.size for p in model.parameters()))

# %% [markdown]
# ## 训练
#
# 用 `nnref.train.fit`：每个 epoch 打乱训练集，按 32 个一批做"清零梯度 → 前向 → 反向 → Adam 更新"，
# epoch 结束后在测试集上算损失和准确率（这里测试集只用来画曲线，不参与任何选择）。

# %%
epochs = 40
start = time.perf_counter()
history = fit(model, nnref.CrossEntropyLoss(), nnref.Adam(model.parameters(), lr=3e-3), train, test,
              epochs=epochs, batch_size=32, seed=0, metrics=["accuracy"])
print(f"{epochs} 个 epoch 用时 {time.perf_counter() - start:.1f} 秒")
for epoch in range(4, epochs, 5):
    print(f"epoch {epoch + 1:2d}  train loss {history['train_loss'][epoch]:.4f}  "
          f"test loss {history['val_loss'][epoch]:.4f}  test acc {history['val_accuracy'][epoch]:.4f}")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
ep = np.arange(1, len(history["train_loss"]) + 1)
ax_loss.plot(ep, history["train_loss"], label="训练集")
ax_loss.plot(ep, history["val_loss"], label="测试集")
ax_loss.set(xlabel="epoch", ylabel="交叉熵损失", yscale="log", title="损失")
ax_loss.legend()
ax_acc.plot(ep, history["val_accuracy"], color="tab:green")
ax_acc.set(xlabel="epoch", ylabel="准确率", ylim=(0.8, 1.0), title="测试集准确率")
for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

model.eval()
test_acc = accuracy(model(test[0]), test[1])
print(f"测试集准确率: {test_acc:.2%}")
assert test_acc >= 0.97, "the CNN should reach 97% test accuracy on digits"

# %% [markdown]
# ## 学到的卷积核
#
# 第一层的 16 个 $3\times3$ 卷积核直接作用在像素上，可以画出来看：红色是正权重，蓝色是负权重。一个左负右正的核
# 就是一个竖直边缘探测器（对比 [卷积层 · 作用](../../cnn/conv/#purpose) 里手写的 Sobel 核）。这些核不是设计的，
# 是梯度下降从数据里学出来的。

# %%
kernels = asnumpy(model[0].weight.data)[:, 0]        # (16, 3, 3)
limit = np.abs(kernels).max()
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for k, ax in enumerate(axes.flat):
    ax.imshow(kernels[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"卷积核 {k}", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 特征图
#
# 把一张测试图送进网络，取出中间层的输出：第一层卷积 + ReLU 后的 16 张 $8\times8$ 特征图，每张对应上面的一个
# 卷积核，亮的地方是"这个核的图案出现在这里"；第二层卷积 + ReLU 后的 32 张 $4\times4$ 特征图更抽象，
# 每个像素看到原图上 $8\times8$ 的区域（第一层 $3\times3$、池化、第二层 $3\times3$：感受野
# $3 + 1 + 2\cdot2 = 8$），已经是整个数字的一大部分。

# %%
image = test[0][:1]                                  # (1, 1, 8, 8)
maps1 = model[1](model[0](image))                    # conv1 -> ReLU: (1, 16, 8, 8)
maps2 = model[4](model[3](model[2](maps1)))          # pool -> conv2 -> ReLU: (1, 32, 4, 4)
print("输入", image.shape, "第一层", maps1.shape, "第二层", maps2.shape, "真实标签", int(test[1][0]))

fig, axes = plt.subplots(2, 9, figsize=(10, 2.6))
axes[0, 0].imshow(asnumpy(image)[0, 0], cmap="gray_r")
axes[0, 0].set_title("输入")
for k, ax in enumerate(axes[:, 1:].flat):
    ax.imshow(asnumpy(maps1)[0, k], cmap="viridis")
    ax.set_title(f"特征图 {k}", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("conv1 + ReLU：16 张 8×8 的特征图")
plt.show()

fig, axes = plt.subplots(2, 16, figsize=(10, 1.9))
for k, ax in enumerate(axes.flat):
    ax.imshow(asnumpy(maps2)[0, k], cmap="viridis")
    ax.axis("off")
fig.suptitle("conv2 + ReLU：32 张 4×4 的特征图")
plt.show()

# %% [markdown]
# ## 错在哪里
#
# 混淆矩阵的第 $i$ 行第 $j$ 列是"真实为 $i$、预测为 $j$"的测试样本数，对角线以外就是错误。

# %%
pred = asnumpy(model(test[0]).argmax(axis=1))
truth = y_test
print(confusion_matrix(truth, pred))

wrong = np.flatnonzero(pred != truth)[:10]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(10, 1.6), squeeze=False)
for ax, i in zip(axes[0], wrong):
    ax.imshow(X_test[i, 0], cmap="gray_r")
    ax.set_title(f"{truth[i]}→{pred[i]}")
for ax in axes[0]:
    ax.axis("off")
plt.show()
