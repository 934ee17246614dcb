"""Minimal pre-norm transformer pieces for BIT, written with plain matmuls so they export to ONNX."""

from __future__ import annotations

from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head attention of ``queries`` (B×N×C) over ``context`` (B×M×C)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def _split(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, queries: Tensor, context: Tensor) -> Tensor:
        q = self._split(self.to_q(queries))
        k = self._split(self.to_k(context))
        v = self._split(self.to_v(context))
        weights = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.to_out((weights @ v).transpose(1, 2).flatten(2))


class FeedForward(nn.Sequential):
    """Linear → GELU → Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class TransformerBlock(nn.Module):
    """Pre-norm block: x += attention(norm(x), norm(context)); x += mlp(norm(x)).

    Without ``context`` it is self-attention (encoder block); with it, cross-attention (decoder).
    """

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        normed = self.norm_attn(x)
        x = x + self.attn(normed, normed if context is None else self.norm_attn(context))
        return x + self.mlp(self.norm_mlp(x))


class Transformer(nn.Module):
    """A stack of ``depth`` :class:`TransformerBlock`."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_dim) for _ in range(depth))

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, context)
        return x
