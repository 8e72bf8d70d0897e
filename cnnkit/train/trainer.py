"""The Trainer: the training loop of backpropagation, with validation, logging and checkpoints.

One step of mini-batch training:

    y = model(x)                 forward
    L = loss(y, t) [+ λ Σ|w|]    e.g. cross-entropy, optionally with the L1 penalty over the weights
    dL/dw by L.backward()        backpropagation through the graph
    [clip ‖dL/dw‖ to grad_clip]
    w ← optimizer(w, dL/dw)      SGD with momentum / weight decay (L2), Adam, ...

``fit(train, epochs)`` trains until ``epochs`` epochs are complete (counting those of a
resumed checkpoint), so a run stopped after 2 epochs and resumed with ``epochs=4``
finishes with exactly the weights of 4 uninterrupted epochs: the checkpoint carries the
model, optimizer and scheduler state, the epoch count and the random generator's state
(which drives shuffling, dropout and augmentation).

The non-finite guard: a NaN or infinite loss, gradient or updated weight stops training
with :class:`NonFiniteLossError` naming the epoch and batch. The model (parameters and
buffers) and the optimizer state are put back as they were before that batch, so NaN
weights are never kept, and :meth:`Trainer.save_checkpoint` refuses non-finite weights.

Distributed (``distributed=ck.distributed.init()``, the model wrapped in ``DistributedDataParallel``, the loaders
sharded per rank): every rank trains on its shard; rank 0 alone writes the log, the plot, the checkpoint and the
progress display; the epoch's training metrics and the evaluation results are summed over the ranks, so every
rank sees the numbers of the whole data set. A resumed run loads the checkpoint on every rank.
"""
from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from .. import kernels
from ..io.atomic import remove_stale_temps
from ..io.checkpoint import save
from ..nn.utils import clip_grad_norm_, l1_penalty
from ..ops import validate
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..random import get_rng_state, set_rng_state
from .best import best_epoch, best_is_behind, check_metric, epochs_without_improvement
from .evaluate import as_loader, class_targets, evaluate, predict
from .guard import DivergenceError, NonFiniteLossError, Snapshot, WriteError, all_finite, writing
from .metrics import RunningMean, topk_correct
from .progress import NoProgress, Progress, RunClock
from .report import plot_history, write_log
from .resume import partial_epoch, read_checkpoint, restore_all_or_nothing


