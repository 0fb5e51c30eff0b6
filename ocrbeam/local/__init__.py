"""Local runs (``ocrbeam run`` without a remote ``--runner``): one owner for
how a run uses this machine.

* :mod:`.plan`: runner defaults, Beam's running mode, the engine pool's size
  and the threads per engine;
* :mod:`.prestart`: engine and renderer processes started before Beam is
  imported;
* :mod:`.pool`: the machine's pool of engine processes, fed page by page;
* :mod:`.progress`: progress lines while the run goes on;
* :mod:`.session`: all of the above around one pipeline run.
"""
