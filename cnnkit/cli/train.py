"""``cnnkit train``: train a model and write metrics.csv, curve.png, checkpoint.safetensors and best.safetensors
into ``--out``.

The set-up: the data (``run_data.py``: the training, validation and test splits, the image size and channels the
model gets, standardized per channel with the training split's statistics), the model from the registry (its
first layer takes the data's channels), the optimizer and the learning-rate schedule of the options, the run
folder (``run_folder.py``: never over an earlier run; ``--resume`` continues one); the
:class:`~cnnkit.train.Trainer` runs the loop. Validation data steer ReduceLROnPlateau, early stopping and the
best checkpoint; the test split is evaluated once, at the end. The checkpoint's ``meta`` records the model, its
settings, the preprocessing, the split and the options, which :func:`cnnkit.train.restore` and ``--resume``
read back.

``mpiexec -n N cnnkit train MODEL --distributed ...`` trains data-parallel on N processes
(:mod:`cnnkit.distributed`): ``--batch-size`` per process, each on its shard of every epoch and of the validation
and test splits; rank 0 alone prints and writes the output folder; an error on any rank ends the whole job with
its message.
"""
from __future__ import annotations

import importlib.util
import signal
import threading
import time
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path

from .. import backends, models, optim
from .. import distributed as D
from ..data import DataLoader, Subset
from ..io.checkpoint import load
from ..nn import CrossEntropyLoss
from ..optim import lr_scheduler as S
from ..random import manual_seed
from ..train import NonFiniteLossError, Trainer, WriteError, evaluate
from ..train.best import best_epoch
from . import args as A
from . import run_data, run_folder
from .datasets import NAMES
from .messages import batch_norm_note, diverged
from .run_folder import BEST, CHECKPOINT, CURVE, METRICS

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("cosine", "step", "plateau", "none")
# SGD's defaults are tuned for LeNet-5 on the built-in digits (≥ 98 % test accuracy over seeds); the adaptive
# optimizers get the usual rate 1e-3 and PyTorch's default weight decay.
DEFAULT_LR = {"sgd": 0.02, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-3, "rmsprop": 0.0, "adam": 0.0, "adamw": 1e-2}
BEST_METRICS = ("val_acc", "val_loss")
DEFAULTS = {"model": "lenet5", "data": "digits", "classic": False, "image_size": None, "val_split": 0.1, "seed": 0,
            "optimizer": "sgd", "schedule": "cosine", "epochs": 20, "batch_size": 32, "lr": None, "momentum": 0.9,
            "weight_decay": None, "l1": 0.0, "augment": False, "early_stop": None, "best_metric": "val_acc"}

HELP = "train a model (default: LeNet-5 on the built-in digits)"
DESCRIPTION = ("Train a model and write metrics.csv, curve.png, checkpoint.safetensors (the last epoch) and "
               "best.safetensors (the best epoch by --best-metric on the validation data) into the output folder; "
               "the test set is evaluated once, at the end.")


