"""The ``cnnkit`` command (also ``python -m cnnkit``).

    cnnkit train                          LeNet-5 on the built-in digits (no download), 20 epochs
    cnnkit train lenet5 --data mnist --data-dir data/mnist --download --epochs 5
    cnnkit train lenet5 --epochs 20 --resume        continue runs/lenet5-digits up to epoch 20
    cnnkit eval runs/lenet5-digits/checkpoint.safetensors       loss, accuracy, confusion matrix (its test set)
    cnnkit predict runs/lenet5-digits/checkpoint.safetensors seven.png --invert   class, top-3 of a drawing
    cnnkit models                         the registered models
    cnnkit summary vgg16 --input 3,224,224  its layers: shapes, parameters, MACs, receptive fields

``train`` writes into ``--out`` (default ``runs/<model>-<data>``): ``metrics.csv`` (one row
per epoch), ``curve.png`` (loss and accuracy), ``checkpoint.safetensors`` (after every
epoch; ``--resume`` continues from it) and ends with a line ``test accuracy: ...%``.

The inputs are standardized per channel with the training set's mean and standard
deviation (stored in the checkpoint's ``meta``, so a checkpoint says how to prepare images):
``eval`` and ``predict`` rebuild the model and its preprocessing from the checkpoint alone.

Exit codes: 0 success, 1 an error (one line ``cnnkit <command>: error: ...``), 2 bad arguments
(one line ``cnnkit <command>: error: ... (see 'cnnkit <command> --help')``), 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("cosine", "step", "plateau", "none")
# SGD's defaults are tuned for LeNet-5 on the built-in digits (≥ 98 % test accuracy over seeds); the adaptive
# optimizers get the usual rate 1e-3 and PyTorch's default weight decay.
DEFAULT_LR = {"sgd": 0.02, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-3, "rmsprop": 0.0, "adam": 0.0, "adamw": 1e-2}
CHECKPOINT, METRICS, CURVE = "checkpoint.safetensors", "metrics.csv", "curve.png"


def _argument(convert, what: str, valid):
    """An argparse ``type``: ``convert(text)``, rejected with "expected <what>" unless ``valid(value)``."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value
    return parse


_positive_int = _argument(int, "a positive integer", lambda v: v > 0)
_non_negative_int = _argument(int, "a non-negative integer", lambda v: v >= 0)
_non_negative_float = _argument(float, "a finite non-negative number", lambda v: 0 <= v < float("inf"))
_positive_float = _argument(float, "a finite positive number", lambda v: 0 < v < float("inf"))


def _dataset_name(text: str) -> str:
    return text.replace("_", "-").lower()


