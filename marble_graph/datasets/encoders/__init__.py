"""Column encoders: dataset columns of any kind as fixed-width float32 blocks.

Kinds: ``numeric`` (standardised numbers), ``vector`` (standardised
fixed-width number lists), ``text`` (hashed byte n-grams), ``bytes``
(lossless length header and payload bits, optionally compressed or
tokenised with a shared ``Vocabulary``) and ``label`` (class indices /
one-hot). ``fit_encoder`` learns one from a column, ``encoder_from_record``
rebuilds one from its record, and ``TableEncoding`` encodes a whole table
into the ``Dataset`` a brain trains on.
"""

# Importing each kind's module registers it (see base.py); keep them all here.
from marble_graph.datasets.encoders.arrow_columns import ColumnData
from marble_graph.datasets.encoders.base import (
    ColumnEncoder,
    default_encoder_kind,
    encoder_from_record,
    encoder_kinds,
    fit_encoder,
)
from marble_graph.datasets.encoders.bits import BytesEncoder
from marble_graph.datasets.encoders.label import LabelEncoder
from marble_graph.datasets.encoders.numeric import NumericEncoder, VectorEncoder
from marble_graph.datasets.encoders.table_encoding import TableEncoding
from marble_graph.datasets.encoders.text import TextEncoder
from marble_graph.datasets.encoders.vocabulary import (
    Vocabulary,
    VocabularyLookup,
    build_vocabulary,
)

__all__ = [
    "BytesEncoder",
    "ColumnData",
    "ColumnEncoder",
    "LabelEncoder",
    "NumericEncoder",
    "TableEncoding",
    "TextEncoder",
    "VectorEncoder",
    "Vocabulary",
    "VocabularyLookup",
    "build_vocabulary",
    "default_encoder_kind",
    "encoder_from_record",
    "encoder_kinds",
    "fit_encoder",
]
