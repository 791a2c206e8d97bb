"""The datasets brains train on: built-in sets and CSV / JSON Lines files.

``load_dataset`` turns a spec (a built-in name or a file path) into a
validated ``Dataset``; ``split_dataset`` makes the train/test split;
``check_features`` validates inference input against a brain's width.
"""

from marble_graph.datasets.builtin import BUILTIN_DATASETS
from marble_graph.datasets.dataset import Dataset, Task, check_features, split_dataset
from marble_graph.datasets.files import load_dataset

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "Task",
    "check_features",
    "load_dataset",
    "split_dataset",
]
