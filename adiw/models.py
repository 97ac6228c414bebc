"""Small reference networks for the 8x8 digits benchmarks."""

from torch import nn


class MLP(nn.Module):
    """Two-layer perceptron on flat 64-pixel inputs."""

    def __init__(self, n_features=64, n_hidden=128, n_classes=10):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_features, n_hidden), nn.ReLU())
        self.out = nn.Linear(n_hidden, n_classes)

    def forward(self, X):
        return self.out(self.hidden(X))


class LeNet(nn.Module):
    """LeNet-size CNN for 8x8 single-channel images given as flat 64-vectors."""

    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(64, 120), nn.ReLU(),
                                    nn.Linear(120, 84), nn.ReLU())
        self.out = nn.Linear(84, n_classes)

    def forward(self, X):
        return self.out(self.hidden(self.features(X.view(-1, 1, 8, 8))))


MODELS = {"mlp": MLP, "lenet": LeNet}
