"""A batch sampler that keeps dataset order (its own module so checkpoints can pickle it)."""

from sentence_transformers.base.sampler import DefaultBatchSampler
from torch.utils.data import SequentialSampler


class SequentialBatchSampler(DefaultBatchSampler):
    """Batches in dataset order: the mixture already fixed which examples share a batch.

    The default sampler shuffles, which would undo the task sampling; sequential order also
    makes a resumed run skip exactly the batches it already trained on.
    """

    def __init__(self, dataset, batch_size, drop_last, valid_label_columns=None,
                 generator=None, seed=0):
        super().__init__(SequentialSampler(dataset), batch_size=batch_size, drop_last=drop_last,
                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