def add_arguments(t) -> None:
    t.add_argument("model", nargs="?", default=None, type=A.model_name, metavar="MODEL",
                   help=f"the model to train (default: lenet5), one of: {', '.join(models.list())}; its first layer "
                        f"takes the data's channels (grayscale or RGB)")
    t.add_argument("--data", "--dataset", dest="data", default=None, type=A.data_spec(NAMES), metavar="DATA",
                   help="digits (the default) is built in: scikit-learn's 1,797 handwritten digits at 28×28; "
                        "mnist, fashion-mnist and cifar10 are read from --data-dir; folder:PATH is a folder of your "
                        "own images, one sub-folder per class (PATH/cat/*.png, ...), optionally split into "
                        "PATH/train/, PATH/val/ and PATH/test/")
    t.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    t.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")
    t.add_argument("--image-size", type=A.positive_int, default=None, metavar="N",
                   help="train on N×N images (default: the data set's size, 64 for a folder); raised to the "
                        "model's smallest input (alexnet 63, inception_v3 75, vgg 32; lenet5 28 or 32), said in "
                        "the log. Folder images: shorter side resized to N, centre cropped")
    t.add_argument("--classic", action="store_true", default=None,
                   help="lenet5: LeCun's variant (tanh, average pooling, the S2-C3 connection table)")
    t.add_argument("--epochs", type=A.positive_int, default=None,
                   help="total number of epochs; a resumed run continues up to this number (default: 20, or the "
                        "resumed run's)")
    t.add_argument("--batch-size", type=A.positive_int, default=None, help="(default: 32)")
    t.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="(default: sgd)")
    t.add_argument("--lr", type=A.positive_float, default=None,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--momentum", type=A.fraction, default=None, help="SGD / RMSprop momentum in [0, 1) (default: 0.9)")
    t.add_argument("--weight-decay", type=A.non_negative_float, default=None,
                   help="L2 regularization, decoupled for adamw (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")")
    t.add_argument("--l1", type=A.non_negative_float, default=None,
                   help="L1 penalty weight λ in λ·Σ|w| (default: 0)")
    t.add_argument("--schedule", "--scheduler", dest="schedule", default=None, choices=SCHEDULES,
                   help="learning-rate decay: cosine annealing to 0 over --epochs (the default), step (×0.1 every "
                        "third of the epochs), plateau (×0.1 when the validation loss stalls for 2 epochs) or none")
    t.add_argument("--augment", action="store_true", default=None,
                   help="random crops (padding about size/14, size/8 for cifar10 and folders) and, for cifar10, "
                        "horizontal flips")
    t.add_argument("--val-split", type=A.fraction, default=None, metavar="F",
                   help="hold out this fraction of the training data for validation, chosen with --seed "
                        "(default: 0.1; a folder with a val/ split uses that instead, and refuses --val-split)")
    t.add_argument("--early-stop", type=A.positive_int, default=None, metavar="N",
                   help="stop when --best-metric has not improved for N epochs")
    t.add_argument("--best-metric", default=None, choices=BEST_METRICS,
                   help=f"the validation metric that picks {BEST} (default: val_acc)")
    t.add_argument("--seed", type=A.non_negative_int, default=None,
                   help="seeds the validation split, initialization, shuffling, dropout and augmentation (default: 0)")
    t.add_argument("--out", default=None,
                   help="output folder (default: runs/<model>-<data>); an earlier run there is kept and the new one "
                        "goes to <out>-2, <out>-3, ...")
    t.add_argument("--overwrite", action="store_true", help="replace the earlier run in --out")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help=f"continue from CHECKPOINT (default: <out>/{CHECKPOINT}) up to --epochs, with its options; "
                        f"options given here replace them where they can (--lr, --epochs, ...), with a notice")
    t.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    t.add_argument("--limit", type=A.positive_int, default=None, metavar="N",
                   help="use only N images of the training and of the test set (a quick run)")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: run as 'mpiexec -n N cnnkit train ... --distributed' "
                        "(--batch-size per process; needs pip install 'cnnkit[distributed]')")


