"""Training: the Trainer (loop, validation, progress, log, plot, checkpoints), evaluation, metrics, and restoring
a trained model from its checkpoint."""
from .evaluate import evaluate
from .guard import WriteError
from .metrics import accuracy, confusion_matrix, precision_recall_f1, target_rank, topk_accuracy, topk_correct
from .restore import Restored, restore
from .trainer import DivergenceError, NonFiniteLossError, Trainer

__all__ = ["DivergenceError", "NonFiniteLossError", "Restored", "Trainer", "accuracy", "confusion_matrix", "evaluate",
           "WriteError", "precision_recall_f1", "restore", "target_rank", "topk_accuracy", "topk_correct"]
