// Brains, their neurons and synapses.
// A neuron's primary key `uid` is (brain graph_key << 32) | id, so several
// brains share one table while each keeps its own stable per-brain ids.
CREATE NODE TABLE Brain(
    name STRING,
    graph_key INT64,
    created_at TIMESTAMP,
    PRIMARY KEY (name)
);
CREATE NODE TABLE Neuron(
    uid INT64,
    brain STRING,
    id INT64,
    kind STRING,
    neuron_type STRING,
    state FLOAT[],
    bias FLOAT,
    attention FLOAT,
    energy FLOAT,
    seed_cx FLOAT,
    seed_cy FLOAT,
    seed_escape FLOAT,
    created_step INT64,
    PRIMARY KEY (uid)
);
CREATE REL TABLE Synapse(
    FROM Neuron TO Neuron,
    brain STRING,
    id INT64,
    weight FLOAT,
    synapse_type STRING,
    potential FLOAT,
    fatigue FLOAT,
    visit_count INT64,
    frozen BOOLEAN,
    created_step INT64
);
