"""``cnnkit train``: train a model and write metrics.csv, curve.png and checkpoint.safetensors into ``--out``.

The set-up: the data set's splits (``context.load``), standardized per channel with the training set's mean and
standard deviation (and augmented with ``--augment``), the model from the registry, the optimizer and the
learning-rate schedule of the options; the :class:`~cnnkit.train.Trainer` runs the loop. The checkpoint's ``meta``
records the model, its settings and the preprocessing, which :func:`cnnkit.train.restore` reads back.

``mpiexec -n N cnnkit train MODEL --distributed ...`` trains data-parallel on N processes
(:mod:`cnnkit.distributed`): ``--batch-size`` per process, each on its shard of every epoch and of the test set;
rank 0 alone prints and writes the output folder; an error on any rank ends the whole job with its message.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from .. import distributed as D
from .. import models, optim
from ..data import DataLoader, Subset
from ..data import transforms as T
from ..nn import CrossEntropyLoss
from ..optim import lr_scheduler as S
from ..random import manual_seed
from ..train import Trainer
from . import args as A
from .datasets import NAMES

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("cosine", "step", "plateau", "none")
# SGD's defaults are tuned for LeNet-5 on the built-in digits (≥ 98 % test accuracy over seeds); the adaptive
# optimizers get the usual rate 1e-3 and PyTorch's default weight decay.
DEFAULT_LR = {"sgd": 0.02, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-3, "rmsprop": 0.0, "adam": 0.0, "adamw": 1e-2}
CHECKPOINT, METRICS, CURVE = "checkpoint.safetensors", "metrics.csv", "curve.png"

HELP = "train a model (default: LeNet-5 on the built-in digits)"
DESCRIPTION = ("Train a model and write metrics.csv, curve.png and checkpoint.safetensors into the output folder; "
               "the last line reports the test accuracy.")


def add_arguments(t) -> None:
    t.add_argument("model", nargs="?", default="lenet5", type=A.model_name, metavar="MODEL",
                   help=f"the model to train (default: lenet5), one of: {', '.join(models.list())}")
    t.add_argument("--data", "--dataset", dest="data", default="digits", type=A.dataset_name, choices=NAMES,
                   help="digits (the default) is built in: scikit-learn's 1,797 handwritten digits at 28×28; "
                        "the others are read from --data-dir")
    t.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    t.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")
    t.add_argument("--classic", action="store_true",
                   help="lenet5: LeCun's variant (tanh, average pooling, the S2-C3 connection table)")
    t.add_argument("--epochs", type=A.positive_int, default=20,
                   help="total number of epochs; a resumed run continues up to this number (default: 20)")
    t.add_argument("--batch-size", type=A.positive_int, default=32, help="(default: 32)")
    t.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS, help="(default: sgd)")
    t.add_argument("--lr", type=A.positive_float, default=None,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--momentum", type=A.non_negative_float, default=0.9,
                   help="SGD / RMSprop momentum (default: 0.9)")
    t.add_argument("--weight-decay", type=A.non_negative_float, default=None,
                   help="L2 regularization, decoupled for adamw (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")")
    t.add_argument("--l1", type=A.non_negative_float, default=0.0,
                   help="L1 penalty weight λ in λ·Σ|w| (default: 0)")
    t.add_argument("--schedule", "--scheduler", dest="schedule", default="cosine", choices=SCHEDULES,
                   help="learning-rate decay: cosine annealing to 0 over --epochs (the default), step (×0.1 every "
                        "third of the epochs), plateau (×0.1 when the test loss stalls for 2 epochs) or none")
    t.add_argument("--augment", action="store_true", help="random crops (padding 2, or 4 for cifar10) and, for "
                                                          "cifar10, horizontal flips")
    t.add_argument("--seed", type=A.non_negative_int, default=0,
                   help="seeds initialization, shuffling, dropout and augmentation (default: 0)")
    t.add_argument("--out", default=None, help="output folder (default: runs/<model>-<data>)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help=f"continue from CHECKPOINT (default: <out>/{CHECKPOINT}) up to --epochs")
    t.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    t.add_argument("--limit", type=A.positive_int, default=None, metavar="N",
                   help="use only the first N images of the training and of the test set (a quick run)")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: run as 'mpiexec -n N cnnkit train ... --distributed' "
                        "(--batch-size per process; needs pip install 'cnnkit[distributed]')")


def channel_stats(images):
    """Per-channel mean and standard deviation of the training images (N, C, H, W), in float64."""
    x = np.asarray(images, dtype=np.float64)
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))


def prepare(args, train_set, test_set) -> dict:
    """Standardize both sets with the training statistics; augment the training set if asked.

    Returns the JSON-able description of the preprocessing (stored in the checkpoint)."""
    images = train_set.arrays[0]
    mean, std = channel_stats(images)
    std[std == 0] = 1.0
    normalize = T.Normalize(mean, std)
    steps = []
    if args.augment:
        size = images.shape[-1]
        steps.append(T.RandomCrop(size, padding=4 if args.data == "cifar10" else 2))
        if args.data == "cifar10":
            steps.append(T.RandomHorizontalFlip())
    train_set.transform = T.Compose(steps + [normalize])
    test_set.transform = normalize
    return {"mean": mean.tolist(), "std": std.tolist(), "size": int(images.shape[-1]),
            "channels": int(images.shape[1])}


def optimizer_of(args, params):
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    wd = args.weight_decay if args.weight_decay is not None else DEFAULT_WEIGHT_DECAY[args.optimizer]
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=args.momentum, weight_decay=wd)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if args.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    return optim.RMSprop(params, lr=lr, momentum=args.momentum, weight_decay=wd)


def scheduler_of(args, optimizer):
    if args.schedule == "step":
        return S.StepLR(optimizer, step_size=max(1, args.epochs // 3), gamma=0.1)
    if args.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=args.epochs)
    if args.schedule == "plateau":
        return S.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
    return None


def model_kwargs_of(args, data_meta: dict) -> dict:
    if args.classic and args.model != "lenet5":
        raise ValueError(f"--classic applies to lenet5 only, not {args.model}")
    kwargs = {"num_classes": 10}
    if args.model == "lenet5":
        kwargs.update(classic=args.classic, in_channels=data_meta["channels"], input_size=data_meta["size"])
    return kwargs


def run(args, context) -> int:
    if not args.distributed:
        return train(args, context, None)
    if importlib.util.find_spec("mpi4py") is None:
        raise ImportError("--distributed needs mpi4py and an MPI library: pip install 'cnnkit[distributed]'")
    world = D.init()
    try:
        return train(args, context, world)
    except (Exception, KeyboardInterrupt) as e:
        if world.world_size == 1:
            raise
        world.abort(f"cnnkit train: error: {e}" if isinstance(e, (ValueError, TypeError, OSError, FloatingPointError,
                                                                      ImportError))
                    else f"cnnkit train: {type(e).__name__}: {e}")


class _Silent:
    """The stream of a rank other than 0: nothing is written."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def train(args, context, world) -> int:
    """The command on one process (``world`` None) or on one rank of a data-parallel job."""
    main = world is None or world.is_main
    err = context.err if main else _Silent()
    out_stream = context.out if main else _Silent()
    start = time.perf_counter()
    out = Path(args.out or f"runs/{args.model}-{args.data}")
    resume = (out / CHECKPOINT) if args.resume is True else (Path(args.resume) if args.resume else None)
    if resume is not None and not resume.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {resume}")
    manual_seed(args.seed)
    load = dict(data_dir=args.data_dir, download=args.download, limit=args.limit)
    train_set = context.load(args.data, train=True, **load)
    test_set = context.load(args.data, train=False, **load)
    data_meta = prepare(args, train_set, test_set)
    n_test = len(test_set)
    model_kwargs = model_kwargs_of(args, data_meta)
    model = models.get(args.model, **model_kwargs)
    if world is not None:
        model = D.DistributedDataParallel(model, process_group=world)
        rank, size = world.rank, world.world_size
        test_set = Subset(test_set, list(range(rank, len(test_set), size)))  # evaluation reduced over the ranks
    optimizer = optimizer_of(args, model.parameters())
    scheduler = scheduler_of(args, optimizer)
    meta = {"model": args.model, "model_kwargs": model_kwargs, "data": args.data, "preprocessing": data_meta,
            "epochs": args.epochs, "schedule": args.schedule}
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler, l1=args.l1, log=out / METRICS,
                      plot=out / CURVE, checkpoint=out / CHECKPOINT, quiet=args.quiet, batch_size=args.batch_size,
                      stream=err, meta=meta, distributed=world)
    if resume is not None:
        saved = trainer.load_checkpoint(resume) or {}
        print(f"resumed from {resume} after epoch {trainer.epoch}", file=err)
        planned = saved.get("epochs")
        if scheduler is not None and planned is not None and planned != args.epochs:
            print(f"warning: the checkpoint's {saved.get('schedule', args.schedule)} learning-rate schedule was "
                  f"planned for {planned} epochs and continues as saved; 2 + 2 epochs equal 4 uninterrupted ones "
                  f"only with the same --epochs (or --schedule none)", file=err)
    n_params = sum(p.numel() for p in model.parameters())
    where = f" on {world.world_size} processes ({args.batch_size} images each per step)" if world else ""
    print(f"training {args.model} ({n_params:,} parameters) on {args.data}: {len(train_set):,} training, "
          f"{n_test:,} test images; up to epoch "
          f"{args.epochs}{where}", file=err)
    if trainer.epoch >= args.epochs:
        print(f"nothing to train: the checkpoint already has {trainer.epoch} epochs (--epochs {args.epochs})",
              file=err)
    else:
        out.mkdir(parents=True, exist_ok=True)
        if world is None:
            loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
        else:
            loader = DataLoader(train_set, batch_size=args.batch_size,
                                sampler=D.DistributedSampler(train_set, world.world_size, world.rank, seed=args.seed))
        trainer.fit(loader, args.epochs, val=DataLoader(test_set, batch_size=256))
        print(f"wrote {out / METRICS}, {out / CURVE}, {out / CHECKPOINT} ({time.perf_counter() - start:.1f} s)",
              file=err)
    result = trainer.evaluate(DataLoader(test_set, batch_size=256))
    correct = round(result["accuracy"] * result["n"])
    print(f"test accuracy: {100 * result['accuracy']:.2f}% ({correct}/{result['n']}), test loss "
          f"{result['loss']:.4f}", file=out_stream, flush=True)
    return 0
