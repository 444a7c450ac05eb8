"""The inputs of a run: the file sets (:mod:`.samples`: the demo set, the AGC list or a JSON file, checked up
front; :mod:`.probe` opens the files), remote files and their local cache (:mod:`.remote`), the synthetic demo
set (:mod:`.demo`), the I/O benchmark's branch lists (:mod:`.branch_lists`) and the AGC reference histograms
(:mod:`.reference`)."""

from .probe import is_remote
from .samples import Sample, agc_samples, check_files, read_file_list

__all__ = ["Sample", "agc_samples", "check_files", "is_remote", "read_file_list"]
