"""Machine-learning models: the TFLite PPE (hard-hat) detector, its files, labels, pre/post-processing and
evaluation. Vision runs in its own process. Not here: camera access (`drivers/`), what a violation means for
the safety loop (`appliance/`), or the recipe that trains the model (`training/ppe/`, not installed).
"""
