"""blurmix.torch: the blur and the mixed blur as differentiable PyTorch ops, their backward passes
computed by Halide pipelines (not by autograd through torch ops), and a module with learnable
mixing weights.

    import torch, blurmix.torch as bt
    blur = bt.AdaptiveGaussianBlur2d((64, 64), sigma_min=3.0, sigma_max=9.0)   # a logit per pixel
    opt = torch.optim.Adamax(blur.parameters(), lr=0.1)
    loss = ((blur(x) - target) ** 2).mean(); loss.backward(); opt.step()

Tensors are float32 on the CPU, used without copies when contiguous. (CUDA tensors are refused
for now: the backward pipelines are built for the CPU only.) Gradients: d/dx through the blur's adjoint (the blur itself
with zero padding; for clamp and mirror the adjoint of the edge extension is applied too), d/dsigma
through the normalized taps' analytic derivative (blur_with_derivative), d/dlogits through the
mix's vector-Jacobian product (python/generators/backward_generator.cpp). The half-width
ceil(std_devs sigma) is a step function of sigma and has no gradient, as in the seed's code.
Values are not checked for NaN or Inf here (they propagate, as in torch's own ops).
"""
import torch as _torch
from torch import nn as _nn
from torch.autograd.function import once_differentiable as _once_differentiable

from . import _core, _number

__all__ = ["gaussian_blur", "mixed_blur", "AdaptiveGaussianBlur2d"]


