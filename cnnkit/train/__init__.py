"""Training: the Trainer (loop, validation, progress, log, plot, checkpoints) and metrics."""
from .metrics import accuracy, confusion_matrix, target_rank, topk_accuracy, topk_correct
from .trainer import NonFiniteLossError, Trainer

__all__ = ["NonFiniteLossError", "Trainer", "accuracy", "confusion_matrix", "target_rank", "topk_accuracy",
           "topk_correct"]