class _Stop(Exception):
    """Raised at a batch boundary after :meth:`Trainer.request_stop`."""


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss(output, target)``.

    Options:

    - ``scheduler``: stepped once per epoch, after validation; ``ReduceLROnPlateau`` gets the validation
      loss (the training loss without validation data).
    - ``l1``: weight λ of the L1 penalty λ·Σ|w| added to the loss, over the parameters with ≥ 2 dims
      (conv and linear weights; biases and normalization parameters are not penalized).
    - ``grad_clip``: clip the total gradient norm to this value before each step.
    - ``log``: metrics file (CSV, or JSON lines for a ``.jsonl`` path) and ``checkpoint``: checkpoint path, both
      rewritten (atomically) after every epoch, the checkpoint first, so the log never lists an epoch the
      checkpoint does not hold; temporary files a killed write left beside them are removed when ``fit``
      starts, and :meth:`load_checkpoint` writes a best checkpoint that a kill left an epoch behind again
      (from the state it loaded: that epoch's); a write that fails
      raises :class:`~cnnkit.train.WriteError` naming the file (which keeps its earlier content); ``best``: a
      second checkpoint path, written when an epoch improves ``best_metric`` (``val_acc`` by default, or
      ``val_loss``, ``train_acc``, ``train_loss``; see :mod:`cnnkit.train.best`);
      ``early_stop``: stop after this many epochs without improvement of ``best_metric``
      (:attr:`stopped_early` says so); ``diverge_factor``: a batch loss above this many times the run's first
      loss (the first epoch's mean once there is one) stops training with :class:`DivergenceError` (None: never);
      ``plot``: training-curve PNG, redrawn when ``fit`` returns (or
      stops on an error) and after an epoch when ``plot_interval`` (10) seconds have passed since the last one
      (drawing costs a fraction of a second: not after every short epoch).
    - ``quiet``: no progress bar, one line per epoch; ``stream``: where progress goes (default stderr).
    - ``topk``: also report top-k accuracy in :meth:`evaluate`.
    - ``batch_size``: used when ``fit``/``evaluate`` get a Dataset instead of a DataLoader.
    - ``meta``: JSON-able facts stored in every checkpoint under ``'meta'`` (e.g. the model's name).
    - ``distributed``: the process group of a data-parallel run (``cnnkit.distributed.init()``); see the module
      docstring. A model that declares ``is_wrapper`` (``DistributedDataParallel``) is trained as it is, and its
      ``.module`` is what checkpoints save and load.
    - ``deterministic`` (True): ``fit`` runs cnnkit's kernels on the configured thread count whatever the
      machine's load (``kernels.using(adaptive_threads=False)`` around its steps, for its thread only), so that a
      resumed run gives exactly the weights of an uninterrupted one: a weight gradient's last bits depend on the
      thread count. False lets them start fewer threads while other processes keep cores busy (steadier on a
      shared machine; docs/performance.md, "Sharing the cores").
    """

    def __init__(self, model, optimizer, loss, scheduler=None, *, l1: float = 0.0, grad_clip: float | None = None,
                 log=None, plot=None, checkpoint=None, quiet: bool = False, topk: int | None = None,
                 batch_size: int = 64, stream=None, meta: dict | None = None, distributed=None, best=None,
                 best_metric: str = "val_acc", early_stop: int | None = None, diverge_factor: float | None = 1e4,
                 deterministic: bool = True):
        if not callable(model) or not hasattr(model, "parameters"):
            raise TypeError(f"Trainer: model must be a Module, got {type(model).__name__}")
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"Trainer: optimizer must be an Optimizer, got {type(optimizer).__name__}")
        if not callable(loss):
            raise TypeError(f"Trainer: loss must be callable (e.g. nn.CrossEntropyLoss()), got {type(loss).__name__}")
        if not validate.is_real(l1) or not l1 >= 0:
            raise ValueError(f"Trainer: l1 must be a non-negative number, got {l1!r}")
        if grad_clip is not None and (not validate.is_real(grad_clip) or not grad_clip > 0):
            raise ValueError(f"Trainer: grad_clip must be a positive number or None, got {grad_clip!r}")
        if topk is not None and (not validate.is_int(topk) or topk < 1):
            raise ValueError(f"Trainer: topk must be a positive int or None, got {topk!r}")
        if not validate.is_int(batch_size) or batch_size < 1:
            raise ValueError(f"Trainer: batch_size must be a positive int, got {batch_size!r}")
        check_metric(best_metric)
        if early_stop is not None and (not validate.is_int(early_stop) or early_stop < 1):
            raise ValueError(f"Trainer: early_stop must be a positive int or None, got {early_stop!r}")
        self.model, self.optimizer, self.loss, self.scheduler = model, optimizer, loss, scheduler
        self.best, self.best_metric, self.early_stop = best, best_metric, early_stop
        if diverge_factor is not None and (not validate.is_real(diverge_factor) or not diverge_factor > 1):
            raise ValueError(f"Trainer: diverge_factor must be a number above 1 or None, got {diverge_factor!r}")
        self.diverge_factor = diverge_factor
        if not isinstance(deterministic, bool):
            raise TypeError(f"Trainer: deterministic must be a bool, got {deterministic!r}")
        self.deterministic = deterministic
        self.stopped_early = False
        self.stopped = False  # by request_stop(): a checkpoint of the stopped epoch was written
        self._stop_requested = False
        self._partial = None
        self.l1, self.grad_clip, self.topk = float(l1), grad_clip, topk
        self.log, self.plot, self.checkpoint = log, plot, checkpoint
        self.quiet, self.batch_size, self.stream = quiet, batch_size, stream
        self.meta = dict(meta) if meta is not None else None
        if distributed is not None and not (hasattr(distributed, "rank") and hasattr(distributed, "all_reduce")):
            raise TypeError(f"Trainer: distributed must be a process group (cnnkit.distributed.init()), got "
                            f"{type(distributed).__name__}")
        self.distributed = distributed
        self.is_main = distributed is None or distributed.rank == 0
        self.network = model.module if getattr(model, "is_wrapper", False) else model
        self.plot_interval = 10.0
        self.epoch = 0
        self.history: list = []
        self._clock = RunClock()
        self._plotted, self._last_plot, self._unsaved = 0, 0.0, False

    # ----- one step, one epoch --------------------------------------------------------------------
    def compute_loss(self, output, target):
        """The training objective: ``loss(output, target) + l1 · Σ|w|`` (weights with ≥ 2 dims)."""
        loss = self.loss(output, target)
        if self.l1:
            loss = loss + self.l1 * l1_penalty([p for p in self.model.parameters() if p.ndim >= 2])
        return loss

    def _train_epoch(self, loader, progress) -> dict:
        self.model.train()
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(self.epoch)
        params = [p for p in self.model.parameters() if p.requires_grad]
        snapshot = Snapshot(self.model, self.optimizer)
        partial, self._partial = self._partial, None
        if partial is not None:  # a stopped epoch: the same order, its batches so far skipped, the same draws after
            set_rng_state(partial["rng_epoch"])
        epoch_rng = get_rng_state()
        loss_mean, correct, scored, seen, seconds = RunningMean(), 0, 0, 0, 0.0
        if partial is not None:
            loss_mean.total, loss_mean.count = partial["loss_total"], partial["loss_count"]
            correct, scored, seen, seconds = partial["correct"], partial["scored"], partial["seen"], partial["seconds"]
        skip = partial["batches"] if partial is not None else 0
        reference = self.history[0]["train_loss"] if self.history else None  # the scale divergence is judged by
        if reference is not None and not math.isfinite(reference):
            reference = None
        ranks = self.distributed.world_size if self.distributed is not None else 1  # images/s of all the ranks
        start = time.perf_counter()
        batches, batch_index = iter(loader), 0
        while True:
            if self._stop_requested and batch_index >= skip:  # before the next batch is drawn
                self._partial = {"batches": batch_index, "rng_epoch": epoch_rng, "rng": get_rng_state(),
                                 "loss_total": loss_mean.total, "loss_count": loss_mean.count, "correct": correct,
                                 "scored": scored, "seen": seen, "seconds": seconds + time.perf_counter() - start}
                raise _Stop
            try:
                x, y = next(batches)
            except StopIteration:
                break
            batch_index += 1
            if batch_index <= skip:  # drawn again for the same random draws, done before the stop
                progress.update(None, loss=loss_mean.mean, acc=correct / scored if scored else float("nan"))
                if batch_index == skip:
                    set_rng_state(partial["rng"])
                continue
            snapshot.take()
            where = f"epoch {self.epoch + 1}, batch {batch_index}"
            out = self.model(x)
            loss = self.compute_loss(out, y)
            value = loss.item()
            if not math.isfinite(value):
                snapshot.restore()
                raise NonFiniteLossError(f"Trainer: the loss is {value} at {where}; training stopped and the "
                                         f"model was left as before that batch (lower the learning rate?)")
            if reference is None:
                reference = abs(value)
            elif self.diverge_factor is not None and abs(value) > self.diverge_factor * max(reference, 1e-3):
                snapshot.restore()
                raise DivergenceError(f"Trainer: the loss {value:.4g} at {where} is more than "
                                      f"{self.diverge_factor:g} times the run's first loss {reference:.4g}: training "
                                      f"diverged and stopped; the model was left as before that batch (lower the "
                                      f"learning rate?)")
            self.optimizer.zero_grad()
            loss.backward()
            if not all_finite(p.grad._data for p in params if p.grad is not None):
                snapshot.restore()
                raise NonFiniteLossError(f"Trainer: non-finite gradients at {where}; training stopped and the "
                                         f"model was left as before that batch (lower the learning rate?)")
            if self.grad_clip is not None:
                clip_grad_norm_(params, self.grad_clip)
            self.optimizer.step()
            if not all_finite(p._data for p in params):
                snapshot.restore()
                raise NonFiniteLossError(f"Trainer: the update at {where} made weights non-finite; training "
                                         f"stopped and the model was left as before that batch (lower the "
                                         f"learning rate?)")
            n = len(y)
            loss_mean.update(value, n)
            if class_targets(out, y):
                correct += topk_correct(out._data, y._data, 1)
                scored += n
            seen += n
            progress.update(n * ranks, loss=loss_mean.mean, acc=correct / scored if scored else float("nan"))
        if batch_index < skip:  # the loader gave fewer batches than were done: the data set changed
            raise ValueError(f"Trainer.fit: the stopped epoch had {skip} batches done, the data gives {batch_index}")
        seconds += time.perf_counter() - start
        if self.distributed is not None and self.distributed.world_size > 1:
            sums = self.distributed.all_reduce(np.array([loss_mean.total, loss_mean.count, correct, scored, seen],
                                                        dtype=np.float64))
            loss_mean.total, loss_mean.count = float(sums[0]), int(sums[1])
            correct, scored, seen = int(sums[2]), int(sums[3]), int(sums[4])
            seconds = float(self.distributed.all_reduce(np.array([seconds]), "max")[0])
        return {"train_loss": loss_mean.mean, "train_acc": correct / scored if scored else float("nan"),
                "seconds": seconds, "images_per_s": seen / seconds if seconds > 0 else float("nan")}

    # ----- public API -----------------------------------------------------------------------------
    def fit(self, train, epochs: int, val=None) -> list:
        """Train until ``epochs`` epochs are complete (a resumed Trainer continues from its epoch); after each
        epoch: validate on ``val`` (if given), step the scheduler, write log/plot/checkpoint.

        ``train``/``val`` are DataLoaders, or Datasets (then batched with ``batch_size``, ``train`` shuffled).
        Returns the history: one dict per epoch (``epoch, train_loss, train_acc, val_loss, val_acc, lr,
        seconds, images_per_s``; ``lr`` is the rate used during that epoch).
        """
        if not validate.is_int(epochs) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative int, got {epochs!r}")
        train_loader = as_loader(train, self.batch_size, True, "Trainer.fit")
        val_loader = as_loader(val, self.batch_size, False, "Trainer.fit")
        if train_loader is None:
            raise TypeError("Trainer.fit: expected a DataLoader or a Dataset, got None")
        if (self.distributed is not None and self.distributed.world_size > 1
                and getattr(train_loader, "sampler", None) is None):
            raise ValueError("Trainer.fit: a distributed run needs a DataLoader whose sampler gives each rank its "
                             "shard (sampler=DistributedSampler(dataset)), got one without a sampler")
        self._last_plot = time.monotonic()
        for path in (self.checkpoint, self.best, self.log, self.plot) if self.is_main else ():
            if path is not None:
                remove_stale_temps(path)
        if self.log is not None and self.history and self.is_main:
            with writing(self.log):
                write_log(self.log, self.history)  # a log that a kill left behind the checkpoint catches up
        self.stopped_early = self.stopped = False
        self._clock = RunClock()  # the times of this fit, for the progress display's run ETA
        completed = False
        try:
            with kernels.using(adaptive_threads=False) if self.deterministic else contextlib.nullcontext():
                self._fit_epochs(train_loader, val_loader, epochs)      # (this thread's steps only)
            completed = True
        finally:
            if self.plot is not None and self.is_main and self._plot_rows() and self._plotted != len(self._plot_rows()):
                try:
                    self._plot()
                except WriteError:
                    if completed:  # else the error under way (e.g. the checkpoint's full disk) is the one to tell
                        raise
        return self.history

    def _fit_epochs(self, train_loader, val_loader, epochs: int) -> None:
        """Epochs until ``epochs`` are complete, or a stop request or early stopping ends the run."""
        while self.epoch < epochs:
            if self._stop_requested:
                self._stop_now()
                break
            if self.early_stop is not None and \
                    epochs_without_improvement(self.history, self.best_metric) >= self.early_stop:
                self.stopped_early = True
                break
            try:
                self._fit_epoch(train_loader, val_loader, epochs)
            except _Stop:
                self._stop_now()
                break

    def _fit_epoch(self, train_loader, val_loader, epochs: int) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        progress = (Progress(len(train_loader), f"epoch {self.epoch + 1}/{epochs}", self.quiet, self.stream,
                             epochs_after=epochs - self.epoch - 1, validates=val_loader is not None,
                             clock=self._clock) if self.is_main else NoProgress())
        try:
            row = self._train_epoch(train_loader, progress)
            if val_loader is not None:
                metrics = self.evaluate(val_loader)
                row["val_loss"], row["val_acc"] = metrics["loss"], metrics["accuracy"]
        except BaseException:
            progress.abort()
            raise
        self.epoch += 1
        row = {"epoch": self.epoch, **row, "lr": lr}
        summary = f"loss {row['train_loss']:.4f}, acc {row['train_acc']:.4f}"
        if "val_loss" in row:
            summary += f", val loss {row['val_loss']:.4f}, val acc {row['val_acc']:.4f}"
        summary += f", lr {lr:.3g}, {row['seconds']:.1f} s ({row['images_per_s']:.0f} images/s)"
        progress.close(summary)
        if self.scheduler is not None:
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(row.get("val_loss", row["train_loss"]))
            else:
                self.scheduler.step()
        self.history.append(row)
        if not self.is_main:
            return
        if self.checkpoint is not None:
            self._unsaved = True   # until its checkpoint is written, the epoch is left out of the plot
            with writing(self.checkpoint):
                self.save_checkpoint(self.checkpoint)
            self._unsaved = False
        if self.best is not None and best_epoch(self.history, self.best_metric) == self.epoch:
            with writing(self.best):
                self.save_checkpoint(self.best)
        if self.log is not None:
            with writing(self.log):
                write_log(self.log, self.history)
        if self.plot is not None and time.monotonic() - self._last_plot >= self.plot_interval:
            self._plot()

    def request_stop(self) -> None:
        """Stop :meth:`fit` at the next batch boundary (safe to call from a signal handler): the checkpoint then
        holds the epoch so far, and a Trainer that loads it continues exactly where this one stopped (the same
        batch order and random draws: the same weights as an uninterrupted run)."""
        self._stop_requested = True

    @property
    def batches_done(self) -> int:
        """The batches of the current (stopped) epoch that are done: 0 between epochs."""
        return self._partial["batches"] if self._partial is not None else 0

    def _stop_now(self) -> None:
        self._stop_requested = False
        self.stopped = True
        if self.checkpoint is not None:
            with writing(self.checkpoint):
                self.save_checkpoint(self.checkpoint)

    def _plot_rows(self) -> list:
        """The epochs the plot shows: those the checkpoint holds (not one whose checkpoint write failed)."""
        return self.history[:-1] if self._unsaved else self.history

    def _plot(self) -> None:
        rows = self._plot_rows()
        with writing(self.plot):
            plot_history(rows, self.plot)
        self._plotted = len(rows)
        self._last_plot = time.monotonic()

    def evaluate(self, data) -> dict:
        """Mean loss, accuracy (and top-k with ``topk``), the confusion matrix (true class × predicted class) and
        the number of samples ``n`` on ``data``; in eval mode, without a graph; the mode is restored after.
        Accuracy and the confusion matrix need logits (N, C) and class-index targets (N,) (NaN / absent otherwise).

        The loss is the plain ``loss`` (without the L1 penalty), averaged over samples. In a distributed run
        ``data`` is this rank's shard and the result is that of all ranks' shards together.
        """
        loader = as_loader(data, self.batch_size, False, "Trainer.evaluate")
        if loader is None:
            raise TypeError("Trainer.evaluate: expected a DataLoader or a Dataset, got None")
        return evaluate(self.model, loader, self.loss, topk=self.topk, process_group=self.distributed)

    def predict(self, x, batch_size: int | None = None, return_logits: bool = False) -> np.ndarray:
        """Predicted classes (int64, shape (N,)) for inputs ``x`` (N, ...), or the raw outputs (N, C) with
        ``return_logits``; run in batches of ``batch_size`` (default the Trainer's) in eval mode without a graph.

        ``x`` is a Tensor or an array; it is cast to the dtype of the model's parameters.
        """
        bs = self.batch_size if batch_size is None else batch_size
        if not validate.is_int(bs) or bs < 1:
            raise ValueError(f"Trainer.predict: batch_size must be a positive int, got {batch_size!r}")
        return predict(self.model, x, bs, return_logits)

    # ----- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs: model, optimizer, scheduler, epoch, RNG state, history (and meta)."""
        state = {"model": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                 "epoch": self.epoch, "rng": get_rng_state(), "history": self.history}
        if self._partial is not None:
            state["partial"] = self._partial
        if self.meta is not None:
            state["meta"] = self.meta
        return state

    def save_checkpoint(self, path) -> None:
        """Write :meth:`state_dict` to ``path`` with ``ck.save`` (safetensors, atomic); refuses non-finite weights."""
        for name, p in self.network.state_dict().items():
            if p._data.dtype.kind == "f" and not np.all(np.isfinite(p._data)):
                raise NonFiniteLossError(f"Trainer: refusing to save a checkpoint to {path}: '{name}' holds "
                                         f"non-finite values")
        save(self.state_dict(), path)

    def load_checkpoint(self, path):
        """Restore a checkpoint written by :meth:`save_checkpoint`: model, optimizer, scheduler, epoch, RNG state
        and history; returns the checkpoint's ``meta`` (None if it has none). A corrupt or mismatched checkpoint
        raises ``ValueError`` and leaves the Trainer unchanged. If the loaded epoch is the best by ``best_metric``
        and the ``best`` checkpoint does not hold it (a kill came between the two writes), it is written now."""
        state = read_checkpoint(path, self.scheduler is not None)
        restore_all_or_nothing(state, path, self.network, self.optimizer, self.scheduler)
        epoch, history = state["epoch"], state.get("history") or []
        self.epoch = epoch
        self.history = [dict(h) for h in history]
        self._partial = partial_epoch(state)
        if self.best is not None and self.history and self.is_main and self._partial is None and \
                best_is_behind(self.best, self.history, self.best_metric, self.epoch):
            with writing(self.best):
                self.save_checkpoint(self.best)  # the state just loaded is the best epoch's
        return state.get("meta")
