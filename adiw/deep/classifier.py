"""DynamicIWClassifier: dynamic importance weighting inside skorch training."""

import hashlib
from contextlib import contextmanager

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from torch.utils.data import DataLoader, Subset

from ..utils import unwrap_fit_sample
from .checks import (check_device, check_finite, check_labels, check_options,
                     check_output_covers, check_same_rows)
from .epoch_stats import WeightStats
from .positions import recorded_loader
from .representations import OutputCapture, resolve_representation
from .test_sample import TestSample
from .weight_store import WeightStore
from .weighting import SCHEMES

#: The net's own parameters (beside skorch's); changing one rebuilds the scheme.
OWN_PARAMS = ("ratio_estimator", "solver", "representation", "hidden_layer", "n_steps",
              "step_scale", "B", "eps", "width_quantile", "warmup_epochs", "train_on_val",
              "val_batch_size", "val_holdout", "weight_power", "support_estimator",
              "support_refresh")


class DynamicIWClassifier(NeuralNetClassifier):
    """A skorch classifier that learns importance weights while it trains.

    Dynamic importance weighting (DIW; Fang et al., 2020) estimates the
    weights of the training samples from representations that the network
    itself computes, against a small labelled sample from the test
    distribution. This class implements its accelerated form (ADIW): at every
    mini-batch, ``n_steps`` projected-gradient steps of the shared solver on a
    divergence between the weighted training batch and a batch of the test
    sample, warm-started from the weights those training samples had on
    their previous visit. The divergence is chosen by passing a ratio
    estimator; the loss is the mean of ``w_i * loss_i``.

    The labelled test-distribution sample is fit data:
    ``net.fit(X, y, X_val=X_val, y_val=y_val)``. A stratified part of it
    (``val_holdout``, 20 % by default) is held out: the network neither
    trains on it nor weights against it, and it is skorch's validation set,
    so ``valid_loss`` / ``valid_acc`` and early stopping measure the test
    distribution on samples the network has not fitted. (Validated on the
    samples it trains on, ``valid_acc`` reaches 1.0 on the digits benchmark
    while test accuracy stays near 0.9.) Without ``X_val``,
    ``fit`` raises a ValueError unless ``solver="none"`` (plain empirical
    risk minimisation). Options are checked in ``initialize``, the data in
    ``check_data`` and when the test sample is taken in, before training.

    It is a skorch net in every other respect: every training loss goes
    through ``get_loss(y_pred, y_true, X, training)`` with
    ``NeuralNetClassifier``'s semantics (log-probabilities for ``NLLLoss``),
    the batch's weights multiplying the per-sample losses before the
    criterion's own reduction (a ``get_loss`` override that calls
    ``super().get_loss`` keeps them; ``loss_weights`` and
    ``batch_weights_`` say what they are); ``fit_params`` reach the module;
    ``train_split`` is used when given (it must be None while part of
    ``X_val`` is held out); Datasets, dicts, DataFrames and sparse input,
    custom samplers, workers, LBFGS (the weights are updated once per batch,
    however often the optimizer re-evaluates it), gradient accumulation and
    ``compile=True`` work as in skorch. The weighting scheme of each
    ``solver`` is an object of ``adiw.deep.weighting``.

    The per-sample weights live on the criterion (``criterion_.adiw_weights``,
    a ``WeightStore``): they are the weights of the training objective,
    so ``save_params(f_criterion=...)``, skorch's ``Checkpoint`` defaults and
    pickling keep them, and they follow the net's device.

    Parameters
    ----------
    module : torch module (class or instance)
        Returns logits (the default criterion is cross-entropy on logits,
        computed per sample).
    ratio_estimator : KMMRatio, KLIEPRatio, ULSIFRatio, RuLSIFRatio or WassersteinRatio, default=None
        The divergence and its hyperparameters (``ratio_estimator__gamma``
        etc.); None means ``KMMRatio()``. A numeric ``gamma`` is used as
        is; ``"auto"`` applies ``width_quantile`` per batch.
    solver : {"adiw", "diw", "giw", "static", "none"}, default="adiw"
        "adiw": few warm-started steps; "diw": solve the same objective to
        convergence from w = 1 on every batch (the DIW baseline); "giw":
        generalized importance weighting for test points outside the training
        support (``adiw.deep.weighting.giw``): after ``warmup_epochs`` of
        ADIW, ADIW against the test points inside the support and the loss
        ``alpha * mean(w * loss_train) + (1 - alpha) * mean(loss_outside)``;
        "static":
        after ``warmup_epochs`` of ERM, fit the ratio estimator once on the
        representations of the whole training set against the whole
        ``X_val`` (forward passes in eval mode) and keep those weights
        (``static_estimator_``); "none":
        no learned weights: uniform (ERM), or the known weights passed as
        ``fit(X, y, sample_weight=w)`` (class-prior ratios, an estimator's
        ``weights_``), in which case ``X_val`` is optional. The static fit and
        GIW's support estimator are clones; one with ``random_state=None``
        is seeded from torch's generator (rank 0's under torchrun), so
        ``torch.manual_seed`` reproduces them as it does the training.
    representation : {"loss", "softmax_label", "hidden"} or callable, default="loss"
        What the divergence compares: the per-sample loss, the softmax
        output concatenated with the one-hot label, the output of the
        submodule named ``hidden_layer`` with the one-hot label, or
        ``f(logits, y, losses) -> Z``.
    hidden_layer : str or None, default=None
        Name (as in ``module.named_modules()``) for ``representation="hidden"``.
    n_steps : int, default=3
        Solver steps per batch for "adiw".
    step_scale : float, default=1.0
        Multiplies the step ``c / L``, with L the objective's curvature
        bound and c the divergence's own factor (1, and 0.1 for KL, whose
        batch maximum-likelihood weights otherwise sharpen too fast).
    B : float >= 1, default=50.0
        Upper bound of each weight (DIW's value).
    eps : float or None, default=0.0
        Mean band ``|mean(w) - 1| <= eps`` per batch. The default keeps the
        mean at 1, so the weighted loss is a weighted average and the
        learning rate means the same as without weights; KL and W1 are
        blind to the scale of ``w`` and would otherwise drift to the top of
        the band. None means KMM's ``(sqrt(n_b) - 1) / sqrt(n_b)``.
    width_quantile : float, default=0.5
        Per-batch kernel width ``gamma = 1 / (2 q)`` with ``q`` this quantile
        of the squared pairwise distances of the representations (0.5: the
        median heuristic).
    warmup_epochs : int, default=0
        Epochs with uniform weights before weighting starts.
    train_on_val : bool, default=True
        Also train on the validation batch (unweighted), as DIW's reference
        code does; its forward pass then doubles as the representation. With
        False, the validation losses come from a network that never fits
        them, so they run higher than the training losses and
        ``representation="loss"`` up-weights hard, often mislabelled,
        samples, and test accuracy on the digits benchmark collapses; use it
        with a representation that does not shift that way, or as the
        pretraining of a fine-tuning on the test sample: keep it for
        ``set_params(solver="none")`` and ``partial_fit(X_val, y_val)``
        afterwards (docs: "Which method when").
    val_batch_size : int or None, default=None
        None means ``batch_size``; capped at the size of the test sample.
    val_holdout : float in [0, 1), default=0.2
        Fraction of ``X_val`` held out for skorch's validation (a stratified
        split with a fixed seed); 0 uses all of it for training and
        weighting and reports no validation.
    weight_power : float >= 0, default=1.0
        The loss is weighted by ``w ** weight_power`` (exponentiated weights,
        Wang et al. 2022: with a polynomially tailed loss, powers above 1
        keep the weights from fading once the training data are separated).
        ``sample_weights()`` returns the weights before the power.
    support_estimator : outlier detector or None, default=None
        ``solver="giw"``: fitted on the training samples' L2-normalised
        representations (``hidden_layer``'s output, else the module's),
        ``decision_function >= 0`` marks a test point inside the training
        support. None: ``NearestNeighborSupport()``, inside when the nearest
        training point is no farther than the 99 % quantile of the training
        points' own nearest-neighbour distances (no scale to tune; from
        5,000 random training points' distances when there are more).
    support_refresh : int or None, default=None
        ``solver="giw"``: re-split every this many epochs; None splits once,
        after the warm-up, as the GIW reference does.
    device : str, default="cpu"
        A torch device ("cpu", "cuda", "cuda:1"); everything, weights
        included, stays on it. skorch has no "auto"; pass
        ``"cuda" if torch.cuda.is_available() else "cpu"``.
    train_split : callable or None, default=None
        skorch's validation split of the *training* data. None: validation
        is the held-out part of ``X_val`` (the test distribution).
    criterion : torch loss (class or instance), default=CrossEntropyLoss
        Its ``reduction`` is set to ``"none"`` and applied after weighting.
    **kwargs
        Passed to ``skorch.NeuralNetClassifier`` (``max_epochs``, ``lr``,
        ``batch_size``, ``optimizer``, ``callbacks``, ...). Training batches
        are shuffled every epoch (``iterator_train__shuffle=True``, unlike
        skorch's default).

    Attributes
    ----------
    weight_store_ : WeightStore
        ``weight_store_.weights`` holds the current weight of every training
        sample, in training order (of the training part when ``train_split``
        splits ``X``).
    weighting_ : adiw.deep.weighting.Weighting
        The scheme that ``solver`` names.
    support_fraction_, in_support_, support_estimator_
        ``solver="giw"``: alpha = ``in_support_.mean()``, the mask over the used
        rows of ``X_val``, and the fitted support estimator (``support_fraction``
        is recorded in the history at every split).
    history : skorch History
        Per epoch: ``w_mean``, ``w_max``, ``w_ess`` (effective sample size
        (sum w)^2 / sum w^2 as a fraction of n), ``iw_objective`` (the
        mean per-batch divergence at the updated weights), and, on the
        training batches as they are trained, ``iw_train_acc`` and
        ``iw_margin_min`` (the smallest margin ``z_y - max_{k != y} z_k``:
        positive once the network separates its training data, from which
        point cross-entropy forgets the weights); see ``WeightStats``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from adiw.deep import DynamicIWClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 4)).astype("float32"); y = (X[:, 0] > 0).astype("int64")
    >>> net = DynamicIWClassifier(torch.nn.Linear(4, 2), max_epochs=2, batch_size=16,
    ...                           verbose=0)
    >>> _ = net.fit(X, y, X_val=X[:8], y_val=y[:8])
    >>> w = net.sample_weights()
    >>> w.shape, bool((w >= 0).all())
    ((64,), True)
    """

    # X_val / y_val are routed to fit by default under scikit-learn's metadata
    # routing: they are what this net is for.
    __metadata_request__fit = {"X_val": True, "y_val": True}
    __metadata_request__partial_fit = {"X_val": True, "y_val": True}

    def __init__(self, module, *args, ratio_estimator=None, solver="adiw",
                 representation="loss", hidden_layer=None, n_steps=3, step_scale=1.0,
                 B=50.0, eps=0.0, width_quantile=0.5, warmup_epochs=0,
                 train_on_val=True, val_batch_size=None, val_holdout=0.2,
                 weight_power=1.0, support_estimator=None, support_refresh=None,
                 train_split=None, criterion=torch.nn.CrossEntropyLoss, device="cpu",
                 **kwargs):
        # Every epoch in a new order; skorch's own default keeps one order.
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(module, *args, criterion=criterion, train_split=train_split,
                         device=device, **kwargs)
        self.ratio_estimator = ratio_estimator
        self.solver = solver
        self.representation = representation
        self.hidden_layer = hidden_layer
        self.n_steps = n_steps
        self.step_scale = step_scale
        self.B = B
        self.eps = eps
        self.width_quantile = width_quantile
        self.warmup_epochs = warmup_epochs
        self.train_on_val = train_on_val
        self.val_batch_size = val_batch_size
        self.val_holdout = val_holdout
        self.weight_power = weight_power
        self.support_estimator = support_estimator
        self.support_refresh = support_refresh

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        at = next((i for i, (name, _) in enumerate(callbacks) if name == "print_log"),
                  len(callbacks))
        return callbacks[:at] + [("weight_stats", self._weight_stats_callback())] + callbacks[at:]

    def _weight_stats_callback(self):
        return WeightStats()

    def set_params(self, **kwargs):
        """Set parameters; ``ratio_estimator__*`` go to the ratio estimator.

        skorch keeps unknown ``a__b`` keys as attributes of the net; nested
        estimator parameters must reach the estimator, as in scikit-learn.
        Changing one of the net's own options re-checks it and rebuilds the
        weighting scheme.
        """
        prefix = "ratio_estimator__"
        nested = {k[len(prefix):]: kwargs.pop(k) for k in list(kwargs) if k.startswith(prefix)}
        own = nested or any(k in OWN_PARAMS for k in kwargs)
        if "ratio_estimator" in kwargs:
            super().set_params(ratio_estimator=kwargs.pop("ratio_estimator"))
        if nested:
            if self.ratio_estimator is None:
                from ..estimators import KMMRatio

                self.ratio_estimator = KMMRatio()
            self.ratio_estimator.set_params(**nested)
        if kwargs:
            super().set_params(**kwargs)
        if own and getattr(self, "initialized_", False):
            self._initialize_weighting()
        return self

    # ---- initialisation ---------------------------------------------------
    def initialize(self):
        """Check the options, build the weighting scheme, then initialise as
        skorch does."""
        check_device(self.device)
        self._initialize_weighting()
        return super().initialize()

    def _initialize_weighting(self):
        check_options(self)
        self._represent = resolve_representation(self.representation)
        self.weighting_ = SCHEMES[self.solver](self)

    def initialize_criterion(self):
        super().initialize_criterion()
        # Per-sample losses: the weights multiply them before the reduction,
        # which the net applies (the criterion's own, remembered on it, since
        # skorch reuses an unchanged criterion instance).
        reduction = getattr(self.criterion_, "reduction", None)
        if reduction is not None:
            reduction = getattr(self.criterion_, "_adiw_reduction", reduction)
            self.criterion_._adiw_reduction = reduction
            self.criterion_.reduction = "none"
        self.loss_reduction_ = reduction
        if isinstance(self.criterion_, torch.nn.Module) and \
                not isinstance(getattr(self.criterion_, "adiw_weights", None), WeightStore):
            self.criterion_.adiw_weights = WeightStore()
        return self

    @property
    def weight_store_(self):
        """The per-sample weights (a ``WeightStore`` on the criterion)."""
        store = getattr(getattr(self, "criterion_", None), "adiw_weights", None)
        if store is None:
            raise AttributeError(
                "weight_store_ exists once the net is initialised with a criterion that"
                " is a torch.nn.Module; per-sample weights need one.")
        return store

    def _has_weight_store(self):
        return isinstance(getattr(getattr(self, "criterion_", None), "adiw_weights", None),
                          WeightStore)

    def initialize_module(self):
        super().initialize_module()
        self._capture = None
        if self.representation == "hidden":
            modules = dict(self.module_.named_modules())
            if self.hidden_layer not in modules:
                raise ValueError(
                    f'representation="hidden" needs hidden_layer, one of '
                    f"{[k for k in modules if k]}; got {self.hidden_layer!r}."
                )
            # The hook lives with the layer, not the net: a bound method of
            # the net would make the module pickle the net (RecursionError in
            # pickle, deepcopy and Checkpoint).
            layer = modules[self.hidden_layer]
            if not hasattr(layer, "_adiw_capture"):
                layer._adiw_capture = OutputCapture()
                layer.register_forward_hook(layer._adiw_capture)
        return self

    def _hidden_output(self):
        if self.representation != "hidden":
            return None
        # Looked up once per fit (or after unpickling), not on every batch.
        capture = getattr(self, "_capture", None)
        if capture is None:
            module = getattr(self.module_, "_orig_mod", self.module_)   # torch.compile
            capture = dict(module.named_modules())[self.hidden_layer]._adiw_capture
            self._capture = capture
        return capture.output

    #: Fit-time state; rebuilt by every fit, never pickled (device tensors
    #: among the plain attributes would not load on a machine without them).
    _TRANSIENT = ("test_sample_", "_positions", "_batch_positions", "_capture",
                  "_batch_loss_weights", "_fit_inputs", "_labels_checked")

    def __getstate__(self):
        state = super().__getstate__()
        for key in self._TRANSIENT:
            state.pop(key, None)
        return state

    def _estimator_seed(self):
        """A seed for an estimator fitted inside ``fit`` with
        ``random_state=None``: drawn from torch's generator without advancing
        it, so the training's own random stream is as it was."""
        with torch.random.fork_rng(devices=[]):
            return int(torch.randint(2 ** 31 - 1, (1,)))

    def ratio_estimator_or_default(self):
        """The divergence: ``ratio_estimator``, or ``KMMRatio()`` for None."""
        from ..estimators import KMMRatio

        return KMMRatio() if self.ratio_estimator is None else self.ratio_estimator

    # ---- fit entry points ---------------------------------------------------
    def fit(self, X, y=None, X_val=None, y_val=None, sample_weight=None, **fit_params):
        """Initialise and train, weighting against the test-distribution sample.

        Parameters
        ----------
        X, y : training data, as skorch takes them
            Arrays, tensors, DataFrames, sparse matrices, dicts of arrays, or a
            torch ``Dataset`` (then ``y=None``).
        X_val, y_val : array-like, tensor or DataFrame, or a Dataset and None
            The labelled sample from the test distribution; required unless
            ``solver="none"``. Wrap it in ``adiw.utils.Unsliced`` in
            cross-validation when it is as long as ``X``.
        sample_weight : array-like of shape (n_samples,), optional
            Known weights (``solver="none"`` only).
        **fit_params
            Passed to the module's ``forward`` (and to ``train_split``), as in
            skorch.

        Returns
        -------
        self
        """
        return super().fit(X, y, X_val=X_val, y_val=y_val, sample_weight=sample_weight,
                           **fit_params)

    def partial_fit(self, X, y=None, classes=None, X_val=None, y_val=None,
                    sample_weight=None, **fit_params):
        """Continue training without re-initialising (warm start).

        The learned weights carry over when ``X`` holds the same training
        data as the last fit (same length and a fingerprint of its values);
        on other data they restart from 1, since a weight belongs to a
        sample, not to a position. Parameters as in ``fit``.

        Returns
        -------
        self
        """
        self._fit_inputs = (X_val, y_val, sample_weight)
        try:
            return super().partial_fit(X, y, classes=classes, **fit_params)
        finally:
            self._fit_inputs = None
            self.test_sample_ = None

    def forward_iter(self, X, training=False, device="cpu"):
        """skorch's, after refusing NaN or inf in an array ``X``: a NaN row's
        output is NaN, and ``predict`` would have called it class 0."""
        check_finite(X, "X")
        yield from super().forward_iter(X, training=training, device=device)

    def check_data(self, X, y=None):
        """skorch's checks, then: no NaN or inf, integer labels 0..K-1."""
        super().check_data(X, y)
        check_finite(X, "X")
        # Without weights the criterion decides what targets mean, as in skorch.
        if y is not None and self.solver != "none" \
                and not isinstance(X, torch.utils.data.Dataset):
            check_labels(y, "y")

    def get_split_datasets(self, X, y=None, **fit_params):
        """Train on (X, y); take in the test-distribution sample; validate on
        its held-out part (``val_holdout``), or on skorch's ``train_split``."""
        X_val, y_val, sample_weight = getattr(self, "_fit_inputs", None) or (None,) * 3
        X_val = unwrap_fit_sample(X_val, X, "X_val")
        y_val = unwrap_fit_sample(y_val, y, "y_val")
        scheme = self.weighting_
        if X_val is None and scheme.needs_test_sample:
            raise ValueError(
                "DynamicIWClassifier.fit needs the labelled test-distribution "
                "sample: fit(X, y, X_val=X_val, y_val=y_val). For plain ERM "
                'without it, set solver="none".'
            )
        if sample_weight is not None and self.solver != "none":
            raise ValueError(
                f'sample_weight fixes the weights; it needs solver="none", not'
                f" solver={self.solver!r}, which learns them.")
        if X_val is not None:
            check_same_rows(X, X_val)
        first = next((p for p in self.module_.parameters() if p.is_floating_point()), None)
        self.test_sample_ = None if X_val is None else TestSample(
            X_val, y_val, self.val_holdout, self.device,
            dtype=None if first is None else first.dtype)
        report = None if self.test_sample_ is None else self.test_sample_.report
        if report is not None and self.train_split is not None:
            raise ValueError(
                f"Both train_split and val_holdout={self.val_holdout} would provide the"
                " validation set. Set val_holdout=0 to validate with train_split, or"
                " train_split=None to validate on the held-out part of X_val.")
        if report is None:
            dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        else:
            dataset_train = self.get_dataset(X, y)
            dataset_valid = report if isinstance(report, torch.utils.data.Dataset) \
                else self.get_dataset(*report)
        if sample_weight is not None and isinstance(dataset_train, Subset):
            sample_weight = np.asarray(sample_weight)[dataset_train.indices]
        key = _fingerprint(X)
        scheme.begin_fit(self, len(dataset_train), sample_weight,
                         same_data=key == getattr(self, "train_fingerprint_", None))
        self.train_fingerprint_ = key
        self._labels_checked = self.test_sample_ is None
        return dataset_train, dataset_valid

    def check_output_size(self, y_pred, y):
        """Labels the module cannot output are an error (checked on the
        first training batch's output, so no extra forward pass is made)."""
        self._labels_checked = True
        if not (isinstance(y_pred, torch.Tensor) and y_pred.ndim == 2):
            return
        labels = self.test_sample_.labels
        if labels is not None:
            check_output_covers(y_pred.shape[1], labels, "y_val")
        if self.solver != "none":
            check_output_covers(y_pred.shape[1], check_labels(y, "y"), "y")

    def get_iterator(self, dataset, training=False):
        """The training loader's batch sampler records each batch's positions
        (``adiw.deep.positions``); other iterators are skorch's."""
        if not training:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_train")
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        if not (isinstance(self.iterator_train, type)
                and issubclass(self.iterator_train, DataLoader)):
            self._positions = None
            return super().get_iterator(dataset, training=training)
        loader, self._positions = recorded_loader(
            dataset, kwargs, batch_size, batches=self._shard_batches(dataset, batch_size),
            loader=self.iterator_train)
        return loader

    def _shard_batches(self, dataset, batch_size):
        """A batch sampler that replaces the shuffled batches (None: none)."""
        return None

    # ---- training ---------------------------------------------------------
    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train,
                               dataset_valid=dataset_valid, **kwargs)
        self.weighting_.begin_epoch(self, dataset_train)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        if training:
            positions = getattr(self, "_positions", None)
            self._batch_positions = None if positions is None else positions.next_positions()
            if self._batch_positions is None and (self.weighting_.learns
                                                  or self.weighting_.known_weights):
                raise TypeError(
                    f"iterator_train={self.iterator_train!r} is not a DataLoader, so the"
                    " positions of the training samples in a batch are unknown; learned"
                    " or known weights need them. Use a DataLoader (any sampler,"
                    " batch_sampler, collate_fn or workers).")
            self.weighting_.begin_batch(self)

    def train_step_single(self, batch, **fit_params):
        """Forward the batch (and the test-distribution batch the scheme
        needs), let the scheme weight it, and back-propagate ``get_loss``."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        step = self.weighting_.batch_loss(self, Xi, yi, self._batch_positions, **fit_params)
        with self._weights_for_loss(step.weights):
            loss = self.get_loss(step.y_pred, step.y_true, X=Xi, training=True)
        if loss.numel() != 1:            # what backward() accepts
            raise ValueError(
                f"get_loss returned {tuple(loss.shape)} losses for a training batch;"
                " the optimizer needs one number. The criterion's reduction is"
                f" {self.loss_reduction_!r}: the net already takes per-sample losses from"
                " the criterion to weight them, so give it reduction='mean' (the"
                " default) or 'sum'.")
        loss.backward()
        if step.n_train is None:
            return {"loss": loss, "y_pred": step.y_pred, "iw_y": step.y_true, **step.stats}
        return {"loss": loss, "y_pred": step.y_pred[:step.n_train],
                "iw_y": step.y_true[:step.n_train], **step.stats}

    @contextmanager
    def _weights_for_loss(self, weights):
        self._batch_loss_weights = weights
        try:
            yield
        finally:
            self._batch_loss_weights = None

    @property
    def batch_weights_(self):
        """The weights of the rows of the loss being computed (inside a
        training step; None outside one, or when uniform)."""
        return getattr(self, "_batch_loss_weights", None)

    def loss_weights(self, w):
        """The factor of each training loss: ``w ** weight_power``."""
        return w if self.weight_power == 1 else w ** self.weight_power

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``NeuralNetClassifier.get_loss`` with the batch's weights.

        The criterion computes per-sample losses; during a training step they
        are multiplied by ``batch_weights_``, then reduced as the criterion's
        ``reduction`` says (mean by default). Validation losses are unweighted.
        """
        losses = super().get_loss(y_pred, y_true, X=X, training=training)
        weights = self.batch_weights_ if training else None
        reduction = getattr(self, "loss_reduction_", "mean")
        if losses.ndim == 0:
            if weights is not None:
                raise ValueError(
                    f"The criterion {type(self.criterion_).__name__} returns one number"
                    " per batch, so per-sample weights cannot multiply its losses. Use a"
                    " criterion with a 'reduction' attribute (torch's losses), or drop"
                    " the weights.")
            return losses
        if weights is not None:
            losses = weights * losses
        if reduction == "sum":
            return losses.sum()
        return losses if reduction == "none" else losses.mean()

    def represent(self, logits, y, losses, hidden=None):
        """What the divergence compares for these samples (``representation``)."""
        if self.representation == "hidden":
            h = hidden.detach().flatten(1)
            onehot = torch.nn.functional.one_hot(y, logits.shape[1]).to(h.dtype)
            return torch.cat([h, onehot], 1)
        return self._represent(logits.detach(), y, losses.detach())

    def _get_predict_nonlinearity(self):
        """skorch's choice, except that a criterion that knows its own map
        to probabilities (``adiw.losses``) is asked under ``"auto"``."""
        probabilities = getattr(getattr(self, "criterion_", None), "probabilities", None)
        if self.predict_nonlinearity == "auto" and callable(probabilities):
            self.check_is_fitted()
            return probabilities
        return super()._get_predict_nonlinearity()

    # ---- reporting --------------------------------------------------------
    def sample_weights(self):
        """Current weight of every training sample (numpy, training order)."""
        return self.weight_store_.weights.detach().cpu().numpy().astype(np.float64)


def _fingerprint(X):
    """Length and a digest of up to 1000 evenly spaced rows: which training
    data a fit saw (a Dataset: its identity)."""
    if isinstance(X, dict):
        return tuple(sorted((k, _fingerprint(v)) for k, v in X.items()))
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        return (type(X).__name__, id(X), getattr(X, "shape", None))
    rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), 1000)).astype(int)) if len(X) else []
    part = X[rows].cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X[rows])
    return (tuple(X.shape), hashlib.blake2b(np.ascontiguousarray(part).tobytes(),
                                            digest_size=16).hexdigest())