def _check_tensor(t, name: str) -> None:
    if not isinstance(t, _torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, not {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on {t.device}, but blurmix.torch takes CPU tensors only for now "
                         f"(its backward pipelines are built for the CPU): move it with .cpu()")
    if t.dtype != _torch.float32:
        raise TypeError(f"{name} must be a float32 tensor, not {t.dtype} (convert it with .float())")


def _sigma(s, name: str):
    """A sigma given as a number or a one-element tensor: its value, checked as the blurmix command
    checks it."""
    if isinstance(s, _torch.Tensor):
        if s.numel() != 1:
            raise ValueError(f"{name} must be a number or a 0-d tensor, not a tensor of shape {tuple(s.shape)}")
        if s.device.type != "cpu":
            raise ValueError(f"{name} is on {s.device}: blurmix runs on CPU tensors only")
        if not s.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, not {s.dtype}")
        value = float(s.detach())
    else:
        value = _number(s, name)
    _core.check_sigma(value, name.replace("_", "-"))
    return value


def _std_devs_boundary(std_devs, boundary):
    std_devs = _number(std_devs, "std_devs")
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a string, not {type(boundary).__name__}")
    _core.check_blur_args(1.0, std_devs, boundary)
    return std_devs, boundary


def _plain(t: _torch.Tensor) -> _torch.Tensor:
    """t as the extension takes it, through DLPack without a copy: contiguous (copied only when
    it is not), and outside autograd (DLPack does not export a tensor that requires grad)."""
    t = t.contiguous()
    return t.detach() if t.requires_grad else t


def _sigma_grad(total: float, like):
    """A sigma's gradient shaped and typed as the sigma tensor it flows to."""
    return _torch.tensor(total, dtype=like.dtype).reshape(like.shape)


def _blur_adjoint(g, sigma: float, std_devs: float, boundary: str):
    out = _torch.empty_like(g)
    _core.blur_adjoint(g, sigma, std_devs, boundary, out)
    return out


def _blur(x, sigma: float, std_devs: float, boundary: str):
    out = _torch.empty_like(x)
    _core.blur(x, sigma, std_devs, boundary, "cpu", "manual", out)
    return out


class _GaussianBlur(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sigma, sigma_value, std_devs, boundary):
        x = _plain(x)  # (..., H, W): the extension blurs every plane
        ctx.with_sigma = isinstance(sigma, _torch.Tensor) and ctx.needs_input_grad[1]
        if ctx.with_sigma:
            out, d_out = _torch.empty_like(x), _torch.empty_like(x)
            _core.blur_with_derivative(x, sigma_value, std_devs, boundary, out, d_out)
            ctx.d_out, ctx.sigma_like = d_out, sigma.detach()
        else:
            out = _blur(x, sigma_value, std_devs, boundary)
        ctx.args = (sigma_value, std_devs, boundary)
        return out

    @staticmethod
    @_once_differentiable
    def backward(ctx, grad):
        sigma_value, std_devs, boundary = ctx.args
        g = _plain(grad)
        grad_x = grad_sigma = None
        if ctx.needs_input_grad[0]:
            grad_x = _blur_adjoint(g, sigma_value, std_devs, boundary)
        if ctx.with_sigma:
            total = _torch.empty(1, dtype=_torch.float64)
            _core.inner_product(g.reshape(1, -1, *g.shape[-2:]), ctx.d_out.reshape(1, -1, *g.shape[-2:]), total)
            grad_sigma = _sigma_grad(total.item(), ctx.sigma_like)
        return grad_x, grad_sigma, None, None, None


def _needs_grad(*tensors) -> bool:
    return _torch.is_grad_enabled() and any(isinstance(t, _torch.Tensor) and t.requires_grad for t in tensors)


def gaussian_blur(x, sigma, *, std_devs=2.0, boundary="zero"):
    """The Gaussian blur of x (..., H, W): every (H, W) plane blurred alike, as blurmix.gaussian_blur
    does. sigma is a number or a 0-d tensor; differentiable in x and sigma."""
    _check_tensor(x, "x")
    if x.dim() < 2 or x.numel() == 0:
        raise ValueError(f"x must have shape (..., H, W) with no empty axis, not {tuple(x.shape)}")
    std_devs, boundary = _std_devs_boundary(std_devs, boundary)
    sigma_value = _sigma(sigma, "sigma")
    if not _needs_grad(x, sigma):  # no graph to record: the blur alone
        return _blur(_plain(x), sigma_value, std_devs, boundary)
    return _GaussianBlur.apply(x, sigma, sigma_value, std_devs, boundary)


class _MixedBlur(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, logits, sigma_min, sigma_max, sigmas, std_devs, boundary):
        n, c, h, w = x.shape
        xs = _plain(x)
        # (N, H, W) maps, or (N, 1, 1) for a global logit per image.
        if logits.dim() == 4:
            maps = logits.detach().reshape(n, h, w).contiguous()
        else:
            maps = logits.detach().reshape(-1, 1, 1).expand(n, 1, 1).contiguous()
        a, b, out = _torch.empty_like(xs), _torch.empty_like(xs), _torch.empty_like(xs)
        with_sigmas = any(isinstance(s, _torch.Tensor) and ctx.needs_input_grad[i]
                          for i, s in ((2, sigma_min), (3, sigma_max)))
        da = db = None
        if with_sigmas:
            da, db = _torch.empty_like(xs), _torch.empty_like(xs)
            _core.blur_with_derivative(xs, sigmas[0], std_devs, boundary, a, da)
            _core.blur_with_derivative(xs, sigmas[1], std_devs, boundary, b, db)
        else:
            _core.blur(xs, sigmas[0], std_devs, boundary, "cpu", "manual", a)
            _core.blur(xs, sigmas[1], std_devs, boundary, "cpu", "manual", b)
        _core.mix(a, b, maps, "cpu", "manual", out)
        ctx.saved = (a, b, maps, da, db)
        ctx.args = (sigmas, std_devs, boundary)
        ctx.logits_shape = logits.shape
        ctx.sigma_like = tuple(s.detach() if isinstance(s, _torch.Tensor) else None for s in (sigma_min, sigma_max))
        return out

    @staticmethod
    @_once_differentiable
    def backward(ctx, grad):
        a, b, maps, da, db = ctx.saved
        (s_min, s_max), std_devs, boundary = ctx.args
        n, c, h, w = a.shape
        g = _plain(grad)
        grad_a, grad_b = _torch.empty_like(g), _torch.empty_like(g)
        d_logit = _torch.empty(n, h, w)
        d_total = _torch.empty(n, dtype=_torch.float64)
        d_sigmas = _torch.empty(n, 2, dtype=_torch.float64) if da is not None else None
        _core.mix_backward(a, b, maps, g, da, db, grad_a, grad_b, d_logit, d_total, d_sigmas)
        grad_x = grad_logits = grad_min = grad_max = None
        if ctx.needs_input_grad[0]:
            grad_x = _blur_adjoint(grad_a, s_min, std_devs, boundary)
            grad_x += _blur_adjoint(grad_b, s_max, std_devs, boundary)
        if ctx.needs_input_grad[1]:
            if len(ctx.logits_shape) == 4:
                grad_logits = d_logit.reshape(ctx.logits_shape)
            elif len(ctx.logits_shape) == 1:
                grad_logits = d_total.float()
            else:
                grad_logits = d_total.sum().float().reshape(())
        if d_sigmas is not None:
            totals = d_sigmas.sum(0)
            if ctx.needs_input_grad[2]:
                grad_min = _sigma_grad(totals[0].item(), ctx.sigma_like[0])
            if ctx.needs_input_grad[3]:
                grad_max = _sigma_grad(totals[1].item(), ctx.sigma_like[1])
        return grad_x, grad_logits, grad_min, grad_max, None, None, None


def mixed_blur(x, logits, sigma_min, sigma_max, *, std_devs=2.0, boundary="zero"):
    """m blur(x, sigma_min) + (1 - m) blur(x, sigma_max), m = sigmoid(logits), for x (B, C, H, W).
    logits: (B, 1, H, W), a logit per pixel shared by the channels; or (B,), one per image; or 0-d,
    one for the batch. sigma_min, sigma_max: numbers or 0-d tensors. Differentiable in x, logits
    and both sigmas."""
    _check_tensor(x, "x")
    if x.dim() != 4 or x.numel() == 0:
        raise ValueError(f"x must have shape (B, C, H, W) with no empty axis, not {tuple(x.shape)}")
    _check_tensor(logits, "logits")
    n, _, h, w = x.shape
    if tuple(logits.shape) not in ((n, 1, h, w), (n,), ()):
        raise ValueError(f"logits must have shape (B, 1, H, W) = {(n, 1, h, w)}, (B,) = {(n,)} or (), "
                         f"not {tuple(logits.shape)}")
    std_devs, boundary = _std_devs_boundary(std_devs, boundary)
    sigmas = (_sigma(sigma_min, "sigma_min"), _sigma(sigma_max, "sigma_max"))
    return _MixedBlur.apply(x, logits, sigma_min, sigma_max, sigmas, std_devs, boundary)


class AdaptiveGaussianBlur2d(_nn.Module):
    """The mixed blur with learnable mixing logits: a map of `size` (H, W) shared by the batch and
    the channels, or one global logit when size is None; with learn_sigmas, sigma_min and sigma_max
    are parameters too (kept in (0, 1000] by whoever trains them: the blur refuses others).
    The seed's experiments are then a plain loop with torch.optim.Adamax (examples/seed_experiments.py)."""

    def __init__(self, size=None, sigma_min=3.0, sigma_max=9.0, *, learn_sigmas=False, std_devs=2.0,
                 boundary="zero", init_logit=0.0):
        super().__init__()
        shape = () if size is None else (1, 1) + tuple(int(s) for s in size)
        if len(shape) not in (0, 4):
            raise ValueError(f"size must be (H, W) or None, not {size}")
        self.logits = _nn.Parameter(_torch.full(shape, float(init_logit)))
        s_min = _torch.tensor(float(_sigma(sigma_min, "sigma_min")))
        s_max = _torch.tensor(float(_sigma(sigma_max, "sigma_max")))
        if learn_sigmas:
            self.sigma_min, self.sigma_max = _nn.Parameter(s_min), _nn.Parameter(s_max)
        else:
            self.register_buffer("sigma_min", s_min)
            self.register_buffer("sigma_max", s_max)
        self.std_devs, self.boundary = _std_devs_boundary(std_devs, boundary)

    def forward(self, x):
        logits = self.logits
        if logits.dim() == 4:
            if x.dim() != 4 or tuple(x.shape[2:]) != tuple(logits.shape[2:]):
                raise ValueError(f"x must have shape (B, C, {logits.shape[2]}, {logits.shape[3]}), "
                                 f"not {tuple(x.shape)}")
            logits = logits.expand(x.shape[0], 1, -1, -1)
        return mixed_blur(x, logits, self.sigma_min, self.sigma_max, std_devs=self.std_devs,
                          boundary=self.boundary)

    def weights(self):
        """The weight of the small blur, sigmoid(logits): (H, W), or 0-d."""
        w = _torch.sigmoid(self.logits.detach())
        return w[0, 0] if w.dim() == 4 else w

    def sigma_map(self):
        """The recovered sigma w sigma_min + (1 - w) sigma_max: (H, W), or 0-d."""
        w = self.weights()
        return w * self.sigma_min.detach() + (1 - w) * self.sigma_max.detach()

    def extra_repr(self):
        size = "global" if self.logits.dim() == 0 else f"size={tuple(self.logits.shape[2:])}"
        return (f"{size}, sigma_min={float(self.sigma_min):g}, sigma_max={float(self.sigma_max):g}, "
                f"std_devs={self.std_devs:g}, boundary={self.boundary!r}")
