"""quickstart-numpy-style model and data, as a Flower user writes them (no ledgerml import)."""

import numpy as np

TRUE_W = np.array([[2.0], [-1.0], [0.5]])
NUM_EXAMPLES = 40


def get_model() -> list[np.ndarray]:
    """The initial model: a linear regression's weights and bias (float32, as a PyTorch model would send)."""
    return [np.zeros((3, 1), dtype=np.float32), np.zeros((1,), dtype=np.float32)]


def load_data(partition_id: int) -> tuple[np.ndarray, np.ndarray]:
    """This node's local data: a noisy linear relation."""
    rng = np.random.default_rng(partition_id)
    X = rng.normal(size=(NUM_EXAMPLES, 3))
    y = X @ TRUE_W + 0.3 + rng.normal(scale=0.05, size=(NUM_EXAMPLES, 1))
    return X, y


def mse(w: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the model on (X, y)."""
    return float(np.mean((X @ w + b - y) ** 2))
