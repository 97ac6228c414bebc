"""Shift generators and the digits joint-shift benchmark. No downloads."""

from numbers import Real

import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state


def make_gaussian_shift(n_train=1000, n_test=1000, n_features=2, *, shift=1.0,
                        scale=1.0, random_state=None):
    """Covariate shift with a known ratio: p_tr = N(0, I), p_te = N(mu, diag(s^2)).

    Parameters
    ----------
    n_train, n_test, n_features : int
    shift : float or array-like of shape (n_features,), default=1.0
        Test mean ``mu``: a float moves the first coordinate only.
    scale : float or array-like of shape (n_features,), default=1.0
        Test standard deviation ``s`` of each coordinate.
    random_state : int, RandomState or None

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features)
    X_test : ndarray of shape (n_test, n_features)
    weights : ndarray of shape (n_train,)
        True ratio ``p_te / p_tr`` at the training points (for the default,
        ``exp(shift x_1 - shift^2 / 2)``).

    Examples
    --------
    >>> from adiw.datasets import make_gaussian_shift
    >>> X_tr, X_te, w = make_gaussian_shift(5, 3, 2, random_state=0)
    >>> X_tr.shape, X_te.shape, w.shape
    ((5, 2), (3, 2), (5,))
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("n_features", n_features)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    rng = check_random_state(random_state)
    mu = np.zeros(n_features)
    if np.ndim(shift) == 0:
        mu[0] = shift
    elif np.shape(shift) != (n_features,):
        raise ValueError(f"shift must be a float or have shape ({n_features},),"
                         f" got shape {np.shape(shift)}.")
    else:
        mu[:] = shift
    if np.ndim(scale) not in (0, 1) or (np.ndim(scale) == 1 and len(scale) != n_features):
        raise ValueError(f"scale must be a float or have shape ({n_features},),"
                         f" got shape {np.shape(scale)}.")
    s = np.broadcast_to(np.asarray(scale, dtype=float), (n_features,))
    if not (np.all(np.isfinite(s)) and np.all(s > 0) and np.all(np.isfinite(mu))):
        raise ValueError("scale must be finite and > 0 and shift finite;"
                         f" got scale={scale!r}, shift={shift!r}.")
    X_train = rng.normal(size=(n_train, n_features))
    X_test = mu + s * rng.normal(size=(n_test, n_features))
    log_w = (norm.logpdf(X_train, loc=mu, scale=s) - norm.logpdf(X_train)).sum(1)
    return X_train, X_test, np.exp(log_w)


def _check_rate(rate):
    if not (np.isfinite(rate) and 0 <= rate < 1):
        raise ValueError(f"noise rate must be in [0, 1), got {rate}.")


def _check_flip_labels(y, n_classes):
    """Integer labels 0..K-1 (the flips are modular arithmetic on them)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"y must be 1-D integer labels 0..K-1, got shape {y.shape} and"
                         f" dtype {y.dtype}; encode them first (LabelEncoder).")
    K = (int(y.max()) + 1 if y.size else 0) if n_classes is None else n_classes
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"y must lie in 0..{K - 1} (n_classes={K}); got labels from"
                         f" {y.min()} to {y.max()}. Encode them first (LabelEncoder).")
    return y, K


def pair_flip(y, rate, n_classes=None, *, random_state=None):
    """Pair-flip label noise: each label c becomes c + 1 (mod K) with prob. ``rate``.

    Returns
    -------
    y_noisy : ndarray
    flipped : ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.datasets import pair_flip
    >>> y_noisy, flipped = pair_flip(np.zeros(1000, int), 0.3, 10, random_state=0)
    >>> set(y_noisy[flipped]) == {1}, round(float(flipped.mean()), 1)
    (True, 0.3)
    """
    _check_rate(rate)
    y, K = _check_flip_labels(y, n_classes)
    flipped = check_random_state(random_state).random_sample(y.shape[0]) < rate
    return np.where(flipped, (y + 1) % K, y), flipped


def symmetric_flip(y, rate, n_classes=None, *, random_state=None):
    """Symmetric label noise: with prob. ``rate`` a label becomes one of the
    other K - 1 classes, uniformly.

    Returns
    -------
    y_noisy : ndarray
    flipped : ndarray of bool
    """
    _check_rate(rate)
    y, K = _check_flip_labels(y, n_classes)
    rng = check_random_state(random_state)
    flipped = rng.random_sample(y.shape[0]) < rate
    other = (y + rng.randint(1, K, size=y.shape[0])) % K
    return np.where(flipped, other, y), flipped


