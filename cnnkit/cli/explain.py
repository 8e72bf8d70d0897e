"""``cnnkit explain conv|pool|learn-edge``: a convolution, a pooling layer and the learning of a kernel worked out
step by step (:func:`cnnkit.insight.explain_conv`, :func:`~cnnkit.insight.explain_pool`,
:func:`~cnnkit.insight.learn_edge`); this module reads the arguments and prints what they return."""
from __future__ import annotations

import argparse

from ..insight import explain_conv, explain_pool, learn_edge, render_conv_png
from . import args as A

HELP = "a convolution, pooling, or learning a kernel, worked out step by step"
DESCRIPTION = ("Work out a small convolution (every window's products and sum, the output-size formula, the "
               "parameter count, im2col and the one GEMM), max or average pooling (forward and the routed "
               "backward error), or the learning of a 1x2 edge kernel by gradient descent, printing every "
               "number. See 'cnnkit explain TOPIC --help'.")

CONV = ("A convolution layer on a seeded integer input (values 0..2, weights and biases -1..1): the padded "
        "input and the filters, then every window position with its products and sum, the output-size formula "
        "(W - F + 2P)/S + 1 with the numbers filled in, the parameter count (F*F*D + 1)*K, the im2col matrix "
        "and the single GEMM that gives the same output, checked against cnnkit's conv2d.")
POOL = ("Max or average pooling on a seeded input of distinct integers: every window's output, then how "
        "backward routes an upstream error dy (max: all of it to the arg-max; average: dy/K^2 to every input "
        "of the window), checked against cnnkit's autograd.")
LEARN_EDGE = ("Learn the 1x2 edge kernel [1, -1] from an image X (a black band on white) and its edge map Y by "
              "gradient descent on L = sum (X * K - Y)^2 with cnnkit's conv2d and autograd, printing the loss "
              "and the kernel every few steps.")

_learn_rate = A.checked(float, "a learning rate in (0, 1)", lambda v: 0 < v < 1)


def add_arguments(p) -> None:
    topics = p.add_subparsers(dest="topic", required=True, metavar="TOPIC")
    conv = topics.add_parser("conv", help="a convolution, window by window, and as im2col + one GEMM",
                             description=CONV, context=p.context)
    conv.add_argument("--input", required=True, type=A.dims((2, 3), "HxW or HxWxC"), metavar="HxW[xC]",
                      help="the input's height, width and channels, e.g. 5x5x3")
    conv.add_argument("--kernel", type=A.square, default=3, metavar="KxK", help="the filter size (default: 3x3)")
    conv.add_argument("--stride", type=A.positive_int, default=1, metavar="S", help="(default: 1)")
    conv.add_argument("--padding", type=A.non_negative_int, default=0, metavar="P",
                      help="rings of zeros around the input (default: 0)")
    conv.add_argument("--dilation", type=A.positive_int, default=1, metavar="D", help="(default: 1)")
    conv.add_argument("--channels-out", type=A.positive_int, default=1, metavar="K",
                      help="the number of filters (default: 1)")
    conv.add_argument("--seed", type=A.non_negative_int, default=0, metavar="N",
                      help="seed of the input and weight values (default: 0)")
    conv.add_argument("--png", default=None, metavar="OUT",
                      help="also draw filter 0's steps as a grid of frames into this PNG")
    pool = topics.add_parser("pool", help="max/average pooling forward and the routed backward error",
                             description=POOL, context=p.context)
    pool.add_argument("--input", required=True, type=A.dims((2,), "HxW"), metavar="HxW",
                      help="the input's height and width, e.g. 4x4")
    pool.add_argument("--kernel", type=A.square, default=2, metavar="K", help="the window size (default: 2)")
    pool.add_argument("--stride", type=A.positive_int, default=None, metavar="S",
                      help="(default: the window size)")
    pool.add_argument("--mode", choices=("max", "avg"), default="max", help="(default: max)")
    pool.add_argument("--seed", type=A.non_negative_int, default=0, metavar="N",
                      help="seed of the input and of dy (default: 0)")
    edge = topics.add_parser("learn-edge", help="learn a 1x2 edge kernel from an image and its edges",
                             description=LEARN_EDGE, context=p.context)
    edge.add_argument("--steps", type=A.positive_int, default=40, metavar="N", help="(default: 40)")
    edge.add_argument("--lr", type=_learn_rate, default=0.03, help="the learning rate (default: 0.03)")
    edge.add_argument("--every", type=A.positive_int, default=5, metavar="N",
                      help="print the loss and the kernel every N steps (default: 5)")
    edge.add_argument("--seed", type=A.non_negative_int, default=0, metavar="N",
                      help="seed of the starting kernel (default: 0)")


def run(args: argparse.Namespace, context) -> int:
    out = context.out
    if args.topic == "conv":
        if args.png is not None and not args.png.lower().endswith(".png"):
            raise ValueError(f"--png {args.png}: expected a .png file name")
        ex = explain_conv(args.input, args.kernel, args.stride, args.padding, args.dilation, args.channels_out,
                          args.seed)
        print(ex.text(), file=out)
        if args.png is not None:
            print(f"wrote {render_conv_png(ex, args.png)}", file=out)
    elif args.topic == "pool":
        print(explain_pool(args.input, args.kernel, args.stride, args.mode, args.seed).text(), file=out)
    else:
        learn_edge(steps=args.steps, lr=args.lr, seed=args.seed, every=args.every,
                   echo=lambda line: print(line, file=out, flush=True))
    return 0
