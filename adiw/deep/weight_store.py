"""Per-sample weights that persist across batches, epochs and fits."""

import torch
from torch import nn


class WeightStore(nn.Module):
    """A buffer of one weight per training sample.

    Being a module registered on the net (``weight_store_``), it follows the
    net's device, is pickled with the net and is saved by
    ``net.save_params(f_weight_store=...)``.
    """

    def __init__(self, n=0):
        super().__init__()
        self.register_buffer("weights", torch.ones(n))

    def resize(self, n, device, dtype=torch.float32):
        if self.weights.shape[0] != n:
            self.weights = torch.ones(n, device=device, dtype=dtype)
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "weights"
        if key in state_dict:
            self.weights = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
