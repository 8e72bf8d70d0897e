"""Client program (written for this suite in the style of the common "train a classifier on CIFAR-10"
tutorial, not copied from a public repository; see README.md here): conv-pool-conv-pool-fc-fc-fc,
CrossEntropyLoss, SGD with momentum, a running loss printed every few batches, accuracy with
torch.max(outputs.data, 1). The data is generated 3x32x32 images. Runs unchanged under torch or `cnnkit run`."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

classes = ('plane', 'car', 'bird', 'cat')


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, len(classes))

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def make_loader(n, seed, batch_size, shuffle):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(classes), n)
    images = rng.uniform(-1, 1, (n, 3, 32, 32)).astype(np.float32)
    for k in range(len(classes)):  # each class has its own colour cast
        images[labels == k, k % 3] += 0.8
    dataset = torch.utils.data.TensorDataset(torch.tensor(images), torch.tensor(labels))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=2)


def train(net, trainloader, criterion, optimizer, epochs, log_every=4):
    history = []
    for epoch in range(epochs):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            history.append(loss.item())
            if i % log_every == log_every - 1:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / log_every:.3f}')
                running_loss = 0.0
    print('Finished Training')
    return history


def accuracy(net, testloader):
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    trainloader = make_loader(256, 0, 16, True)
    testloader = make_loader(128, 1, 32, False)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    history = train(net, trainloader, criterion, optimizer, args.epochs)
    return history, accuracy(net, testloader)


if __name__ == '__main__':
    main()
