"""Test-time interpolation of a general and a fine-tuned model (WiSE-FT, DaWin).

Importance weighting adapts training to a shifted test distribution; this module
acts at test time instead. Given a *general* model (robust, e.g. trained with
heavy augmentation) and a copy *fine-tuned* from it on the target task (accurate
in distribution, brittle outside it), DaWin (Oh et al., ICLR 2025) predicts each
test input with the parameters ``(1 - lambda) theta_base + lambda theta_tuned``,
where ``lambda`` grows with the tuned model's confidence relative to the base
model's, measured by prediction entropy. No training, no labels.
"""

import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_array, check_is_fitted
from skorch import NeuralNet
from torch.func import functional_call, vmap

from .beta_mixture import BetaMixture
from .checks import _integer

MODES = ("weights", "outputs")
# Per-sample interpolation materialises one parameter set per row: cap the
# chunk at this many parameter values (128 MiB in float32).
CHUNK_ELEMENTS = 2 ** 25
TINY = 1e-12
#: Where fit_temperature searches.
TEMPERATURE_RANGE = (0.05, 20.0)


def _unwrap(model):
    # FrozenEstimator keeps a fitted model through clone(); look through it.
    return model.estimator if isinstance(model, FrozenEstimator) else model


def _check_fitted(name, model):
    try:
        if isinstance(model, NeuralNet):
            model.check_is_fitted()
        else:
            check_is_fitted(model)
    except NotFittedError as exc:
        raise NotFittedError(
            f"{name} must be a fitted classifier. clone() (and so GridSearchCV) drops"
            " fitted state: wrap fitted models in sklearn.frozen.FrozenEstimator to"
            " keep them.") from exc


def _entropy(proba, temperature):
    """Entropy of softmax(log(p) / T): log-probabilities serve as logits."""
    logits = np.log(np.maximum(np.asarray(proba, dtype=float), TINY)) / temperature
    logits -= logits.max(1, keepdims=True)
    log_q = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -(np.exp(log_q) * log_q).sum(1)


def fit_temperature(model, X, y):
    """Temperature that calibrates ``model`` on labelled data (temperature scaling).

    Minimises the negative log-likelihood of ``softmax(log p(x) / T)`` over
    ``T`` (Guo et al., 2017), as DaWin does on in-distribution validation data
    before comparing entropies: an over-confident fine-tuned model otherwise
    looks like the expert everywhere.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)

    Returns
    -------
    float
        The temperature, in ``TEMPERATURE_RANGE`` = [0.05, 20]; at a bound,
        with a ``ConvergenceWarning``.
    """
    from scipy.optimize import minimize_scalar

    proba = check_probabilities(_unwrap(model).predict_proba(X), "model")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]                   # a label column, as scikit-learn's column_or_1d
    if y.ndim != 1 or len(y) != len(proba):
        raise ValueError(f"y must hold one class label per row of X ({len(proba)} rows);"
                         f" got shape {y.shape}.")
    classes = list(_unwrap(model).classes_)
    position = {c: k for k, c in enumerate(classes)}
    unknown = [v for v in np.unique(y) if v not in position]
    if unknown:
        raise ValueError(f"y holds labels {unknown[:5]} that are not among the model's"
                         f" classes_ {classes[:10]}.")
    column = np.array([position[v] for v in y])
    log_p = np.log(np.maximum(proba, TINY))

    def nll(log_t):
        z = log_p / np.exp(log_t)
        z -= z.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(z)), column]))

    low, high = TEMPERATURE_RANGE
    t = float(np.exp(minimize_scalar(nll, bounds=(np.log(low), np.log(high)),
                                     method="bounded").x))
    # the bounded search ends near a bound when the likelihood still falls
    # beyond it: the returned temperature is the bound, not the optimum
    for bound, why in ((low, "every label is predicted right and sharper is always better"),
                       (high, "the predictions are no better than chance")):
        if abs(np.log(t / bound)) < 1e-3:
            warnings.warn(f"fit_temperature stopped at the bound T = {bound:g} of its"
                          f" search range {TEMPERATURE_RANGE}: the likelihood keeps"
                          f" improving past it (typically: {why} on this data). Check"
                          " it on more, or held-out, data.", ConvergenceWarning,
                          stacklevel=2)
    return t


