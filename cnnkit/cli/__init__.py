"""The ``cnnkit`` command (also ``python -m cnnkit``).

    cnnkit train                          LeNet-5 on the built-in digits (no download), 20 epochs
    cnnkit train lenet5 --data mnist --data-dir data/mnist --download --epochs 5
    cnnkit train lenet5 --epochs 20 --resume        continue runs/lenet5-digits up to epoch 20
    cnnkit eval runs/lenet5-digits/checkpoint.safetensors       loss, accuracy, confusion matrix (its test set)
    cnnkit predict runs/lenet5-digits/checkpoint.safetensors seven.png --invert   class, top-3 of a drawing
    cnnkit models                         the registered models
    cnnkit summary vgg16 --input 3,224,224  its layers: shapes, parameters, MACs, receptive fields
    cnnkit serve                          a page to draw a digit and watch every layer answer (serve extra)
    cnnkit convert resnet18-f37072fd.pth resnet18.safetensors   a torch.save state dict, no torch, no code run
    cnnkit export runs/lenet5-digits/checkpoint.safetensors --onnx lenet5.onnx   ONNX, checked with onnxruntime

``train`` writes into ``--out`` (default ``runs/<model>-<data>``): ``metrics.csv`` (one row
per epoch), ``curve.png`` (loss and accuracy), ``checkpoint.safetensors`` (after every
epoch; ``--resume`` continues from it) and ends with a line ``test accuracy: ...%``.

The inputs are standardized per channel with the training set's mean and standard
deviation (stored in the checkpoint's ``meta``, so a checkpoint says how to prepare images):
``eval`` and ``predict`` rebuild the model and its preprocessing from the checkpoint alone
(:func:`cnnkit.train.restore`).

Exit codes: 0 success, 1 an error (one line ``cnnkit <command>: error: ...``), 2 bad arguments
(one line ``cnnkit <command>: error: ... (see 'cnnkit <command> --help')``), 130 interrupted.

The package: ``main.py`` (the parser and the error handling), ``commands.py`` (the command table: how to add a
command), one module per command, ``args.py`` (argument types), ``datasets.py`` (the ``--data`` choices) and
``context.py`` (what a command gets besides its arguments: the data sets and the output streams, which
``main(argv, datasets=..., stdout=..., stderr=...)`` lets a caller or a test replace).
"""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
