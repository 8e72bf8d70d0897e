"""``cnnkit run`` / ``python -m cnnkit.run``: an unmodified PyTorch script runs on cnnkit, with the aliases in
place for that run only."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from cnnkit.cli import main

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent('''
    import argparse
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR
    from torch.utils.data import DataLoader, TensorDataset
    import torch.backends.cudnn as cudnn

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    cudnn.benchmark = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(64, 1, 6, 6)
    y = (x.sum(dim=(1, 2, 3)) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, num_workers=2, pin_memory=True,
                        drop_last=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 4 * 4, 2)

        def forward(self, x):
            return self.fc(torch.flatten(F.relu(self.conv(x)), 1))

    model = Net().to(device)
    opt = optim.SGD(model.parameters(), lr=args.lr)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    losses = []
    for step in range(args.steps):
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            opt.step()
        sched.step()
        losses.append(loss.item())
    print("module", torch.__name__, "first", round(losses[0], 4), "last", round(losses[-1], 4))
    assert losses[-1] < losses[0]
''')


def test_python_m_cnnkit_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "cnnkit.run", str(script), "--steps", "12"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("module cnnkit first")
    assert out.stderr.count("\n") == 1 and "'torch' resolved to cnnkit" in out.stderr


def test_cnnkit_run_in_process_restores_torch(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    real = sys.modules["torch"]
    out, err = io.StringIO(), io.StringIO()
    from contextlib import redirect_stdout
    with redirect_stdout(out):
        code = main(["run", str(script), "--steps", "12", "--lr", "0.3"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "module cnnkit" in out.getvalue() and "resolved to cnnkit" in err.getvalue()
    assert sys.modules["torch"] is real is torch and sys.modules["torch.nn"].__name__ == "torch.nn"


def test_script_errors_and_exit_codes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nx = torch.zeros(2).cuda()\n")
    err = io.StringIO()
    assert main(["run", str(bad)], stderr=err) == 1
    assert "Traceback" in err.getvalue() and "cnnkit runs on the CPU only" in err.getvalue()
    absent = tmp_path / "absent.py"
    absent.write_text("import torch.fft\n")
    err = io.StringIO()
    assert main(["run", str(absent)], stderr=err) == 1
    assert "No module named 'torch.fft': cnnkit has no cnnkit.fft (no FFT" in err.getvalue()
    exits = tmp_path / "exits.py"
    exits.write_text("import sys, torch\nsys.exit(3)\n")
    assert main(["run", str(exits)], stderr=io.StringIO()) == 3
    err = io.StringIO()
    assert main(["run", str(tmp_path / "missing.py")], stderr=err) == 1
    assert err.getvalue().startswith("cnnkit run: error: no such script")
