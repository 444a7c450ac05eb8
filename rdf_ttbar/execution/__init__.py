"""Running the analysis: the inputs prepared (:mod:`.prepare`), the event loops in this process or on Dask
(:mod:`.executor`, :mod:`.dask_cluster`, :mod:`.stderr_tail`), the analysis run (:mod:`.pipeline`) and the
I/O-only mode (:mod:`.io_only`), the delivery of skimmed inputs (:mod:`.delivery`, :mod:`.delivery_stamps`),
and the outputs (:mod:`.outputs`: the staged output folder; :mod:`.histograms`: histograms.root)."""