def _input_width(module):
    """in_features of the module's first registered Linear layer: the input
    width of an MLP, but only a guess (see ``_takes``)."""
    first = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
    return None if first is None else first.in_features


def _takes(module, x):
    """Whether ``module`` runs on the rows ``x``. A forward may reshape flat
    rows before its first Linear (a conv net over 8x8 digits given 64
    features), so a width that differs from ``_input_width`` is refused only
    when the module fails on it."""
    device = next(iter(module.state_dict().values()), torch.empty(0)).device
    was_training = module.training
    module.eval()               # batch norm refuses one row in training mode
    try:
        with torch.no_grad():
            module(torch.as_tensor(x, device=device))
        return True
    except RuntimeError:
        return False
    finally:
        module.train(was_training)


def check_probabilities(proba, name):
    """``predict_proba`` output that is a probability table, or a ValueError:
    entropies and output mixing of logits are meaningless."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or not np.all(np.isfinite(proba)) or proba.min() < -1e-6 \
            or proba.max() > 1 + 1e-6 or np.abs(proba.sum(1) - 1).max() > 1e-3:
        raise ValueError(
            f"The {name} model's predict_proba does not return probabilities (rows in"
            " [0, 1] summing to 1); e.g. a skorch net with predict_nonlinearity=None, or a"
            " criterion skorch applies no softmax for. Set its predict_nonlinearity"
            " (adiw.losses.output_probabilities for adiw's losses).")
    return proba


def entropy_coefficients(entropy_base, entropy_tuned, offset=(0.0, 1.0)):
    """DaWin's coefficient of the tuned model from the two prediction entropies.

    ``lambda = (exp(-H_tuned) + c / s) / (exp(-H_base) + exp(-H_tuned) + c)``
    with offset ``(c, s)``; the default ``(0, 1)`` gives the plain ratio
    ``exp(-H_tuned) / (exp(-H_base) + exp(-H_tuned))``.

    Parameters
    ----------
    entropy_base, entropy_tuned : ndarray of shape (n_samples,)
    offset : tuple of float, default=(0.0, 1.0)

    Returns
    -------
    ndarray of shape (n_samples,)
        Coefficients in (0, 1).
    """
    bias, scale = offset
    # Subtracting the smaller entropy from both keeps exp() away from underflow.
    low = np.minimum(entropy_base, entropy_tuned)
    e_base, e_tuned = np.exp(low - entropy_base), np.exp(low - entropy_tuned)
    shift = np.exp(low)               # the offset terms scale with the same factor
    return (e_tuned + shift * bias / scale) / (e_base + e_tuned + shift * bias)


class WeightInterpolation(ClassifierMixin, BaseEstimator):
    """Per-sample interpolation of a general and a fine-tuned classifier (DaWin).

    For a test input ``x`` with prediction entropies ``H_base`` and ``H_tuned``
    (of ``softmax(z / T)``, z each model's logits), the coefficient of the
    tuned model is ``lambda(x) = exp(-H_tuned) / (exp(-H_base) + exp(-H_tuned))``
    and ``x`` is predicted by the network with parameters
    ``(1 - lambda(x)) theta_base + lambda(x) theta_tuned`` (``mode="weights"``),
    or by the mixture ``(1 - lambda) p_base + lambda p_tuned`` of the two
    predicted distributions (``mode="outputs"``). A float ``coefficient`` is
    the static interpolation of WiSE-FT, one ``lambda`` for every input.

    Weight interpolation needs two skorch networks with one architecture, and
    it only makes sense when ``tuned`` was fine-tuned *from* ``base`` (one
    initialisation, so that the two parameter vectors lie in one basin). The
    architecture is checked; the shared initialisation cannot be.

    Parameters
    ----------
    base : fitted classifier
        The general model. A fitted skorch ``NeuralNetClassifier`` (e.g.
        ``DynamicIWClassifier``); for ``mode="outputs"``, any
        fitted classifier with ``predict_proba``. May be wrapped in
        ``sklearn.frozen.FrozenEstimator`` to survive ``clone``.
    tuned : fitted classifier
        The fine-tuned model, with the same classes.
    coefficient : "entropy" or float in [0, 1], default="entropy"
        ``"entropy"`` is DaWin; a float is a static coefficient.
    mode : {"weights", "outputs"}, default="weights"
    n_clusters : int or None, default=None
        With ``"entropy"``: fit a ``BetaMixture``
        of this many components to the coefficients of the inputs given to
        ``fit`` and give each input its component's mean. Weight
        interpolation then costs ``n_clusters`` forward passes per batch
        instead of one parameter set per input.
    temperature : float or (float, float), default=1.0
        Softmax temperature of the entropies; a pair gives the base and tuned
        models their own.
    offset : bool, default=False
        DaWin's domain-wise offset adjustment: with ``c`` the mean of the two
        models' coefficients of variation of the entropy over the inputs given
        to ``fit`` and ``s = (mean H_base + mean H_tuned) / mean H_base``,
        ``lambda = (exp(-H_tuned) + c / s) / (exp(-H_base) + exp(-H_tuned) + c)``,
        which pulls coefficients towards ``1 / s``.
    batch_size : int, default=1024
        Rows per forward pass on the weight path.
    random_state : int, RandomState or None, default=None
        Seeds the Beta mixture's initialisations.

    Attributes
    ----------
    classes_ : ndarray
    offset_ : tuple of float
        ``(c, s)`` used in the coefficient; ``(0.0, 1.0)`` without offset.
    mixture_ : BetaMixture or None
        The fitted mixture when ``n_clusters`` is set.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from adiw.deep import WeightInterpolation
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)).astype("float32"); y = (X[:, 0] > 0).astype("int64")
    >>> def net():
    ...     return NeuralNetClassifier(torch.nn.Linear, module__in_features=4,
    ...         module__out_features=2, criterion=torch.nn.CrossEntropyLoss,
    ...         max_epochs=2, train_split=None, verbose=0)
    >>> torch.manual_seed(0); base = net().fit(X, y); tuned = net().fit(X, y)  # doctest: +ELLIPSIS
    <torch...>
    >>> merged = WeightInterpolation(base, tuned, n_clusters=2, random_state=0).fit(X)
    >>> merged.predict(X[:3]).shape, len(np.unique(merged.coefficients(X))) <= 2
    ((3,), True)
    """

    def __init__(self, base, tuned, coefficient="entropy", mode="weights", n_clusters=None,
                 temperature=1.0, offset=False, batch_size=1024, random_state=None):
        self.base = base
        self.tuned = tuned
        self.coefficient = coefficient
        self.mode = mode
        self.n_clusters = n_clusters
        self.temperature = temperature
        self.offset = offset
        self.batch_size = batch_size
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        c = self.coefficient
        static = isinstance(c, Real) and not isinstance(c, bool)
        if not (c == "entropy" if isinstance(c, str) else static and 0 <= c <= 1):
            raise ValueError(f"coefficient must be 'entropy' or a number in [0, 1]; got {c!r}.")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {self.mode!r}.")
        _integer(self, "n_clusters", 1, allow_none=True)
        _integer(self, "batch_size", 1)
        if self.n_clusters is not None:
            if static:
                raise ValueError("n_clusters groups entropy coefficients; it has no"
                                 " meaning with a static coefficient.")
        t = self.temperature
        pair = t if isinstance(t, (tuple, list)) else (t, t)
        if len(pair) != 2 or not all(isinstance(v, Real) and not isinstance(v, bool)
                                     and np.isfinite(v) and v > 0 for v in pair):
            raise ValueError("temperature must be a positive number or a pair of them;"
                             f" got {t!r}.")
        return tuple(float(v) for v in pair)

    def _check_models(self):
        base, tuned = _unwrap(self.base), _unwrap(self.tuned)
        for name, model in (("base", base), ("tuned", tuned)):
            if self.mode == "weights" and not isinstance(model, NeuralNet):
                raise TypeError(f"mode='weights' interpolates parameters, so {name} must"
                                f" be a fitted skorch network; got {type(model).__name__}."
                                " Use mode='outputs' for other classifiers.")
            if not hasattr(model, "predict_proba"):
                raise TypeError(f"{name} ({type(model).__name__}) has no predict_proba.")
            _check_fitted(name, model)
        classes = [getattr(m, "classes_", None) for m in (base, tuned)]
        if any(c is None for c in classes):
            raise ValueError("base and tuned must expose classes_ (skorch infers it"
                             " from y in fit, or takes the classes= parameter).")
        if len(classes[0]) != len(classes[1]) or np.any(classes[0] != classes[1]):
            raise ValueError(f"base and tuned predict different classes: {classes[0]!r}"
                             f" and {classes[1]!r}.")
        if self.mode == "weights":
            self._check_architecture(base, tuned)
        return base, tuned, np.asarray(classes[0])

    @staticmethod
    def _check_architecture(base, tuned):
        if type(base.module_) is not type(tuned.module_):
            raise ValueError("mode='weights' needs one architecture; base is a"
                             f" {type(base.module_).__name__} and tuned a"
                             f" {type(tuned.module_).__name__}.")
        sa, sb = base.module_.state_dict(), tuned.module_.state_dict()
        if sa.keys() != sb.keys():
            raise ValueError("mode='weights' needs one architecture; the state dicts"
                             f" differ in {sorted(set(sa) ^ set(sb))}.")
        for key in sa:
            if sa[key].shape != sb[key].shape or sa[key].dtype != sb[key].dtype:
                raise ValueError(f"mode='weights' needs one architecture; {key!r} is"
                                 f" {tuple(sa[key].shape)} {sa[key].dtype} in base and"
                                 f" {tuple(sb[key].shape)} {sb[key].dtype} in tuned.")

    def _check_X(self, X):
        X = check_array(X, dtype="numeric", allow_nd=True)
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; fit saw {self.n_features_in_}.")
        if self.mode == "weights":
            # The merged network computes in its parameters' dtype: lists,
            # integers and float64 arrays are converted as a module expects.
            first = next((p for p in self._tuned.module_.parameters()
                          if p.is_floating_point()), None)
            if first is not None:
                X = X.astype(str(first.dtype).replace("torch.", ""), copy=False)
            width = _input_width(self._tuned.module_)
            if width is not None and X.ndim == 2 and X.shape[1] != width \
                    and not _takes(self._tuned.module_, X[:1]):
                raise ValueError(f"X has {X.shape[1]} features, but the networks' first"
                                 f" layer takes {width}.")
        return X

    # --------------------------------------------------------------------- fit
    def fit(self, X=None, y=None):
        """Check the two models and fit what depends on unlabelled test inputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or None
            Unlabelled inputs of the test distribution. Needed for
            ``n_clusters`` (the Beta mixture) and ``offset``; otherwise
            optional.
        y : ignored
            Accepted so that ``GridSearchCV`` can tune ``coefficient`` by
            ``score`` on labelled validation data.

        Returns
        -------
        self : WeightInterpolation
        """
        self._temperatures = self._check_params()
        self._base, self._tuned, self.classes_ = self._check_models()
        needs_data = self.coefficient == "entropy" and (self.n_clusters or self.offset)
        self.offset_, self.mixture_ = (0.0, 1.0), None
        if X is None:
            if needs_data:
                raise ValueError("fit(X) needs unlabelled test inputs when n_clusters or"
                                 " offset is set.")
            return self
        X = self._check_X(X)
        self.n_features_in_ = X.shape[1]
        if not needs_data:
            return self
        h_base, h_tuned = self._entropies(self._probas(X))
        if self.offset:
            m_base, m_tuned = h_base.mean() + TINY, h_tuned.mean() + TINY
            bias = (h_base.std() / m_base + h_tuned.std() / m_tuned) / 2
            self.offset_ = (float(bias), float((m_base + m_tuned) / m_base))
        if self.n_clusters:
            lam = entropy_coefficients(h_base, h_tuned, self.offset_)
            self.mixture_ = BetaMixture(self.n_clusters,
                                        random_state=self.random_state).fit(lam)
        return self

    # ------------------------------------------------------------- prediction
    def _probas(self, X):
        return [check_probabilities(m.predict_proba(X), name)
                for m, name in ((self._base, "base"), (self._tuned, "tuned"))]

    def _entropies(self, probas):
        return [_entropy(p, t) for p, t in zip(probas, self._temperatures)]

    def _coefficients(self, X, probas=None):
        if self.coefficient != "entropy":
            return np.full(len(X), float(self.coefficient))
        probas = self._probas(X) if probas is None else probas
        lam = entropy_coefficients(*self._entropies(probas), self.offset_)
        if self.mixture_ is not None:
            lam = self.mixture_.means_[self.mixture_.predict(lam)]
        return lam

    def coefficients(self, X):
        """Coefficient ``lambda`` of the tuned model for each row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "classes_")
        return self._coefficients(self._check_X(X))

    def predict_proba(self, X):
        """Class probabilities of the interpolated model, shape (n_samples, n_classes)."""
        check_is_fitted(self, "classes_")
        X = self._check_X(X)
        if self.mode == "outputs":
            p_base, p_tuned = probas = self._probas(X)
            lam = self._coefficients(X, probas)[:, None]
            return (1 - lam) * p_base + lam * p_tuned
        return self._interpolated_proba(X, self._coefficients(X))

    def predict(self, X):
        """Most probable class of each row of X."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)]

    # ------------------------------------------------------- weight-space path
    def _interpolated_proba(self, X, lam):
        module = self._tuned.module_
        device = next(iter(module.state_dict().values())).device
        ends = [m.module_.state_dict() for m in (self._base, self._tuned)]
        floating = [k for k, v in ends[1].items() if v.is_floating_point()]
        fixed = {k: v for k, v in ends[1].items() if k not in floating}
        base = {k: ends[0][k].to(device) for k in floating}
        tuned = {k: ends[1][k] for k in floating}
        dtype = tuned[floating[0]].dtype if floating else torch.float32
        n_params = sum(v.numel() for v in tuned.values())
        nonlin = self._tuned._get_predict_nonlinearity()

        def merged(w):
            # (1 - w) a + w b is exact at w = 0 and w = 1, unlike a + w (b - a).
            params = {k: (1 - w) * base[k] + w * tuned[k] for k in floating}
            return {**params, **fixed}

        def forward(params, x):
            out = functional_call(module, params, (x,))
            return out[0] if isinstance(out, (tuple, list)) else out

        def one_row(w, x):
            return forward(merged(w), x.unsqueeze(0)).squeeze(0)

        values = np.unique(lam)
        # A few distinct coefficients (static, clusters): one merged network
        # each. Otherwise one parameter set per row, batched by vmap.
        grouped = len(values) <= max(self.n_clusters or 1, 1)
        chunk = self.batch_size if grouped else max(
            1, min(self.batch_size, CHUNK_ELEMENTS // max(n_params, 1)))
        out = np.empty((len(X), len(self.classes_)))
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                if grouped:
                    for value in values:
                        rows = np.flatnonzero(lam == value)
                        params = merged(torch.tensor(value, dtype=dtype, device=device))
                        for start in range(0, len(rows), chunk):
                            part = rows[start:start + chunk]
                            x = torch.as_tensor(X[part], device=device)
                            out[part] = nonlin(forward(params, x)).cpu().numpy()
                else:
                    batched = vmap(one_row)
                    for start in range(0, len(X), chunk):
                        x = torch.as_tensor(X[start:start + chunk], device=device)
                        w = torch.as_tensor(lam[start:start + chunk], dtype=dtype,
                                            device=device)
                        out[start:start + chunk] = nonlin(batched(w, x)).cpu().numpy()
        finally:
            module.train(was_training)
        return out
