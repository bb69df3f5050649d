r"""Trace of the backpropagation figure (docs/neural-network/backprop.md): one sample through a
tiny two-layer net, Linear(2, 2) -> activation -> Linear(2, 1) -> squared error, forward value by
value, then backward local gradient by local gradient.

Every number is computed by nnref's reference functions (``linear_forward``/``linear_backward``,
the activation's pair, ``mse_forward``/``mse_backward``); a local gradient is the backward
function applied to an upstream gradient of 1 (``tanh_backward(1, h)`` is tanh'(z)). A step of
the trace is a list of lines; a line is text and named numbers ``{"q": name, "v": value}``.
Saves backprop.json and backprop.svg via hooks/interactive.py.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

from nnref.layers.activation import (relu_backward, relu_forward, sigmoid_backward,  # noqa: E402
                                     sigmoid_forward, tanh_backward, tanh_forward)
from nnref.layers.linear import linear_backward, linear_forward  # noqa: E402
from nnref.layers.losses import mse_backward, mse_forward  # noqa: E402

X = np.array([0.5, -1.0])
W1 = np.array([[0.4, -0.3],
               [0.2, 0.6]])
B1 = np.array([0.1, -0.2])                       # z1[1] < 0: ReLU stops that unit's gradient
W2 = np.array([[0.7, -0.5]])
B2 = np.array([0.1])
Y = np.array([1.0])
ACTIVATIONS = {  # name: (forward, backward, how the page writes it, its derivative from h and z)
    "tanh": (tanh_forward, tanh_backward, "tanh", "1 − h²"),
    "sigmoid": (sigmoid_forward, sigmoid_backward, "σ", "h(1 − h)"),
    "relu": (relu_forward, relu_backward, "ReLU", "[z > 0]"),
}
DEFAULT = "tanh"
def run(activation):
    r"""Forward and backward of the net with nnref's reference functions; every array by name."""
    forward, backward = ACTIVATIONS[activation][:2]
    x = X[None]                                                     # (1, 2): one sample
    z1, c1 = linear_forward(x, W1, B1)
    h, c2 = forward(z1)
    yhat, c3 = linear_forward(h, W2, B2)
    L, c4 = mse_forward(yhat, Y[None])
    g_yhat = mse_backward(1.0, c4)                                  # dL/dŷ; dL/dL = 1
    g_h, g_W2, g_b2 = linear_backward(g_yhat, c3)
    g_z1 = backward(g_h, c2)
    g_x, g_W1, g_b1 = linear_backward(g_z1, c1)
    local = backward(np.ones_like(z1), c2)                          # φ'(z1): backward of an upstream 1
    return {"x": X, "W1": W1, "b1": B1, "W2": W2, "b2": B2, "y": Y, "z1": z1[0], "h": h[0], "yhat": yhat[0],
            "L": float(L), "dL/dyhat": g_yhat[0], "dL/dW2": g_W2, "dL/db2": g_b2, "dL/dh": g_h[0],
            "dphi(z1)": local[0], "dL/dz1": g_z1[0], "dL/dW1": g_W1, "dL/db1": g_b1, "dL/dx": g_x[0]}


