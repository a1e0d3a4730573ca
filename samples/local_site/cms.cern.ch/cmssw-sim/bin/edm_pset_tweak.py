#!/usr/bin/env python3
"""Simulated cmssw-wm-tools edm_pset_tweak.py of the local site (see cmssw_sim/wmtools.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, "python"))

from cmssw_sim.wmtools import tweak_main  # noqa: E402

tweak_main()
