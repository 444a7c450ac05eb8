import signal
import sys

if __name__ == "__main__":  # not when a spawned worker process imports this module as __mp_main__
    from .cli import main

    status = main()
    # the run is over: a signal from here on could only interrupt the interpreter's and ROOT's clean-up at exit
    # (after Python has put back the default handlers: exit status -2 instead of the run's own)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)