def optimizer_of(o, params):
    if o.optimizer == "sgd":
        return optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.optimizer == "adam":
        return optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.optimizer == "adamw":
        return optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return optim.RMSprop(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def scheduler_of(o, optimizer):
    if o.schedule == "step":
        return S.StepLR(optimizer, step_size=max(1, o.epochs // 3), gamma=0.1)
    if o.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=o.epochs)
    if o.schedule == "plateau":
        return S.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
    return None


def model_kwargs_of(o, channels: int, num_classes: int, size: int) -> dict:
    if o.classic and o.model != "lenet5":
        raise ValueError(f"--classic applies to lenet5 only, not {o.model}")
    kwargs = {"num_classes": num_classes, "in_channels": channels}
    if o.model == "lenet5":
        kwargs.update(classic=bool(o.classic), input_size=size)
    if o.model in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False  # one output to train on; Inception v3's auxiliary head needs 299×299
    return kwargs


def min_size_of(name: str):
    """``(channels, num_classes) -> the model's smallest input side``, read from the model built for them."""
    def min_size(channels: int, num_classes: int) -> int:
        if name == "lenet5":
            return 28
        kwargs = {"num_classes": num_classes, "in_channels": channels}
        if name in ("googlenet", "inception_v3"):
            kwargs["aux_logits"] = False
        return int(getattr(type(models.get(name, **kwargs)), "min_size", 1))
    return min_size


def resolve(args, saved: dict | None, checkpoint, err) -> Namespace:
    """The run's options: the command line's over the defaults, or over the resumed checkpoint's (with a notice
    for each one changed; FIXED ones that differ are refused)."""
    given = {key: getattr(args, key) for key in DEFAULTS}
    if saved is None:
        options = {key: (given[key] if given[key] is not None else DEFAULTS[key]) for key in DEFAULTS}
    else:
        base = {**DEFAULTS, **saved}
        options, notices = run_folder.merge(given, base, checkpoint)
        for line in notices:
            print(f"resume: {line}", file=err)
    if options["lr"] is None:
        options["lr"] = DEFAULT_LR[options["optimizer"]]
    if options["weight_decay"] is None:
        options["weight_decay"] = DEFAULT_WEIGHT_DECAY[options["optimizer"]]
    return Namespace(**options, data_dir=args.data_dir, download=args.download, limit=args.limit)


def saved_options(path) -> dict:
    """The options recorded in the checkpoint at ``path`` (older checkpoints: what their meta says)."""
    meta = load(path).get("meta") or {}
    if isinstance(meta.get("options"), dict):
        return dict(meta["options"])
    kwargs = meta.get("model_kwargs") or {}
    known = {"model": meta.get("model"), "data": meta.get("data"), "epochs": meta.get("epochs"),
             "schedule": meta.get("schedule"), "classic": kwargs.get("classic", False)}
    return {k: v for k, v in known.items() if v is not None}


def apply_hyper_parameters(optimizer, scheduler, o) -> None:
    """Set the learning rate, momentum and weight decay of ``o`` on a resumed optimizer (its state dict carried
    the checkpoint's); a new learning rate rescales the schedule's base rate."""
    for group in optimizer.param_groups:
        base = group.get("initial_lr", group["lr"])
        if o.lr != base:
            group["lr"] *= o.lr / base
            if "initial_lr" in group:
                group["initial_lr"] = o.lr
        if "momentum" in group:
            group["momentum"] = o.momentum
        group["weight_decay"] = o.weight_decay
    if scheduler is not None and hasattr(scheduler, "base_lrs"):
        scheduler.base_lrs = [o.lr for _ in optimizer.param_groups]


def uses_batch_norm(model) -> bool:
    return any(type(m).__name__.startswith("BatchNorm") for m in model.modules())


def backend_line(model) -> str:
    """Which engine runs the model's convolutions: oneDNN (cnnkit[onednn], float32 only) or the NumPy kernels."""
    name = backends.onednn.backend_name()
    if name.startswith("onednn") and all(str(p.dtype) != "float32" for p in model.parameters()):
        name = "numpy (oneDNN runs float32 only)"
    return f"backend: convolutions on {name}"


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


def _shard(data, world):
    """This rank's share of an evaluation split (results are reduced over the ranks)."""
    if data is None or world is None:
        return data
    return Subset(data, list(range(world.rank, len(data), world.world_size)))


def train(args, context, world) -> int:
    """The command on one process (``world`` None) or on one rank of a data-parallel job (rank 0 alone prints and
    writes; the others use the folder rank 0 would use and never create it)."""
    main = world is None or world.is_main
    err = context.err if main else _Silent()
    out_stream = context.out if main else _Silent()
    start = time.perf_counter()
    model_name, data = args.model or DEFAULTS["model"], args.data or DEFAULTS["data"]
    out = Path(args.out or f"runs/{model_name}-{run_data.data_label(data)}")
    resume = (out / CHECKPOINT) if args.resume is True else (Path(args.resume) if args.resume else None)
    if resume is not None and not resume.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {resume}")
    saved = saved_options(resume) if resume is not None else None
    o = resolve(args, saved, resume, err)
    o.val_split_given = args.val_split is not None  # a folder's val/ split refuses an explicit one
    if main:
        out = run_folder.choose(out, resume=resume is not None, overwrite=args.overwrite, err=err)
    manual_seed(o.seed)
    data_set = run_data.load(o, context, min_size_of(o.model))
    model_kwargs = model_kwargs_of(o, data_set.channels, data_set.num_classes, data_set.size)
    model = models.get(o.model, **model_kwargs)
    if world is not None:
        model = D.DistributedDataParallel(model, process_group=world)
        data_set.val, data_set.test = _shard(data_set.val, world), _shard(data_set.test, world)
    optimizer = optimizer_of(o, model.parameters())
    scheduler = scheduler_of(o, optimizer)
    if (o.early_stop or o.schedule == "plateau") and data_set.val is None:
        raise ValueError("--early-stop and --schedule plateau watch the validation data: give --val-split a "
                         "fraction above 0 (or the folder a val/ split)")
    options = {key: getattr(o, key) for key in DEFAULTS}
    meta = {"model": o.model, "model_kwargs": model_kwargs, "data": _data_meta(o.data),
            "preprocessing": data_set.preprocessing, "epochs": o.epochs, "schedule": o.schedule,
            "split": data_set.split, "options": options}
    if data_set.classes is not None:
        meta["classes"] = data_set.classes
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler, l1=o.l1, log=out / METRICS,
                      plot=out / CURVE, checkpoint=out / CHECKPOINT, quiet=args.quiet, batch_size=o.batch_size,
                      stream=err, meta=meta, best=out / BEST if data_set.val is not None else None,
                      best_metric=o.best_metric, early_stop=o.early_stop, distributed=world)
    if resume is not None:
        trainer.load_checkpoint(resume)
        if trainer.batches_done and saved.get("batch_size", o.batch_size) != o.batch_size:
            raise ValueError(f"--resume: {resume} stopped after batch {trainer.batches_done} of epoch "
                             f"{trainer.epoch + 1} with --batch-size {saved['batch_size']}; finish that epoch with the "
                             f"same --batch-size")
        trainer.meta = meta
        apply_hyper_parameters(optimizer, scheduler, o)
        print(f"resumed from {resume} after epoch {trainer.epoch}", file=err)
        planned = saved.get("epochs")
        if scheduler is not None and planned is not None and planned != o.epochs:
            print(f"warning: the checkpoint's {o.schedule} learning-rate schedule was planned for {planned} epochs "
                  f"and continues as saved; 2 + 2 epochs equal 4 uninterrupted ones only with the same --epochs "
                  f"(or --schedule none)", file=err)
    for note in data_set.notes:
        print(f"note: {note}", file=err)
    n_params = sum(p.numel() for p in model.parameters())
    n_val = len(data_set.val) if data_set.val is not None else 0
    n_test = f"{len(data_set.test):,} test" if data_set.test is not None else "no test"
    where = f" on {world.world_size} processes ({o.batch_size} images each per step)" if world else ""
    print(f"training {o.model} ({n_params:,} parameters) on {run_data.data_label(o.data)}: {len(data_set.train):,} "
          f"training, {n_val:,} validation, {n_test} images{' per process' if world else ''}; up to epoch "
          f"{o.epochs}{where}", file=err)
    print(backend_line(model), file=err)
    removed = run_folder.prepare(out, overwrite=args.overwrite and resume is None) if main else []
    if removed:
        print(f"removed {len(removed)} temporary file(s) that an interrupted write left in {out}", file=err)
    if trainer.epoch >= o.epochs:
        print(f"nothing to train: the checkpoint already has {trainer.epoch} epochs (--epochs {o.epochs})",
              file=err)
    else:
        drop_last = uses_batch_norm(model) and len(data_set.train) % o.batch_size == 1
        if world is None:
            loader = DataLoader(data_set.train, batch_size=o.batch_size, shuffle=True, drop_last=drop_last)
        else:
            sampler = D.DistributedSampler(data_set.train, world.world_size, world.rank, seed=o.seed)
            loader = DataLoader(data_set.train, batch_size=o.batch_size, sampler=sampler, drop_last=drop_last)
        val = DataLoader(data_set.val, batch_size=256) if data_set.val is not None else None
        with stop_on_signals(trainer, err) as received:
            try:
                trainer.fit(loader, o.epochs, val=val)
            except NonFiniteLossError as e:
                raise NonFiniteLossError(diverged(e, o.lr, out / CHECKPOINT, trainer.epoch)) from None
            except WriteError as e:
                raise OSError(f"--out {out}: cannot write {Path(e.path).name} ({e.reason}); the files written "
                              f"before are unchanged") from None
        if trainer.stopped:
            name = signal.Signals(received[0]).name if received else "request"
            print(f"stopped by {name} in epoch {trainer.epoch + 1} after {trainer.batches_done} batch(es); wrote "
                  f"{out / CHECKPOINT}. "
                  f"Continue with: cnnkit train --out {out} --resume", file=err)
            return 128 + received[0] if received else 1
        note = batch_norm_note(trainer.history, len(loader)) if uses_batch_norm(model) else None
        if note:
            print(f"note: {note}", file=err)
        if trainer.stopped_early:
            print(f"early stop: {o.best_metric} has not improved for {o.early_stop} epochs (best: epoch "
                  f"{best_epoch(trainer.history, o.best_metric)})", file=err)
        written = [METRICS, CURVE, CHECKPOINT] + ([BEST] if trainer.best is not None else [])
        print(f"wrote {', '.join(str(out / name) for name in written)} ({time.perf_counter() - start:.1f} s)",
              file=err)
    final(trainer, data_set, out, o, out_stream, world)
    return 0


@contextmanager
def stop_on_signals(trainer, err):
    """While the block runs: SIGTERM and a first SIGINT (Ctrl-C) ask ``trainer`` to stop at the next batch
    boundary and write its checkpoint; a second SIGINT interrupts at once. Yields the signals received. (Only in
    the main thread, where Python runs signal handlers.)"""
    received: list = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame):
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        print(f"\n{signal.Signals(signum).name}: stopping at the next batch boundary and writing the checkpoint "
              f"(Ctrl-C again stops at once)", file=err, flush=True)
        trainer.request_stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _data_meta(data: str) -> str:
    """``data`` as recorded in the checkpoint: a folder as ``folder:<absolute path>``."""
    return f"{run_data.FOLDER}{run_data.folder_path(data).resolve()}" if run_data.is_folder(data) else data


