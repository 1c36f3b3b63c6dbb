"""A function of fixed-address tensors, captured once in a CUDA graph and replayed.

On a GPU, TruDi's minibatch step is bound by kernel launches (thousands of small kernels: an 8-step chain
forward and backward, the path KL, the critic, three optimizer steps). A CUDA graph launches them all at
once. The captured function must be *static*: the same shapes every call, no host syncs (``nonzero``,
``.item()``), inputs read from and outputs written to tensors whose addresses never change. Its callers
copy their inputs into those tensors before each call and copy outputs out before the next.

    step = GraphedCall(lambda: model_step(static_idx, static_noise), name="minibatch step")
    static_idx.copy_(idx); static_noise.normal_()
    stats = step()            # eager for the first calls (warm-up), then captured once and replayed

The warm-up calls run the function eagerly on a side stream, as PyTorch asks before a capture: they are
real calls (an optimizer step there is a real step), so nothing is lost or done twice. :meth:`reset`
drops the graph (e.g. after optimizer states were replaced by ``load_state_dict``); the next call captures
anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import torch
import torch._dynamo

from trudi_isaac.utils.config_checks import ConfigError

Out = TypeVar("Out")

WARMUP_CALLS = 3
"""Eager calls before the capture: PyTorch's recipe warms up (lazy state, cuBLAS workspaces) on a side stream."""


class CudaGraphUnavailable(ConfigError):
    """CUDA graphs were asked for where they cannot run (no CUDA device, or a multi-process run)."""


def check_cuda_graphs(device: str | torch.device, multi_process: bool) -> None:
    """Raise :class:`CudaGraphUnavailable` with a clear message unless CUDA graphs can run on ``device``."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        raise CudaGraphUnavailable(
            f"cuda_graphs=True needs a CUDA device, but this run's device is '{device}'"
            f"{'' if torch.cuda.is_available() else ' and torch finds no CUDA device here'}; set cuda_graphs=False"
        )
    if multi_process:
        raise CudaGraphUnavailable(
            "cuda_graphs=True is not supported in multi-process runs (the gradient all-reduce is not captured);"
            " set cuda_graphs=False"
        )


class GraphedCall(Generic[Out]):
    """``fn()`` eagerly for :data:`WARMUP_CALLS` calls, then captured in a CUDA graph and replayed.

    ``fn`` takes no arguments: it reads static input tensors and returns its outputs (a tensor or a
    structure of tensors). After the capture, every call returns the *same* output tensors, overwritten by
    each replay: copy what must outlive the next call.
    """

    def __init__(self, fn: Callable[[], Out], name: str, warmup_calls: int = WARMUP_CALLS) -> None:
        self.fn = fn
        self.name = name
        self.warmup_calls = warmup_calls
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: Out | None = None
        self.calls = 0

    def __call__(self) -> Out:
        if self.graph is not None:
            self.graph.replay()
            return self.outputs
        if self.calls < self.warmup_calls:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.fn()
            torch.cuda.current_stream().wait_stream(side)
            return out
        self.graph = torch.cuda.CUDAGraph()
        # a torch.compile'd function inside must have compiled in the warm-up: a recompilation during the capture
        # would fail obscurely ("operation not permitted when stream is capturing"); make it a clear error instead
        with torch._dynamo.config.patch(error_on_recompile=True), torch.cuda.graph(self.graph):
            self.outputs = self.fn()
        self.graph.replay()  # the capture only recorded the kernels: run them for this call
        return self.outputs

    def reset(self) -> None:
        """Forget the graph; the next call warms up and captures again."""
        self.graph, self.outputs, self.calls = None, None, 0
