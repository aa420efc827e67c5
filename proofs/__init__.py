"""Z3 proof obligations and strengthening lemmas for the guest LBR model (``lbrspec_proofs``)."""
