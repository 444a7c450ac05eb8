"""What a run leaves to share: ``report.html`` (:mod:`.page`, one self-contained page) and the HEPData record
(:mod:`.hepdata`, ``--hepdata DIR``). Above the fit and the plots, whose outputs they read; the API and the
command line call them."""

from . import hepdata
from .page import REPORT_FILE, write_report, yield_lines

__all__ = ["REPORT_FILE", "hepdata", "write_report", "yield_lines"]
