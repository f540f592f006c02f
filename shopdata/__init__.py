"""Raw datasets for the CLV warehouse: the vendored CDNOW log and a synthetic shop generator."""
