"""``cnnkit.optim``: gradient-descent optimizers and learning-rate schedules (PyTorch's API).

    opt = ck.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = ck.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()
"""
from .._compat import absent_error
from . import lr_scheduler
from .adadelta import Adadelta, Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]


def __getattr__(name: str):
    raise absent_error(f"torch.optim.{name}", "module 'cnnkit.optim'")
