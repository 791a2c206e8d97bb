// Lineage between versions: which data trained which brain version, where a
// dataset version came from, and each brain version's parent.
// The graph mirrors the SQL records, so the old dataset nodes and edges are
// dropped here and reconcile rebuilds them from SQL on the next open.
DROP TABLE TRAINED_ON;
DROP TABLE DatasetVersion;
// `id` is "<dataset>@<version>": one content can be a version of two datasets.
CREATE NODE TABLE DatasetVersion(
    id STRING,
    dataset STRING,
    version INT64,
    content_hash STRING,
    n_rows INT64,
    created_at TIMESTAMP,
    PRIMARY KEY (id)
);
// `id` is "<brain>@<version>".
CREATE NODE TABLE BrainVersion(
    id STRING,
    brain STRING,
    version INT64,
    graph_hash STRING,
    created_at TIMESTAMP,
    PRIMARY KEY (id)
);
CREATE REL TABLE VERSION_OF(FROM BrainVersion TO Brain);
CREATE REL TABLE PARENT(FROM BrainVersion TO BrainVersion);
CREATE REL TABLE TRAINED_ON(FROM BrainVersion TO DatasetVersion);
CREATE REL TABLE DERIVED_FROM(FROM DatasetVersion TO DatasetVersion);