def _model_name(text: str) -> str:
    from . import models

    if text not in models.list():
        raise argparse.ArgumentTypeError(f"unknown model '{text}'; available: {', '.join(models.list())}")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cnnkit train: error: ... (see 'cnnkit train --help')``, exit code 2
    (instead of the whole usage block before the message)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import models

    parser = _Parser(prog="cnnkit", description="cnnkit: convolutional neural networks on NumPy")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("train", help="train a model (default: LeNet-5 on the built-in digits)",
                       description="Train a model and write metrics.csv, curve.png and checkpoint.safetensors "
                                   "into the output folder; the last line reports the test accuracy.")
    t.add_argument("model", nargs="?", default="lenet5", type=_model_name, metavar="MODEL",
                   help=f"the model to train (default: lenet5), one of: {', '.join(models.list())}")
    t.add_argument("--data", "--dataset", dest="data", default="digits", type=_dataset_name, choices=DATASETS,
                   help="digits (the default) is built in: scikit-learn's 1,797 handwritten digits at 28×28; "
                        "the others are read from --data-dir")
    t.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    t.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")
    t.add_argument("--classic", action="store_true",
                   help="lenet5: LeCun's variant (tanh, average pooling, the S2-C3 connection table)")
    t.add_argument("--epochs", type=_positive_int, default=20,
                   help="total number of epochs; a resumed run continues up to this number (default: 20)")
    t.add_argument("--batch-size", type=_positive_int, default=32, help="(default: 32)")
    t.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS, help="(default: sgd)")
    t.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--momentum", type=_non_negative_float, default=0.9, help="SGD / RMSprop momentum (default: 0.9)")
    t.add_argument("--weight-decay", type=_non_negative_float, default=None,
                   help="L2 regularization, decoupled for adamw (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")")
    t.add_argument("--l1", type=_non_negative_float, default=0.0, help="L1 penalty weight λ in λ·Σ|w| (default: 0)")
    t.add_argument("--schedule", "--scheduler", dest="schedule", default="cosine", choices=SCHEDULES,
                   help="learning-rate decay: cosine annealing to 0 over --epochs (the default), step (×0.1 every "
                        "third of the epochs), plateau (×0.1 when the test loss stalls for 2 epochs) or none")
    t.add_argument("--augment", action="store_true", help="random crops (padding 2, or 4 for cifar10) and, for "
                                                          "cifar10, horizontal flips")
    t.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seeds initialization, shuffling, dropout and augmentation (default: 0)")
    t.add_argument("--out", default=None, help="output folder (default: runs/<model>-<data>)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help=f"continue from CHECKPOINT (default: <out>/{CHECKPOINT}) up to --epochs")
    t.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    _add_eval_parser(sub)
    _add_predict_parser(sub)
    sub.add_parser("models", help="list the registered models", description="List the registered models.")
    _add_summary_parser(sub)
    parser.commands = sub.choices  # name -> the command's parser
    return parser


# ----- train ----------------------------------------------------------------------------------------
def _load_split(data: str, data_dir, download: bool, train: bool):
    """The training or test split of dataset ``data`` (images in [0, 1], as the dataset serves them)."""
    from .data import datasets as D

    if data == "digits":
        return D.digits(train=train)
    name = data.replace("-", "_")
    root = Path(data_dir or f"data/{name}")
    if not download and not root.is_dir():
        raise FileNotFoundError(f"no {data} data: the folder {root} does not exist (pass --download to fetch "
                                f"the files, or --data-dir to point at them)")
    return getattr(D, name)(root, train=train, download=download)


def _load_data(args):
    train_set = _load_split(args.data, args.data_dir, args.download, train=True)
    return train_set, _load_split(args.data, args.data_dir, args.download, train=False)


def _channel_stats(images):
    """Per-channel mean and standard deviation of the training images (N, C, H, W), in float64."""
    import numpy as np

    x = np.asarray(images, dtype=np.float64)
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))


def _prepare(args, train_set, test_set) -> dict:
    """Standardize both sets with the training statistics; augment the training set if asked.

    Returns the JSON-able description of the preprocessing (stored in the checkpoint)."""
    from .data import transforms as T

    images = train_set.arrays[0]
    mean, std = _channel_stats(images)
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


def _optimizer(args, params):
    from . import optim

    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    wd = args.weight_decay if args.weight_decay is not None else DEFAULT_WEIGHT_DECAY[args.optimizer]
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=args.momentum, weight_decay=wd)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if args.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    return optim.RMSprop(params, lr=lr, momentum=args.momentum, weight_decay=wd)


def _scheduler(args, optimizer):
    from .optim import lr_scheduler as S

    if args.schedule == "step":
        return S.StepLR(optimizer, step_size=max(1, args.epochs // 3), gamma=0.1)
    if args.schedule == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=args.epochs)
    if args.schedule == "plateau":
        return S.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
    return None


def _model_kwargs(args, data_meta: dict) -> dict:
    if args.classic and args.model != "lenet5":
        raise ValueError(f"--classic applies to lenet5 only, not {args.model}")
    kwargs = {"num_classes": 10}
    if args.model == "lenet5":
        kwargs.update(classic=args.classic, in_channels=data_meta["channels"], input_size=data_meta["size"])
    return kwargs


def train(args) -> int:
    from . import models
    from .data import DataLoader
    from .nn import CrossEntropyLoss
    from .random import manual_seed
    from .train import Trainer

    start = time.perf_counter()
    out = Path(args.out or f"runs/{args.model}-{args.data}")
    resume = (out / CHECKPOINT) if args.resume is True else (Path(args.resume) if args.resume else None)
    if resume is not None and not resume.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {resume}")
    manual_seed(args.seed)
    train_set, test_set = _load_data(args)
    data_meta = _prepare(args, train_set, test_set)
    model_kwargs = _model_kwargs(args, data_meta)
    model = models.get(args.model, **model_kwargs)
    optimizer = _optimizer(args, model.parameters())
    scheduler = _scheduler(args, optimizer)
    meta = {"model": args.model, "model_kwargs": model_kwargs, "data": args.data, "preprocessing": data_meta,
            "epochs": args.epochs, "schedule": args.schedule}
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler, l1=args.l1, log=out / METRICS,
                      plot=out / CURVE, checkpoint=out / CHECKPOINT, quiet=args.quiet, batch_size=args.batch_size,
                      stream=sys.stderr, meta=meta)
    if resume is not None:
        saved = trainer.load_checkpoint(resume) or {}
        print(f"resumed from {resume} after epoch {trainer.epoch}", file=sys.stderr)
        planned = saved.get("epochs")
        if scheduler is not None and planned is not None and planned != args.epochs:
            print(f"warning: the checkpoint's {saved.get('schedule', args.schedule)} learning-rate schedule was "
                  f"planned for {planned} epochs and continues as saved; 2 + 2 epochs equal 4 uninterrupted ones "
                  f"only with the same --epochs (or --schedule none)", file=sys.stderr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {args.model} ({n_params:,} parameters) on {args.data}: {len(train_set):,} training, "
          f"{len(test_set):,} test images; up to epoch {args.epochs}", file=sys.stderr)
    if trainer.epoch >= args.epochs:
        print(f"nothing to train: the checkpoint already has {trainer.epoch} epochs (--epochs {args.epochs})",
              file=sys.stderr)
    else:
        out.mkdir(parents=True, exist_ok=True)
        loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
        trainer.fit(loader, args.epochs, val=DataLoader(test_set, batch_size=256))
        print(f"wrote {out / METRICS}, {out / CURVE}, {out / CHECKPOINT} ({time.perf_counter() - start:.1f} s)",
              file=sys.stderr)
    result = trainer.evaluate(DataLoader(test_set, batch_size=256))
    correct = round(result["accuracy"] * result["n"])
    print(f"test accuracy: {100 * result['accuracy']:.2f}% ({correct}/{result['n']}), test loss "
          f"{result['loss']:.4f}", flush=True)
    return 0


