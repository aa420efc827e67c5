"""Worked examples of lbrspec's Hypothesis engine: a conformance-tested rendering of KVM's LBR code."""