def steps(activation):
    r"""The figure's steps: forward value by value, then backward product by product."""
    v = run(activation)
    phi, dphi = ACTIVATIONS[activation][2:]

    def q(name, *index):
        value = v[name] if not index else v[name][index]
        label = name + ("[" + ",".join(map(str, index)) + "]" if index else "")
        return {"q": label, "v": float(value)}

    def step(phase, title, lines, reveals):
        return {"phase": phase, "title": title, "lines": lines, "reveals": reveals}

    fwd = [step("前向", f"第 1 层的第 {j} 个神经元：加权求和",
                [[f"z₁[{j}] = W₁[{j},0]·x[0] + W₁[{j},1]·x[1] + b₁[{j}] = ", q("W1", j, 0), " × ", q("x", 0), " + ",
                  q("W1", j, 1), " × ", q("x", 1), " + ", q("b1", j), " = ", q("z1", j)]], [f"z1[{j}]"])
           for j in range(2)]
    fwd += [step("前向", f"激活函数 {phi}", [[f"h[{j}] = {phi}(z₁[{j}]) = {phi}(", q("z1", j), ") = ", q("h", j)]],
                 [f"h[{j}]"]) for j in range(2)]
    fwd.append(step("前向", "第 2 层：加权求和",
                    [["ŷ = W₂[0,0]·h[0] + W₂[0,1]·h[1] + b₂ = ", q("W2", 0, 0), " × ", q("h", 0), " + ",
                      q("W2", 0, 1), " × ", q("h", 1), " + ", q("b2", 0), " = ", q("yhat", 0)]], ["yhat[0]"]))
    fwd.append(step("前向", "损失：平方误差",
                    [["L = (ŷ − y)² = (", q("yhat", 0), " − ", q("y", 0), ")² = ", q("L")]], ["L"]))
    bwd = [
        step("反向", "从损失开始：∂L/∂ŷ（局部梯度 2(ŷ − y)）",
             [["∂L/∂ŷ = 2(ŷ − y) = 2 × (", q("yhat", 0), " − ", q("y", 0), ") = ", q("dL/dyhat", 0)]], ["dL/dyhat[0]"]),
        step("反向", "第 2 层的权重：∂L/∂W₂ = ∂L/∂ŷ · ∂ŷ/∂W₂，其中 ∂ŷ/∂W₂[0,j] = h[j]",
             [[f"∂L/∂W₂[0,{j}] = ∂L/∂ŷ · h[{j}] = ", q("dL/dyhat", 0), " × ", q("h", j), " = ", q("dL/dW2", 0, j)]
              for j in range(2)]
             + [["∂L/∂b₂ = ∂L/∂ŷ · 1 = ", q("dL/db2", 0)]], ["dL/dW2[0,0]", "dL/dW2[0,1]", "dL/db2[0]"]),
        step("反向", "传回隐藏层：∂L/∂h[j] = ∂L/∂ŷ · ∂ŷ/∂h[j]，其中 ∂ŷ/∂h[j] = W₂[0,j]",
             [[f"∂L/∂h[{j}] = ∂L/∂ŷ · W₂[0,{j}] = ", q("dL/dyhat", 0), " × ", q("W2", 0, j), " = ", q("dL/dh", j)]
              for j in range(2)], ["dL/dh[0]", "dL/dh[1]"]),
        step("反向", f"穿过激活函数：局部梯度 {phi}′(z) = {dphi}",
             [[f"∂L/∂z₁[{j}] = ∂L/∂h[{j}] · {phi}′(z₁[{j}]) = ", q("dL/dh", j), " × ", q("dphi(z1)", j), " = ",
               q("dL/dz1", j)] for j in range(2)], ["dL/dz1[0]", "dL/dz1[1]"]),
        step("反向", "第 1 层的参数：∂z₁[j]/∂W₁[j,k] = x[k]，∂z₁[j]/∂b₁[j] = 1",
             [[f"∂L/∂W₁[{j},{k}] = ∂L/∂z₁[{j}] · x[{k}] = ", q("dL/dz1", j), " × ", q("x", k), " = ",
               q("dL/dW1", j, k)] for j in range(2) for k in range(2)]
             + [[f"∂L/∂b₁[{j}] = ∂L/∂z₁[{j}] · 1 = ", q("dL/db1", j)] for j in range(2)],
             ["dL/dW1[0,0]", "dL/dW1[0,1]", "dL/dW1[1,0]", "dL/dW1[1,1]", "dL/db1[0]", "dL/db1[1]"]),
        step("反向", "输入的梯度：x[k] 经两条路径影响 L，两条路径的乘积相加",
             [[f"∂L/∂x[{k}] = ∂L/∂z₁[0] · W₁[0,{k}] + ∂L/∂z₁[1] · W₁[1,{k}] = ", q("dL/dz1", 0), " × ",
               q("W1", 0, k), " + ", q("dL/dz1", 1), " × ", q("W1", 1, k), " = ", q("dL/dx", k)] for k in range(2)],
             ["dL/dx[0]", "dL/dx[1]"]),
    ]
    return fwd + bwd, v


def trace():
    settings = {}
    for name, (_, _, phi, _) in ACTIVATIONS.items():
        s, v = steps(name)
        settings[name] = {"steps": s, "phi": phi,
                          "values": {k: v[k] for k in ("z1", "h", "yhat", "L", "dL/dyhat", "dL/dh", "dL/dz1",
                                                        "dL/dx", "dL/dW1", "dL/db1", "dL/dW2", "dL/db2")}}
    return {"backprop": {
        "alt": "反向传播：一个样本穿过两层网络，先逐个算出前向的值，再从损失出发逐个乘上局部梯度",
        "x": X, "W1": W1, "b1": B1, "W2": W2, "b2": B2, "y": Y, "default": DEFAULT,
        "activations": [[k, v[2]] for k, v in ACTIVATIONS.items()], "settings": settings,
    }}


def draw_first_step(t):
    r"""The net with its inputs and parameters, and the first forward step written out, as an SVG."""
    s = t["settings"][DEFAULT]
    fig, ax = _diagram.canvas(7.4, 2.8)
    for j, y in enumerate((2.2, 1.0)):
        _diagram.box(ax, 0.6, y, 0.9, 0.45, f"x[{j}] = {X[j]:g}", fontsize=10)
        _diagram.box(ax, 2.6, y, 1.0, 0.45, f"z₁[{j}]", fontsize=10, color=_diagram.ORANGE)
        _diagram.box(ax, 4.2, y, 0.9, 0.45, f"h[{j}]", fontsize=10, color=_diagram.GREEN)
        for k, y2 in enumerate((2.2, 1.0)):
            _diagram.arrow(ax, (1.05, y), (2.1, y2), color="0.5", lw=1)
        _diagram.arrow(ax, (3.1, y), (3.75, y), color="0.5", lw=1)
        _diagram.arrow(ax, (4.65, y), (5.45, 1.6), color="0.5", lw=1)
    _diagram.box(ax, 5.8, 1.6, 0.7, 0.45, "ŷ", fontsize=10, color=_diagram.PURPLE)
    _diagram.box(ax, 6.9, 1.6, 0.6, 0.45, "L", fontsize=10, color=_diagram.RED)
    _diagram.arrow(ax, (6.15, 1.6), (6.6, 1.6), color="0.5", lw=1)
    first = "".join(p if isinstance(p, str) else f"{p['v']:.3f}" for p in s["steps"][0]["lines"][0])
    _diagram.label(ax, 0.2, 0.25, first.replace("-", "−"), fontsize=10, ha="left")
    _diagram.save(fig, "backprop")


def main():
    t = trace()
    save("backprop", t["backprop"])
    draw_first_step(t["backprop"])


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
