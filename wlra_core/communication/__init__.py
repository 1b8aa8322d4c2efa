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
from .bits import BIT_WIDTHS, BitReader, BitWriter, field_widths
from .lower_bound import (
    LOWER_BOUND_SOLUTIONS,
    LowerBoundInstance,
    block_diagonal_mask,
    lower_bound_instance,
    lower_bound_solution,
    recover_dense,
    recovery_report,
)
from .protocol import (
    SELECTIONS,
    SWEEPABLE,
    Message,
    ProtocolRun,
    Setting,
    bits_sweep,
    bits_table,
    lower_bound_bits,
    make_instance,
    protocol_bits_bound,
    raw_bits,
    run_protocol,
    serialized_bits_bound,
    sweep_values,
    theorem_bits,
)

__all__ = [
    "BIT_WIDTHS",
    "SELECTIONS",
    "Setting",
    "BitWriter",
    "BitReader",
    "Message",
    "ProtocolRun",
    "field_widths",
    "make_instance",
    "run_protocol",
    "raw_bits",
    "protocol_bits_bound",
    "serialized_bits_bound",
    "theorem_bits",
    "lower_bound_bits",
    "bits_table",
    "SWEEPABLE",
    "sweep_values",
    "bits_sweep",
    "LowerBoundInstance",
    "block_diagonal_mask",
    "lower_bound_instance",
    "recover_dense",
    "LOWER_BOUND_SOLUTIONS",
    "lower_bound_solution",
    "recovery_report",
]
