"""A corpus: its folder of documents and index, the chunk table, and what a build computes."""
