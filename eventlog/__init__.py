"""The I/O adapters to the Kafka-protocol log.

``endpoints`` finds the broker; ``producer``, ``consumer`` and ``admin`` wrap
the client with the project's durability settings (``retry`` for transient
errors); ``ingest`` sequences trade files onto the input topic (``sampledata``
puts the sample days there), ``control`` writes operator commands, ``logtail``
reads what is already there. ``audit`` runs the notary and the bundles over the
log.
"""
