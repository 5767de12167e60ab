"""Store-and-forward sync: the only package that makes uplink HTTP calls.

Here (from the sync work on): per-endpoint cursors over the event log, batching and priority lanes,
endpoint adapters (generic JSON, government profiles) and the reference receiver. Not here: anything the
appliance needs to keep running offline — sync only ever reads the log.
"""