# ----- models ---------------------------------------------------------------------------------------
def list_models(args) -> int:
    from . import models

    for name in models.list():
        print(name)
    return 0


COMMANDS = {"train": train, "models": list_models}


# ----- eval and predict: a trained model and its preprocessing, rebuilt from a checkpoint -------------------
DATA_SHAPES = {"digits": (1, 28, 28), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
DIGIT_FRAMED = ("digits", "mnist")  # a digit centred in a 20×20 box of a black 28×28 field
LIGHT_ON_DARK = ("digits", "mnist", "fashion-mnist")  # light strokes / objects on a black background


def _class_names(data, num_classes: int) -> list:
    """Class names of ``data`` (Fashion-MNIST's and CIFAR-10's names; digits are their own names) or indices."""
    from .data.datasets import CIFAR10_CLASSES, FASHION_MNIST_CLASSES

    names = {"fashion-mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}.get(data)
    if names is None or len(names) != num_classes:
        return [str(i) for i in range(num_classes)]
    return list(names)


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class _Restored:
    """A model rebuilt from a ``cnnkit train`` checkpoint with its weights loaded (in eval mode), and what its
    ``meta`` says about the inputs: ``data`` (the training set's name), ``channels``, ``size`` (inputs are
    channels × size × size) and the per-channel ``mean`` / ``std`` of the standardization."""

    def __init__(self, path):
        import numpy as np

        from . import models
        from .io.checkpoint import load

        self.path = path
        state = load(path)
        if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
            raise ValueError(f"{path} is not a training checkpoint (it has no 'model' weights); eval and predict "
                             f"read the checkpoints written by `cnnkit train`")
        meta = state.get("meta")
        if not isinstance(meta, dict):
            raise ValueError(f"{path} has no 'meta' entry, so it does not say which model it holds and how its "
                             f"inputs were prepared (checkpoints written by `cnnkit train` have one)")
        name, kwargs, prep = meta.get("model"), meta.get("model_kwargs", {}), meta.get("preprocessing")
        if not isinstance(name, str) or not isinstance(kwargs, dict) or not isinstance(prep, dict):
            raise ValueError(f"{path} has an invalid 'meta' entry: it needs 'model' (a name), 'model_kwargs' (a "
                             f"dict) and 'preprocessing' (a dict)")
        channels, size = prep.get("channels"), prep.get("size")
        if not (_is_positive_int(channels) and _is_positive_int(size)):
            raise ValueError(f"{path} has an invalid 'meta' entry: preprocessing channels and size must be "
                             f"positive ints, got {channels!r} and {size!r}")
        try:
            mean = np.asarray(prep.get("mean"), dtype=np.float64)
            std = np.asarray(prep.get("std"), dtype=np.float64)
        except (TypeError, ValueError):
            mean = std = np.zeros(0)
        if (mean.shape != (channels,) or std.shape != (channels,) or not np.all(np.isfinite(mean))
                or not np.all(np.isfinite(std)) or not np.all(std > 0)):
            raise ValueError(f"{path} has an invalid 'meta' entry: expected {channels} finite channel means and "
                             f"positive standard deviations, got mean {prep.get('mean')!r}, std {prep.get('std')!r}")
        try:
            model = models.get(name, **kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: cannot rebuild its model: {e}") from None
        try:
            model.load_state_dict(state["model"])
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: its weights do not fit {name}: {e}") from None
        self.model = model.eval()
        self.name, self.data = name, meta.get("data") if meta.get("data") in DATASETS else None
        self.channels, self.size, self.mean, self.std = channels, size, mean, std
        self.num_classes = kwargs.get("num_classes") if _is_positive_int(kwargs.get("num_classes")) else None
        self.epoch = state.get("epoch") if _is_positive_int(state.get("epoch")) else None

    def describe(self) -> str:
        """e.g. ``lenet5 (epoch 20, trained on digits)``."""
        facts = ([f"epoch {self.epoch}"] if self.epoch else []) + ([f"trained on {self.data}"] if self.data else [])
        return f"{self.name} ({', '.join(facts)})" if facts else self.name

    def logits(self, x):
        """The model's outputs (N, classes) for standardized inputs ``x`` (N, C, H, W), in batches of 64."""
        import numpy as np

        from .tensor import Tensor, no_grad

        with no_grad():
            return np.concatenate([self.model(Tensor._wrap(x[i:i + 64])).data for i in range(0, len(x), 64)])


# ----- eval -------------------------------------------------------------------------------------------------
def _add_eval_parser(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a checkpoint on a test set: loss, accuracy, confusion matrix",
                       description="Rebuild the model of a `cnnkit train` checkpoint from its meta (the model, its "
                                   "settings and the training set's per-channel mean and standard deviation), load "
                                   "its weights and evaluate it on the test split of the data it was trained on (or "
                                   "of --data): loss, accuracy, top-3 accuracy (3 or more classes) and the "
                                   "confusion matrix.")
    e.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    e.add_argument("--data", "--dataset", dest="data", default=None, type=_dataset_name, choices=DATASETS,
                   help="the test set (default: the one the checkpoint was trained on); its images must have the "
                        "model's shape")
    e.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    e.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")
    e.add_argument("--batch-size", type=_positive_int, default=256, help="(default: 256)")


def _format_confusion(matrix, names: list) -> str:
    """The confusion matrix as text: a row per true class (labelled with its index and name), a column per
    predicted class (its index), and each row's share of correct predictions (the class's recall)."""
    n = len(matrix)
    width = max(3, len(str(int(matrix.max()))) if matrix.size else 1, len(str(n - 1)))
    named = names != [str(i) for i in range(n)]
    labels = [f"{i} {names[i]}" if named else str(i) for i in range(n)]
    label_width = max(len(label) for label in labels)
    lines = [" " * label_width + "".join(f" {i:>{width}}" for i in range(n)) + "  correct"]
    for i, row in enumerate(matrix):
        total = int(row.sum())
        share = f"{100 * row[i] / total:6.1f}%" if total else "      -"
        lines.append(f"{labels[i]:<{label_width}}" + "".join(f" {int(v):>{width}}" for v in row) + "  " + share)
    return "\n".join(lines)


def evaluate(args) -> int:
    from .data import DataLoader
    from .data.transforms import Normalize
    from .nn import CrossEntropyLoss
    from .optim import SGD
    from .train import Trainer

    restored = _Restored(args.checkpoint)
    data = args.data or restored.data
    if data is None:
        raise ValueError(f"{args.checkpoint} does not say which data it was trained on: pass --data")
    expected = (restored.channels, restored.size, restored.size)

    def check_shape(shape):
        if tuple(shape) != expected:
            raise ValueError(f"data mismatch: {args.checkpoint} holds {restored.describe()} for "
                             f"{'×'.join(map(str, expected))} images, the {data} test set has "
                             f"{'×'.join(map(str, shape))} images")

    check_shape(DATA_SHAPES[data])  # before reading any file
    test = _load_split(data, args.data_dir, args.download, train=False)
    images, labels = test.arrays[0], test.arrays[1]
    check_shape(images.shape[1:])
    if restored.num_classes is not None and len(labels) and int(labels.max()) >= restored.num_classes:
        raise ValueError(f"data mismatch: {args.checkpoint} holds {restored.describe()} with "
                         f"{restored.num_classes} classes, the {data} test set has labels up to {int(labels.max())}")
    test.transform = Normalize(restored.mean, restored.std)
    print(f"evaluating {restored.describe()} on the {data} test set: {len(test):,} images", file=sys.stderr)
    # the optimizer is never stepped: the Trainer is used for its evaluate()
    trainer = Trainer(restored.model, SGD(restored.model.parameters(), lr=0.1), CrossEntropyLoss(), topk=3)
    result = trainer.evaluate(DataLoader(test, batch_size=args.batch_size))
    n, confusion = result["n"], result["confusion"]
    print(f"test accuracy: {100 * result['accuracy']:.2f}% ({round(result['accuracy'] * n)}/{n}), test loss "
          f"{result['loss']:.4f}")
    if len(confusion) >= 3:
        print(f"top-3 accuracy: {100 * result['top3']:.2f}% ({round(result['top3'] * n)}/{n})")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(_format_confusion(confusion, _class_names(data, len(confusion))), flush=True)
    return 0


COMMANDS["eval"] = evaluate


# ----- predict ----------------------------------------------------------------------------------------------
PREDICT_DESCRIPTION = """\
Classify image files with a model trained by `cnnkit train`. Each image is
converted like the training data, with the settings stored in the checkpoint:

 1. read with Pillow (PNG, JPEG or any format Pillow reads; transparent pixels
    are laid on white; 16-bit images are scaled to 8 bits), as grayscale for a
    1-channel model, RGB for a 3-channel one;
 2. with --invert, every value v becomes 255 - v. The digits, MNIST and
    Fashion-MNIST models were trained on light strokes on a black background:
    a digit drawn in black on white needs --invert (a note on stderr says so
    when an image's border is light);
 3. brought to the model's input size: an image of exactly that size is taken
    as is. For models trained on digits or MNIST, any other image gets their
    framing: it is cropped to the digit's bounding box (the pixels brighter
    than a quarter of the way from the darkest to the brightest), padded to a
    square, resized to 20x20 (bilinear) and centred in a black 28x28 field
    (--no-frame resizes the whole image instead). Other models: the whole
    image is resized to the input size (bilinear; antialiased when shrinking);
 4. scaled to [0, 1] (v / 255) and standardized with the training set's
    per-channel mean and standard deviation.

Prints one line per image: the predicted class, then the top classes with
their softmax probabilities, e.g.
    seven.png: 7   top-3: 7 98.52% | 1 0.91% | 2 0.30%
"""


def _add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="classify image files (PNG/JPEG): the class and the top-3 probabilities",
                       description=PREDICT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--invert", action="store_true",
                   help="invert the images (v -> 255 - v): for dark drawings on a light background")
    p.add_argument("--no-frame", action="store_true",
                   help="digits/MNIST models: resize the whole image to the input size instead of cropping the "
                        "digit and centring it in a 20x20 box")
    p.add_argument("--top", type=_positive_int, default=3, help="how many classes to list (default: 3)")


def _read_image(path: str, channels: int):
    """The image file ``path`` as uint8 pixels: (H, W) grayscale for ``channels`` 1, (H, W, 3) RGB for 3."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no such image file: {path}")
    if file.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file")
    try:
        with Image.open(file) as im:
            im.load()
            im = ImageOps.exif_transpose(im)  # photos: the orientation the camera recorded
            if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):  # 16-bit grayscale: 0..65535 -> 0..255
                im = Image.fromarray(np.clip(np.rint(np.asarray(im, dtype=np.float64) / 257), 0, 255)
                                     .astype(np.uint8))
            if "A" in im.getbands() or "transparency" in im.info:  # transparent pixels are laid on white
                rgba = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            return np.array(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file that Pillow can read (PNG, JPEG, ...)") from None
    except PermissionError as e:
        raise PermissionError(f"cannot read the image {path}: {e.strerror or e}") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read the image {path}: it is truncated or corrupt ({e})") from None


def _resize(pixels, height: int, width: int):
    """Bilinear resize of uint8 pixels with Pillow (antialiased when shrinking: the filter widens with the scale)."""
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def _frame_digit(pixels, size: int):
    """The digits/MNIST framing of a (H, W) light-on-dark image: crop to the digit's bounding box (pixels above a
    quarter of the way from the darkest to the brightest value), pad to a centred square with 0, resize to
    ``round(size · 20/28)`` (20 for 28) and centre it in a ``size`` × ``size`` field of zeros."""
    import numpy as np

    low, high = int(pixels.min()), int(pixels.max())
    if high > low:
        ink = pixels > low + (high - low) / 4
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        pixels = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = pixels.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = pixels
    inner = max(1, round(size * 20 / 28))
    framed = np.zeros((size, size), dtype=np.uint8)
    top = (size - inner) // 2
    framed[top:top + inner, top:top + inner] = _resize(square, inner, inner)
    return framed


def _prepare_image(pixels, size: int, frame: bool, invert: bool):
    """uint8 pixels (H, W) or (H, W, 3) -> float32 (C, size, size) in [0, 1] (steps 2-4 of ``cnnkit predict
    --help`` but the standardization), and whether the image's border is light (after ``invert``)."""
    import numpy as np

    if invert:
        pixels = 255 - pixels
    gray = pixels if pixels.ndim == 2 else pixels.mean(axis=2)
    light_border = float(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).mean()) > 127.5
    if pixels.shape[:2] != (size, size):
        pixels = _frame_digit(pixels, size) if frame else _resize(pixels, size, size)
    x = pixels.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x[None] if x.ndim == 2 else x.transpose(2, 0, 1)), light_border