def sample_class_prior(y, priors, n=None, *, random_state=None):
    """Indices of a subsample of ``y`` whose class proportions are ``priors``.

    Takes as many points as the scarcest class allows (or ``n``), without
    replacement.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integer labels 0..K-1.
    priors : array-like of shape (K,)
        Non-negative class proportions, normalised to sum to 1; every label
        of ``y`` needs one, and every class with a positive prior a sample.
    n : int or None, default=None
        The subsample's size, at most what the scarcest class allows.
    random_state : int, RandomState or None, default=None

    Returns
    -------
    ndarray of int
        Sorted indices into ``y``.
    """
    y = np.asarray(y)
    priors = np.asarray(priors, dtype=float)
    if priors.ndim != 1 or len(priors) == 0 or not np.all(np.isfinite(priors)) \
            or np.any(priors < 0) or not priors.sum() > 0:
        raise ValueError("priors must be a non-empty 1-D array of finite non-negative"
                         f" numbers, not all 0; got {priors.tolist()[:10]}.")
    _check_flip_labels(y, len(priors))
    priors = priors / priors.sum()
    counts = np.bincount(y, minlength=len(priors))
    empty = np.flatnonzero((priors > 0) & (counts == 0))
    if len(empty):
        raise ValueError(f"class {int(empty[0])} has prior {priors[empty[0]]:.3g} but no"
                         " sample in y.")
    if n is not None and not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be an integer >= 1 or None, got {n!r}.")
    max_n = np.min(counts[priors > 0] / priors[priors > 0])
    n = int(max_n if n is None else min(n, max_n))
    rng = check_random_state(random_state)
    take = [rng.choice(np.flatnonzero(y == c), int(round(p * n)), replace=False)
            for c, p in enumerate(priors) if p > 0]
    return np.sort(np.concatenate(take))


def _label_flip(noise):
    """The flip function of a label-noise family ("pair" or "symmetric")."""
    flips = {"pair": pair_flip, "symmetric": symmetric_flip}
    if noise not in flips:
        raise ValueError(f"noise must be 'pair' or 'symmetric', got {noise!r}.")
    return flips[noise]


def _draw_per_class(pool, labels, n_per_class, n_classes, rng):
    """``n_per_class`` members of ``pool`` (with ``labels``) per class, without
    replacement, class by class."""
    return np.concatenate([rng.choice(pool[labels == c], n_per_class, replace=False)
                           for c in range(n_classes)])