def final(trainer, data_set, out: Path, o, stream, world=None) -> None:
    """The one evaluation on the test split (the validation split when there is none) of the last epoch's model,
    and of the best checkpoint's when it is another epoch."""
    held_out = data_set.test if data_set.test is not None else data_set.val
    if held_out is None:
        return
    name = data_set.test_name
    result = trainer.evaluate(DataLoader(held_out, batch_size=256))
    correct = round(result["accuracy"] * result["n"])
    print(f"{name} accuracy: {100 * result['accuracy']:.2f}% ({correct}/{result['n']}), {name} loss "
          f"{result['loss']:.4f}", file=stream, flush=True)
    best = best_epoch(trainer.history, o.best_metric) if trainer.best is not None else None
    if best is not None and best != trainer.epoch and world is None and (out / BEST).is_file():
        state = load(out / BEST)
        model = models.get(o.model, **state["meta"]["model_kwargs"])
        model.load_state_dict(state["model"])
        result = evaluate(model, DataLoader(held_out, batch_size=256), CrossEntropyLoss())
        correct = round(result["accuracy"] * result["n"])
        print(f"best checkpoint (epoch {best}, by {o.best_metric}): {name} accuracy "
              f"{100 * result['accuracy']:.2f}% ({correct}/{result['n']}), {name} loss {result['loss']:.4f}",
              file=stream, flush=True)