def predict(args) -> int:
    import numpy as np

    from .data.transforms import Normalize

    restored = _Restored(args.checkpoint)
    if restored.channels not in (1, 3):
        raise ValueError(f"{args.checkpoint} holds {restored.describe()} for {restored.channels}-channel inputs; "
                         f"image files give 1 (grayscale) or 3 (RGB) channels")
    light_on_dark = restored.data in LIGHT_ON_DARK and restored.channels == 1
    frame = restored.data in DIGIT_FRAMED and restored.channels == 1 and not args.no_frame
    images = []
    for path in args.images:
        x, light_border = _prepare_image(_read_image(path, restored.channels), restored.size, frame, args.invert)
        images.append(x)
        if light_on_dark and light_border:
            hint = ("it looked light on dark before --invert: drop --invert?" if args.invert
                    else "pass --invert for dark drawings on a light background")
            print(f"note: {path} has a light background, the model was trained on light on black; {hint}",
                  file=sys.stderr)
    logits = restored.logits(Normalize(restored.mean, restored.std)(np.stack(images))).astype(np.float64)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = z / z.sum(axis=1, keepdims=True)
    k = min(args.top, logits.shape[1])
    ranking = np.argsort(-logits, axis=1, kind="stable")[:, :k]  # ties: the smaller class index first, as argmax
    names = _class_names(restored.data, logits.shape[1])
    for path, order, p in zip(args.images, ranking, probabilities):
        top = " | ".join(f"{names[c]} {100 * p[c]:.2f}%" for c in order)
        print(f"{path}: {names[order[0]]}   top-{k}: {top}")
    return 0


