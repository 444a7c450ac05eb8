import sys

if __name__ == "__main__":  # not when a spawned worker process imports this module as __mp_main__
    from .cli import main

    sys.exit(main())
