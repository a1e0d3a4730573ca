#!/usr/bin/env python3
"""Simulated cmssw-wm-tools cmssw_handle_condor_status_service.py of the local site.

See cmssw_sim/wmtools.py.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, "python"))

from cmssw_sim.wmtools import handle_condor_status_service_main  # noqa: E402

handle_condor_status_service_main()
