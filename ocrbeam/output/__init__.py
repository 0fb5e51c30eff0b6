"""The output prefix: where each file goes, drawn page images, and the
accounting of what a prefix holds (``_SUMMARY.json``, reruns).

Beam-free: the sinks in ``transforms/`` write through these paths, and the
launcher reads the prefix back through :mod:`.accounting`.
"""
