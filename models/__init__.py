"""Machine-learning models: the TFLite PPE (hard-hat) detector, its files, labels, pre/post-processing,
training recipe and evaluation. Vision runs in its own process. Not here: camera access (`drivers/`) or
what a violation means for the safety loop (`appliance/`).
"""
