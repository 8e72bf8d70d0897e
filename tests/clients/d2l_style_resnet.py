"""Client program (written for this suite in the style of textbook chapters on ResNet, not copied from a public
repository; see README.md here): residual blocks of lazy layers (LazyConv2d, LazyBatchNorm2d, LazyLinear) with
`Y += X`, a global average pool, Xavier initialization applied after a dry run, and a hand-written minibatch SGD
(`param -= lr * param.grad / batch_size` under no_grad, then `param.grad.zero_()`); accuracy with
argmax(axis=1) and Tensor.type. The data is generated 1x12x12 images. Runs unchanged under torch or `cnnkit run`."""
import argparse

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils import data


class Residual(nn.Module):
    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def net(num_classes=3):
    return nn.Sequential(
        nn.LazyConv2d(8, kernel_size=3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(),
        Residual(8), Residual(16, use_1x1conv=True, strides=2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes))


def init_cnn(module):
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, 1, 12, 12)).astype(np.float32)
    X[y == 0, :, :6] += 1.5
    X[y == 1, :, 6:] += 1.5
    return torch.tensor(X), torch.tensor(y)


def load_array(data_arrays, batch_size, is_train=True):
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


def build(seed=0):
    torch.manual_seed(seed)
    model = net()
    model(torch.zeros(1, 1, 12, 12))  # dry run: the lazy layers take their shapes
    model.apply(init_cnn)
    return model


def train(model, train_iter, lr, num_epochs):
    loss = nn.CrossEntropyLoss(reduction='none')
    history = []
    for epoch in range(num_epochs):
        model.train()
        total, correct, n = 0.0, 0.0, 0
        for X, y in train_iter:
            y_hat = model(X)
            l = loss(y_hat, y)
            l.sum().backward()
            sgd(model.parameters(), lr, X.shape[0])
            total += float(l.sum())
            correct += accuracy(y_hat, y)
            n += y.numel()
        history.append(total / n)
        print(f'epoch {epoch + 1}, loss {total / n:.3f}, train acc {correct / n:.3f}')
    return history


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    args = parser.parse_args(argv)
    model = build()
    return train(model, load_array(synthetic(192, 0), 32), 0.1, args.epochs)


if __name__ == '__main__':
    main()
