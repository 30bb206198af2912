"""``python -m cranial_sct.train ARGS``: the ``train`` command as a module, for torchrun.

    torchrun --nproc_per_node=4 -m cranial_sct.train --config run.yaml
"""

import sys

from cranial_sct.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "train", *sys.argv[1:]]
    main()