COMMANDS["predict"] = predict


# ----- summary --------------------------------------------------------------------------------------
def _shape(text: str) -> tuple:
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas (C,H,W), got {text!r}")
    return dims


def _add_summary_parser(sub) -> None:
    s = sub.add_parser("summary", help="a model's layers: shapes, parameters, MACs, receptive fields",
                       description="Print a table of the model's layers (ck.summary).")
    s.add_argument("model", metavar="MODEL", help="a registered model (see `cnnkit models`)")
    s.add_argument("--input", type=_shape, default=None, metavar="C,H,W",
                   help="one sample's shape (default: the model's native input, e.g. 1,28,28 for lenet5)")
    s.add_argument("--num-classes", type=_positive_int, default=None, help="classes of the model's last layer")
    s.add_argument("--batch-size", type=_positive_int, default=1)
    s.add_argument("--depth", type=_non_negative_int, default=3,
                   help="deepest nesting level shown (deeper layers are folded into their parent's row)")


def summary(args) -> int:
    from . import models
    from .insight import default_input_size
    from .insight import summary as summarize

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.model == "lenet5" and args.input is not None:
        kwargs["in_channels"] = args.input[0]
    model = models.get(args.model, **kwargs)
    size = args.input if args.input is not None else default_input_size(model)
    print(summarize(model, size, batch_size=args.batch_size, depth=args.depth))
    return 0


COMMANDS["summary"] = summary


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, which names the command
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"\ncnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, FloatingPointError, ImportError) as e:
        print(f"cnnkit {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
