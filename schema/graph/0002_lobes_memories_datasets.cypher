// Lobes (neuron groups), memories, and the dataset versions brains train on.
CREATE NODE TABLE Lobe(
    uid INT64,
    brain STRING,
    id INT64,
    name STRING,
    attention FLOAT,
    PRIMARY KEY (uid)
);
CREATE REL TABLE MEMBER_OF(FROM Neuron TO Lobe, brain STRING);
CREATE NODE TABLE Memory(
    uid INT64,
    brain STRING,
    id INT64,
    kind STRING,
    key STRING,
    vector FLOAT[],
    value STRING,
    salience FLOAT,
    created_at TIMESTAMP,
    PRIMARY KEY (uid)
);
CREATE NODE TABLE DatasetVersion(
    id STRING,
    dataset STRING,
    version INT64,
    content_hash STRING,
    n_rows INT64,
    created_at TIMESTAMP,
    PRIMARY KEY (id)
);
CREATE REL TABLE TRAINED_ON(FROM Brain TO DatasetVersion, brain_version INT64);
