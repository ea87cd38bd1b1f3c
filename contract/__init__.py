"""The event contract: what is on the log and how it is encoded. Pure.

``events`` are the records, ``serde`` and ``schema_registry`` their Avro
encoding (``compat`` checks a schema change is compatible), ``records`` a record
as read from the log, ``topics`` the topic catalog and ``partitioner`` which
partition a symbol lives on, ``ids`` and ``derivation`` how an output's id
follows from its input, ``sequencing`` the tick sequence numbers, ``scaled`` the
one decimal step, ``digest`` and ``jsonview`` the byte-exact and readable views
of a topic. ``__version__`` is the code version every envelope names.
"""

__version__ = "0.2.0"
