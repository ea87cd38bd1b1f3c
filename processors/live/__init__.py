"""The live kernel pipeline: a worker (hosted by Faust) consuming the sequenced input topic in batches, with recovery and run manifests."""
