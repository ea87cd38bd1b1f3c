"""AITrader: an event-sourced trading kernel on a Kafka-protocol log."""
