"""Activations, dropout and Linear against PyTorch: forward + backward, float32.

Run: python bench/activation.py [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
import torch.nn.functional as TF
from harness import compare, fwd_bwd, print_environment, print_table

import cnnkit as ck
import cnnkit.nn as nn
import cnnkit.nn.functional as F

ACT = (32, 64, 56, 56)     # a VGG/ResNet-sized activation, 6.4M elements


def torch_maxout(t, pieces):
    return t.unflatten(1, (t.shape[1] // pieces, pieces)).max(2).values


def linear_case(n, fin, fout):
    ck.manual_seed(0)
    m = nn.Linear(fin, fout)
    tm = torch.nn.Linear(fin, fout)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(m.weight.numpy()))
        tm.bias.copy_(torch.from_numpy(m.bias.numpy()))
    return fwd_bwd(m, tm, (n, fin))


CASES = [
    ("relu " + str(ACT), F.relu, TF.relu, ACT),
    ("leaky_relu(0.01) " + str(ACT), F.leaky_relu, TF.leaky_relu, ACT),
    ("elu " + str(ACT), F.elu, TF.elu, ACT),
    ("sigmoid " + str(ACT), F.sigmoid, torch.sigmoid, ACT),
    ("tanh " + str(ACT), F.tanh, torch.tanh, ACT),
    ("softmax dim=1 (256, 1000)", lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), (256, 1000)),
    ("log_softmax dim=1 (256, 1000)", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), (256, 1000)),
    ("softmax dim=1 (32, 64, 28, 28)", lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), (32, 64, 28, 28)),
    ("glu dim=1 (32, 128, 28, 28)", lambda x: F.glu(x, 1), lambda x: TF.glu(x, 1), (32, 128, 28, 28)),
    ("maxout 2 (32, 128, 28, 28)", lambda x: F.maxout(x, 2), lambda x: torch_maxout(x, 2), (32, 128, 28, 28)),
    ("maxout 4 (32, 128, 28, 28)", lambda x: F.maxout(x, 4), lambda x: torch_maxout(x, 4), (32, 128, 28, 28)),
]


def main():
    print_environment()
    rows = []
    for name, ck_f, th_f, shape in CASES:
        rows.append(compare(name, *fwd_bwd(ck_f, th_f, shape)))
    rows.append(compare("dropout p=0.5 " + str(ACT), *fwd_bwd(lambda x: F.dropout(x, 0.5),
                                                              lambda x: TF.dropout(x, 0.5), ACT)))
    rows.append(compare("dropout p=0.5 (256, 4096)", *fwd_bwd(lambda x: F.dropout(x, 0.5),
                                                              lambda x: TF.dropout(x, 0.5), (256, 4096))))
    rows.append(compare("Linear 9216->4096, batch 128", *linear_case(128, 9216, 4096), repeats=7))
    rows.append(compare("Linear 400->120, batch 64", *linear_case(64, 400, 120)))
    print_table("activations, dropout, Linear: forward + backward, float32", rows)


if __name__ == "__main__":
    main()
