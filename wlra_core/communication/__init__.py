"""Communication complexity of WLRA (section 3 of the paper), run for real.

The setting (Definition 1.4, distributed form): the columns of an integer matrix ``A``
(n x d, at most ``s`` nonzeros per column) are split among ``m`` servers; everyone knows the
integer rank-``r`` weights ``W``; a coordinator must output a rank-``k`` WLRA.

Three modules, one per part of the story:

* :mod:`.bits` -- the bit packer and wire formats every message is serialized with;
* :mod:`.protocol` -- the column-subset-selection protocol of Theorem 3.1 (upper bound),
  run on real instances with its messages counted in bits, and the comparisons with
  sending A raw and with the theorems' formulas;
* :mod:`.lower_bound` -- the hard instance of Theorem 1.5 (block diagonal mask of
  Definition 3.2) on which the optimum is 0, so that any finite-factor solution reveals
  the ``s r k`` random bits of ``A_dense``.

The names below are re-exported here so ``from wlra_core.communication import ...`` keeps
working for all of them.
"""
from . import bits, lower_bound, protocol
from .bits import *  # noqa: F401,F403
from .lower_bound import *  # noqa: F401,F403
from .protocol import *  # noqa: F401,F403

__all__ = [*bits.__all__, *protocol.__all__, *lower_bound.__all__]
