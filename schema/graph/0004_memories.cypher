// Memories: remembered inputs (an embedding: the brain's state for the input)
// and symbolic facts (a key and a value), per brain, not per generation, so
// they survive new versions and rollbacks. The table of 0002 was per
// generation and never held rows; it is replaced.
DROP TABLE Memory;
// `uid` is "<brain>/<id>"; `id` increases per brain and is never reused.
// `value` is JSON text; `embedding` is null for a fact; `neurons` are the
// per-brain ids of the output neurons that carried the input.
CREATE NODE TABLE Memory(
    uid STRING,
    brain STRING,
    id INT64,
    key STRING,
    value STRING,
    embedding FLOAT[],
    neurons INT64[],
    brain_version INT64,
    created_at TIMESTAMP,
    PRIMARY KEY (uid)
);
// The next memory id of each brain: ids stay unique even after every memory
// of a brain was forgotten.
CREATE NODE TABLE MemorySequence(brain STRING, next_id INT64, PRIMARY KEY (brain));
// The brain version that wrote each memory.
CREATE REL TABLE WROTE(FROM BrainVersion TO Memory);
