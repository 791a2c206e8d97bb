"""Brain operations, below the service (``marble_graph.service``, the one door).

One module per concept: ``lifecycle`` (create, delete, show), ``training``,
``evaluation``, ``serving`` (inference), ``versions`` (load, write-back),
``signal_settings`` (neuromodulation between runs), ``transfer`` (export,
import), ``pathway`` (strongest paths), ``brain_datasets`` (datasets as a brain
reads them). Each receives the stores it uses (``Stores``) and never the service.
"""
