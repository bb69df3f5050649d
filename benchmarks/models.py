"""The models the training-step benchmarks time, built from any library with torch.nn's names
(``nnref``, an old revision of it, or ``torch.nn``). Kept free of torch so that
``instructions.py`` can run them under valgrind without importing it."""


def notebook_cnn(lib):
    """The CNN of docs/notebooks/cnn_digits.py: input (N, 1, 8, 8), 10 classes."""
    return lib.Sequential(lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(32 * 2 * 2, 10))


def mlp(lib):
    """784-512-256-10 with ReLU: input (N, 784), 10 classes."""
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 256), lib.ReLU(),
                          lib.Linear(256, 10))
