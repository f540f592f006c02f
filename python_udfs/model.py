"""The CLV / churn model: a pretrained text encoder fused with numeric features.

Outputs per customer a zero-inflated lognormal over future revenue (purchase logit, mu,
sigma_raw) and a churn logit. Encoders are mean-pooled, decoder LMs use their last token.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from python_udfs.schema import SEQUENCE_INPUTS
from python_udfs.sequence import BehaviourEncoder, SequenceSpec

# Model types whose base model is a causal decoder (pooled at the last real token).
DECODER_MODEL_TYPES = frozenset(
    {
        "gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2",
        "qwen3", "phi", "phi3", "gemma", "gemma2", "gemma3", "opt", "bloom", "falcon",
        "olmo", "olmo2", "smollm3", "granite", "stablelm",
    }
)  # fmt: skip


def pooling_for(config: PretrainedConfig) -> str:
    """'last' for causal decoders, 'mean' for encoders."""
    architectures = config.architectures or []
    is_decoder = (
        config.model_type in DECODER_MODEL_TYPES
        or getattr(config, "is_decoder", False)
        or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    )
    return "last" if is_decoder else "mean"


INPUTS = ("fused", "numeric", "text", "sequence", "sequence_text")

# init_output_bias: base rates are clamped into [RATE_CLAMP, 1 - RATE_CLAMP] before the logit
# (a rate of 0 or 1 would give an infinite bias) and the revenue log-std to at least
# MIN_LOG_STD (a degenerate sigma would make the first ZILN steps explode).
RATE_CLAMP = 1e-4
MIN_LOG_STD = 0.1


class ResidualBlock(nn.Module):
    """x + Linear(Dropout(GELU(Linear(LayerNorm(x))))): a pre-norm MLP block."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.dropout(nn.functional.gelu(self.fc1(self.norm(x)))))


def _head(width: int, hidden: int, dropout: float) -> nn.Sequential:
    """Linear -> GELU -> Dropout -> Linear(4): the ZILN logits (3) and the churn logit."""
    return nn.Sequential(
        nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 4)
    )


class ClvModel(nn.Module):
    """Encoder + numeric tower + fused head.

    The numeric tower is a linear projection of the encoded features (see
    python_udfs.features) followed by `numeric_blocks` residual MLP blocks and a LayerNorm.
    `inputs` selects what the head sees: "fused" (text + numeric), "numeric" or "text" (the
    ablation variants; the unused part is not evaluated).

    forward(input_ids [B,T], attention_mask [B,T], numeric [B,F])
        -> ziln_logits [B,3], churn_logit [B]
    """

    def __init__(
        self,
        encoder: PreTrainedModel,
        n_numeric: int,
        hidden: int = 128,
        dropout: float = 0.1,
        pooling: str = "mean",
        numeric_blocks: int = 2,
        inputs: str = "fused",
        sequence: SequenceSpec | None = None,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', not {pooling!r}")
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, not {inputs!r}")
        if (inputs in SEQUENCE_INPUTS) != (sequence is not None):
            raise ValueError(f"inputs={inputs!r}: a sequence spec exactly when it reads events")
        if sequence is not None and sequence.uses_text != (inputs == "sequence_text"):
            raise ValueError(f"inputs={inputs!r} does not match the spec's text input")
        self.encoder = encoder
        self.pooling = pooling
        self.inputs = inputs
        self.sequence = BehaviourEncoder(sequence) if sequence is not None else None
        dim = sequence.width if sequence is not None else encoder.config.hidden_size
        self.text_norm = nn.LayerNorm(dim)
        self.numeric_tower = nn.Sequential(
            nn.Linear(n_numeric, hidden),
            *(ResidualBlock(hidden, dropout) for _ in range(numeric_blocks)),
            nn.LayerNorm(hidden),
        )
        width = {"numeric": hidden, "text": dim, "fused": dim + hidden}.get(inputs, hidden)
        self.head = _head(width, hidden, dropout)
        # A sequence model is the numeric model plus a correction from the events: its head
        # reads the numeric tower only, and sequence_head (zero at the start) adds what the
        # sequence vector, next to the tower's features, says on top.
        self.sequence_head = None
        if self.sequence is not None:
            self.sequence_head = _head(dim + hidden, hidden, dropout)
            final = self.sequence_head[-1]
            assert isinstance(final, nn.Linear)
            nn.init.zeros_(final.weight)
            nn.init.zeros_(final.bias)

    @property
    def uses_text(self) -> bool:
        """Whether the head reads a behaviour-text embedding (the sequence models read their
        sequence vector in its place)."""
        return self.inputs in ("fused", "text")

    @property
    def uses_embedding(self) -> bool:
        """Whether head_forward reads its `embedding` argument (text or sequence vector)."""
        return self.inputs != "numeric"

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled text embedding [B, H] (right-padded inputs)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "mean":
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        last = attention_mask.sum(1).clamp(min=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]

    def head_forward(
        self, embedding: torch.Tensor, numeric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """embedding [B,H] (the text embedding, or the sequence vector of a sequence model;
        unused if inputs="numeric"), numeric [B,F] -> ziln [B,3], churn [B]."""
        if self.sequence_head is not None:
            tower = self.numeric_tower(numeric.float())
            joint = torch.cat([self.text_norm(embedding.float()), tower], dim=-1)
            out = self.head(tower) + self.sequence_head(joint)
            return out[:, :3], out[:, 3]
        parts = []
        if self.inputs != "numeric":
            parts.append(self.text_norm(embedding.float()))
        if self.inputs != "text":
            parts.append(self.numeric_tower(numeric.float()))
        out = self.head(torch.cat(parts, dim=-1))
        return out[:, :3], out[:, 3]

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, numeric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head_forward(self.embed(input_ids, attention_mask), numeric)

    @torch.no_grad()
    def init_output_bias(
        self, purchase_rate: float, log_mean: float, log_std: float, churn_rate: float
    ) -> None:
        """Start the head at the training base rates, so early steps fit signal, not scale."""

        def logit(p: float) -> float:
            p = min(max(p, RATE_CLAMP), 1 - RATE_CLAMP)
            return float(torch.logit(torch.tensor(p)))

        sigma = max(log_std, MIN_LOG_STD)
        sigma_raw = sigma + float(torch.log(-torch.expm1(torch.tensor(-sigma))))  # softplus^-1
        output = self.head[-1]
        assert isinstance(output, torch.nn.Linear), "the head ends in a linear layer"
        output.bias.copy_(
            torch.tensor([logit(purchase_rate), log_mean, sigma_raw, logit(churn_rate)])
        )
