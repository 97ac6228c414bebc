"""The shared divergence-minimisation core (private).

Every weight estimator in adiw minimises a divergence between the weighted
training sample and the test sample over a weight (or coefficient) vector
constrained to a box and a mean band.  This package holds the pieces that
the standalone estimators (``adiw.estimators``) and the deep trainer
(``adiw.deep``) share: kernels, objectives with gradients, the exact
projection onto the constraint set and an accelerated projected-gradient
solver.  Everything here works on torch tensors, on any device and in
float32 or float64; nothing here moves data between devices.
"""
