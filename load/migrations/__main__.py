"""`python -m load.migrations "what changes"`: write the next revision's file under versions/."""

import sys

from load.migrations import new_revision

if len(sys.argv) != 2:
    sys.exit('usage: python -m load.migrations "what the revision changes"')
print(new_revision(sys.argv[1]))