def load_digits_shift(*, noise="pair", noise_rate=0.4, imbalance=5.0,
                      n_val_per_class=10, test_fraction=0.4, train_input_noise=0.0,
                      random_state=0):
    """Joint-shift benchmark on scikit-learn's bundled 8x8 digits.

    Training: noisy labels (pair or symmetric flips at ``noise_rate``) and a
    class prior that falls linearly from 1 to ``1 / imbalance`` over the
    classes. Test distribution: clean labels, uniform classes. A small clean
    validation sample (``n_val_per_class`` per class) is drawn from the test
    distribution. ``train_input_noise`` > 0 adds Gaussian noise of that
    standard deviation to the training inputs only (clipped to [0, 1]): a
    covariate shift in the inputs on top of the label shift.

    Returns
    -------
    Bunch with ``X_train, y_train, y_train_clean, flipped, X_val, y_val,
    X_test, y_test`` (float32 features in [0, 1], int64 labels) and
    ``n_classes``.

    Examples
    --------
    >>> from adiw.datasets import load_digits_shift
    >>> d = load_digits_shift(random_state=0)
    >>> d.X_val.shape, round(float(d.flipped.mean()), 1)
    ((100, 64), 0.4)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}: both"
                         " the training and the test pool need samples.")
    if not (np.isfinite(imbalance) and imbalance >= 1):
        raise ValueError(f"imbalance must be a finite number >= 1, got {imbalance!r}.")
    if not (np.isfinite(train_input_noise) and train_input_noise >= 0):
        raise ValueError(f"train_input_noise must be finite and >= 0, got {train_input_noise!r}.")
    if not isinstance(n_val_per_class, (int, np.integer)) or n_val_per_class < 1:
        raise ValueError(f"n_val_per_class must be an integer >= 1, got {n_val_per_class!r}.")
    rng = check_random_state(random_state)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    K = 10
    order = rng.permutation(len(y))
    n_test_pool = int(test_fraction * len(y))
    test_pool, train_pool = order[:n_test_pool], order[n_test_pool:]
    priors = np.linspace(1.0, 1.0 / imbalance, K)
    # the pool, then the prior-shaped sample of it, must hold every class
    train_idx = train_pool if np.bincount(y[train_pool], minlength=K).min() == 0 else \
        train_pool[sample_class_prior(y[train_pool], priors, random_state=rng)]
    if np.bincount(y[train_idx], minlength=K).min() == 0:
        raise ValueError(f"test_fraction={test_fraction} leaves {len(train_pool)} rows in"
                         f" the training pool: under imbalance={imbalance} the training"
                         " sample misses a class. Lower test_fraction.")
    fewest = min(np.sum(y[test_pool] == c) for c in range(K))
    if n_val_per_class >= fewest:
        raise ValueError(
            f"n_val_per_class={n_val_per_class} leaves no test sample: the test pool"
            f" (test_fraction={test_fraction}) holds {fewest} of its rarest class.")
    val_idx = _draw_per_class(test_pool, y[test_pool], n_val_per_class, K, rng)
    rest = np.setdiff1d(test_pool, val_idx)
    test_idx = rest[sample_class_prior(y[rest], np.ones(K), random_state=rng)]
    flip = _label_flip(noise)
    y_train, flipped = flip(y[train_idx], noise_rate, K, random_state=rng)
    X_train = X[train_idx]
    if train_input_noise > 0:
        X_train = np.clip(X_train + rng.normal(0, train_input_noise, X_train.shape), 0, 1)
        X_train = X_train.astype(np.float32)
    return Bunch(
        X_train=X_train, y_train=y_train.astype(np.int64),
        y_train_clean=y[train_idx].astype(np.int64), flipped=flipped,
        X_val=X[val_idx], y_val=y[val_idx].astype(np.int64),
        X_test=X[test_idx], y_test=y[test_idx].astype(np.int64), n_classes=K,
    )


def load_colour_digits_shift(*, noise="pair", noise_rate=0.0, n_val_per_class=10,
                             test_fraction=0.4, test_channels=3, random_state=0):
    """Digits in three colour channels: training in one, test spread over all three.

    An analogue of the Color-MNIST task of Fang et al. (GIW, NeurIPS 2023) on
    scikit-learn's bundled 8x8 digits: each image becomes 192 features, three
    64-pixel channels of which one holds the digit and the other two are 0.
    Every training digit is in channel 0; validation and test digits are
    spread evenly over the three channels, so about two thirds of the
    test distribution lies outside the training support, and no weight on
    the training digits can reach it (``test_channels`` sets the spread: the
    in-support share is ``1 / test_channels``).

    Parameters
    ----------
    noise : {"pair", "symmetric"}, default="pair"
    noise_rate : float in [0, 1), default=0.0
        Fraction of training labels flipped.
    n_val_per_class : int >= 1, default=10
        Labelled test-distribution digits per class, spread over the channels.
    test_fraction : float in (0, 1), default=0.4
        Share of the digits set aside for the validation and test samples.
    test_channels : {1, 2, 3}, default=3
        Validation and test digits are spread evenly over channels
        ``0 .. test_channels - 1``; 1 means no shift at all.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    Bunch with ``X_train, y_train, y_train_clean, flipped, X_val, y_val,
    X_test, y_test`` (float32 in [0, 1], int64 labels), ``channel_val`` and
    ``channel_test`` (the channel of each digit) and ``n_classes``.

    Examples
    --------
    >>> from adiw.datasets import load_colour_digits_shift
    >>> d = load_colour_digits_shift(random_state=0)
    >>> d.X_train.shape[1], sorted(set(d.channel_val.tolist()))
    (192, [0, 1, 2])
    """
    _check_rate(noise_rate)
    if not (isinstance(test_fraction, Real) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    if test_channels not in (1, 2, 3):
        raise ValueError(f"test_channels must be 1, 2 or 3, got {test_channels!r}.")
    flip = _label_flip(noise)
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0).astype(np.float32), y.astype(np.int64)
    K = 10
    rng = check_random_state(random_state)
    order = rng.permutation(len(y))
    n_test_pool = int(test_fraction * len(y))
    test_pool, train_idx = order[:n_test_pool], order[n_test_pool:]
    fewest = min(np.sum(y[test_pool] == c) for c in range(K))
    if not isinstance(n_val_per_class, (int, np.integer)) or \
            not 1 <= n_val_per_class < fewest:
        raise ValueError(f"n_val_per_class must be an integer in [1, {fewest}) (the test"
                         f" pool's rarest class), got {n_val_per_class!r}.")
    val_idx = _draw_per_class(test_pool, y[test_pool], n_val_per_class, K, rng)
    test_idx = np.setdiff1d(test_pool, val_idx)

    def coloured(idx, channels):
        out = np.zeros((len(idx), 3 * X.shape[1]), dtype=np.float32)
        for c in range(3):
            rows = channels == c
            out[rows, c * X.shape[1]:(c + 1) * X.shape[1]] = X[idx[rows]]
        return out

    # even spread over the channels, within each class of the validation sample
    channel_val = np.concatenate([rng.permutation(np.arange(n_val_per_class) % test_channels)
                                  for _ in range(K)])
    channel_test = rng.permutation(np.arange(len(test_idx)) % test_channels)
    y_train, flipped = flip(y[train_idx], noise_rate, K, random_state=rng)
    return Bunch(
        X_train=coloured(train_idx, np.zeros(len(train_idx), dtype=int)),
        y_train=y_train.astype(np.int64), y_train_clean=y[train_idx], flipped=flipped,
        X_val=coloured(val_idx, channel_val), y_val=y[val_idx],
        X_test=coloured(test_idx, channel_test), y_test=y[test_idx],
        channel_val=channel_val, channel_test=channel_test, n_classes=K,
    )


#: Corruption families of ``corrupt_digits``.
CORRUPTIONS = ("noise", "shift", "occlusion", "salt_pepper", "blur", "contrast")


#: Beyond this every corruption is saturated on 8x8 images (a shift of
#: round(2 * 8) = 16 pixels, 8 blur passes), and work and memory stay bounded.
MAX_SEVERITY = 8.0


def corrupt_digits(X, kind, severity=1.0, *, random_state=None):
    """Corrupted copies of flat 8x8 digit images with values in [0, 1].

    Parameters
    ----------
    X : ndarray of shape (n_samples, 64)
    kind : {"noise", "shift", "occlusion", "salt_pepper", "blur", "contrast"}
        ``noise``: Gaussian noise of standard deviation ``0.3 * severity``.
        ``shift``: each image moved by up to ``round(2 * severity)`` pixels
        in each direction (zero fill). ``occlusion``: a random square of side
        ``round(3 * severity)`` set to 0. ``salt_pepper``: a share
        ``0.15 * severity`` of the pixels set to 0 or 1. ``blur``: the 3x3
        box filter applied ``round(severity)`` times. ``contrast``: pixels
        pulled towards 0.5 by a factor ``1 - 0.6 * severity``.
    severity : float, default=1.0
        In (0, 8]; beyond 8 every corruption is saturated. Every corruption is
        clipped to [0, 1]; ``X`` must already lie in [0, 1] and be finite.
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of shape (n_samples, 64), float32

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.datasets import corrupt_digits
    >>> X = np.zeros((1, 64), np.float32); X[0, 27] = 1  # the pixel at row 3, column 3
    >>> int(np.argmax(corrupt_digits(X, "blur"))) in {18, 19, 20, 26, 27, 28, 34, 35, 36}
    True
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}.")
    if not (isinstance(severity, Real) and not isinstance(severity, bool)
            and np.isfinite(severity) and 0 < severity <= MAX_SEVERITY):
        raise ValueError(
            f"severity must be a number in (0, {MAX_SEVERITY}], got {severity!r}: beyond"
            " that every corruption is saturated (shifts past 8 pixels leave a blank"
            " image, a blur that many passes a constant one).")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"X must have shape (n_samples, 64), got {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity.")
    if X.size and (X.min() < 0 or X.max() > 1):
        raise ValueError(
            f"X must hold pixel values in [0, 1], got {X.min():.3g} to {X.max():.3g};"
            " raw digits (0-16) must be divided by 16 first, or they are clipped to"
            " near-binary images.")
    if not len(X):
        return X.copy()
    rng = check_random_state(random_state)
    img = X.reshape(-1, 8, 8).copy()
    n = len(img)
    if kind == "noise":
        img += rng.normal(0, 0.3 * severity, img.shape)
    elif kind == "shift":
        k = max(1, round(2 * severity))
        padded = np.pad(img, ((0, 0), (k, k), (k, k)))
        dy, dx = rng.randint(-k, k + 1, (2, n))
        img = np.stack([padded[i, k - dy[i]:k - dy[i] + 8, k - dx[i]:k - dx[i] + 8]
                        for i in range(n)])
    elif kind == "occlusion":
        side = min(8, max(1, round(3 * severity)))
        top, left = rng.randint(0, 9 - side, (2, n))
        for i in range(n):
            img[i, top[i]:top[i] + side, left[i]:left[i] + side] = 0
    elif kind == "salt_pepper":
        hit = rng.random(img.shape) < min(1.0, 0.15 * severity)
        img[hit] = rng.randint(0, 2, hit.sum())
    elif kind == "blur":
        for _ in range(max(1, round(severity))):
            padded = np.pad(img, ((0, 0), (1, 1), (1, 1)))
            img = sum(padded[:, r:r + 8, c:c + 8] for r in range(3) for c in range(3)) / 9
    else:
        img = 0.5 + (img - 0.5) * max(0.0, 1 - 0.6 * severity)
    return np.clip(img, 0, 1).reshape(n, 64).astype(np.float32)
