"""``cnnkit.autograd``: reverse-mode automatic differentiation.

- ``grad_mode.py``: whether ops record the graph, per thread (``no_grad``, ``enable_grad``, ``set_grad_enabled``,
  ``is_grad_enabled``; also at the top level: ``ck.no_grad()``).
- ``backward.py``: the walk over the recorded graph that ``Tensor.backward()`` runs (``run_backward``), and how
  leaves accumulate their gradients.
- ``grad.py``: ``grad(outputs, inputs, grad_outputs)`` returns the gradients instead of accumulating them (no
  double backward: ``create_graph=True`` raises).
- ``anomaly.py``: ``detect_anomaly()`` names the op (and the user's line that created it) whose backward
  produced a NaN or an infinity; per thread, like grad mode.
- ``variable.py``: ``Variable`` (PyTorch's pre-0.4 name: the tensor itself).
- ``gradcheck.py``: analytic gradients against finite differences (``gradcheck``, ``GradcheckError``).

The graph itself is made of ``Tensor`` (``tensor.py``) and ``Function`` (``function.py``) objects. No module of
this package imports ``tensor.py`` (which imports ``backward`` and ``grad_mode``, and so runs this ``__init__``
first): ``tensor.py`` hands its class over with ``backward.use_tensor_class``, so there is no import cycle.
"""
from .._compat import absent_error
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .backward import run_backward
from .grad import grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck
from .variable import Variable

__all__ = ["GradcheckError", "Variable", "detect_anomaly", "enable_grad", "grad", "gradcheck",
           "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_grad_enabled", "no_grad", "run_backward",
           "set_detect_anomaly", "set_grad_enabled"]


def __getattr__(name: str):
    raise absent_error(f"torch.autograd.{name}", "module 'cnnkit.autograd'")
