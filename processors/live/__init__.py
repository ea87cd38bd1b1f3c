"""The live kernel pipeline: a Faust worker over the sequenced input topic, with recovery and run manifests."""
