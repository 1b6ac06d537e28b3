"""Gecko's contrastive loss (paper eq. 3) on top of sentence-transformers, with Matryoshka dims.

Eq. 3, for query q_i with positive p_i and hard negative p_i^-:

    L = -1/B sum_i log( e^{s(q_i,p_i)/t} /
          ( sum_j e^{s(q_i,p_j)/t} + e^{s(q_i,p_i^-)/t} + sum_{j!=i} e^{s(q_i,q_j)/t} ) )

sentence-transformers' ``MultipleNegativesRankingLoss(directions=("query_to_doc",
"query_to_query"))`` computes this with one difference: its query->doc block also scores q_i
against the *other* queries' hard negatives p_j^- (j != i). :class:`GeckoLoss` keeps the library
class (config, Matryoshka and trainer integration) and only overrides the score assembly to mask
those columns when ``other_hard_negatives=False`` (the paper's exact form, our default);
``other_hard_negatives=True`` is the library's computation unchanged. tests/test_train_loss.py
checks both against a numpy computation of the formulas.

Soft labels (``train.loss``, :data:`trainers.data.LOSSES`): ``margin_mse`` is
sentence-transformers' ``MarginMSELoss`` (as GPL trains) on the teacher's stored scores,

    L = 1/B sum_i ( (s(q_i,p_i) - s(q_i,p_i^-))/t - (T(q_i,p_i) - T(q_i,p_i^-)) )^2

with s the cosine and T the teacher's ``train.soft_label_score`` (a log-probability): the
student's margin is taken in eq. 3's logit units s/t. ``gecko+margin_mse``
(:class:`GeckoMarginMSELoss`) adds ``soft_label_weight`` x that term over the rows that have a
teacher margin to eq. 3. tests/test_soft_label_loss.py checks both by hand.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MarginMSELoss,
    MatryoshkaLoss,
    MultipleNegativesRankingLoss,
)
from sentence_transformers.util import all_gather_with_grad, get_rank, pairwise_cos_sim
from torch import Tensor, nn

from gecko_bench.errors import InputError
from trainers.data import check_loss

GECKO_DIRECTIONS = ("query_to_doc", "query_to_query")


def _gecko_loss(loss: MultipleNegativesRankingLoss, embeddings: list[Tensor],
                has_negative: Tensor | None = None, other_hard_negatives: bool = False) -> Tensor:
    """Eq. 3; `has_negative` (B,) masks the hard-negative column of rows that have none.

    Without ``other_hard_negatives`` only the query's own hard negative(s) enter its
    denominator; with it, every valid hard negative of the batch does (the library's form).
    A masked row's placeholder negative enters no denominator at all.
    """
    queries, docs = embeddings[0], embeddings[1:]
    batch_size = queries.size(0)
    offset = 0
    valid = (torch.ones(batch_size, dtype=torch.bool, device=queries.device)
             if has_negative is None else has_negative.to(queries.device).bool())
    if loss.gather_across_devices:  # same gathering as the library (negatives across GPUs)
        queries = all_gather_with_grad(queries)
        docs = [all_gather_with_grad(d) for d in docs]
        valid = all_gather_with_grad(valid.float()).bool()
        offset = get_rank() * batch_size
    local = torch.arange(offset, offset + batch_size, device=queries.device)
    rows = torch.arange(batch_size, device=queries.device)
    local_queries = queries[local]
    q_to_pos = loss.similarity_fct(local_queries, docs[0]) * loss.scale          # (B, W)
    if other_hard_negatives:
        negs = [(loss.similarity_fct(local_queries, d) * loss.scale)
                .masked_fill(~valid.unsqueeze(0), -torch.inf) for d in docs[1:]]  # n x (B, W)
    else:
        negs = [(loss.similarity_fct(local_queries, d[local])[rows, rows] * loss.scale)
                .masked_fill(~valid[local], -torch.inf).unsqueeze(1)
                for d in docs[1:]]                                                # n x (B, 1)
    q_to_q = loss.similarity_fct(local_queries, queries) * loss.scale             # (B, W)
    q_to_q[rows, local] = -torch.inf
    scores = torch.cat([q_to_pos, *negs, q_to_q], dim=1)
    return -(q_to_pos[rows, local] - torch.logsumexp(scores, dim=1)).mean()


class GeckoLoss(MultipleNegativesRankingLoss):
    """Gecko eq. 3: in-batch positives + own hard negative + same-tower (query) negatives.

    Columns must be (anchor=query, positive, negative); pairs (anchor, positive) also work
    (pre-finetuning: in-batch negatives only, pass ``same_tower=False``). ``labels``, when the
    dataset has a ``label`` column (:func:`trainers.data.to_dataset` adds one when some examples
    have no hard negative), is 1 for a row with a hard negative and 0 for one without: that
    row's negative column is a placeholder and is left out of every denominator.
    """

    def __init__(self, model, temperature: float = 0.05, same_tower: bool = True,
                 other_hard_negatives: bool = False, gather_across_devices: bool = False) -> None:
        directions = GECKO_DIRECTIONS if same_tower else ("query_to_doc",)
        super().__init__(model, scale=1.0 / temperature, directions=directions,
                         gather_across_devices=gather_across_devices)
        self.other_hard_negatives = other_hard_negatives

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        masked = labels is not None and len(embeddings) >= 3 and not bool(labels.bool().all())
        if masked and self.directions != GECKO_DIRECTIONS:
            raise ValueError("rows without a hard negative need the Gecko directions "
                             f"{GECKO_DIRECTIONS}, not {self.directions}")
        if not masked and (self.other_hard_negatives or len(embeddings) < 3
                           or self.directions != GECKO_DIRECTIONS):
            return super().compute_loss_from_embeddings(embeddings, labels)
        return _gecko_loss(self, embeddings, labels if masked else None,
                           self.other_hard_negatives)

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "other_hard_negatives": self.other_hard_negatives}


class CachedGeckoLoss(CachedMultipleNegativesRankingLoss):
    """GradCache version of :class:`GeckoLoss` for batches larger than memory allows.

    Embeddings are computed in mini-batches without a graph, the loss and its gradient w.r.t. the
    embeddings are computed once over the whole batch (the (B x 3B) score matrix is small next to
    the encoder's activations), then the encoder is re-run per mini-batch with those gradients.
    """

    def __init__(self, model, temperature: float = 0.05, same_tower: bool = True,
                 other_hard_negatives: bool = False, mini_batch_size: int = 32,
                 gather_across_devices: bool = False) -> None:
        super().__init__(model, scale=1.0 / temperature, mini_batch_size=mini_batch_size,
                         directions=GECKO_DIRECTIONS if same_tower else ("query_to_doc",),
                         gather_across_devices=gather_across_devices)
        self.loss = GeckoLoss(model, temperature, same_tower, other_hard_negatives,
                              gather_across_devices)

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *,
                       with_backward: bool = False) -> Tensor:
        loss = self.loss.compute_loss_from_embeddings([torch.cat(r) for r in reps], labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "other_hard_negatives": self.loss.other_hard_negatives}


def scaled_pairwise_cos(a: Tensor, b: Tensor, scale: float) -> Tensor:
    """Row-wise cosine times `scale`: eq. 3's logit s(q, d)/t when scale = 1/t."""
    return pairwise_cos_sim(a, b) * scale


def margin_mse_loss(model, temperature: float = 0.05) -> MarginMSELoss:
    """The library's MarginMSELoss with the student margin in eq. 3's logit units (cos / t).

    Its ``label`` is the teacher margin T(q, p) - T(q, n) (:func:`trainers.data.soft_labels`).
    """
    return MarginMSELoss(model, similarity_fct=functools.partial(scaled_pairwise_cos,
                                                                 scale=1.0 / temperature))


class GeckoMarginMSELoss(GeckoLoss):
    """Eq. 3 plus ``weight`` x MarginMSE over the rows that have a teacher margin.

    ``labels`` (B, 2) per row: [has_negative, teacher margin or NaN]
    (:func:`trainers.data.soft_labels`). Column 0 is :class:`GeckoLoss`'s negative mask; the
    MSE is the mean over the rows with a margin (none in a batch: eq. 3 alone).
    """

    def __init__(self, model, temperature: float = 0.05, other_hard_negatives: bool = False,
                 weight: float = 1.0, gather_across_devices: bool = False) -> None:
        super().__init__(model, temperature, same_tower=True,
                         other_hard_negatives=other_hard_negatives,
                         gather_across_devices=gather_across_devices)
        self.margin_mse = margin_mse_loss(model, temperature)
        self.weight = weight

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        has_negative, margin = labels[:, 0], labels[:, 1]
        loss = super().compute_loss_from_embeddings(embeddings, has_negative)
        scored = ~torch.isnan(margin)
        if not bool(scored.any()):
            return loss
        soft = self.margin_mse.compute_loss_from_embeddings([e[scored] for e in embeddings],
                                                            margin[scored])
        return loss + self.weight * soft

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "soft_label_weight": self.weight,
                "margin_similarity_fct": self.margin_mse.get_config_dict()["similarity_fct"]}


def describe_loss(cfg) -> str:
    """The manifest's ``loss`` line for a fine-tuning config (a TrainConfig)."""
    gecko = f"Gecko eq. 3, tau={cfg.temperature}, other_hard_negatives={cfg.other_hard_negatives}"
    margin = (f"MarginMSE on the teacher's {cfg.soft_label_score!r} margins, student margin "
              f"(cos(q,p) - cos(q,n))/tau, tau={cfg.temperature}")
    return {"gecko": gecko, "margin_mse": margin,
            "gecko+margin_mse": f"{gecko} + {cfg.soft_label_weight} x {margin}"}[cfg.loss]


def build_loss(model, temperature: float = 0.05, mrl_dims: list[int] | None = None,
               same_tower: bool = True, mini_batch_size: int | None = None,
               other_hard_negatives: bool = False, gather_across_devices: bool = False,
               loss: str = "gecko", soft_label_weight: float = 1.0) -> nn.Module:
    """The training loss, Matryoshka-wrapped: Gecko eq. 3 (cached when ``mini_batch_size``),
    or a soft-label ``loss`` (``margin_mse``, ``gecko+margin_mse``; no GradCache).

    ``mrl_dims`` must not exceed the model's dimension (checked by the caller with a clear error).
    """
    check_loss(loss)
    if loss != "gecko" and mini_batch_size:
        raise InputError(f"train.loss={loss} has no GradCache form: set "
                         "train.mini_batch_size=0 or train.loss=gecko")
    if loss == "gecko+margin_mse" and not soft_label_weight > 0:
        raise InputError(f"train.soft_label_weight must be > 0, got {soft_label_weight}")
    if loss == "margin_mse":
        base: nn.Module = margin_mse_loss(model, temperature)
    elif loss == "gecko+margin_mse":
        base = GeckoMarginMSELoss(model, temperature, other_hard_negatives, soft_label_weight,
                                  gather_across_devices)
    elif mini_batch_size:
        base = CachedGeckoLoss(model, temperature, same_tower, other_hard_negatives,
                               mini_batch_size, gather_across_devices)
    else:
        base = GeckoLoss(model, temperature, same_tower, other_hard_negatives,
                         gather_across_devices)
    if not mrl_dims:
        return base
    return MatryoshkaLoss(model, base, matryoshka_dims=list(mrl_dims))
